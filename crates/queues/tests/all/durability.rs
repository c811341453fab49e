//! What survives a restart.

use std::collections::BTreeSet;
use std::time::Duration;

use updraft_queues::ReceiveRequest;

use crate::{bodies, create, now, open, text};

#[tokio::test]
async fn reopen_keeps_undeleted_messages() {
    let dir = tempfile::tempdir().unwrap();
    let kept: BTreeSet<String>;
    {
        let queues = open(dir.path());
        create(&queues, "jobs", &[("VisibilityTimeout", "600")]).await;
        let messages = (0..20).map(|i| text(&format!("m{i}"))).collect();
        queues.send("jobs", messages).await.unwrap();
        let got = queues.receive("jobs", now(8)).await.unwrap();
        // Delete five, leave three in flight.
        for r in &got[..5] {
            queues.delete("jobs", &r.receipt_handle).await.unwrap();
        }
        let deleted: BTreeSet<String> = bodies(&got[..5]).into_iter().collect();
        kept = (0..20)
            .map(|i| format!("m{i}"))
            .filter(|b| !deleted.contains(b))
            .collect();
        queues.close();
    }
    let queues = open(dir.path());
    let config = queues.get_queue("jobs").expect("the queue survives");
    assert_eq!(config.visibility_timeout, 600);
    let stats = queues.stats("jobs").unwrap();
    assert_eq!((stats.visible, stats.in_flight), (15, 0));
    let got = queues.receive("jobs", now(100)).await.unwrap();
    let after: BTreeSet<String> = bodies(&got).into_iter().collect();
    assert_eq!(after, kept);
    // In-flight messages kept their receive count.
    assert_eq!(got.iter().filter(|r| r.receive_count == 2).count(), 3);
    // Handles of messages received before the restart still delete them.
    queues.delete("jobs", &got[0].receipt_handle).await.unwrap();
    assert_eq!(queues.stats("jobs").unwrap().in_flight, 14);
}

#[tokio::test]
async fn reopen_keeps_delays_and_drops_deleted_queues() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queues = open(dir.path());
        create(&queues, "slow", &[("DelaySeconds", "900")]).await;
        create(&queues, "gone", &[]).await;
        queues.send("slow", vec![text("later")]).await.unwrap();
        queues.send("gone", vec![text("x")]).await.unwrap();
        queues.delete_queue("gone").await.unwrap();
        queues.close();
    }
    let queues = open(dir.path());
    assert!(queues.get_queue("gone").is_none());
    let stats = queues.stats("slow").unwrap();
    assert_eq!((stats.visible, stats.delayed), (0, 1));
    let request = ReceiveRequest {
        max_messages: 1,
        visibility_timeout: None,
        wait: Some(Duration::from_millis(100)),
    };
    assert!(queues.receive("slow", request).await.unwrap().is_empty());
}
