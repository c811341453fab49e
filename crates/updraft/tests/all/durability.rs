//! Durability: kill -9 of the server at arbitrary moments under load loses
//! nothing it acknowledged.
//!
//! Three producers run while the server is killed and restarted several
//! times: async invocations (`Invoke` with `Event`), events on the bus
//! (`PutEvents`, a rule targets the same function) and SQS messages
//! (`SendMessage`). Only what got its acknowledgement (202, a
//! `FailedEntryCount` of 0, a `MessageId`) is counted. The function's
//! `OnSuccess` destination is an SQS queue, so a successful delivery
//! leaves a durable record there; at the end every acknowledged
//! invocation and event must have one (duplicates are allowed: delivery
//! is at least once), and every acknowledged message must be receivable.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use updraft_auth::Credentials;
use updraft_test_support as guests;

use crate::support::{http, sign_headers, Server};

const ACCOUNT: &str = "000000000000";
/// Kill -9 rounds; `UPDRAFT_DURABILITY_ROUNDS` asks for more (the trials
/// RELIABILITY.md reports).
fn rounds() -> usize {
    std::env::var("UPDRAFT_DURABILITY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}
/// How long the producers run before each kill.
const LOAD: Duration = Duration::from_millis(1500);

/// What the producers got acknowledged.
#[derive(Default)]
struct Acked {
    invocations: BTreeSet<String>,
    events: BTreeSet<String>,
    messages: BTreeSet<String>,
}

/// A signed request to `url` (the server's address changes on restart).
fn call(
    url: &str,
    creds: &Credentials,
    service: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Value)> {
    let full = format!("{url}{path}");
    let signed = sign_headers(
        "POST",
        &full,
        headers,
        body,
        creds,
        service,
        SystemTime::now(),
    );
    let r = http().try_send("POST", &full, &signed, body.to_vec())?;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    Some((r.status, v))
}

fn json_target(
    url: &str,
    creds: &Credentials,
    service: &str,
    target: &str,
    body: Value,
) -> Option<(u16, Value)> {
    let ct = if service == "sqs" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    call(
        url,
        creds,
        service,
        "/",
        &[("content-type", ct), ("x-amz-target", target)],
        body.to_string().as_bytes(),
    )
}

fn queue_url(s: &Server, name: &str) -> String {
    format!("{}/{ACCOUNT}/{name}", s.url)
}

/// One producer thread: sends until `stop`, records what was acknowledged.
fn produce(
    kind: usize,
    round: usize,
    worker: usize,
    url: String,
    creds: Credentials,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("{kind}-{round}-{worker}-{n}");
        match kind {
            0 => {
                let body = json!({ "id": id }).to_string();
                if let Some((202, _)) = call(
                    &url,
                    &creds,
                    "lambda",
                    "/2015-03-31/functions/work/invocations",
                    &[("x-amz-invocation-type", "Event")],
                    body.as_bytes(),
                ) {
                    acked.lock().unwrap().invocations.insert(id);
                }
            }
            1 => {
                let entry = json!({
                    "Source": "durability.test",
                    "DetailType": "tick",
                    "Detail": json!({ "id": id }).to_string(),
                });
                if let Some((200, v)) = json_target(
                    &url,
                    &creds,
                    "events",
                    "AWSEvents.PutEvents",
                    json!({ "Entries": [entry] }),
                ) {
                    if v["FailedEntryCount"] == 0 {
                        acked.lock().unwrap().events.insert(id);
                    }
                }
            }
            _ => {
                let body = json!({
                    "QueueUrl": format!("{url}/{ACCOUNT}/inbox"),
                    "MessageBody": id,
                });
                if let Some((200, v)) =
                    json_target(&url, &creds, "sqs", "AmazonSQS.SendMessage", body)
                {
                    if v["MessageId"].is_string() {
                        acked.lock().unwrap().messages.insert(id);
                    }
                }
            }
        }
    }
}

/// Receives and deletes every message of a queue until it stays empty
/// for `quiet`; returns the bodies.
fn drain_queue(s: &Server, name: &str, quiet: Duration, bound: Duration) -> Vec<String> {
    let creds = s.credentials();
    let deadline = Instant::now() + bound;
    let mut last_seen = Instant::now();
    let mut bodies = Vec::new();
    while Instant::now() < deadline && last_seen.elapsed() < quiet {
        let Some((200, v)) = json_target(
            &s.url,
            &creds,
            "sqs",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": queue_url(s, name), "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        ) else {
            continue;
        };
        let messages = v["Messages"].as_array().cloned().unwrap_or_default();
        if !messages.is_empty() {
            last_seen = Instant::now();
        }
        for m in messages {
            bodies.push(m["Body"].as_str().unwrap_or_default().to_string());
            json_target(
                &s.url,
                &creds,
                "sqs",
                "AmazonSQS.DeleteMessage",
                json!({"QueueUrl": queue_url(s, name), "ReceiptHandle": m["ReceiptHandle"]}),
            );
        }
    }
    bodies
}

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let mut s = Server::start(&["--async-retry-base", "100ms"]);
    s.deploy("work", guests::CMD_RECORD, json!({}));
    for q in ["inbox", "done"] {
        let r = s.json_call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": q}));
        assert_eq!(r.status, 200, "creating {q}: {}", r.text());
    }
    let r = s.api(
        "PUT",
        "/2019-09-25/functions/work/event-invoke-config",
        Some(json!({
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnSuccess": {"Destination": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:done")}},
        })),
    );
    assert_eq!(r.status, 200, "event invoke config: {}", r.text());
    let r = s.json_call(
        "events",
        "AWSEvents.PutRule",
        json!({"Name": "to-work", "EventPattern": json!({"source": ["durability.test"]}).to_string()}),
    );
    assert_eq!(r.status, 200, "PutRule: {}", r.text());
    let r = s.json_call(
        "events",
        "AWSEvents.PutTargets",
        json!({"Rule": "to-work", "Targets": [{"Id": "work", "Arn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:work")}]}),
    );
    assert_eq!(r.status, 200, "PutTargets: {}", r.text());
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());

    let acked = Arc::new(Mutex::new(Acked::default()));
    let rounds = rounds();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let creds = s.credentials();
        let workers: Vec<_> = (0..6)
            .map(|w| {
                let (url, creds, stop, acked) =
                    (s.url.clone(), creds.clone(), stop.clone(), acked.clone());
                std::thread::spawn(move || produce(w % 3, round, w, url, creds, stop, acked))
            })
            .collect();
        // Kill at a different point of the load each round.
        std::thread::sleep(LOAD + Duration::from_millis(137 * round as u64));
        s.kill_9();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("a producer panicked");
        }
        s.restart_after_exit();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.invocations.len() > 20 && acked.events.len() > 20 && acked.messages.len() > 20,
        "too little load to mean anything: {} invocations, {} events, {} messages",
        acked.invocations.len(),
        acked.events.len(),
        acked.messages.len()
    );

    // Every acknowledged SQS message is still there.
    let inbox: BTreeSet<String> =
        drain_queue(&s, "inbox", Duration::from_secs(3), Duration::from_secs(60))
            .into_iter()
            .collect();
    let lost: Vec<_> = acked.messages.difference(&inbox).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost: {lost:?}",
        lost.len()
    );

    // Every acknowledged invocation and event ran to success.
    let mut delivered = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut missing = Vec::new();
    while Instant::now() < deadline {
        for body in drain_queue(&s, "done", Duration::from_secs(2), Duration::from_secs(20)) {
            let record: Value = serde_json::from_str(&body).expect("a destination record");
            assert_eq!(record["requestContext"]["condition"], "Success", "{record}");
            let payload = &record["requestPayload"];
            // A bus event arrives in its envelope (whose own `id` is the event id).
            let id = payload["detail"]["id"].as_str().or(payload["id"].as_str());
            delivered.insert(id.expect("an id in the payload").to_string());
        }
        missing = acked
            .invocations
            .iter()
            .chain(&acked.events)
            .filter(|id| !delivered.contains(*id))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged invocations/events never delivered: {:?}",
        missing.len(),
        acked.invocations.len() + acked.events.len(),
        &missing[..missing.len().min(20)]
    );
    eprintln!(
        "durability: {} invocations, {} events, {} messages acknowledged over {rounds} kill -9s; all delivered",
        acked.invocations.len(),
        acked.events.len(),
        acked.messages.len()
    );
}
