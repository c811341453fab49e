//! The HTTP front door.
//!
//! One listener serves every API, routed by path (REST-JSON: Lambda,
//! Scheduler), by `X-Amz-Target` (JSON protocol: SQS, EventBridge,
//! CloudWatch Logs) or by a form body (SQS's query protocol), plus
//! function URLs under `/fn/` and `/metrics`. Handlers parse the wire
//! shape, call the registry, the invoker or an event service, and render
//! the answer; they hold no state.
//!
//! ```text
//!  request ─> signed (SigV4, body buffered) ─┬─> /2015-03-31/functions...  control plane, Invoke (Event: durable queue)
//!                                            ├─> /2015-03-31/event-source-mappings[/{uuid}]
//!                                            ├─> /2019-09-25/functions/{f}/event-invoke-config[/list]
//!                                            ├─> /2021-10-31/functions/{f}/url[s]
//!                                            ├─> /2017-10-31, /2019-09-30 .../concurrency, provisioned-concurrency
//!                                            ├─> /schedules[/{name}], /schedule-groups[/{name}]   Scheduler
//!                                            ├─> /updraft/v1/usage, /updraft/v1/queues, /updraft/v1/code/{sha} (presigned)
//!                                            ├─> POST / (X-Amz-Target)     AmazonSQS.*, AWSEvents.*, Logs_*, DynamoDB_20120810.*
//!                                            └─> POST / or /{account}/{queue} (form)   SQS query protocol
//!  request ─> /fn/{name}[:{alias}]/{path}   (auth per URL config: NONE streams, AWS_IAM verifies)
//!  request ─> /metrics                      (Prometheus text; signed with --metrics-auth on)
//!  request ─> S3 (bucket.<host>, signed for s3, or unsigned off the other APIs' paths) ─> s3 (streamed)
//! ```
//!
//! The SigV4 service name is checked per API (`lambda`, `sqs`, `events`,
//! `scheduler`, `logs`, `dynamodb`).

mod authorize;
mod cors;
mod error;
mod event_invoke;
mod eventbridge;
mod form;
mod functions;
mod iam_api;
mod invoke;
mod logs;
mod mappings;
mod operation;
mod permissions;
mod provisioned;
mod resource_policy;
mod s3;
mod s3_events;
mod scheduler;
mod signed;
mod sqs;
mod streams;
mod tables;
mod urls;
mod usage;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{any, get, post};
use axum::Router;
use updraft_auth::Credentials;
use updraft_invoker::Invoker;
use updraft_registry::Registry;
use updraft_store::Store;
use updraft_telemetry::FunctionGauges;

pub use authorize::SecureTransport;
pub use error::ApiError;
pub use s3_events::S3Notifier;
pub use streams::TableStreams;

/// The SQS query protocol's form decoder, its rewriting into the JSON
/// protocol's input and its XML writer, public so that they can be fuzzed
/// on their own (`crates/fuzz`).
pub mod sqs_query {
    pub use crate::sqs::query::{decode_form, escape, to_json_input, xml_response, XMLNS};
    pub use crate::sqs::SqsError;
}

/// One account's resources and the services that hold them. Every
/// account has its own: its functions, queues, buses, schedules, mappings,
/// logs and usage live apart from every other account's, so a principal
/// sees another account's resources only through that account's
/// resource policies.
pub struct Tenant {
    /// The account and region its ARNs are written with.
    pub account: updraft_types::Account,
    pub invoker: Arc<Invoker>,
    pub registry: Arc<Registry>,
    pub store: Arc<dyn Store>,
    /// Durable queues: SQS, and async invocations waiting for functions.
    pub queues: Arc<updraft_queues::Queues>,
    pub bus: Arc<updraft_bus::Bus>,
    pub schedules: Arc<updraft_schedules::Schedules>,
    pub events: Arc<updraft_events::AsyncEvents>,
    pub mappings: Arc<updraft_mappings::Mappings>,
    /// The account's meter, when metering is on: the usage API commits
    /// what it is metering before reading, and prices with its prices.
    pub metering: Option<Arc<updraft_metering::Metering>>,
    /// DynamoDB-compatible tables.
    pub tables: Arc<updraft_tables::Tables>,
}

/// What every request shares: the node's identity directory and settings,
/// and every account's resources.
pub struct AppState {
    /// Accounts, principals, keys and policies: who signed a request, and
    /// what it may do.
    pub iam: Arc<updraft_iam::Iam>,
    /// The node's own account (the bootstrap account) and its region.
    pub account: updraft_types::Account,
    /// Whether requests are authorized by policy (off only to measure what
    /// authorization costs; authentication stays on).
    pub authorization: bool,
    /// The server's own key pair: signs the download URLs it hands out.
    pub credentials: Credentials,
    /// Whether `/metrics` needs a signed request from a principal allowed
    /// `updraft:GetMetrics` (`--metrics-auth on`).
    pub metrics_auth: bool,
    /// Every account's resources, by account id; the node's own among them.
    pub tenants: BTreeMap<String, Arc<Tenant>>,
    /// Object storage (the node's: bucket names are global), when it is on.
    pub s3: Option<Arc<updraft_s3::S3>>,
    /// The node's host names for virtual-hosted S3 requests
    /// (`bucket.<name>`).
    pub s3_hosts: Vec<String>,
}

