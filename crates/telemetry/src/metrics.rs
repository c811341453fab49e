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

/// How one delivery attempt of an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Delivery {
    /// The function succeeded.
    Success,
    /// The function failed; the event will be tried again.
    Retry,
    /// The function failed and no attempts are left (or the event is too
    /// old): it went to its failure destination or dead-letter queue.
    DeadLettered,
    /// It failed for good and had nowhere to go: discarded (logged).
    Discarded,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabels {
    function: String,
    /// The event source: `async` (Invoke Event, bus, schedules) or `sqs`.
    source: String,
    result: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueStateLabels {
    queue: String,
    /// `visible`, `in_flight` or `delayed`.
    state: &'static str,
}

/// One queue's depth at scrape time.
#[derive(Debug, Clone, Default)]
pub struct QueueGauges {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub oldest_age_seconds: f64,
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
    environments_idle: Family<FunctionLabels, Gauge>,
    concurrent: Family<FunctionLabels, Gauge>,
    memory_reserved: Family<FunctionLabels, Gauge>,
    memory_used: Family<FunctionLabels, Gauge>,
    deliveries: Family<DeliveryLabels, Counter>,
    event_age: Family<FunctionLabels, Histogram, fn() -> Histogram>,
    queue_messages: Family<QueueStateLabels, Gauge>,
    queue_oldest: Family<QueueLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    usage_records_dropped: Counter,
}

/// The state of one function's environments at scrape time.
#[derive(Debug, Clone, Default)]
pub struct FunctionGauges {
    /// Live environments, idle or busy.
    pub environments: u64,
    pub idle: u64,
    /// Invocations running now.
    pub concurrent: u64,
    /// The sum of `MemorySize` over live environments, in bytes.
    pub memory_reserved_bytes: u64,
    /// The sum of the peak memory live environments last reported.
    pub memory_used_bytes: u64,
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
        let environments_idle = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "environments_idle",
            "Idle execution environments (warm, waiting for an invocation) by function",
            environments_idle.clone(),
        );
        let concurrent = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "concurrent_executions",
            "Invocations running now by function",
            concurrent.clone(),
        );
        let memory_reserved = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "memory_reserved_bytes",
            "MemorySize of the live execution environments by function",
            memory_reserved.clone(),
        );
        let memory_used = Family::<FunctionLabels, Gauge>::default();
        registry.register(
            "memory_used_bytes",
            "Peak memory the live execution environments last reported, by function",
            memory_used.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "event_deliveries",
            "Delivery attempts of events (async invocations, queue batches) by function, source and result",
            deliveries.clone(),
        );
        let event_age = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "event_age_seconds",
            "Age of events when a delivery attempt starts, by function",
            event_age.clone(),
        );
        let queue_messages = Family::<QueueStateLabels, Gauge>::default();
        registry.register(
            "queue_messages",
            "Messages in a queue by state (internal async-invocation queues are lambda-async:FUNCTION)",
            queue_messages.clone(),
        );
        let queue_oldest =
            Family::<QueueLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "queue_oldest_message_age_seconds",
            "Age of the oldest message in a queue",
            queue_oldest.clone(),
        );
        let usage_records_dropped = Counter::default();
        registry.register(
            "usage_records_dropped",
            "Usage records lost: the usage journal could not be written and the records held in memory reached their limit",
            usage_records_dropped.clone(),
        );
        Metrics {
            registry,
            invocations,
            duration,
            init_duration,
            cold_starts,
            environments,
            environments_idle,
            concurrent,
            memory_reserved,
            memory_used,
            deliveries,
            event_age,
            queue_messages,
            queue_oldest,
            usage_records_dropped,
        }
    }

    /// Sets the usage records dropped so far (`total`, summed over the
    /// meters at scrape time).
    pub fn usage_records_dropped(&self, total: u64) {
        let seen = self.usage_records_dropped.get();
        self.usage_records_dropped
            .inc_by(total.saturating_sub(seen));
    }

    /// Records one delivery attempt of an event from `source` (`async` or
    /// `sqs`) and, when known, the event's age when the attempt started.
    pub fn delivery(
        &self,
        function: &str,
        source: &str,
        result: Delivery,
        age_seconds: Option<f64>,
    ) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                function: function.to_string(),
                source: source.to_string(),
                result,
            })
            .inc();
        if let Some(age) = age_seconds {
            self.event_age
                .get_or_create(&FunctionLabels {
                    function: function.to_string(),
                })
                .observe(age);
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

    /// The text exposition, with the gauges set from `gauges` (read from
    /// the pools and the concurrency limits at scrape time).
    pub fn render(
        &self,
        gauges: &HashMap<String, FunctionGauges>,
        queues: &HashMap<String, QueueGauges>,
    ) -> String {
        self.queue_messages.clear();
        self.queue_oldest.clear();
        for (queue, q) in queues {
            for (state, v) in [
                ("visible", q.visible),
                ("in_flight", q.in_flight),
                ("delayed", q.delayed),
            ] {
                self.queue_messages
                    .get_or_create(&QueueStateLabels {
                        queue: queue.clone(),
                        state,
                    })
                    .set(v as i64);
            }
            self.queue_oldest
                .get_or_create(&QueueLabels {
                    queue: queue.clone(),
                })
                .set(q.oldest_age_seconds);
        }
        for family in [
            &self.environments,
            &self.environments_idle,
            &self.concurrent,
            &self.memory_reserved,
            &self.memory_used,
        ] {
            family.clear();
        }
        for (function, g) in gauges {
            let labels = FunctionLabels {
                function: function.clone(),
            };
            let set = |family: &Family<FunctionLabels, Gauge>, v: u64| {
                family.get_or_create(&labels).set(v as i64);
            };
            set(&self.environments, g.environments);
            set(&self.environments_idle, g.idle);
            set(&self.concurrent, g.concurrent);
            set(&self.memory_reserved, g.memory_reserved_bytes);
            set(&self.memory_used, g.memory_used_bytes);
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
        m.delivery("hello", "async", Delivery::Retry, Some(0.5));
        m.usage_records_dropped(5);
        m.usage_records_dropped(7);
        let text = m.render(
            &HashMap::from([(
                "hello".to_string(),
                FunctionGauges {
                    environments: 2,
                    idle: 1,
                    concurrent: 1,
                    memory_reserved_bytes: 256 << 20,
                    memory_used_bytes: 3 << 20,
                },
            )]),
            &HashMap::from([(
                "orders".to_string(),
                QueueGauges {
                    visible: 3,
                    in_flight: 1,
                    delayed: 0,
                    oldest_age_seconds: 2.5,
                },
            )]),
        );
        assert!(
            text.contains(r#"updraft_event_deliveries_total{function="hello",source="async",result="Retry"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"updraft_queue_messages{queue="orders",state="visible"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"updraft_queue_oldest_message_age_seconds{queue="orders"} 2.5"#),
            "{text}"
        );
        assert!(
            text.contains("updraft_usage_records_dropped_total 7"),
            "{text}"
        );
        assert!(
            text.contains(r#"updraft_invocations_total{function="hello",outcome="Success"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"updraft_invocations_total{function="hello",outcome="Timeout"} 1"#));
        assert!(text.contains(r#"updraft_cold_starts_total{function="hello"} 1"#));
        assert!(text.contains(r#"updraft_environments{function="hello"} 2"#));
        assert!(text.contains(r#"updraft_environments_idle{function="hello"} 1"#));
        assert!(text.contains(r#"updraft_concurrent_executions{function="hello"} 1"#));
        assert!(text.contains(r#"updraft_memory_reserved_bytes{function="hello"} 268435456"#));
        assert!(text.contains(r#"updraft_memory_used_bytes{function="hello"} 3145728"#));
        assert!(text.contains(r#"updraft_invocation_duration_seconds_count{function="hello"} 3"#));
        assert!(text.ends_with("# EOF\n"));
        // Environments disappear from the gauge once scaled to zero.
        let text = m.render(&HashMap::new(), &HashMap::new());
        assert!(!text.contains("updraft_environments{"));
    }
}
