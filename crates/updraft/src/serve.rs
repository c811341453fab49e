//! `updraft serve`: builds the node and runs it until SIGTERM or ctrl-c.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use updraft_gateway::{AppState, Tenant};
use updraft_invoker::Invoker;
use updraft_metering::{Metering, MeteringConfig, Prices};
use updraft_pool::{Limits, Pools, PoolsConfig, Runtime, ScaleUp};
use updraft_registry::{Registry, RegistryConfig};
use updraft_runtime_process::{install_awslambdaric, ProcessConfig, ProcessRuntime};
use updraft_runtime_wasm::{WasmConfig, WasmRuntime};
use updraft_store::{ArtifactStore, Store};
use updraft_store_sqlite::{SqliteEventStore, SqliteStore};
use updraft_telemetry::{LogWriter, Metrics, OtlpExporter, SpanSink};
use updraft_types::Account;

use crate::cli::parse_duration;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: String,
    /// Idle environments are dropped after this long (scale to zero).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Account-level concurrency limit.
    #[arg(long, default_value_t = 1000)]
    max_concurrency: usize,
    /// The most memory (MB) live environments may reserve in total (the sum
    /// of their MemorySize); default: the machine's memory less 1 GiB.
    #[arg(long)]
    memory_budget: Option<u64>,
    /// New environments one function may start per --scale-up-window.
    #[arg(long, default_value_t = 1000)]
    scale_up_limit: u32,
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    scale_up_window: Duration,
    /// Most WebAssembly instances alive at once (pooling allocator slots).
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,
    /// How long shutdown waits for in-flight invocations.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// Usage metering: `on` (every invocation yields a usage record) or
    /// `off` (no records; for measuring what metering costs).
    #[arg(long, env = "UPDRAFT_METERING", default_value = "on", value_parser = ["on", "off"])]
    metering: String,
    /// How long usage records are kept.
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    usage_retention: Duration,
    /// Price per million requests, for usage cost estimates (AWS Lambda
    /// x86 list price by default).
    #[arg(long, default_value_t = 0.20)]
    price_per_million_requests: f64,
    /// Price per GB-second of compute (AWS Lambda x86 list price).
    #[arg(long, default_value_t = 0.0000166667)]
    price_per_gb_second: f64,
    /// Free requests per month (AWS Lambda's free tier).
    #[arg(long, default_value_t = 1_000_000)]
    free_requests_per_month: u64,
    /// Free GB-seconds per month (AWS Lambda's free tier).
    #[arg(long, default_value_t = 400_000.0)]
    free_gb_seconds_per_month: f64,
    /// How long invocation logs are kept.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    log_retention: Duration,
    /// Deploy NAME=FILE.wasm at startup with a public function URL.
    #[arg(long = "deploy", value_name = "NAME=FILE")]
    deploy: Vec<String>,
    /// Send one OpenTelemetry span per invocation to this OTLP/HTTP
    /// collector (base URL, e.g. http://127.0.0.1:4318; spans go to
    /// {URL}/v1/traces).
    #[arg(long, value_name = "URL", env = "UPDRAFT_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Where the managed Python runtime (awslambdaric) is installed;
    /// default: <data-dir>/process/runtimes/python.
    #[arg(long, value_name = "DIR", env = "UPDRAFT_PYTHON_RUNTIME_DIR")]
    python_runtime_dir: Option<PathBuf>,
    /// The Node.js binary for nodejs20.x and nodejs22.x functions.
    #[arg(
        long,
        value_name = "PATH",
        env = "UPDRAFT_NODE",
        default_value = "node"
    )]
    node: PathBuf,
    /// Where the AWS SDK for JavaScript that Node.js functions import is
    /// installed (scripts/run installs it; see
    /// crates/runtime-process/scripts/install-node-sdk.sh); default:
    /// <data-dir>/process/runtimes/nodejs.
    #[arg(long, value_name = "DIR", env = "UPDRAFT_NODE_RUNTIME_DIR")]
    node_runtime_dir: Option<PathBuf>,
    /// How long a failed async invocation waits before its first retry;
    /// the second waits twice as long (Lambda: about 1 and 2 minutes).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    async_retry_base: Duration,
    /// Server log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// The id of the node's account: its resources' ARNs carry it, and its
    /// root user holds the key in <data-dir>/credentials.
    #[arg(long, default_value = "000000000000", env = "UPDRAFT_ACCOUNT_ID", value_parser = parse_account_id)]
    account_id: String,
    /// Accounts, users, keys, roles and policies to create at start
    /// (TOML or JSON; applied idempotently on every start).
    #[arg(long, value_name = "FILE")]
    bootstrap: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key), so keys
    /// and session tokens do not cross the network in clear.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Authorization by policy: `on`, or `off` to measure what it costs
    /// (requests are still authenticated).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    authorization: String,
    /// How long a new connection may stay silent, and how long an HTTP/1.1
    /// request's line and headers may take once they start.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Open connections at once; beyond it a connection gets 503 and is
    /// closed.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// `/metrics` for signed requests only (`on`: SigV4, service `lambda`,
    /// by a principal allowed `updraft:GetMetrics`), or open to anyone who
    /// reaches the listener (`off`, for Prometheus scrapers).
    #[arg(long, default_value = "off", value_parser = ["on", "off"])]
    metrics_auth: String,
    /// Host names of the server for virtual-hosted S3 requests: a request
    /// for `BUCKET.<name>` addresses that bucket (path-style `/BUCKET/KEY`
    /// works whatever the host). Repeatable.
    #[arg(long = "s3-host", value_name = "NAME", default_values_t = ["localhost".to_string(), "s3.localhost".to_string()])]
    s3_hosts: Vec<String>,
}

