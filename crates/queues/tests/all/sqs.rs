//! SQS semantics: validation, redrive, retention, FIFO queues.

use std::collections::BTreeMap;
use std::time::Duration;

use updraft_queues::{
    AttributeValue, NewMessage, QueueConfig, QueueError, Queues, ReceiveRequest, Received,
};
use updraft_store::{EventStore, EventWrite, StoredMessage};

use crate::{bodies, create, now, open, text};

/// A receive that makes what it takes visible again at once.
fn bounce() -> ReceiveRequest {
    ReceiveRequest {
        max_messages: 10,
        visibility_timeout: Some(Duration::ZERO),
        wait: Some(Duration::ZERO),
    }
}

#[tokio::test]
async fn create_again_compares_settings() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let first = create(&queues, "jobs", &[("VisibilityTimeout", "60")]).await;
    let mut same = QueueConfig::new("jobs");
    same.visibility_timeout = 60;
    assert_eq!(queues.create_queue(same).await.unwrap(), first);
    assert_eq!(
        queues.create_queue(QueueConfig::new("jobs")).await,
        Err(QueueError::QueueAlreadyExists("VisibilityTimeout".into()))
    );
    assert!(matches!(
        queues.create_queue(QueueConfig::new("bad name")).await,
        Err(QueueError::InvalidParameterValue(_))
    ));
    assert_eq!(
        queues.attributes("jobs").unwrap()["QueueArn"],
        "arn:aws:sqs:us-east-1:123456789012:jobs"
    );
    assert_eq!(queues.list_queues("jo").len(), 1);
    assert!(queues.list_queues("x").is_empty());
}

#[tokio::test]
async fn set_queue_config_keeps_identity() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let created = create(&queues, "jobs", &[]).await;
    let mut changed = created.clone();
    changed.delay_seconds = 5;
    changed.created_ms = 1;
    queues.set_queue_config(changed).await.unwrap();
    let now = queues.get_queue("jobs").unwrap();
    assert_eq!(now.delay_seconds, 5);
    assert_eq!(now.created_ms, created.created_ms);
    assert!(now.modified_ms >= created.modified_ms);
    assert_eq!(
        queues.set_queue_config(QueueConfig::new("missing")).await,
        Err(QueueError::NonExistentQueue)
    );
}

#[tokio::test]
async fn invalid_messages_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[("MaximumMessageSize", "1024")]).await;
    let bad_body = queues
        .send("jobs", vec![text("fine"), text("bell \u{7}")])
        .await;
    assert!(matches!(
        bad_body,
        Err(QueueError::InvalidMessageContents(_))
    ));
    let too_big = queues.send("jobs", vec![text(&"x".repeat(1025))]).await;
    assert!(matches!(too_big, Err(QueueError::InvalidParameterValue(_))));
    // The body and the attributes count together.
    let mut with_attributes = text(&"x".repeat(1000));
    with_attributes.attributes.insert(
        "name".into(),
        AttributeValue {
            data_type: "String".into(),
            string_value: Some("y".repeat(20)),
            binary_value: None,
        },
    );
    let too_big = queues.send("jobs", vec![with_attributes]).await;
    assert!(matches!(too_big, Err(QueueError::InvalidParameterValue(_))));
    let empty = queues.send("jobs", vec![text("")]).await;
    assert!(matches!(empty, Err(QueueError::MissingParameter(_))));
    let mut grouped = text("x");
    grouped.group_id = Some("g".into());
    assert!(matches!(
        queues.send("jobs", vec![grouped]).await,
        Err(QueueError::InvalidParameterValue(_))
    ));
    assert_eq!(queues.stats("jobs").unwrap().visible, 0);
}

