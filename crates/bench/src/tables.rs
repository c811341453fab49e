//! `updraft-bench tables`: DynamoDB's PutItem, GetItem and Query through
//! the wire API against the same operations on a bare SQLite table in the
//! same run (the peer, the ceiling).
//!
//! ```text
//!   updraft    table `bench` (pk S, sk N); 1 KB items; a pool of 1,000
//!              signed requests per operation, replayed round robin
//!              PutItem   pk p{i % 100}, sk i (overwrites after the pool)
//!              GetItem   one of the pool's items (all seeded first)
//!              Query     pk `q`: 100 items, one page
//!   peer       SQLite in WAL mode with synchronous=FULL (as updraft-tables
//!              opens its database), a WITHOUT ROWID table keyed (pk, sk);
//!              INSERT OR REPLACE, a point SELECT, a 100-row range SELECT;
//!              one connection per client thread, each statement its own
//!              transaction
//! ```
//! Both run at 1 and N clients, one at a time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use updraft_auth::Credentials;

use crate::load::{self, MakeRequest, Measured};
use crate::servers;

const REGION: &str = "us-east-1";
const TABLE: &str = "bench";
/// Signed requests of each operation's pool.
const POOL: usize = 1000;
/// Items under the queried partition key.
const QUERIED: usize = 100;
/// Bytes of an item's payload attribute (the item is about 1 KB).
const PAYLOAD: usize = 1000;

pub struct Settings {
    pub updraft: PathBuf,
    pub load: load::Settings,
}

/// Signs DynamoDB JSON-protocol requests for one server.
struct Signer {
    addr: SocketAddr,
    creds: Credentials,
}

impl Signer {
    /// The signed headers and the body of `op` with `body`.
    fn sign(&self, op: &str, body: &Value) -> anyhow::Result<(HeaderMap, Bytes)> {
        let body = Bytes::from(body.to_string());
        let mut map = HeaderMap::new();
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.addr.to_string())?,
        );
        map.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        map.insert(
            "x-amz-target",
            HeaderValue::from_str(&format!("DynamoDB_20120810.{op}"))?,
        );
        let signed = updraft_auth::sign(
            "POST",
            &format!("http://{}/", self.addr),
            &map,
            &body,
            &self.creds,
            REGION,
            "dynamodb",
            SystemTime::now(),
        )
        .map_err(|e| anyhow!("signing {op}: {e}"))?;
        Ok((signed, body))
    }

    /// One call on `conn`; fails unless it answers 200.
    async fn call(
        &self,
        conn: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        op: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        conn.ready().await?;
        let (headers, body) = self.sign(op, body)?;
        let resp = conn.send_request(post(headers, body)).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{op}: {status} {}", String::from_utf8_lossy(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("{op}: the answer is not JSON"))
    }
}

fn item(pk: &str, sk: usize) -> Value {
    json!({
        "pk": {"S": pk},
        "sk": {"N": sk.to_string()},
        "payload": {"S": "x".repeat(PAYLOAD)},
    })
}

fn put_pk(i: usize) -> String {
    format!("p{}", i % 100)
}

/// A pool of signed requests (headers and body) handed out round robin.
fn pool(signed: Vec<(HeaderMap, Bytes)>) -> MakeRequest {
    let next = AtomicUsize::new(0);
    Arc::new(move || {
        let (headers, body) = &signed[next.fetch_add(1, Ordering::Relaxed) % signed.len()];
        post(headers.clone(), body.clone())
    })
}

fn post(headers: HeaderMap, body: Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static("/");
    *req.headers_mut() = headers;
    req
}

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    let server = servers::start_updraft_with(&s.updraft, &[], &[])?;
    let creds = updraft_auth::read_profile(server.credentials()?, "default")
        .context("reading the server's credentials")?;
    let signer = Signer {
        addr: server.addr,
        creds,
    };
    let mut conn = load::connect(server.addr).await?;
    signer
        .call(
            &mut conn,
            "CreateTable",
            &json!({
                "TableName": TABLE,
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"}
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "BillingMode": "PAY_PER_REQUEST"
            }),
        )
        .await?;
    eprintln!("tables: seeding {} items", POOL + QUERIED);
    for i in 0..POOL {
        let body = json!({"TableName": TABLE, "Item": item(&put_pk(i), i)});
        signer.call(&mut conn, "PutItem", &body).await?;
    }
    for i in 0..QUERIED {
        let body = json!({"TableName": TABLE, "Item": item("q", i)});
        signer.call(&mut conn, "PutItem", &body).await?;
    }
    let answer = signer
        .call(
            &mut conn,
            "Query",
            &json!({
                "TableName": TABLE,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "q"}}
            }),
        )
        .await?;
    let count = answer["Count"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        count == QUERIED as u64,
        "Query returned {count} items, not {QUERIED}"
    );

    let requests = |op: &str| -> anyhow::Result<Vec<(HeaderMap, Bytes)>> {
        (0..POOL)
            .map(|i| {
                let body = match op {
                    "PutItem" => json!({"TableName": TABLE, "Item": item(&put_pk(i), i)}),
                    "GetItem" => json!({"TableName": TABLE, "Key": {
                        "pk": {"S": put_pk(i)}, "sk": {"N": i.to_string()}}}),
                    _ => json!({
                        "TableName": TABLE,
                        "KeyConditionExpression": "pk = :p",
                        "ExpressionAttributeValues": {":p": {"S": "q"}}
                    }),
                };
                signer.sign(op, &body)
            })
            .collect()
    };

    let peer_dir = tempfile::Builder::new()
        .prefix("updraft-bench.sqlite.")
        .tempdir()
        .context("creating the peer's directory")?;
    let mut rows = Vec::new();
    for op in ["PutItem", "GetItem", "Query"] {
        for clients in [1, s.load.connections] {
            eprintln!("tables: {op} at {clients} clients");
            let settings = load::Settings {
                connections: clients,
                ..s.load.clone()
            };
            let wire = load::run(server.addr, &settings, pool(requests(op)?)).await?;
            let dir = peer_dir.path().to_path_buf();
            let (window, op_name) = (s.load.clone(), op.to_string());
            let peer =
                tokio::task::spawn_blocking(move || sqlite_peer(&dir, &op_name, clients, &window))
                    .await
                    .context("the SQLite peer panicked")??;
            rows.push((op, clients, wire, peer));
        }
    }
    drop(server);

    let mut md = format!(
        "#### Tables (DynamoDB JSON protocol, SigV4; 1 KB items; {:?} measured after {:?} warmup; the peer: bare SQLite, WAL, synchronous=FULL, on the same filesystem)\n\n",
        s.load.duration, s.load.warmup
    );
    md += "| operation | clients | updraft ops/s | p50 ms | p99 ms | errors | SQLite ops/s | p50 ms | p99 ms | updraft / SQLite |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (op, clients, wire, peer) in rows {
        let label = if op == "Query" {
            format!("Query ({QUERIED} items)")
        } else {
            op.to_string()
        };
        md += &format!(
            "| {label} | {clients} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.3} | {:.3} | {:.1} % |\n",
            wire.rps(),
            wire.pct_us(0.5) / 1000.0,
            wire.pct_us(0.99) / 1000.0,
            wire.errors,
            peer.rps(),
            peer.pct_us(0.5) / 1000.0,
            peer.pct_us(0.99) / 1000.0,
            100.0 * wire.rps() / peer.rps().max(f64::MIN_POSITIVE)
        );
    }
    md += "\n";
    Ok(md)
}