/// A 12-digit account id.
fn parse_account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not an account id (12 digits)"))
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPDRAFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The data directory's lock: `<data-dir>/LOCK`, exclusively `flock`ed
/// while a server runs, with its pid inside. A second server on the same
/// directory refuses to start instead of sharing its stores; the lock goes
/// with the process, however it ends. A clean shutdown empties the file,
/// so a pid found in it at start is a server that did not stop cleanly.
struct DataDirLock {
    file: std::fs::File,
    /// The pid of a previous server that did not shut down cleanly.
    unclean: Option<String>,
}

impl DataDirLock {
    fn take(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        use std::io::{Read as _, Write as _};
        let path = data_dir.join("LOCK");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut previous = String::new();
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                file.read_to_string(&mut previous)?;
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                anyhow::bail!(
                    "the data directory {} is in use by another updraft server (pid {}); stop it, or give this one another --data-dir",
                    data_dir.display(),
                    holder.trim()
                );
            }
            Err(e) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        file.set_len(0)?;
        std::io::Seek::rewind(&mut file)?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()?;
        let previous = previous.trim();
        Ok(DataDirLock {
            file,
            unclean: (!previous.is_empty()).then(|| previous.to_string()),
        })
    }

    /// Marks the shutdown clean (the lock itself goes with the process).
    fn release(self) {
        if let Err(e) = self.file.set_len(0).and_then(|()| self.file.sync_all()) {
            tracing::warn!(error = %e, "could not mark the shutdown clean in the LOCK file");
        }
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))
}