#[tokio::test]
async fn message_attributes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let mut m = text("with attributes");
    m.attributes = BTreeMap::from([
        (
            "ordinal".to_owned(),
            AttributeValue {
                data_type: "Number".into(),
                string_value: Some("1".into()),
                binary_value: None,
            },
        ),
        (
            "category".to_owned(),
            AttributeValue {
                data_type: "String".into(),
                string_value: Some("test".into()),
                binary_value: None,
            },
        ),
        (
            "blob".to_owned(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0u8, 1, 2, 255].into()),
            },
        ),
    ]);
    let sent = queues.send("jobs", vec![m.clone()]).await.unwrap();
    let expected = updraft_queues::md5_of_attributes(&m.attributes);
    assert_eq!(sent[0].md5_of_message_attributes, expected);
    queues.close();
    // Attributes survive a restart.
    let queues = open(dir.path());
    let got = queues.receive("jobs", now(1)).await.unwrap();
    assert_eq!(got[0].attributes, m.attributes);
    assert_eq!(got[0].md5_of_message_attributes, expected);
    assert!(got[0].internal.is_none());
}

#[tokio::test]
async fn redrive_moves_to_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queues = open(dir.path());
        create(&queues, "dlq", &[]).await;
        let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":2}"#;
        create(&queues, "jobs", &[("RedrivePolicy", policy)]).await;
        let sent = queues.send("jobs", vec![text("poison")]).await.unwrap();
        for count in 1..=2 {
            let got = queues.receive("jobs", bounce()).await.unwrap();
            assert_eq!(got[0].receive_count, count);
        }
        assert!(queues.receive("jobs", bounce()).await.unwrap().is_empty());
        assert_eq!(queues.stats("jobs").unwrap(), Default::default());
        let dead = queues.receive("dlq", now(10)).await.unwrap();
        assert_eq!(bodies(&dead), ["poison"]);
        assert_eq!(dead[0].message_id, sent[0].message_id);
        assert_eq!(dead[0].receive_count, 1);
        queues
            .change_visibility("dlq", &dead[0].receipt_handle, Duration::ZERO)
            .await
            .unwrap();
        queues.close();
    }
    // The move was durable.
    let queues = open(dir.path());
    assert_eq!(queues.stats("jobs").unwrap().visible, 0);
    assert_eq!(queues.stats("dlq").unwrap().visible, 1);
}

#[tokio::test]
async fn redrive_needs_an_existing_queue_of_the_same_type() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let mut config = QueueConfig::new("jobs");
    let policy =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":2}"#;
    config
        .apply_attributes(&BTreeMap::from([("RedrivePolicy".into(), policy.into())]))
        .unwrap();
    assert!(matches!(
        queues.create_queue(config).await,
        Err(QueueError::InvalidParameterValue(_))
    ));
}

#[tokio::test]
async fn retention_deletes_old_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let ten_minutes_ago = updraft_now() - 600_000;
    {
        let queues = open(dir.path());
        create(&queues, "short", &[("MessageRetentionPeriod", "60")]).await;
        queues.send("short", vec![text("fresh")]).await.unwrap();
        queues.close();
    }
    // A message sent before the period, written as the queues would have.
    let store = updraft_store_sqlite::SqliteEventStore::open(&path).unwrap();
    let fresh = store.load_messages().unwrap().remove(0);
    let old = StoredMessage {
        id: "old".into(),
        seq: fresh.seq - 1,
        sent_ms: ten_minutes_ago,
        visible_ms: ten_minutes_ago,
        body: b"stale".to_vec(),
        ..fresh
    };
    store.apply(&[EventWrite::PutMessage(old)]).unwrap();
    drop(store);

    let queues = open(dir.path());
    let got = queues.receive("short", now(10)).await.unwrap();
    assert_eq!(bodies(&got), ["fresh"]);
    queues.close();
    let store = updraft_store_sqlite::SqliteEventStore::open(&path).unwrap();
    let ids: Vec<String> = store
        .load_messages()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(!ids.contains(&"old".to_owned()), "{ids:?}");
}

fn updraft_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn fifo(body: &str, group: &str, dedup: Option<&str>) -> NewMessage {
    NewMessage {
        body: body.to_owned().into(),
        group_id: Some(group.into()),
        deduplication_id: dedup.map(str::to_owned),
        ..Default::default()
    }
}

async fn create_fifo(queues: &Queues, name: &str, content_based: bool) {
    let mut config = QueueConfig::new(name);
    config.fifo = true;
    config.content_based_deduplication = content_based;
    queues.create_queue(config).await.unwrap();
}

