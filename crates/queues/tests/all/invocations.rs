//! Async invocations in their functions' internal queues.

use updraft_queues::invocation::{queue_name, AsyncInvocation};
use updraft_queues::EventWrite;

use crate::{now, open};

pub fn invocation(function: &str, request_id: &str) -> AsyncInvocation {
    AsyncInvocation {
        function: function.to_owned(),
        qualifier: Some("live".to_owned()),
        payload: format!("{{\"id\":\"{request_id}\"}}").into(),
        request_id: request_id.to_owned(),
        trigger: "event".to_owned(),
        traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned()),
    }
}

#[tokio::test]
async fn enqueue_round_trips_through_from_received() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let sent = vec![
        invocation("alpha", "req-1"),
        invocation("beta", "req-2"),
        invocation("alpha", "req-3"),
    ];
    queues.enqueue_invocations(sent.clone()).await.unwrap();

    let alpha = queues.receive(&queue_name("alpha"), now(10)).await.unwrap();
    assert_eq!(alpha.len(), 2);
    assert_eq!(alpha[0].message_id, "req-1");
    assert!(alpha[0].attributes.is_empty());
    let back: Vec<AsyncInvocation> = alpha
        .iter()
        .map(|r| AsyncInvocation::from_received(r).expect("an invocation"))
        .collect();
    assert_eq!(back, [sent[0].clone(), sent[2].clone()]);
    let beta = queues.receive(&queue_name("beta"), now(10)).await.unwrap();
    assert_eq!(
        AsyncInvocation::from_received(&beta[0]),
        Some(sent[1].clone())
    );

    // Internal queues are not SQS queues.
    assert!(queues.list_queues("").is_empty());
    assert!(queues.get_queue(&queue_name("alpha")).is_none());
    assert_eq!(
        queues.queue_names(""),
        [queue_name("alpha"), queue_name("beta")]
    );
}

#[tokio::test]
async fn invocations_survive_restart_with_extra_writes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queues = open(dir.path());
        let slot = EventWrite::PutResource {
            kind: "schedule-slot".into(),
            key: "nightly".into(),
            value: "\"2026-11-26T00:00:00Z\"".into(),
        };
        queues
            .enqueue_invocations_with(vec![invocation("alpha", "req-9")], vec![slot])
            .await
            .unwrap();
        queues.close();
    }
    let queues = open(dir.path());
    assert_eq!(
        queues.store().resource("schedule-slot", "nightly").unwrap(),
        Some("\"2026-11-26T00:00:00Z\"".into())
    );
    let got = queues.receive(&queue_name("alpha"), now(10)).await.unwrap();
    assert_eq!(
        AsyncInvocation::from_received(&got[0]),
        Some(invocation("alpha", "req-9"))
    );
}

#[tokio::test]
async fn same_request_id_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    queues
        .enqueue_invocations(vec![invocation("alpha", "req-1")])
        .await
        .unwrap();
    queues
        .enqueue_invocations(vec![invocation("alpha", "req-1")])
        .await
        .unwrap();
    assert_eq!(queues.stats(&queue_name("alpha")).unwrap().visible, 1);
}
