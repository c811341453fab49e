//! Runs every scenario in turn and renders the results as markdown.
//!
//! One server runs at a time, so none of them competes with another for
//! the CPU; the load generator always does (it runs on the same machine).

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

use crate::cold::{self, Cold};
use crate::lambda::SignedInvoke;
use crate::load::{self, MakeRequest, Measured, Settings};
use crate::servers::{self, Plan, Server};

/// Targets from the issue, for a 2-core machine.
const TARGET_VS_WASMTIME_REUSE: f64 = 1.2;
const TARGET_VS_HYPER: f64 = 0.7;
const TARGET_INIT_P50_MS: f64 = 0.3;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Hyper,
    WasmtimeDefault,
    WasmtimeReuse,
    UpdraftUrl,
    UpdraftInvoke,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::Hyper => "hyper hello (ceiling)",
            Scenario::WasmtimeDefault => "wasmtime serve (default)",
            Scenario::WasmtimeReuse => "wasmtime serve (instance reuse)",
            Scenario::UpdraftUrl => "updraft function URL",
            Scenario::UpdraftInvoke => "updraft Invoke (SigV4)",
        }
    }
}

pub struct Row {
    pub scenario: Scenario,
    /// `settings.connections` connections.
    pub loaded: Measured,
    /// One connection: unloaded per-request latency.
    pub serial: Measured,
}

pub struct Results {
    /// One per scenario: the median round.
    pub rows: Vec<Row>,
    /// Requests per second at N connections of every round.
    pub rounds: Vec<(Scenario, Vec<f64>)>,
    pub cold: Option<Cold>,
    /// Scenarios not run, and why.
    pub skipped: Vec<(Scenario, String)>,
}

impl Results {
    fn row(&self, s: Scenario) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario == s)
    }
}

fn get(addr: std::net::SocketAddr, path: &'static str) -> MakeRequest {
    let host = addr.to_string();
    Arc::new(move || {
        http::Request::get(path)
            .header(http::header::HOST, host.as_str())
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    })
}

async fn measure(
    scenario: Scenario,
    server: &Server,
    settings: &Settings,
    make: MakeRequest,
) -> anyhow::Result<Row> {
    eprintln!(
        "{}: {} connections, {:?} warmup + {:?}",
        scenario.label(),
        settings.connections,
        settings.warmup,
        settings.duration
    );
    let loaded = load::run(server.addr, settings, make.clone()).await?;
    eprintln!(
        "  {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {} errors",
        loaded.rps(),
        loaded.pct_us(0.5),
        loaded.pct_us(0.99),
        loaded.errors
    );
    let one = Settings {
        connections: 1,
        ..settings.clone()
    };
    let serial = load::run(server.addr, &one, make).await?;
    eprintln!(
        "  1 connection: {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs, {} errors",
        serial.rps(),
        serial.pct_us(0.5),
        serial.pct_us(0.99),
        serial.errors
    );
    Ok(Row {
        scenario,
        loaded,
        serial,
    })
}

pub async fn collect(
    plan: &Plan,
    settings: &Settings,
    rounds: usize,
    cold_samples: usize,
) -> anyhow::Result<Results> {
    let mut results = Results {
        rows: Vec::new(),
        rounds: Vec::new(),
        cold: None,
        skipped: Vec::new(),
    };
    let mut all: Vec<Row> = Vec::new();

    for round in 1..=rounds {
        if rounds > 1 {
            eprintln!("round {round} of {rounds}");
        }
        {
            let server = servers::start_hyper()?;
            let make = get(server.addr, "/");
            all.push(measure(Scenario::Hyper, &server, settings, make).await?);
        }

        for (scenario, reuse) in [
            (Scenario::WasmtimeDefault, None),
            (Scenario::WasmtimeReuse, Some(plan.wasmtime_reuse)),
        ] {
            let Some(wasmtime) = &plan.wasmtime else {
                if round == 1 {
                    results.skipped.push((scenario, "--no-wasmtime".into()));
                }
                continue;
            };
            match servers::start_wasmtime(wasmtime, &plan.component, reuse) {
                Ok(server) => {
                    let make = get(server.addr, "/");
                    all.push(measure(scenario, &server, settings, make).await?);
                }
                Err(e) => {
                    eprintln!("skipping {}: {e:#}", scenario.label());
                    if round == 1 {
                        results.skipped.push((scenario, format!("{e:#}")));
                    }
                }
            }
        }

        let server = servers::start_updraft(&plan.updraft, &plan.component, None)?;
        let make = get(server.addr, "/fn/hello/");
        all.push(measure(Scenario::UpdraftUrl, &server, settings, make).await?);
        let invoke = Arc::new(SignedInvoke::new(
            server.addr,
            server.credentials()?,
            "hello",
            false,
        )?);
        let make: MakeRequest = Arc::new(move || invoke.request());
        all.push(measure(Scenario::UpdraftInvoke, &server, settings, make).await?);
    }

    for scenario in [
        Scenario::Hyper,
        Scenario::WasmtimeDefault,
        Scenario::WasmtimeReuse,
        Scenario::UpdraftUrl,
        Scenario::UpdraftInvoke,
    ] {
        let runs: Vec<&Row> = all.iter().filter(|r| r.scenario == scenario).collect();
        if runs.is_empty() {
            continue;
        }
        results
            .rounds
            .push((scenario, runs.iter().map(|r| r.loaded.rps()).collect()));
        results.rows.push(median(scenario, &runs));
    }

    if cold_samples > 0 {
        let mut c = {
            let server =
                servers::start_updraft(&plan.updraft, &plan.component, Some(cold::IDLE_TIMEOUT))?;
            let invoke = SignedInvoke::new(server.addr, server.credentials()?, "hello", true)?;
            eprintln!("cold starts: {cold_samples} Invoke + {cold_samples} URL samples");
            cold::measure(server.addr, &invoke, cold_samples).await?
        };
        eprintln!(
            "  Init Duration p50 {:.3} ms over {} samples ({} not cold)",
            c.init.value_at_quantile(0.5) as f64 / 1e6,
            c.init.len(),
            c.not_cold
        );
        let server = servers::start_updraft(&plan.updraft, &plan.component, None)?;
        eprintln!("cold-start control: {cold_samples} warm URL samples after the same idle gap");
        c.url_idle_warm = cold::measure_idle_warm(server.addr, cold_samples).await?;
        results.cold = Some(c);
    }
    Ok(results)
}

