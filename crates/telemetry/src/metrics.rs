//! The `/metrics` registry.
//!
//! Names follow Prometheus conventions with an `updraft_` prefix. Counters
//! and histograms are updated on the invoke path (atomic operations only);
//! gauges that describe the pools are filled at scrape time.

use std::collections::HashMap;

use prometheus_client::encoding::{text::encode, EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Outcome {
    /// The function returned a result.
    Success,
    /// The function failed (error, trap, crash).
    Error,
    /// The function ran past its timeout.
    Timeout,
    /// Refused before running: over a concurrency limit.
    Throttled,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct InvocationLabels {
    function: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FunctionLabels {
    function: String,
}

fn duration_histogram() -> Histogram {
    // 50 µs .. ~27 min, doubling.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.00005, 2.0, 25,
    ))
}

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    invocations: Family<InvocationLabels, Counter>,
    duration: Family<FunctionLabels, Histogram, fn() -> Histogram>,
    init_duration: Family<FunctionLabels, Histogram, fn() -> Histogram>,
    cold_starts: Family<FunctionLabels, Counter>,
    environments: Family<FunctionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("updraft");
        let invocations = Family::<InvocationLabels, Counter>::default();
        registry.register(
            "invocations",
            "Invocations by function and outcome",
            invocations.clone(),
        );
        let duration = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "invocation_duration_seconds",
            "Time from the start of an invocation to its result, init excluded",
            duration.clone(),
        );
        let init_duration = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "init_duration_seconds",
            "Time to start a new execution environment (cold start)",
            init_duration.clone(),
        );
        let cold_starts = Family::<FunctionLabels, Counter>::default();
        registry.register(
            "cold_starts",
            "Execution environments started",
            cold_starts.clone(),
        );
        let environments = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "environments",
            "Live execution environments (idle or busy) by function",
            environments.clone(),
        );
        Metrics {
            registry,
            invocations,
            duration,
            init_duration,
            cold_starts,
            environments,
        }
    }

    /// Records a finished (or refused) invocation.
    pub fn invocation(&self, function: &str, outcome: Outcome, seconds: Option<f64>) {
        self.invocations
            .get_or_create(&InvocationLabels {
                function: function.to_string(),
                outcome,
            })
            .inc();
        if let Some(s) = seconds {
            self.duration
                .get_or_create(&FunctionLabels {
                    function: function.to_string(),
                })
                .observe(s);
        }
    }

    /// Records a cold start and its init duration.
    pub fn cold_start(&self, function: &str, init_seconds: f64) {
        let labels = FunctionLabels {
            function: function.to_string(),
        };
        self.cold_starts.get_or_create(&labels).inc();
        self.init_duration
            .get_or_create(&labels)
            .observe(init_seconds);
    }

    /// The text exposition, with the environment gauges set from `live`
    /// (live environments per function, read from the pools at scrape time).
    pub fn render(&self, live: &HashMap<String, usize>) -> String {
        self.environments.clear();
        for (function, n) in live {
            self.environments
                .get_or_create(&FunctionLabels {
                    function: function.clone(),
                })
                .set(*n as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let m = Metrics::new();
        m.invocation("hello", Outcome::Success, Some(0.002));
        m.invocation("hello", Outcome::Success, Some(0.003));
        m.invocation("hello", Outcome::Timeout, Some(3.0));
        m.cold_start("hello", 0.0004);
        let text = m.render(&HashMap::from([("hello".to_string(), 2)]));
        assert!(
            text.contains(r#"updraft_invocations_total{function="hello",outcome="Success"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"updraft_invocations_total{function="hello",outcome="Timeout"} 1"#));
        assert!(text.contains(r#"updraft_cold_starts_total{function="hello"} 1"#));
        assert!(text.contains(r#"updraft_environments{function="hello"} 2"#));
        assert!(text.contains(r#"updraft_invocation_duration_seconds_count{function="hello"} 3"#));
        assert!(text.ends_with("# EOF\n"));
        // Environments disappear from the gauge once scaled to zero.
        let text = m.render(&HashMap::new());
        assert!(!text.contains("updraft_environments{"));
    }
}