#[tokio::test]
async fn fifo_orders_groups_one_batch_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create_fifo(&queues, "jobs.fifo", false).await;
    let sent = queues
        .send(
            "jobs.fifo",
            vec![
                fifo("a1", "a", Some("1")),
                fifo("a2", "a", Some("2")),
                fifo("b1", "b", Some("3")),
                fifo("a3", "a", Some("4")),
            ],
        )
        .await
        .unwrap();
    let numbers: Vec<String> = sent
        .iter()
        .map(|s| s.sequence_number.clone().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    let first = queues.receive("jobs.fifo", now(2)).await.unwrap();
    assert_eq!(bodies(&first), ["a1", "a2"]);
    assert_eq!(first[0].group_id.as_deref(), Some("a"));
    assert_eq!(first[0].deduplication_id.as_deref(), Some("1"));
    assert_eq!(first[0].sequence_number, sent[0].sequence_number);
    // Group a has a batch in flight: only b is deliverable.
    let second = queues.receive("jobs.fifo", now(10)).await.unwrap();
    assert_eq!(bodies(&second), ["b1"]);
    assert!(queues
        .receive("jobs.fifo", now(10))
        .await
        .unwrap()
        .is_empty());
    delete_all(&queues, "jobs.fifo", &first).await;
    let third = queues.receive("jobs.fifo", now(10)).await.unwrap();
    assert_eq!(bodies(&third), ["a3"]);
}

#[tokio::test]
async fn fifo_redelivers_in_order_after_visibility_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create_fifo(&queues, "jobs.fifo", true).await;
    queues
        .send(
            "jobs.fifo",
            vec![fifo("a1", "a", None), fifo("a2", "a", None)],
        )
        .await
        .unwrap();
    let first = queues
        .receive(
            "jobs.fifo",
            ReceiveRequest {
                max_messages: 1,
                visibility_timeout: Some(Duration::from_millis(200)),
                wait: Some(Duration::ZERO),
            },
        )
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a1"]);
    let again = crate::receive_until(&queues, "jobs.fifo", 2).await;
    assert_eq!(bodies(&again), ["a1", "a2"]);
}

#[tokio::test]
async fn fifo_deduplicates_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create_fifo(&queues, "dedup.fifo", true).await;
    let one = queues
        .send("dedup.fifo", vec![fifo("same", "g", None)])
        .await
        .unwrap();
    let two = queues
        .send("dedup.fifo", vec![fifo("same", "g", None)])
        .await
        .unwrap();
    assert_eq!(one, two);
    let three = queues
        .send("dedup.fifo", vec![fifo("same", "g", Some("explicit"))])
        .await
        .unwrap();
    assert_ne!(one[0].message_id, three[0].message_id);
    assert_eq!(queues.stats("dedup.fifo").unwrap().visible, 2);
    // The window survives a restart while the message is stored.
    queues.close();
    let queues = open(dir.path());
    let four = queues
        .send("dedup.fifo", vec![fifo("same", "g", None)])
        .await
        .unwrap();
    assert_eq!(one, four);
    assert_eq!(queues.stats("dedup.fifo").unwrap().visible, 2);

    create_fifo(&queues, "explicit.fifo", false).await;
    assert!(matches!(
        queues
            .send("explicit.fifo", vec![fifo("x", "g", None)])
            .await,
        Err(QueueError::InvalidParameterValue(_))
    ));
    assert!(matches!(
        queues.send("explicit.fifo", vec![text("no group")]).await,
        Err(QueueError::MissingParameter(_))
    ));
}

async fn delete_all(queues: &Queues, queue: &str, received: &[Received]) {
    let handles: Vec<&str> = received.iter().map(|r| r.receipt_handle.as_str()).collect();
    for outcome in queues.delete_many(queue, &handles).await.unwrap() {
        outcome.unwrap();
    }
}