fn open_peer(dir: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(dir.join("peer.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS items (pk BLOB NOT NULL, sk BLOB NOT NULL, item TEXT NOT NULL,
           PRIMARY KEY (pk, sk)) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// `op` on the bare SQLite table from `clients` threads, each with its own
/// connection, closed loops for the warmup and the window.
fn sqlite_peer(
    dir: &Path,
    op: &str,
    clients: usize,
    window: &load::Settings,
) -> anyhow::Result<Measured> {
    let text = |pk: &str, sk: usize| item(pk, sk).to_string();
    {
        let conn = open_peer(dir).context("opening the peer database")?;
        let tx = conn.unchecked_transaction()?;
        for i in 0..POOL {
            tx.execute(
                "INSERT OR REPLACE INTO items VALUES (?1, ?2, ?3)",
                rusqlite::params![put_pk(i), i as i64, text(&put_pk(i), i)],
            )?;
        }
        for i in 0..QUERIED {
            tx.execute(
                "INSERT OR REPLACE INTO items VALUES ('q', ?1, ?2)",
                rusqlite::params![i as i64, text("q", i)],
            )?;
        }
        tx.commit()?;
    }
    let items: Arc<Vec<String>> = Arc::new((0..POOL).map(|i| text(&put_pk(i), i)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let begin = start + window.warmup;
    let end = begin + window.duration;
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (items, next) = (items.clone(), next.clone());
                scope.spawn(
                    move || -> anyhow::Result<(hdrhistogram::Histogram<u64>, u64, Instant)> {
                        let conn = open_peer(dir)?;
                        let mut put =
                            conn.prepare("INSERT OR REPLACE INTO items VALUES (?1, ?2, ?3)")?;
                        let mut get =
                            conn.prepare("SELECT item FROM items WHERE pk = ?1 AND sk = ?2")?;
                        let mut query = conn.prepare(
                            "SELECT item FROM items WHERE pk = 'q' ORDER BY sk LIMIT 100",
                        )?;
                        let mut hist = load::histogram();
                        let (mut ok, mut last) = (0u64, begin);
                        while Instant::now() < start {
                            std::thread::yield_now();
                        }
                        loop {
                            let t0 = Instant::now();
                            if t0 >= end {
                                break;
                            }
                            let i = next.fetch_add(1, Ordering::Relaxed) % POOL;
                            match op {
                                "PutItem" => {
                                    put.execute(rusqlite::params![put_pk(i), i as i64, items[i]])?;
                                }
                                "GetItem" => {
                                    let got: String = get
                                        .query_row(rusqlite::params![put_pk(i), i as i64], |r| {
                                            r.get(0)
                                        })?;
                                    anyhow::ensure!(got.len() > PAYLOAD, "a short item");
                                }
                                _ => {
                                    let rows = query
                                        .query_map([], |r| r.get::<_, String>(0))?
                                        .collect::<rusqlite::Result<Vec<_>>>()?;
                                    anyhow::ensure!(rows.len() == QUERIED, "{} rows", rows.len());
                                }
                            }
                            let done = Instant::now();
                            if t0 >= begin {
                                hist.record((done - t0).as_nanos() as u64).ok();
                                ok += 1;
                                last = done;
                            }
                        }
                        Ok((hist, ok, last))
                    },
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a peer thread panicked"))?)
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut total = Measured {
        latency: load::histogram(),
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    let mut last = begin;
    for (hist, ok, done) in results {
        total.latency.add(&hist).ok();
        total.ok += ok;
        last = last.max(done);
    }
    total.elapsed = (last - begin).max(Duration::from_micros(1));
    Ok(total)
}
