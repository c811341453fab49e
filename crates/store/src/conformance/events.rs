//! Checks of the event store: messages (put, replace by id, update,
//! delete, purge, load order), resources, and the order of writes within
//! one batch.

use crate::{EventStore, EventWrite, StoredMessage};

/// One event-store check: its name and the function that runs it.
pub type EventCheck = (&'static str, fn(&dyn EventStore));

/// Every event-store check, in the order [`run_all_events`] runs them.
pub const EVENT_CHECKS: &[EventCheck] = &[
    ("put_and_load_messages", put_and_load_messages),
    ("put_replaces_same_id", put_replaces_same_id),
    ("update_message", update_message),
    ("delete_message", delete_message),
    ("purge_queue", purge_queue),
    ("batch_applies_in_order", batch_applies_in_order),
    ("resources", resources),
    ("resources_by_kind", resources_by_kind),
];

/// Runs every check in [`EVENT_CHECKS`], each on a new store from `make`.
pub fn run_all_events(make: &dyn Fn() -> Box<dyn EventStore>) {
    for (name, check) in EVENT_CHECKS {
        eprintln!("event store conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

/// A message of `queue` with id `id`, order `seq`, never delivered.
pub fn stored_message(queue: &str, id: &str, seq: i64) -> StoredMessage {
    StoredMessage {
        queue: queue.into(),
        id: id.into(),
        seq,
        body: format!("body of {id}").into_bytes(),
        attributes: format!(r#"{{"id":"{id}"}}"#),
        sent_ms: 1_000 + seq,
        visible_ms: 2_000 + seq,
        receive_count: 0,
        first_receive_ms: None,
    }
}

fn put(m: &StoredMessage) -> EventWrite {
    EventWrite::PutMessage(m.clone())
}

fn delete(queue: &str, id: &str) -> EventWrite {
    EventWrite::DeleteMessage {
        queue: queue.into(),
        id: id.into(),
    }
}

fn ids(store: &dyn EventStore) -> Vec<(String, String)> {
    store
        .load_messages()
        .unwrap()
        .into_iter()
        .map(|m| (m.queue, m.id))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(q, i)| ((*q).to_owned(), (*i).to_owned()))
        .collect()
}

/// Messages load as they were put (binary bodies included), by queue,
/// then `seq`.
pub fn put_and_load_messages(store: &dyn EventStore) {
    assert_eq!(store.load_messages().unwrap(), []);
    store.apply(&[]).unwrap();
    let mut binary = stored_message("b", "x", 7);
    binary.body = vec![0, 255, 1, 0];
    binary.receive_count = 3;
    binary.first_receive_ms = Some(1_500);
    let later = stored_message("a", "m2", 20);
    let earlier = stored_message("a", "m1", 10);
    store
        .apply(&[put(&binary), put(&later), put(&earlier)])
        .unwrap();
    assert_eq!(store.load_messages().unwrap(), [earlier, later, binary]);
}

/// A put with a stored message's queue and id replaces it, `seq`
/// included; the same id in another queue is another message.
pub fn put_replaces_same_id(store: &dyn EventStore) {
    let first = stored_message("q", "m", 1);
    let other_queue = stored_message("r", "m", 2);
    store.apply(&[put(&first), put(&other_queue)]).unwrap();
    let mut again = stored_message("q", "m", 5);
    again.body = b"replaced".to_vec();
    store.apply(&[put(&again)]).unwrap();
    assert_eq!(store.load_messages().unwrap(), [again, other_queue]);
}

/// An update changes a message's delivery state only; an update of a
/// missing message changes nothing.
pub fn update_message(store: &dyn EventStore) {
    let m = stored_message("q", "m", 1);
    store.apply(&[put(&m)]).unwrap();
    let update = EventWrite::UpdateMessage {
        queue: "q".into(),
        id: "m".into(),
        visible_ms: 9_999,
        receive_count: 2,
        first_receive_ms: Some(3_000),
    };
    let missing = EventWrite::UpdateMessage {
        queue: "q".into(),
        id: "missing".into(),
        visible_ms: 1,
        receive_count: 1,
        first_receive_ms: None,
    };
    store.apply(&[update, missing]).unwrap();
    let expected = StoredMessage {
        visible_ms: 9_999,
        receive_count: 2,
        first_receive_ms: Some(3_000),
        ..m
    };
    assert_eq!(store.load_messages().unwrap(), [expected]);
}

/// A delete removes one message; deleting a missing one succeeds.
pub fn delete_message(store: &dyn EventStore) {
    let (a, b) = (stored_message("q", "a", 1), stored_message("q", "b", 2));
    let same_id = stored_message("r", "a", 3);
    store.apply(&[put(&a), put(&b), put(&same_id)]).unwrap();
    store
        .apply(&[
            delete("q", "a"),
            delete("q", "missing"),
            delete("nope", "a"),
        ])
        .unwrap();
    assert_eq!(ids(store), pairs(&[("q", "b"), ("r", "a")]));
    store.apply(&[delete("q", "a")]).unwrap();
    assert_eq!(ids(store), pairs(&[("q", "b"), ("r", "a")]));
}

/// A purge removes every message of one queue, and only those.
pub fn purge_queue(store: &dyn EventStore) {
    let writes: Vec<EventWrite> = (0..5)
        .map(|i| put(&stored_message("q", &format!("m{i}"), i)))
        .chain([put(&stored_message("keep", "k", 1))])
        .collect();
    store.apply(&writes).unwrap();
    store
        .apply(&[EventWrite::PurgeQueue { queue: "q".into() }])
        .unwrap();
    assert_eq!(ids(store), pairs(&[("keep", "k")]));
    // The queue takes messages again after a purge.
    store.apply(&[put(&stored_message("q", "m0", 9))]).unwrap();
    assert_eq!(ids(store), pairs(&[("keep", "k"), ("q", "m0")]));
}

/// Writes of one batch apply in order: a put then its delete leaves
/// nothing, a delete then a put leaves the message, a purge then a put
/// leaves the put.
pub fn batch_applies_in_order(store: &dyn EventStore) {
    let gone = stored_message("q", "gone", 1);
    let kept = stored_message("q", "kept", 2);
    let after_purge = stored_message("p", "after", 3);
    store
        .apply(&[
            put(&gone),
            delete("q", "gone"),
            delete("q", "kept"),
            put(&kept),
            put(&stored_message("p", "before", 1)),
            EventWrite::PurgeQueue { queue: "p".into() },
            put(&after_purge),
        ])
        .unwrap();
    assert_eq!(store.load_messages().unwrap(), [after_purge, kept]);
}

/// Resources: put, replace, read one, list by key, delete (a missing one
/// too).
pub fn resources(store: &dyn EventStore) {
    let put = |key: &str, value: &str| EventWrite::PutResource {
        kind: "queue".into(),
        key: key.into(),
        value: value.into(),
    };
    assert_eq!(store.resource("queue", "a").unwrap(), None);
    store
        .apply(&[put("b", r#"{"v":1}"#), put("a", r#"{"v":2}"#)])
        .unwrap();
    store.apply(&[put("b", r#"{"v":3}"#)]).unwrap();
    assert_eq!(
        store.resource("queue", "b").unwrap().as_deref(),
        Some(r#"{"v":3}"#)
    );
    assert_eq!(
        store.resources("queue").unwrap(),
        [
            ("a".to_owned(), r#"{"v":2}"#.to_owned()),
            ("b".to_owned(), r#"{"v":3}"#.to_owned())
        ]
    );
    let delete = |key: &str| EventWrite::DeleteResource {
        kind: "queue".into(),
        key: key.into(),
    };
    store.apply(&[delete("a"), delete("missing")]).unwrap();
    assert_eq!(store.resource("queue", "a").unwrap(), None);
    assert_eq!(store.resources("queue").unwrap().len(), 1);
}

/// Resources of different kinds never mix, even under one key; a
/// resource and a message commit in one batch.
pub fn resources_by_kind(store: &dyn EventStore) {
    let m = stored_message("lambda-async:f", "r-1", 1);
    store
        .apply(&[
            EventWrite::PutResource {
                kind: "schedule".into(),
                key: "x".into(),
                value: "1".into(),
            },
            EventWrite::PutResource {
                kind: "rule".into(),
                key: "x".into(),
                value: "2".into(),
            },
            put(&m),
        ])
        .unwrap();
    assert_eq!(
        store.resource("schedule", "x").unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(store.resource("rule", "x").unwrap().as_deref(), Some("2"));
    assert_eq!(store.resources("queue").unwrap(), []);
    store
        .apply(&[EventWrite::DeleteResource {
            kind: "rule".into(),
            key: "x".into(),
        }])
        .unwrap();
    assert_eq!(
        store.resource("schedule", "x").unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(store.load_messages().unwrap(), [m]);
}