/// `DeduplicationScope: messageGroup` deduplicates within a message group:
/// the same id in two groups is two messages, twice in one group one, and
/// that holds across a restart.
#[tokio::test]
async fn fifo_deduplicates_per_message_group_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let mut config = QueueConfig::new("groups.fifo");
    config
        .apply_attributes(&BTreeMap::from([
            ("FifoQueue".into(), "true".into()),
            ("DeduplicationScope".into(), "messageGroup".into()),
            ("FifoThroughputLimit".into(), "perMessageGroupId".into()),
        ]))
        .unwrap();
    queues.create_queue(config).await.unwrap();
    let a = queues
        .send("groups.fifo", vec![fifo("x", "a", Some("id"))])
        .await
        .unwrap();
    let b = queues
        .send("groups.fifo", vec![fifo("x", "b", Some("id"))])
        .await
        .unwrap();
    assert_ne!(a[0].message_id, b[0].message_id);
    queues.close();
    let queues = open(dir.path());
    let again = queues
        .send("groups.fifo", vec![fifo("x", "a", Some("id"))])
        .await
        .unwrap();
    assert_eq!(a, again);
    assert_eq!(queues.stats("groups.fifo").unwrap().visible, 2);
    let attributes = queues.attributes("groups.fifo").unwrap();
    assert_eq!(attributes["DeduplicationScope"], "messageGroup");
    assert_eq!(attributes["FifoThroughputLimit"], "perMessageGroupId");

    // The default scope is the queue.
    create_fifo(&queues, "whole.fifo", false).await;
    let a = queues
        .send("whole.fifo", vec![fifo("x", "a", Some("id"))])
        .await
        .unwrap();
    let b = queues
        .send("whole.fifo", vec![fifo("x", "b", Some("id"))])
        .await
        .unwrap();
    assert_eq!(a, b);
}

/// A dead-letter queue's `RedriveAllowPolicy` decides which queues may
/// name it in their `RedrivePolicy`.
#[tokio::test]
async fn redrive_allow_policy_limits_the_source_queues() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    let arn = |name: &str| queues.arn(name);
    let by_queue = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#,
        arn("allowed")
    );
    create(&queues, "dlq", &[("RedriveAllowPolicy", &by_queue)]).await;
    create(
        &queues,
        "closed",
        &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
    )
    .await;
    let redrive = |dlq: &str| {
        format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":3}}"#,
            arn(dlq)
        )
    };
    create(&queues, "allowed", &[("RedrivePolicy", &redrive("dlq"))]).await;
    for (source, dlq) in [("other", "dlq"), ("allowed2", "closed")] {
        let mut config = QueueConfig::new(source);
        config
            .apply_attributes(&BTreeMap::from([("RedrivePolicy".into(), redrive(dlq))]))
            .unwrap();
        match queues.create_queue(config).await {
            Err(QueueError::InvalidParameterValue(m)) => {
                assert!(m.contains("RedriveAllowPolicy"), "{m}")
            }
            other => panic!("{source} -> {dlq}: {other:?}"),
        }
    }
    let attributes = queues.attributes("dlq").unwrap();
    let rendered: serde_json::Value =
        serde_json::from_str(&attributes["RedriveAllowPolicy"]).unwrap();
    assert_eq!(rendered["sourceQueueArns"][0], arn("allowed"));

    // Malformed policies and FIFO-only settings on standard queues.
    for (name, value, expected) in [
        (
            "RedriveAllowPolicy",
            r#"{"redrivePermission":"some"}"#,
            "value",
        ),
        (
            "RedriveAllowPolicy",
            r#"{"redrivePermission":"byQueue"}"#,
            "value",
        ),
        (
            "RedriveAllowPolicy",
            r#"{"redrivePermission":"allowAll","sourceQueueArns":["x"]}"#,
            "value",
        ),
        ("DeduplicationScope", "everything", "value"),
        ("DeduplicationScope", "messageGroup", "name"),
        ("FifoThroughputLimit", "perQueue", "name"),
    ] {
        let mut config = QueueConfig::new("standard");
        let applied = config
            .apply_attributes(&BTreeMap::from([(name.to_owned(), value.to_owned())]))
            .and_then(|()| config.validate());
        match (applied, expected) {
            (Err(QueueError::InvalidAttributeValue(n)), "value")
            | (Err(QueueError::InvalidAttributeName(n)), "name") => assert_eq!(n, name),
            (other, _) => panic!("{name}={value}: {other:?}"),
        }
    }
}