impl AppState {
    /// The resources of `account`, when it is one of the node's.
    pub fn tenant(&self, account: &str) -> Option<&Arc<Tenant>> {
        self.tenants.get(account)
    }

    /// The node's own account's resources.
    pub fn home(&self) -> &Arc<Tenant> {
        &self.tenants[&self.account.account_id]
    }
}

/// The account whose resources a signed request acts on, as
/// [`signed::verify`] decided it: the one its resource's ARN or queue URL
/// names, else the caller's.
#[derive(Clone)]
struct Owner(Arc<Tenant>);

/// A handler's view of one request: the node, and the account the request
/// acts in (whose services it dereferences to).
pub(crate) struct InAccount {
    pub node: Arc<AppState>,
    pub tenant: Arc<Tenant>,
}

impl std::ops::Deref for InAccount {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        &self.tenant
    }
}

impl axum::extract::FromRequestParts<Arc<AppState>> for InAccount {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let tenant = match parts.extensions.get::<Owner>() {
            Some(owner) => owner.0.clone(),
            None => state.home().clone(),
        };
        Ok(InAccount {
            node: state.clone(),
            tenant,
        })
    }
}

type Shared = State<Arc<AppState>>;

/// The complete router.
pub fn router(state: Arc<AppState>) -> Router {
    let lambda = Router::new()
        .route(
            "/2015-03-31/functions",
            get(functions::list_functions).post(functions::create_function),
        )
        .route("/2015-03-31/functions/", get(functions::list_functions))
        .route(
            "/2015-03-31/functions/{name}",
            get(functions::get_function).delete(functions::delete_function),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            get(functions::list_versions).post(functions::publish_version),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            get(functions::list_aliases).post(functions::create_alias),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(functions::get_alias)
                .put(functions::update_alias)
                .delete(functions::delete_alias),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2021-10-31/functions/{name}/url",
            get(functions::get_url_config)
                .post(functions::create_url_config)
                .put(functions::update_url_config)
                .delete(functions::delete_url_config),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(functions::put_concurrency).delete(functions::delete_concurrency),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(functions::get_concurrency),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(provisioned::get)
                .put(provisioned::put)
                .delete(provisioned::delete),
        )
        .route(
            "/2021-10-31/functions/{name}/urls",
            get(functions::list_url_configs),
        )
        .route("/updraft/v1/code/{sha}", get(functions::download_code))
        .route("/updraft/v1/usage", get(usage::usage))
        .route("/updraft/v1/queues", get(list_queues))
        .route("/", post(logs::json_protocol))
        .merge(event_invoke::routes())
        .merge(permissions::routes())
        .merge(mappings::routes())
        .merge(scheduler::routes())
        .merge(sqs::routes())
        .fallback(error::unknown_operation)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signed::verify,
        ));

    let routed = Router::new()
        .route("/fn/{target}", any(urls::function_url))
        .route("/fn/{target}/", any(urls::function_url))
        .route("/fn/{target}/{*path}", any(urls::function_url))
        .route("/metrics", get(metrics))
        .merge(lambda)
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone());
    // S3's requests are picked off before routing: their paths
    // (`/bucket/key`) overlap the other APIs' routes.
    let s3 = axum::middleware::from_fn_with_state(state, s3::dispatch);
    Router::new().fallback_service(tower::Layer::layer(&s3, routed))
}

/// Every queue (SQS queues and internal async-invocation queues) with its
/// depth, by name.
fn queue_depths(queues: &updraft_queues::Queues) -> Vec<(String, updraft_queues::QueueStats)> {
    queues
        .queue_names("")
        .into_iter()
        .filter_map(|name| {
            let stats = queues.stats(&name).ok()?;
            Some((name, stats))
        })
        .collect()
}

/// Every queue's depth as `/metrics` gauges.
fn queue_gauges(
    queues: &updraft_queues::Queues,
) -> HashMap<String, updraft_telemetry::QueueGauges> {
    queue_depths(queues)
        .into_iter()
        .map(|(name, s)| {
            let gauges = updraft_telemetry::QueueGauges {
                visible: s.visible,
                in_flight: s.in_flight,
                delayed: s.delayed,
                oldest_age_seconds: s.oldest_age_ms as f64 / 1000.0,
            };
            (name, gauges)
        })
        .collect()
}