pub async fn run(args: ServeArgs, data_dir: PathBuf) -> anyhow::Result<()> {
    let signals = ShutdownSignals::install()?;
    init_tracing(&args.log_format);
    create_private_dir(&data_dir)?;
    let lock = DataDirLock::take(&data_dir)?;
    let cred_path = data_dir.join("credentials");
    let (creds, created) = updraft_auth::load_or_create(&cred_path)
        .with_context(|| format!("credentials at {}", cred_path.display()))?;
    if created {
        tracing::info!(path = %cred_path.display(), "created credentials");
    }

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::load_tls_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}");
    // What functions reach the platform at: the listener (a wildcard
    // address is reached on loopback), and for native-process sandboxes,
    // which have no network, the same API on a Unix socket bound now (so
    // it exists before any sandbox starts) and served once the API is built.
    let endpoint_url = format!(
        "{scheme}://{}",
        if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        }
    );
    let endpoint_socket = bind_endpoint_socket(&endpoint_socket_path(&data_dir))?;

    let artifacts = ArtifactStore::open(data_dir.join("code"))?;
    let wasm = WasmRuntime::new(WasmConfig {
        max_instances: args.max_instances,
        tmp_dir: data_dir.join("tmp"),
        endpoint_url: Some(endpoint_url),
        ..WasmConfig::new(data_dir.join("compiled"))
    })?;
    let allocator = wasm.allocator();
    let mut runtimes: Vec<Arc<dyn Runtime>> = vec![Arc::new(wasm)];
    let account = Account {
        account_id: args.account_id.clone(),
        ..Account::default()
    };
    let iam = Arc::new(open_iam(
        &data_dir,
        &account,
        &creds,
        args.bootstrap.as_deref(),
    )?);
    match process_runtime(&data_dir, &args) {
        Ok(process) => runtimes.push(Arc::new(process)),
        Err(e) => tracing::warn!(
            error = %format!("{e:#}"),
            "native-process runtimes (provided.*, python3.x, nodejs*) are unavailable"
        ),
    }
    let memory_budget_mb = args.memory_budget.unwrap_or_else(default_memory_budget_mb);
    tracing::info!(memory_budget_mb, "node memory budget for environments");
    let issuer: Arc<dyn updraft_pool::CredentialIssuer> =
        Arc::new(crate::role_credentials::RoleCredentials::new(iam.clone()));
    let pools = Pools::with_credentials(
        PoolsConfig {
            idle_timeout: args.idle_timeout,
            memory_budget_mb,
            scale_up: ScaleUp {
                limit: args.scale_up_limit,
                window: args.scale_up_window,
            },
        },
        issuer,
    );
    let spans: Option<Arc<dyn SpanSink>> = match &args.otlp_endpoint {
        Some(url) => Some(Arc::new(
            OtlpExporter::new(url, "updraft").with_context(|| format!("--otlp-endpoint {url}"))?,
        )),
        None => None,
    };
    if args.metering == "off" {
        tracing::warn!("usage metering is off: invocations are not metered");
    }
    let shared = Shared {
        args: &args,
        artifacts,
        runtimes,
        pools,
        metrics: Arc::new(Metrics::new()),
        spans,
        base_url: base_url.clone(),
        roles: Arc::new(crate::role_credentials::ServiceRoles(iam.clone())),
    };

    // Every account's resources live apart: the node's own in the data
    // directory, each other account's in `accounts/<id>/`.
    let mut tenants = BTreeMap::new();
    for id in iam.account_ids() {
        let home = id == account.account_id;
        let dir = if home {
            data_dir.clone()
        } else {
            data_dir.join("accounts").join(&id)
        };
        let tenant_account = Account {
            account_id: id.clone(),
            ..account.clone()
        };
        let tenant = open_tenant(&shared, &dir, tenant_account, home)
            .with_context(|| format!("opening the resources of account {id}"))?;
        tenants.insert(id, tenant);
    }
    let home = tenants[&account.account_id].clone();
    let mut deployed = Vec::new();
    for spec in &args.deploy {
        deployed.push(deploy_at_startup(&home.registry, spec)?);
    }
    // Object storage is the node's (bucket names are global), in `s3/`.
    let s3_notifier = updraft_gateway::S3Notifier::new();
    let s3 = updraft_s3::S3::open(
        &data_dir.join("s3"),
        updraft_s3::S3Config {
            region: account.region.clone(),
            hosts: args.s3_hosts.clone(),
        },
        s3_notifier.clone(),
    )
    .map_err(|e| anyhow::anyhow!("opening object storage: {e}"))?;
    spawn_lifecycle_sweeper(s3.clone());
    let state = Arc::new(AppState {
        iam: iam.clone(),
        account: account.clone(),
        authorization: args.authorization == "on",
        metrics_auth: args.metrics_auth == "on",
        credentials: creds,
        tenants: tenants.clone(),
        s3: Some(s3),
        s3_hosts: args.s3_hosts.clone(),
    });
    s3_notifier.attach(&state);

    if let Some(pid) = &lock.unclean {
        // What the stores did at open: messages in flight at the crash are
        // visible again, unstored usage records were stored (the meter
        // logs how many), accepted async invocations wait in their queues.
        let waiting: u64 = tenants
            .values()
            .flat_map(|t| {
                t.queues
                    .queue_names("")
                    .into_iter()
                    .filter_map(|q| t.queues.stats(&q).ok())
                    .collect::<Vec<_>>()
            })
            .map(|s| s.visible + s.in_flight + s.delayed)
            .sum();
        tracing::warn!(
            previous_pid = %pid,
            waiting,
            "unclean shutdown: the previous server on this data directory stopped without shutting down; recovered: messages that were in flight are visible again, accepted async invocations and queued messages ({waiting}) are delivered from the event store, and unstored usage records were replayed from the journal"
        );
        println!("recovered from an unclean shutdown of the previous server (pid {pid}): {waiting} queued messages and async invocations are waiting to be delivered");
    }
    println!("updraft listening on {base_url}");
    println!("data directory: {}", data_dir.display());
    println!("credentials: {} (profile default)", cred_path.display());
    println!("wasm allocator: {allocator}");
    for name in &deployed {
        println!();
        println!("function {name} is deployed. Call it:");
        println!("  curl {base_url}/fn/{name}/");
        println!(
            "  AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url {base_url} --region {} lambda invoke --function-name {name} out.json && cat out.json",
            cred_path.display(),
            account.region
        );
    }

    let app = updraft_gateway::router(state);
    // The same API on a Unix socket, which native-process sandboxes reach
    // as their `AWS_ENDPOINT_URL` (they have no other network).
    let endpoint_socket = tokio::spawn({
        let app = app.clone();
        async move {
            if let Err(e) = axum::serve(endpoint_socket, app).await {
                tracing::warn!(error = %e, "the endpoint socket stopped serving");
            }
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopping = async move {
        signals.recv().await;
        let _ = stop_tx.send(true);
    };
    let limits = crate::tls::Limits {
        handshake_timeout: crate::tls::HANDSHAKE_TIMEOUT,
        header_timeout: args.header_timeout,
        max_connections: args.max_connections,
    };
    let server = async move {
        crate::tls::serve(listener, tls, app, stopping, limits).await;
        Ok::<(), anyhow::Error>(())
    };
    // After the signal, connections get `shutdown_timeout` to finish their
    // requests; then the server stops regardless.
    let bound = async {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(args.shutdown_timeout).await;
    };
    tokio::select! {
        r = server => r?,
        _ = bound => tracing::warn!(timeout = ?args.shutdown_timeout, "requests still open at the shutdown bound; stopping anyway"),
    }

    endpoint_socket.abort();
    tracing::info!("shutting down: waiting for background invocations");
    // Event consumers stop taking work and finish what they started, all
    // within the one bound.
    let stops = tenants.values().map(|t| async {
        let (events_done, mappings_done) = tokio::join!(
            t.events.shutdown(args.shutdown_timeout),
            t.mappings.shutdown(args.shutdown_timeout)
        );
        let account = &t.account.account_id;
        if !events_done {
            tracing::warn!(account, timeout = ?args.shutdown_timeout, "async deliveries did not finish in time; they run again after a restart");
        }
        if !mappings_done {
            tracing::warn!(account, timeout = ?args.shutdown_timeout, "event source mapping batches did not finish in time; their messages return to the queue");
        }
        if !t.invoker.drain(args.shutdown_timeout).await {
            tracing::warn!(account, timeout = ?args.shutdown_timeout, "in-flight invocations did not finish in time");
        }
        t.queues.close();
        if let Some(m) = &t.metering {
            m.close();
        }
    });
    futures::future::join_all(stops).await;
    lock.release();
    Ok(())
}

/// What every account's services share: the node's runtimes, environment
/// pools (one memory budget), code packages (addressed by hash), metrics
/// and span exporter.
struct Shared<'a> {
    args: &'a ServeArgs,
    artifacts: ArtifactStore,
    runtimes: Vec<Arc<dyn Runtime>>,
    pools: Pools,
    metrics: Arc<Metrics>,
    spans: Option<Arc<dyn SpanSink>>,
    base_url: String,
    /// What schedules ask before acting with their role.
    roles: Arc<dyn updraft_types::RoleCheck>,
}

/// Opens one account's resources from `dir` and starts its background
/// services: its functions (with its own concurrency limit), logs, usage
/// meter (with its own free tier), queues, buses, schedules, async
/// invocations and event source mappings.
fn open_tenant(
    shared: &Shared,
    dir: &Path,
    account: Account,
    home: bool,
) -> anyhow::Result<Arc<Tenant>> {
    let args = shared.args;
    create_private_dir(dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("updraft.db"))?);
    let registry = Arc::new(Registry::open(
        store.clone(),
        shared.artifacts.clone(),
        shared.runtimes.clone(),
        shared.pools.clone(),
        Limits::new(args.max_concurrency),
        RegistryConfig {
            account: account.clone(),
            base_url: shared.base_url.clone(),
            limits: Default::default(),
            namespace: if home {
                String::new()
            } else {
                format!("{}.", account.account_id)
            },
        },
    )?);
    let metering = match args.metering.as_str() {
        "off" => None,
        _ => Some(Arc::new(Metering::open_with(
            dir,
            store.clone(),
            MeteringConfig {
                retention: Some(args.usage_retention),
                prices: Prices {
                    per_million_requests: args.price_per_million_requests,
                    per_gb_second: args.price_per_gb_second,
                    free_requests_per_month: args.free_requests_per_month,
                    free_gb_seconds_per_month: args.free_gb_seconds_per_month,
                },
                ..Default::default()
            },
        )?)),
    };
    let invoker = Invoker::new(
        registry.clone(),
        shared.pools.clone(),
        shared.metrics.clone(),
        LogWriter::spawn(store.clone()),
        shared.spans.clone(),
        metering.clone(),
    );
    invoker.restore_provisioning();

    // The event services: durable queues first (async invocations wait
    // in them), then what produces into them and what consumes them.
    let event_store = Arc::new(SqliteEventStore::open(&dir.join("events.db"))?);
    let queues = updraft_queues::Queues::open(event_store, &account.region, &account.account_id)
        .context("opening the event store")?;
    let bus = updraft_bus::Bus::open(queues.clone(), account.clone())
        .map_err(|e| anyhow::anyhow!("opening the event bus: {e}"))?;
    let schedules = updraft_schedules::Schedules::open_with_roles(
        queues.clone(),
        account.clone(),
        Some(shared.roles.clone()),
    )
    .map_err(|e| anyhow::anyhow!("opening schedules: {e}"))?;
    let events = updraft_events::AsyncEvents::new(
        queues.clone(),
        bus.clone(),
        invoker.clone(),
        updraft_events::AsyncConfig {
            retry_base: args.async_retry_base,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("opening async invocation: {e}"))?;
    let mappings = updraft_mappings::Mappings::open(queues.clone(), invoker.clone())
        .map_err(|e| anyhow::anyhow!("opening event source mappings: {e}"))?;
    events.start();
    schedules.start();
    mappings.start();
    spawn_log_pruning(store.clone(), args.log_retention);
    let tables =
        updraft_tables::Tables::open(&dir.join("tables"), &account.account_id, &account.region)
            .map_err(|e| anyhow::anyhow!("opening the tables: {e}"))?;
    spawn_ttl_sweeper(tables.clone());
    mappings.attach_streams(Arc::new(updraft_gateway::TableStreams(tables.clone())));
    Ok(Arc::new(Tenant {
        account,
        invoker,
        registry,
        store,
        queues,
        bus,
        schedules,
        events,
        mappings,
        metering,
        tables,
    }))
}

/// Applies the buckets' lifecycle expiration rules every minute.
fn spawn_lifecycle_sweeper(s3: Arc<updraft_s3::S3>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match s3.expire_now(std::time::SystemTime::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(objects = n, "lifecycle rules expired objects"),
                Err(e) => tracing::warn!(error = %e, "the lifecycle sweep failed"),
            }
        }
    });
}

