//! Send, receive, delete, visibility, delay and long polling.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use updraft_queues::{QueueError, Queues, ReceiveRequest};

use crate::{bodies, create, now, open, receive_until, text, Counting};

#[tokio::test]
async fn send_receive_delete() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let sent = queues
        .send("jobs", vec![text("one"), text("two")])
        .await
        .unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].md5_of_body, "f97c5d29941bfb1b2fdab0874906ab82");
    assert_eq!(sent[0].md5_of_message_attributes, None);

    let got = queues.receive("jobs", now(10)).await.unwrap();
    assert_eq!(bodies(&got), ["one", "two"]);
    assert_eq!(got[0].message_id, sent[0].message_id);
    assert_eq!(got[0].receive_count, 1);
    assert_eq!(
        got[0].first_receive_ms,
        got[0].first_receive_ms.max(got[0].sent_ms)
    );
    let stats = queues.stats("jobs").unwrap();
    assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 2, 0));

    for r in &got {
        queues.delete("jobs", &r.receipt_handle).await.unwrap();
    }
    // Deleting again succeeds, as in SQS.
    queues.delete("jobs", &got[0].receipt_handle).await.unwrap();
    assert_eq!(
        queues.delete("jobs", "not a handle").await,
        Err(QueueError::ReceiptHandleIsInvalid("not a handle".into()))
    );
    let stats = queues.stats("jobs").unwrap();
    assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 0, 0));
    assert!(queues.receive("jobs", now(10)).await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_queue_is_nonexistent() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    assert_eq!(
        queues.send("nope", vec![text("x")]).await.unwrap_err(),
        QueueError::NonExistentQueue
    );
    assert_eq!(
        queues.receive("nope", now(1)).await.unwrap_err(),
        QueueError::NonExistentQueue
    );
}