/// `GET /updraft/v1/queues`: every queue with its depth, internal
/// async-invocation queues (`Kind: async`) included.
async fn list_queues(state: InAccount) -> axum::Json<serde_json::Value> {
    let queues: Vec<serde_json::Value> = queue_depths(&state.queues)
        .into_iter()
        .map(|(name, s)| {
            let kind = if name.starts_with(updraft_queues::invocation::PREFIX) {
                "async"
            } else {
                "sqs"
            };
            serde_json::json!({
                "Name": name,
                "Kind": kind,
                "Visible": s.visible,
                "InFlight": s.in_flight,
                "Delayed": s.delayed,
                "OldestAgeMs": s.oldest_age_ms,
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "Queues": queues }))
}

/// `GET /metrics`: every function's and queue's gauges and counters, in
/// the OpenMetrics text format (names and numbers only). With
/// `--metrics-auth on` the request must be signed (service `lambda`) by a
/// principal allowed `updraft:GetMetrics`.
async fn metrics(State(state): Shared, req: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    if state.metrics_auth {
        let (mut parts, _) = req.into_parts();
        let (identity, caller) = match signed::check(&state, &parts, b"", "lambda") {
            Ok(verified) => verified,
            Err(e) => return e.into_response(),
        };
        parts.extensions.insert(identity);
        let op = operation::Operation::new("updraft:GetMetrics", "*");
        if let Err(denied) = authorize::authorize(&state, &caller, &op, &parts, "lambda") {
            return *denied;
        }
    }
    let text = metrics_text(&state);
    let text = match &state.s3 {
        Some(s3) => with_bucket_metrics(text, s3).await,
        None => text,
    };
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `text` with every bucket's requests, errors, writes, objects and bytes
/// added before its `# EOF`.
async fn with_bucket_metrics(mut text: String, s3: &updraft_s3::S3) -> String {
    use std::fmt::Write as _;
    let counters = s3.bucket_metrics();
    let usage = s3.bucket_usage().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not measure the buckets for /metrics");
        Vec::new()
    });
    if counters.is_empty() && usage.is_empty() {
        return text;
    }
    let eof = text.rfind("# EOF").unwrap_or(text.len());
    let tail = text.split_off(eof);
    let mut family =
        |name: &str, kind: &str, help: &str, values: &mut dyn Iterator<Item = (&str, u64)>| {
            let _ = writeln!(text, "# TYPE {name} {kind}\n# HELP {name} {help}");
            let sample = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            for (bucket, value) in values {
                let _ = writeln!(text, "{sample}{{bucket=\"{bucket}\"}} {value}");
            }
        };
    family(
        "updraft_s3_bucket_requests",
        "counter",
        "S3 requests answered for the bucket.",
        &mut counters.iter().map(|c| (c.bucket.as_str(), c.requests)),
    );
    family(
        "updraft_s3_bucket_errors",
        "counter",
        "S3 requests for the bucket answered with an error.",
        &mut counters.iter().map(|c| (c.bucket.as_str(), c.errors)),
    );
    family(
        "updraft_s3_bucket_writes",
        "counter",
        "Object writes and deletes committed in the bucket.",
        &mut counters.iter().map(|c| (c.bucket.as_str(), c.writes)),
    );
    family(
        "updraft_s3_bucket_objects",
        "gauge",
        "Objects in the bucket (current versions).",
        &mut usage.iter().map(|(b, u)| (b.as_str(), u.objects)),
    );
    family(
        "updraft_s3_bucket_bytes",
        "gauge",
        "Bytes the bucket's versions hold.",
        &mut usage.iter().map(|(b, u)| (b.as_str(), u.bytes)),
    );
    text.push_str(&tail);
    text
}

fn metrics_text(state: &AppState) -> String {
    let home = state.home();
    let mut gauges: HashMap<String, FunctionGauges> = HashMap::new();
    // Pools and metrics are the node's: functions and queues of accounts
    // other than the node's are labelled `ACCOUNT.NAME`.
    for (function, s) in home.invoker.pools().stats() {
        let g = gauges.entry(function).or_default();
        g.environments = (s.idle + s.busy) as u64;
        g.idle = s.idle as u64;
        g.memory_reserved_bytes = s.memory_reserved_mb << 20;
        g.memory_used_bytes = s.memory_used_bytes;
    }
    let mut queues = HashMap::new();
    for tenant in state.tenants.values() {
        for (function, n) in tenant.registry.limits().running() {
            let scoped = tenant.registry.scoped_name(&function).into_owned();
            gauges.entry(scoped).or_default().concurrent = n as u64;
        }
        for (name, g) in queue_gauges(&tenant.queues) {
            queues.insert(tenant.registry.scoped_name(&name).into_owned(), g);
        }
    }
    let dropped = state
        .tenants
        .values()
        .filter_map(|t| t.metering.as_ref())
        .map(|m| m.stats().dropped)
        .sum();
    home.invoker.metrics().usage_records_dropped(dropped);
    home.invoker.metrics().render(&gauges, &queues)
}