/// Deletes the tables' expired TTL items every few seconds (DynamoDB does
/// it within days; sooner costs nothing here).
fn spawn_ttl_sweeper(tables: Arc<updraft_tables::Tables>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let tables = tables.clone();
            let swept = tokio::task::spawn_blocking(move || {
                tables.expire_ttl(std::time::SystemTime::now())
            })
            .await;
            match swept {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!(items = n, "expired TTL items deleted"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the TTL sweep failed"),
                Err(e) => tracing::warn!(error = %e, "the TTL sweep panicked"),
            }
        }
    });
}

/// The identity directory: the node's account with the key from the
/// credentials file as its root key, the default execution role, and what
/// a bootstrap file asks for.
fn open_iam(
    data_dir: &Path,
    account: &Account,
    creds: &updraft_auth::Credentials,
    bootstrap: Option<&Path>,
) -> anyhow::Result<updraft_iam::Iam> {
    let iam = updraft_iam::Iam::open(
        &data_dir.join("iam.db"),
        updraft_iam::IamConfig {
            bootstrap_account: account.account_id.clone(),
            region: account.region.clone(),
        },
    )
    .context("opening the identity directory (iam.db)")?;
    iam.ensure_account(&account.account_id)?;
    iam.ensure_root_key(
        &account.account_id,
        &creds.access_key_id,
        &creds.secret_access_key,
    )?;
    if let Some(path) = bootstrap {
        let file = updraft_iam::Bootstrap::from_file(path)
            .with_context(|| format!("--bootstrap {}", path.display()))?;
        iam.apply_bootstrap(&file)
            .with_context(|| format!("--bootstrap {}", path.display()))?;
    }
    // Every account gets the default roles (a role of the same name that
    // exists is left as it is).
    for id in iam.account_ids() {
        iam.ensure_service_role(
            &id,
            DEFAULT_ROLE,
            &[
                "lambda.amazonaws.com",
                "scheduler.amazonaws.com",
                "events.amazonaws.com",
            ],
        )?;
        ensure_scheduler_role(&iam, &id)
            .with_context(|| format!("the default scheduler role of account {id}"))?;
    }
    Ok(iam)
}