/// The median round: by requests per second for the loaded run, by p50
/// for the one-connection run (each chosen on its own).
fn median(scenario: Scenario, runs: &[&Row]) -> Row {
    let mut loaded: Vec<&Measured> = runs.iter().map(|r| &r.loaded).collect();
    loaded.sort_by(|a, b| a.rps().total_cmp(&b.rps()));
    let mut serial: Vec<&Measured> = runs.iter().map(|r| &r.serial).collect();
    serial.sort_by(|a, b| a.pct_us(0.5).total_cmp(&b.pct_us(0.5)));
    Row {
        scenario,
        loaded: loaded[(loaded.len() - 1) / 2].clone(),
        serial: serial[(serial.len() - 1) / 2].clone(),
    }
}

fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn verdict(value: f64, target: f64, at_least: bool) -> &'static str {
    let met = if at_least {
        value >= target
    } else {
        value <= target
    };
    if met {
        "met"
    } else {
        "**missed**"
    }
}

pub fn markdown(
    plan: &Plan,
    settings: &Settings,
    client_threads: usize,
    rounds: usize,
    r: &Results,
) -> String {
    let mut md = String::new();
    let w = &mut md;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(w, "### Run of {}", first_line_of("date", &["-u"]));
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "- machine: {} ({cores} CPUs), {} RAM, Linux {}",
        proc_field("/proc/cpuinfo", "model name"),
        proc_field("/proc/meminfo", "MemTotal"),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    );
    let _ = writeln!(
        w,
        "- load average at the end of the run (1, 5, 15 min): {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    );
    let _ = writeln!(w, "- updraft: {}", servers::version(&plan.updraft));
    match &plan.wasmtime {
        Some(p) => {
            let _ = writeln!(w, "- wasmtime: {}", servers::version(p));
        }
        None => {
            let _ = writeln!(w, "- wasmtime: not run (--no-wasmtime)");
        }
    }
    let _ = writeln!(w, "- rustc: {}", first_line_of("rustc", &["--version"]));
    let size = std::fs::metadata(&plan.component).map_or(0, |m| m.len());
    let _ = writeln!(
        w,
        "- component: `{}` ({size} bytes)",
        plan.component
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let _ = writeln!(
        w,
        "- load: {} keep-alive HTTP/1.1 connections (and 1 for the latency columns), {:?} warmup + {:?} measured each; client runtime {client_threads} threads on the same machine",
        settings.connections, settings.warmup, settings.duration
    );
    if rounds > 1 {
        let _ = writeln!(
            w,
            "- {rounds} rounds; each row is the median round (req/s of every round below)"
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "| server | req/s ({} conns) | p50 µs | p99 µs | errors | req/s (1 conn) | p50 µs | p99 µs |",
        settings.connections
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &r.rows {
        let (l, s) = (&row.loaded, &row.serial);
        let _ = writeln!(
            w,
            "| {} | {:.0} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {:.0} |",
            row.scenario.label(),
            l.rps(),
            l.pct_us(0.5),
            l.pct_us(0.99),
            l.errors + s.errors,
            s.rps(),
            s.pct_us(0.5),
            s.pct_us(0.99)
        );
    }
    for (s, why) in &r.skipped {
        let _ = writeln!(
            w,
            "| {} | not run: {} | | | | | | |",
            s.label(),
            why.replace('\n', " ")
        );
    }
    if rounds > 1 {
        let _ = writeln!(w);
        for (scenario, rps) in &r.rounds {
            let list: Vec<String> = rps.iter().map(|x| format!("{x:.0}")).collect();
            let _ = writeln!(w, "- {}: {} req/s", scenario.label(), list.join(" / "));
        }
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "| ratio | value | target | |");
    let _ = writeln!(w, "|---|---:|---:|---|");
    let url = r.row(Scenario::UpdraftUrl);
    let ratio = |a: Scenario, b: Scenario| -> Option<(f64, f64)> {
        let (a, b) = (r.row(a)?, r.row(b)?);
        Some((
            a.loaded.rps() / b.loaded.rps(),
            a.serial.rps() / b.serial.rps(),
        ))
    };
    if let Some((loaded, serial)) = ratio(Scenario::UpdraftUrl, Scenario::WasmtimeReuse) {
        let _ = writeln!(
            w,
            "| updraft URL / wasmtime serve (reuse), req/s at {} conns | {loaded:.2}× | ≥ {TARGET_VS_WASMTIME_REUSE}× | {} |",
            settings.connections,
            verdict(loaded, TARGET_VS_WASMTIME_REUSE, true)
        );
        let _ = writeln!(w, "| the same at 1 conn | {serial:.2}× | | |");
    }
    if let Some((loaded, serial)) = ratio(Scenario::UpdraftUrl, Scenario::WasmtimeDefault) {
        let _ = writeln!(
            w,
            "| updraft URL / wasmtime serve (default), req/s at {} conns | {loaded:.2}× | | |",
            settings.connections
        );
        let _ = writeln!(w, "| the same at 1 conn | {serial:.2}× | | |");
    }
    if let Some((loaded, serial)) = ratio(Scenario::UpdraftUrl, Scenario::Hyper) {
        let _ = writeln!(
            w,
            "| updraft URL / hyper, req/s at {} conns | {loaded:.2}× | ≥ {TARGET_VS_HYPER}× | {} |",
            settings.connections,
            verdict(loaded, TARGET_VS_HYPER, true)
        );
        let _ = writeln!(w, "| the same at 1 conn | {serial:.2}× | | |");
    }
    if let (Some(u), Some(i)) = (url, r.row(Scenario::UpdraftInvoke)) {
        let d1 = i.serial.pct_us(0.5) - u.serial.pct_us(0.5);
        let dn = i.loaded.pct_us(0.5) - u.loaded.pct_us(0.5);
        let _ = writeln!(
            w,
            "| Invoke p50 / URL p50, 1 conn | {:.2}× (+{d1:.0} µs) | | |",
            i.serial.pct_us(0.5) / u.serial.pct_us(0.5)
        );
        let _ = writeln!(
            w,
            "| Invoke p50 / URL p50, {} conns | {:.2}× (+{dn:.0} µs) | | |",
            settings.connections,
            i.loaded.pct_us(0.5) / u.loaded.pct_us(0.5)
        );
        let _ = writeln!(
            w,
            "| Invoke req/s / URL req/s, {} conns | {:.2}× | | |",
            settings.connections,
            i.loaded.rps() / u.loaded.rps()
        );
    }
    let _ = writeln!(w);

    if let Some(c) = &r.cold {
        let _ = writeln!(
            w,
            "Cold starts (`--idle-timeout {}`, {:?} idle before each sample; {} samples found a warm environment):",
            cold::IDLE_TIMEOUT,
            cold::GAP,
            c.not_cold
        );
        let _ = writeln!(w);
        let _ = writeln!(w, "| cold start | samples | p50 ms | p99 ms | target | |");
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---|");
        if !c.init.is_empty() {
            let p50 = c.init.value_at_quantile(0.5) as f64 / 1e6;
            let _ = writeln!(
                w,
                "| server-side `Init Duration` (REPORT line) | {} | {p50:.3} | {} | ≤ {TARGET_INIT_P50_MS} ms p50 | {} |",
                c.init.len(),
                ms(c.init.value_at_quantile(0.99)),
                verdict(p50, TARGET_INIT_P50_MS, false)
            );
        }
        for (label, h) in [
            ("client-observed, Invoke", &c.invoke_client),
            ("client-observed, function URL", &c.url_client),
            (
                "control: function URL after the same idle gap, warm environment",
                &c.url_idle_warm,
            ),
        ] {
            if !h.is_empty() {
                let _ = writeln!(
                    w,
                    "| {label} | {} | {} | {} | | |",
                    h.len(),
                    ms(h.value_at_quantile(0.5)),
                    ms(h.value_at_quantile(0.99))
                );
            }
        }
        if let Some(u) = url {
            let _ = writeln!(
                w,
                "| (warm function URL, 1 conn, for comparison) | {} | {:.3} | {:.3} | | |",
                u.serial.ok,
                u.serial.pct_us(0.5) / 1000.0,
                u.serial.pct_us(0.99) / 1000.0
            );
        }
        let _ = writeln!(w);
    }
    md
}