#[tokio::test]
async fn visibility_timeout_expiry_redelivers() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    queues.send("jobs", vec![text("again")]).await.unwrap();
    let first = queues
        .receive(
            "jobs",
            ReceiveRequest {
                max_messages: 1,
                visibility_timeout: Some(Duration::from_millis(300)),
                wait: Some(Duration::ZERO),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(queues.receive("jobs", now(1)).await.unwrap().is_empty());

    // No new send: the long poll returns when the timeout expires.
    let started = Instant::now();
    let second = queues
        .receive(
            "jobs",
            ReceiveRequest {
                max_messages: 1,
                visibility_timeout: None,
                wait: Some(Duration::from_secs(5)),
            },
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(bodies(&second), ["again"]);
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(second[0].first_receive_ms, first[0].first_receive_ms);
    assert_ne!(second[0].receipt_handle, first[0].receipt_handle);

    // The first delivery's handle is stale: deleting with it keeps the
    // message, changing its visibility fails.
    queues
        .delete("jobs", &first[0].receipt_handle)
        .await
        .unwrap();
    assert!(matches!(
        queues
            .change_visibility("jobs", &first[0].receipt_handle, Duration::ZERO)
            .await,
        Err(QueueError::MessageNotInflight(_))
    ));
    assert_eq!(queues.stats("jobs").unwrap().in_flight, 1);
    queues
        .delete("jobs", &second[0].receipt_handle)
        .await
        .unwrap();
    assert_eq!(queues.stats("jobs").unwrap().in_flight, 0);
}

#[tokio::test]
async fn change_visibility_zero_makes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[("VisibilityTimeout", "600")]).await;
    queues.send("jobs", vec![text("retry me")]).await.unwrap();
    let got = queues.receive("jobs", now(1)).await.unwrap();
    assert!(queues.receive("jobs", now(1)).await.unwrap().is_empty());
    queues
        .change_visibility("jobs", &got[0].receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    let again = queues.receive("jobs", now(1)).await.unwrap();
    assert_eq!(bodies(&again), ["retry me"]);
    assert_eq!(again[0].receive_count, 2);
    // Not in flight any more under the old handle.
    assert!(matches!(
        queues
            .change_visibility("jobs", &got[0].receipt_handle, Duration::from_secs(5))
            .await,
        Err(QueueError::MessageNotInflight(_))
    ));
    assert!(matches!(
        queues
            .change_visibility(
                "jobs",
                &again[0].receipt_handle,
                Duration::from_secs(43_201)
            )
            .await,
        Err(QueueError::InvalidParameterValue(_))
    ));
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[("ReceiveMessageWaitTimeSeconds", "20")]).await;
    let poller = {
        let queues = queues.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let request = ReceiveRequest {
                max_messages: 10,
                visibility_timeout: None,
                wait: None,
            };
            let got = queues.receive("jobs", request).await.unwrap();
            (got, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    queues.send("jobs", vec![text("wake")]).await.unwrap();
    let (got, waited) = poller.await.unwrap();
    assert_eq!(bodies(&got), ["wake"]);
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[tokio::test]
async fn long_poll_times_out_empty() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let started = Instant::now();
    let request = ReceiveRequest {
        max_messages: 1,
        visibility_timeout: None,
        wait: Some(Duration::from_millis(300)),
    };
    assert!(queues.receive("jobs", request).await.unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn delay_holds_messages_back() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[("DelaySeconds", "1")]).await;
    let mut immediate = text("now");
    immediate.delay_seconds = Some(0);
    queues
        .send("jobs", vec![text("later"), immediate])
        .await
        .unwrap();
    let stats = queues.stats("jobs").unwrap();
    assert_eq!((stats.visible, stats.delayed), (1, 1));
    let got = queues.receive("jobs", now(10)).await.unwrap();
    assert_eq!(bodies(&got), ["now"]);
    let later = receive_until(&queues, "jobs", 1).await;
    assert_eq!(bodies(&later), ["later"]);
}

#[tokio::test]
async fn purge_and_delete_queue() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    queues
        .send("jobs", vec![text("a"), text("b")])
        .await
        .unwrap();
    queues.purge("jobs").await.unwrap();
    assert!(queues.receive("jobs", now(10)).await.unwrap().is_empty());
    queues.send("jobs", vec![text("c")]).await.unwrap();
    queues.delete_queue("jobs").await.unwrap();
    assert!(queues.get_queue("jobs").is_none());
    assert_eq!(
        queues.stats("jobs").unwrap_err(),
        QueueError::NonExistentQueue
    );
    // A queue created again under the name starts empty.
    create(&queues, "jobs", &[]).await;
    assert!(queues.receive("jobs", now(10)).await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_queue_ends_long_polls() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let poller = {
        let queues = queues.clone();
        tokio::spawn(async move {
            let request = ReceiveRequest {
                max_messages: 1,
                visibility_timeout: None,
                wait: Some(Duration::from_secs(20)),
            };
            queues.receive("jobs", request).await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    queues.delete_queue("jobs").await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), poller)
        .await
        .expect("the poll ends")
        .unwrap();
    assert_eq!(outcome.unwrap_err(), QueueError::NonExistentQueue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_are_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::open(dir.path());
    let queues = Queues::open(store.clone(), "us-east-1", "123456789012").unwrap();
    crate::create(&queues, "jobs", &[]).await;
    let before = store.applies.load(Ordering::SeqCst);
    let senders = 200;
    let tasks: Vec<_> = (0..senders)
        .map(|i| {
            let queues = queues.clone();
            tokio::spawn(async move {
                queues
                    .send("jobs", vec![text(&format!("m{i}"))])
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let applies = store.applies.load(Ordering::SeqCst) - before;
    assert!(
        applies < senders / 2,
        "{senders} sends took {applies} applies"
    );
    assert_eq!(queues.stats("jobs").unwrap().visible, senders as u64);
}

#[tokio::test]
async fn activity_wakes_for_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    // The first call answers at once (the caller scans after it).
    tokio::time::timeout(Duration::from_secs(1), queues.activity("lambda-async:"))
        .await
        .expect("first call returns at once");
    let waiting = {
        let queues = queues.clone();
        tokio::spawn(async move { queues.activity("lambda-async:").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    create(&queues, "unrelated", &[]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    queues
        .enqueue_invocations(vec![crate::invocations::invocation("f", "r-1")])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken")
        .unwrap();
    assert_eq!(queues.queue_names("lambda-async:"), ["lambda-async:f"]);
}

/// Senders that stop waiting while their message is being stored (a
/// client hanging up) still have it delivered: nothing stays stored but
/// invisible until the next start.
#[tokio::test]
async fn sends_whose_caller_gives_up_are_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let mut abandoned = 0;
    for i in 0..1000 {
        let send = queues.send("jobs", vec![text(&format!("m{i}"))]);
        // Polled once (the message is submitted), then dropped.
        if tokio::time::timeout(Duration::ZERO, send).await.is_err() {
            abandoned += 1;
        }
    }
    assert!(abandoned > 100, "only {abandoned} sends were abandoned");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    while got < 1000 && Instant::now() < deadline {
        let batch = queues.receive("jobs", now(10)).await.unwrap().len();
        if batch == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        got += batch;
    }
    assert_eq!(got, 1000, "every submitted message is delivered");
    let stats = queues.stats("jobs").unwrap();
    assert_eq!((stats.visible, stats.in_flight), (0, 1000));
}