/// Makes the role [`SCHEDULER_ROLE`] in `account` unless it exists:
/// trusted by Scheduler, allowed to invoke the account's functions and
/// send to its queues, as the role the AWS console makes for a schedule.
fn ensure_scheduler_role(iam: &updraft_iam::Iam, account: &str) -> anyhow::Result<()> {
    let arn = format!("arn:aws:iam::{account}:role/{SCHEDULER_ROLE}");
    match iam.check_trusts(&arn, "scheduler.amazonaws.com") {
        Err(updraft_iam::IamError::NoSuchRole(_)) => {}
        _ => return Ok(()),
    }
    let role = serde_json::json!({
        "name": SCHEDULER_ROLE,
        "description": "The role schedules act with by default: invokes the account's functions and sends to its queues.",
        "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "inline_policies": {"deliver": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["lambda:InvokeFunction", "sqs:SendMessage"],
            "Resource": [format!("arn:aws:lambda:*:{account}:function:*"),
                         format!("arn:aws:sqs:*:{account}:*")]}]}},
    });
    let bootstrap: updraft_iam::Bootstrap = serde_json::from_value(
        serde_json::json!({"accounts": [{"id": account, "roles": [role]}]}),
    )?;
    iam.apply_bootstrap(&bootstrap)?;
    Ok(())
}

