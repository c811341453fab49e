//! A/B runs: what one setting of the server costs, measured on two live
//! servers that differ only in it.
//!
//! ```text
//!   side A (setting on)    side B (setting off)     both up the whole time
//!   round 1:  A url │ B url │ A invoke │ B invoke    each slice: load for D,
//!   round 2:  B url │ A url │ B invoke │ A invoke    then a pause; server CPU
//!   ...                                              (utime + stime) over both
//! ```
//!
//! Neighbouring slices see the same machine, so each round gives an A/B
//! ratio that the machine's slow swings of load mostly cancel out of; the
//! medians of those ratios, with their lowest and highest, are the result.
//! An A/A control run (the same setting on both sides) shows what the
//! method reports when there is no difference.

use std::time::Duration;

use crate::control;
use crate::load;
use crate::servers::Server;

/// One server of a pair and the kinds of load it is given, in order.
pub struct Side {
    pub server: Server,
    /// `(name, request maker)`: the same names, in the same order, on
    /// both sides.
    pub loads: Vec<(&'static str, load::MakeRequest)>,
    /// A thread whose own CPU is also measured (`comm`, as the kernel
    /// truncates it to 15 bytes).
    pub thread: Option<&'static str>,
}

/// What one slice measured.
#[derive(Clone, Copy)]
pub struct Slice {
    pub rps: f64,
    pub requests: u64,
    pub cpu_per_request_us: f64,
    /// The server's CPU seconds over the slice and its pause, and the
    /// named thread's share of them.
    pub cpu: f64,
    pub thread_cpu: f64,
}

/// Per round, per side, per kind of load.
pub type Results = Vec<[Vec<Slice>; 2]>;

impl Side {
    /// One slice: `make`'s load for `load.duration`, then `pause` so the
    /// server's background work finishes before the other server's slice;
    /// the CPU window covers both.
    async fn slice(
        &self,
        load: &load::Settings,
        make: &load::MakeRequest,
        pause: Duration,
    ) -> anyhow::Result<Slice> {
        let pid = self.server.pid();
        let thread = || match self.thread {
            Some(comm) => control::thread_cpu_seconds(pid, comm),
            None => Ok(None),
        };
        let cpu0 = control::cpu_seconds(pid)?;
        let thread0 = thread()?;
        let m = load::run(self.server.addr, load, make.clone()).await?;
        tokio::time::sleep(pause).await;
        let cpu = control::cpu_seconds(pid)? - cpu0;
        let thread_cpu = match (thread0, thread()?) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        Ok(Slice {
            rps: m.rps(),
            requests: m.ok,
            cpu_per_request_us: cpu * 1e6 / m.ok.max(1) as f64,
            cpu: cpu.max(thread_cpu),
            thread_cpu,
        })
    }
}

/// Warms every load of both sides for `warmup` (at least a second), then
/// runs `rounds` rounds of slices of `load.duration` each, the sides'
/// order swapped every round; `what` names the progress lines.
pub async fn run(
    sides: &[Side; 2],
    load: &load::Settings,
    rounds: usize,
    pause: Duration,
    what: &str,
) -> anyhow::Result<Results> {
    anyhow::ensure!(
        sides[0].loads.len() == sides[1].loads.len(),
        "both sides need the same loads"
    );
    let warmup = load::Settings {
        warmup: Duration::ZERO,
        duration: load.warmup.max(Duration::from_secs(1)),
        ..load.clone()
    };
    for side in sides {
        for (_, make) in &side.loads {
            load::run(side.server.addr, &warmup, make.clone()).await?;
        }
    }
    let measured = load::Settings {
        warmup: Duration::ZERO,
        ..load.clone()
    };
    let mut results = Vec::with_capacity(rounds);
    for round in 0..rounds {
        eprintln!("{what}: round {} of {rounds}", round + 1);
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut got: [Vec<Slice>; 2] = [Vec::new(), Vec::new()];
        for kind in 0..sides[0].loads.len() {
            for &i in &order {
                let side = &sides[i];
                got[i].push(side.slice(&measured, &side.loads[kind].1, pause).await?);
            }
        }
        results.push(got);
    }
    Ok(results)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The lowest and highest ratio, as percentages off 1.
pub fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:+.1} % … {:+.1} %",
        (min - 1.0) * 100.0,
        (max - 1.0) * 100.0
    )
}

/// The A/B table: for each kind of load (`names`, in the sides' order),
/// the median req/s and CPU per request of each side and the median and
/// spread of the rounds' A/B ratios; `a` and `b` head the sides' columns,
/// `ratio` the ratios' column (e.g. "on / off").
pub fn table(results: &Results, names: &[&str], a: &str, b: &str, ratio: &str) -> String {
    let mut md = format!(
        "| | {a} | {b} | {ratio}: median of the rounds' ratios | rounds' ratios, lowest … highest |\n|---|---:|---:|---:|---:|\n"
    );
    for (kind, name) in names.iter().enumerate() {
        let side = |side: usize, f: fn(&Slice) -> f64| {
            median(results.iter().map(|r| f(&r[side][kind])).collect())
        };
        let ratios = |f: fn(&Slice) -> f64| -> Vec<f64> {
            results
                .iter()
                .map(|r| f(&r[0][kind]) / f(&r[1][kind]))
                .collect()
        };
        let rps = ratios(|s| s.rps);
        md += &format!(
            "| {name} req/s | {:.0} | {:.0} | **{:+.1} %** | {} |\n",
            side(0, |s| s.rps),
            side(1, |s| s.rps),
            (median(rps.clone()) - 1.0) * 100.0,
            spread(&rps)
        );
        let cpu = ratios(|s| s.cpu_per_request_us);
        md += &format!(
            "| {name} server CPU per request | {:.1} µs | {:.1} µs | {:+.1} % | {} |\n",
            side(0, |s| s.cpu_per_request_us),
            side(1, |s| s.cpu_per_request_us),
            (median(cpu.clone()) - 1.0) * 100.0,
            spread(&cpu)
        );
    }
    let requests: u64 = results
        .iter()
        .flat_map(|r| r.iter().flatten())
        .map(|x| x.requests)
        .sum();
    md += &format!("\n{requests} requests measured in all.\n\n");
    md
}

#[cfg(test)]
mod tests {
    use super::{median, spread};

    #[test]
    fn medians_and_spreads_of_ratios() {
        assert_eq!(median(vec![1.02, 0.97, 1.00]), 1.00);
        assert_eq!(median(vec![1.5, 0.5, 1.0, 2.0]), 1.5);
        assert_eq!(spread(&[0.97, 1.00, 1.021]), "-3.0 % … +2.1 %");
    }
}
