//! `updraft-bench`: measures updraft against its peers in the same run and
//! prints ratios (see `BENCHMARKS.md` at the repository root).
//!
//! ```text
//!   updraft-bench run
//!     ├─ hyper-hello   (this binary, `updraft-bench hyper-hello`)  ceiling
//!     ├─ wasmtime serve COMPONENT                  (instance per request)
//!     ├─ wasmtime serve --max-instance-reuse-count (instances reused)
//!     ├─ updraft serve --deploy hello=COMPONENT    function URL + Invoke
//!     └─ updraft serve --idle-timeout 10ms         cold starts
//!   each one a child process on 127.0.0.1:0, one at a time, every round;
//!   load: N keep-alive HTTP/1.1 connections from an in-process hyper client,
//!   warmup then a fixed measured window; latencies in an HDR histogram.
//! ```
//!
//! Every load loop is bounded in time and only connects to the loopback
//! address a child printed.

mod cold;
mod hello;
mod lambda;
mod load;
mod report;
mod servers;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The repository root, as seen when this binary was built.
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[derive(Parser)]
#[command(
    name = "updraft-bench",
    about = "Benchmarks updraft against wasmtime serve and a bare hyper server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark (the default).
    Run(RunArgs),
    /// Serve a bare hyper "hello" on LISTEN: the ceiling server.
    HyperHello {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// The updraft binary (build it with `cargo build --release -p updraft`).
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The `wasmtime` CLI (48.x); default: `wasmtime` on PATH.
    #[arg(long, default_value = "wasmtime")]
    wasmtime: PathBuf,
    /// Skip the `wasmtime serve` rows.
    #[arg(long)]
    no_wasmtime: bool,
    /// The wasi:http component every server runs.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Concurrent keep-alive connections of the throughput runs.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured window of each run, after the warmup.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup before each measured window (not recorded).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Worker threads of the load generator (it shares the machine's cores
    /// with the server under test).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Rounds of the throughput and latency runs; the report shows the
    /// median round of each server (and every round's requests per second).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Cold starts sampled (each one after the idle environment was reaped).
    #[arg(long, default_value_t = 100)]
    cold_samples: usize,
    /// `--max-instance-reuse-count` given to the reusing `wasmtime serve`.
    #[arg(long, default_value_t = 1_000_000)]
    wasmtime_reuse: u64,
    /// Where the markdown results are written.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `5s`, `500ms` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let n: f64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 5s or 500ms"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("'{s}' is not a duration such as 5s or 500ms"));
    }
    Ok(Duration::from_secs_f64(n * scale))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::HyperHello { listen }) => hello::serve(&listen),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let updraft = args
        .updraft
        .clone()
        .unwrap_or_else(|| root.join("target/release/updraft"));
    let component = args
        .component
        .clone()
        .unwrap_or_else(|| root.join("target/guests/wasm32-wasip2/release/hello_http.wasm"));
    anyhow::ensure!(
        updraft.is_file(),
        "{} not found: build it with `cargo build --release -p updraft` or pass --updraft",
        updraft.display()
    );
    anyhow::ensure!(
        component.is_file(),
        "{} not found: build it with `cargo build --release --target wasm32-wasip2 --manifest-path examples/Cargo.toml --target-dir target/guests` or pass --component",
        component.display()
    );
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    anyhow::ensure!(args.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(
        args.client_threads >= 1,
        "--client-threads must be at least 1"
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/bench/results.md"));

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;

    let plan = servers::Plan {
        updraft,
        wasmtime: (!args.no_wasmtime).then(|| args.wasmtime.clone()),
        component,
        wasmtime_reuse: args.wasmtime_reuse,
    };
    let settings = load::Settings {
        connections: args.connections,
        warmup: args.warmup,
        duration: args.duration,
    };
    let results = client.block_on(report::collect(
        &plan,
        &settings,
        args.rounds,
        args.cold_samples,
    ))?;
    let markdown = report::markdown(&plan, &settings, args.client_threads, args.rounds, &results);
    println!("{markdown}");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, &markdown).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("results written to {}", out.display());
    Ok(())
}
