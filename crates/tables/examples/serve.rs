//! A bare HTTP front for `Tables`, for running third-party suites (moto's
//! DynamoDB tests in server mode, see conformance/moto.sh) against the
//! crate without the gateway: no signature check, the region taken from
//! the request's credential scope, one account (123456789012), and
//! `POST /moto-api/reset` starting from empty tables.
//!
//! ```text
//! cargo run -p updraft-tables --example serve -- 127.0.0.1:5055 /tmp/tables-data
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use updraft_tables::Tables;

struct Shared {
    base: PathBuf,
    /// Reset generation and the open tables per region.
    open: Mutex<(u64, HashMap<String, Arc<Tables>>)>,
}

type Reply = (StatusCode, [(&'static str, &'static str); 1], String);

fn reply(status: u16, body: String) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
}

/// The region's tables, opened on first use; `None` after a reset request.
fn tables_for(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Arc<Tables>>, Reply> {
    let mut open = shared.open.lock().map_err(|_| reply(500, "{}".into()))?;
    if uri.path().starts_with("/moto-api/reset") {
        open.0 += 1;
        open.1.clear();
        return Ok(None);
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let region = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string();
    if let Some(tables) = open.1.get(&region) {
        return Ok(Some(Arc::clone(tables)));
    }
    let dir = shared.base.join(format!("{}-{region}", open.0));
    let tables = Tables::open(&dir, "123456789012", &region)
        .map_err(|e| reply(500, e.body().to_string()))?;
    open.1.insert(region, Arc::clone(&tables));
    Ok(Some(tables))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let tables = match tables_for(&shared, &uri, &headers) {
        Ok(Some(tables)) => tables,
        Ok(None) => return reply(200, "{}".into()),
        Err(reply) => return reply,
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target
        .strip_prefix("DynamoDB_20120810.")
        .unwrap_or(target)
        .to_string();
    match tokio::task::spawn_blocking(move || tables.execute(&op, &body)).await {
        Ok(Ok(out)) => reply(200, out.to_string()),
        Ok(Err(e)) => reply(e.status(), e.body().to_string()),
        Err(_) => reply(500, "{}".into()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5055".into());
    let base = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/updraft-tables-serve".into()),
    );
    let _ = std::fs::remove_dir_all(&base);
    let shared = Arc::new(Shared {
        base,
        open: Mutex::new((0, HashMap::new())),
    });
    let app = Router::new().fallback(handle).with_state(shared);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("tables on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
