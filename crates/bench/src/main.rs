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
//!
//!   updraft-bench scale      0 to N concurrent wasm environments, density
//!                            (RSS per deployed function and per live
//!                            environment), server CPU per request
//!   updraft-bench events     async invocations, PutEvents latency, rule
//!                            matching with 1,000 rules, SQS throughput
//!   updraft-bench process    native-process functions: cold starts (Rust
//!                            lambda_runtime bootstrap, Python), warm
//!                            Invoke overhead, environments per second
//!   updraft-bench authz      authorization on and off (two live servers
//!                            loaded in turn): AWS_IAM function URL and
//!                            Invoke as an IAM user, 1,000 policies
//!   updraft-bench objects    S3 PUT/GET of 4 KiB, 1 MiB, 64 MiB objects
//!                            against the disk's own bandwidth; RSS while
//!                            a multi-GiB object streams through
//!   updraft-bench tables     DynamoDB PutItem/GetItem/Query against bare
//!                            SQLite doing the same
//! ```
//!
//! Every load loop is bounded in time and only connects to the loopback
//! address a child printed.

mod ab;
mod attacks;
mod authz;
mod cold;
mod control;
mod events;
mod hello;
mod lambda;
mod load;
mod objects;
mod process;
mod report;
mod scale;
mod servers;
mod tables;
mod zip;

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
    /// Scaling (0 to N concurrent environments), density (deployed
    /// functions and live environments per MiB) and the server's CPU per
    /// function URL request (for the metering cost), all with wasm.
    Scale(ScaleArgs),
    /// Native-process functions: cold starts (Rust `lambda_runtime`
    /// bootstrap, Python), warm Invoke overhead, environments per second.
    Process(ProcessArgs),
    /// The event services: async invocations enqueued and delivered,
    /// PutEvents to function latency, rule matching, SQS throughput.
    Events(EventsArgs),
    /// What authorization by policy costs: an AWS_IAM function URL and
    /// Invoke, called as an IAM user, on a server with `--authorization
    /// on` and one with it off, loaded in turn.
    Authz(AuthzArgs),
    /// The load a normal client holds while hostile clients attack the
    /// server (slowloris, 2 GB and endless bodies, an idle connection
    /// flood), one attack at a time.
    Attacks(AttacksArgs),
    /// Object storage: S3 PUT and GET throughput of 4 KiB, 1 MiB and
    /// 64 MiB objects against the disk's own sequential bandwidth, and the
    /// server's memory while a multi-GiB object streams through.
    Objects(ObjectsArgs),
    /// Tables: DynamoDB PutItem, GetItem and Query through the wire API
    /// against a bare SQLite table doing the same.
    Tables(TablesArgs),
}

#[derive(clap::Args, Clone)]
pub struct ObjectsArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// Connections of the concurrent runs (the others use one).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured window of each run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// GiB of the object streamed through while the server's RSS is
    /// sampled (0 skips it).
    #[arg(long, default_value_t = 3)]
    big_gib: u64,
    /// MiB the disk peer writes (as 64 MiB files) and reads back.
    #[arg(long, default_value_t = 1024)]
    peer_mib: u64,
    /// The no-op function of the notification latency run (a wasi:http
    /// component); default: the example hello component if it is built.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Samples of the notification latency run (0 skips it).
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Clone)]
pub struct TablesArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// Clients of the concurrent runs (the others use one).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured window of each run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Clone)]
pub struct AttacksArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The function (a wasi:http component).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Measured window of each attack.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Keep-alive connections of the normal load.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Slowloris connections.
    #[arg(long, default_value_t = 500)]
    slowloris: usize,
    /// Connections of the idle flood.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Clone)]
pub struct AuthzArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The function (a wasi:http component).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Rounds (a slice of each kind of load on each server).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Measured window of each slice.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup of each server before the slices.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Managed policies in the account (the one that allows included).
    #[arg(long, default_value_t = 1000)]
    policies: usize,
    /// Of them attached to the calling user (the one that allows included).
    #[arg(long, default_value_t = 10)]
    attached: usize,
    /// Authorization on in both servers: a control run that shows the
    /// method's noise when there is no difference.
    #[arg(long)]
    control: bool,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Clone)]
pub struct EventsArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The no-op function (a wasi:http component).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Keep-alive connections of the throughput runs.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Measured window of each throughput run.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup before it (where the run allows one).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Samples of each latency measurement.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Rules on the bus of the matching run.
    #[arg(long, default_value_t = 1000)]
    rules: usize,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
}