/// Where the API is served for native-process sandboxes.
fn endpoint_socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("endpoint.sock")
}

/// Binds the Unix socket at `path` (replacing a stale one), open to the
/// sandboxes' users.
fn bind_endpoint_socket(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("opening {} to sandboxes", dir.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("opening {} to sandboxes", path.display()))?;
    Ok(listener)
}

/// The execution role made in every account at start (trusted by Lambda,
/// Scheduler and EventBridge; no permissions until some are attached),
/// which `updraft deploy` uses when no role is given.
pub const DEFAULT_ROLE: &str = "updraft";

/// The role made in every account at start for schedules to act with
/// (`updraft schedule add` uses it): trusted by Scheduler, allowed
/// `lambda:InvokeFunction` and `sqs:SendMessage` in its account.
pub const SCHEDULER_ROLE: &str = "updraft-scheduler";

/// The first argument that makes `updraft` the sandbox helper.
pub const SANDBOX_INIT: &str = "sandbox-init";

/// The native-process runtime, with its sandbox helper being this binary
/// and `awslambdaric` installed (or updated to the pinned version) in the
/// data dir's managed runtime directory.
fn process_runtime(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<ProcessRuntime> {
    let mut config = ProcessConfig::new(data_dir.join("process"));
    if let Some(dir) = &args.python_runtime_dir {
        config.python_runtime_dir = dir.clone();
    }
    if let Some(dir) = &args.node_runtime_dir {
        config.node_runtime_dir = dir.clone();
    }
    config.node = args.node.clone();
    config.init_binary = std::env::current_exe().context("locating the updraft binary")?;
    config.init_args = vec![SANDBOX_INIT.to_string()];
    config.endpoint_socket = Some(endpoint_socket_path(data_dir));
    if let Err(e) = install_awslambdaric(&config.python, &config.python_runtime_dir) {
        tracing::warn!(
            error = %format!("{e:#}"),
            dir = %config.python_runtime_dir.display(),
            "could not install awslambdaric; python runtimes will refuse deployments until it is installed"
        );
    }
    let runtime = ProcessRuntime::new(config)?;
    tracing::info!(limits = ?runtime.limit_mechanism(), "native-process runtime ready");
    Ok(runtime)
}

/// `--deploy NAME=FILE`: creates or updates the function and gives it a
/// public function URL.
fn deploy_at_startup(registry: &Registry, spec: &str) -> anyhow::Result<String> {
    let (name, file) = spec
        .split_once('=')
        .with_context(|| format!("--deploy {spec}: expected NAME=FILE"))?;
    let bytes = std::fs::read(file).with_context(|| format!("--deploy: reading {file}"))?;
    let zip = crate::cli::package_bytes(file, bytes)?;
    updraft_registry::deploy_or_update(registry, name, zip)
        .with_context(|| format!("--deploy {name}"))?;
    Ok(name.to_string())
}

/// The machine's memory (`MemTotal`) less a 1 GiB reserve for the node
/// itself; 4 GiB when it cannot be read.
fn default_memory_budget_mb() -> u64 {
    let total_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb / 1024);
    match total_mb {
        Some(mb) => mb.saturating_sub(1024).max(128),
        None => 4096,
    }
}

fn spawn_log_pruning(store: Arc<dyn Store>, retention: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = chrono::Utc::now().timestamp_millis() - retention.as_millis() as i64;
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.prune_logs(cutoff)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(records = n, "pruned old invocation logs"),
                Ok(Err(e)) => tracing::warn!(error = %e, "pruning logs failed"),
                _ => {}
            }
        }
    });
}

/// SIGTERM and SIGINT, caught from the start of `serve`: one that arrives
/// while the node is still starting stops it cleanly once it serves.
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<ShutdownSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate()).context("catching SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("catching SIGINT")?,
        })
    }

    async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.interrupt.recv() => {},
        }
        tracing::info!("shutdown signal received");
    }
}