/// Where a subcommand's report goes.
#[derive(clap::Args, Clone)]
pub struct Output {
    /// Where the markdown results are written.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also append the results, as a dated section with the machine's
    /// facts, to this file (e.g. BENCHMARKS.md).
    #[arg(long)]
    append: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
pub struct ScaleArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The guest that holds each request open (`?ms=N`).
    #[arg(long)]
    sleep_component: Option<PathBuf>,
    /// The small function of the density and throughput runs.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Concurrent environments of the ramp.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// How long each ramp request holds its environment, ms.
    #[arg(long, default_value_t = 2000)]
    hold_ms: u64,
    /// Ramp rounds (a cold burst, then a warm one, each round).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Metering rounds (a slice of each kind of load on each server).
    #[arg(long, default_value_t = 20)]
    metering_rounds: usize,
    /// Run the metering part with metering off on both servers: a control
    /// run that shows the method's noise when there is no difference.
    #[arg(long)]
    metering_control: bool,
    /// Most functions the density run deploys.
    #[arg(long, default_value_t = 10_000)]
    functions: usize,
    /// Longest the density run deploys for.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    deploy_time: Duration,
    /// Concurrent CreateFunction callers.
    #[arg(long, default_value_t = 2)]
    deployers: usize,
    /// Functions invoked once after deploying (live environments).
    #[arg(long, default_value_t = 500)]
    warm: usize,
    /// Keep-alive connections of the throughput run.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured window of each metering slice.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    duration: Duration,
    /// Warmup of each metering server before the slices.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// CPU of one `Metering::record()` call in ns (the `record()` figure
    /// of `cargo test --release -p updraft-metering --test metering
    /// record_cost -- --ignored --nocapture`), added to the flusher's
    /// CPU measured in the server.
    #[arg(long)]
    record_ns: Option<f64>,
    /// Parts to skip: ramp, density, metering (repeatable).
    #[arg(long)]
    skip: Vec<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Clone)]
pub struct ProcessArgs {
    /// The updraft binary.
    #[arg(long)]
    updraft: Option<PathBuf>,
    /// The Rust `bootstrap` executable (the release build of
    /// crates/runtime-process/tests/fixtures/rust-bootstrap).
    #[arg(long)]
    bootstrap: PathBuf,
    /// The Python handler module (handler `app.handler`).
    #[arg(long)]
    python_app: Option<PathBuf>,
    /// The managed Python runtime directory (awslambdaric), kept between
    /// runs so it is installed once.
    #[arg(long)]
    python_runtime_dir: Option<PathBuf>,
    /// The wasm component of the warm comparison.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Cold starts sampled per function.
    #[arg(long, default_value_t = 30)]
    cold_samples: usize,
    /// Window of each warm Invoke run.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warm: Duration,
    /// Invokes sent at once in each environments-per-second burst.
    #[arg(long, default_value_t = 16)]
    burst: usize,
    /// Bursts per function.
    #[arg(long, default_value_t = 2)]
    bursts: usize,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    #[command(flatten)]
    output: Output,
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
        Some(Command::Scale(args)) => scale(args),
        Some(Command::Process(args)) => process(args),
        Some(Command::Events(args)) => events(args),
        Some(Command::Authz(args)) => authz(args),
        Some(Command::Attacks(args)) => attacks(args),
        Some(Command::Objects(args)) => objects(args),
        Some(Command::Tables(args)) => tables(args),
        None => run(cli.run),
    }
}

fn client_runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    anyhow::ensure!(threads >= 1, "--client-threads must be at least 1");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the load generator's runtime")
}

fn updraft_binary(given: Option<PathBuf>, root: &std::path::Path) -> anyhow::Result<PathBuf> {
    let updraft = given.unwrap_or_else(|| root.join("target/release/updraft"));
    anyhow::ensure!(
        updraft.is_file(),
        "{} not found: build it with `cargo build --release -p updraft` or pass --updraft",
        updraft.display()
    );
    Ok(updraft)
}

/// The example wasi:http component, as the README's build puts it.
const HELLO: &str = "target/guests/wasm32-wasip2/release/hello_http.wasm";

/// `--component`, or the example component under `root`.
fn hello_component(given: Option<PathBuf>, root: &std::path::Path) -> anyhow::Result<PathBuf> {
    existing(
        given.unwrap_or_else(|| root.join(HELLO)),
        "the hello component",
    )
}

/// Notes the machine, runs `measure` on a load-generator runtime of
/// `client_threads` threads and publishes its report.
fn measure_and_publish(
    title: &str,
    client_threads: usize,
    measure: impl std::future::Future<Output = anyhow::Result<String>>,
    out: &Output,
) -> anyhow::Result<()> {
    let machine = control::machine();
    let client = client_runtime(client_threads)?;
    let body = client.block_on(measure)?;
    publish(title, &command_line(), &machine, &body, out)
}

fn existing(path: PathBuf, what: &str) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(path.is_file(), "{} ({what}) not found", path.display());
    Ok(path)
}

/// Prints the report, writes it to `--out` and appends it to `--append`
/// under a dated heading with the machine's facts.
fn publish(
    title: &str,
    command: &str,
    machine: &str,
    body: &str,
    out: &Output,
) -> anyhow::Result<()> {
    let day = std::process::Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let section = format!(
        "### {day}: {title}\n\n{machine}\n- load average at the end: {}\n- command: `{command}`\n- **caveat**: the load generator shares the machine with the server, and other builds and test runs may have been loading it: compare rows of one run, treat absolute numbers as indicative.\n\n{body}",
        control::loadavg()
    );
    println!("{section}");
    if let Some(path) = &out.out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, &section).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    if let Some(path) = &out.append {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        write!(f, "\n{section}").with_context(|| format!("appending to {}", path.display()))?;
        eprintln!("results appended to {}", path.display());
    }
    Ok(())
}

/// The command line, with the program named `updraft-bench`.
fn command_line() -> String {
    std::iter::once("updraft-bench".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = scale::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        sleep: existing(
            args.sleep_component
                .unwrap_or_else(|| scale::default_sleep(&root)),
            "the http_sleep guest: `cargo build -p updraft-test-support` builds it",
        )?,
        hello: hello_component(args.component, &root)?,
        n: args.n.max(1),
        hold_ms: args.hold_ms,
        rounds: args.rounds.max(1),
        metering_rounds: args.metering_rounds.max(1),
        density_max: args.functions.max(2),
        density_time: args.deploy_time,
        deployers: args.deployers,
        warm: args.warm,
        load: load::Settings {
            connections: args.connections.max(1),
            warmup: args.warmup,
            duration: args.duration,
        },
        record_ns: args.record_ns,
        metering_control: args.metering_control,
        skip: args.skip,
    };
    measure_and_publish(
        "Scaling, density and metering (`updraft-bench scale`)",
        args.client_threads,
        scale::run(&settings),
        &args.output,
    )
}

fn events(args: EventsArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = events::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        hello: hello_component(args.component, &root)?,
        load: load::Settings {
            connections: args.connections.max(1),
            warmup: args.warmup,
            duration: args.duration,
        },
        samples: args.samples.max(1),
        rules: args.rules.max(1),
    };
    measure_and_publish(
        "Event services (`updraft-bench events`)",
        args.client_threads,
        events::run(&settings),
        &args.output,
    )
}

fn authz(args: AuthzArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = authz::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        hello: hello_component(args.component, &root)?,
        rounds: args.rounds.max(1),
        load: load::Settings {
            connections: args.connections.max(1),
            warmup: args.warmup,
            duration: args.duration,
        },
        policies: args.policies.max(1),
        attached: args.attached.max(1),
        control: args.control,
    };
    measure_and_publish(
        "Authorization on and off (`updraft-bench authz`)",
        args.client_threads,
        authz::run(&settings),
        &args.output,
    )
}

fn attacks(args: AttacksArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = attacks::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        hello: hello_component(args.component, &root)?,
        load: load::Settings {
            connections: args.connections.max(1),
            warmup: Duration::from_millis(200),
            duration: args.duration,
        },
        slowloris: args.slowloris,
        idle: args.idle,
    };
    measure_and_publish(
        "Serving under attack (`updraft-bench attacks`)",
        args.client_threads,
        attacks::run(&settings),
        &args.output,
    )
}

fn objects(args: ObjectsArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = objects::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        connections: args.connections.max(1),
        warmup: args.warmup,
        duration: args.duration,
        big: args.big_gib << 30,
        peer_bytes: args.peer_mib.max(64) << 20,
        notify: if args.samples == 0 {
            None
        } else {
            Some((hello_component(args.component, &root)?, args.samples))
        },
    };
    measure_and_publish(
        "Object storage (`updraft-bench objects`)",
        args.client_threads,
        objects::run(&settings),
        &args.output,
    )
}

fn tables(args: TablesArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = tables::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        load: load::Settings {
            connections: args.connections.max(1),
            warmup: args.warmup,
            duration: args.duration,
        },
    };
    measure_and_publish(
        "Tables (`updraft-bench tables`)",
        args.client_threads,
        tables::run(&settings),
        &args.output,
    )
}

fn process(args: ProcessArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let settings = process::Settings {
        updraft: updraft_binary(args.updraft, &root)?,
        hello: hello_component(args.component, &root)?,
        bootstrap: existing(args.bootstrap, "the Rust bootstrap")?,
        python_app: existing(
            args.python_app.unwrap_or_else(|| {
                root.join("crates/runtime-process/tests/fixtures/python/app.py")
            }),
            "the Python handler",
        )?,
        python_runtime_dir: args
            .python_runtime_dir
            .unwrap_or_else(|| std::env::temp_dir().join("updraft-bench-python-runtime")),
        cold_samples: args.cold_samples.max(1),
        warm: args.warm,
        burst: args.burst.max(1),
        bursts: args.bursts,
    };
    measure_and_publish(
        "Native-process functions (`updraft-bench process`)",
        args.client_threads,
        process::run(&settings),
        &args.output,
    )
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let root = PathBuf::from(REPO_ROOT);
    let updraft = args
        .updraft
        .clone()
        .unwrap_or_else(|| root.join("target/release/updraft"));
    let component = args.component.clone().unwrap_or_else(|| root.join(HELLO));
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
