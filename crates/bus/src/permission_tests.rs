//! Bus resource policies over real queues: `PutPermission`,
//! `RemovePermission`, validation, and what a restart keeps.

use std::path::Path;

use serde_json::json;
use updraft_store_sqlite::SqliteEventStore;

use super::*;

const DEFAULT_ARN: &str = "arn:aws:events:us-east-1:000000000000:event-bus/default";

fn open(dir: &Path) -> (Arc<Queues>, Arc<Bus>) {
    let store = SqliteEventStore::open(&dir.join("events.db")).expect("event store");
    let queues = Queues::open(Arc::new(store), "us-east-1", "000000000000").expect("queues open");
    let bus = Bus::open(queues.clone(), Account::default()).expect("bus open");
    (queues, bus)
}

fn grant(bus: Option<&str>, principal: &str, sid: &str) -> Permission {
    Permission {
        bus: bus.map(str::to_string),
        action: Some("events:PutEvents".into()),
        principal: Some(principal.into()),
        statement_id: Some(sid.into()),
        ..Default::default()
    }
}

fn policy_of(bus: &Bus, name: Option<&str>) -> Option<Value> {
    bus.describe_event_bus(name)
        .unwrap()
        .policy
        .map(|p| serde_json::from_str(&p).unwrap())
}

#[tokio::test]
async fn statements_are_added_replaced_removed_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (queues, bus) = open(dir.path());
        bus.put_permission(grant(None, "111122223333", "acct"))
            .await
            .unwrap();
        let mut org = grant(None, "*", "org");
        org.condition = Some(PermissionCondition {
            r#type: "StringEquals".into(),
            key: "aws:PrincipalOrgID".into(),
            value: "o-1234567890".into(),
        });
        bus.put_permission(org).await.unwrap();
        assert_eq!(
            policy_of(&bus, None).unwrap(),
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "acct", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                 "Action": "events:PutEvents", "Resource": DEFAULT_ARN},
                {"Sid": "org", "Effect": "Allow", "Principal": "*",
                 "Action": "events:PutEvents", "Resource": DEFAULT_ARN,
                 "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1234567890"}}},
            ]})
        );
        let text = bus.describe_event_bus(None).unwrap().policy.unwrap();
        assert!(
            text.starts_with(r#"{"Version":"2012-10-17","Statement":[{"Sid":"acct","Effect":"Allow","Principal":"#),
            "members in EventBridge's order: {text}"
        );
        bus.put_permission(grant(None, "444455556666", "acct"))
            .await
            .unwrap();
        let policy = policy_of(&bus, None).unwrap();
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(
            policy["Statement"][1]["Principal"],
            json!({"AWS": "arn:aws:iam::444455556666:root"}),
            "a statement id given again replaces its statement"
        );
        assert_eq!(bus.policy("default").unwrap().statement_count(), 2);
        queues.close();
    }
    let (_queues, bus) = open(dir.path());
    assert_eq!(
        bus.policy("default").unwrap().statement_count(),
        2,
        "the default bus's policy is kept and parsed again"
    );
    bus.remove_permission(None, Some("org"), false)
        .await
        .unwrap();
    assert_eq!(
        bus.remove_permission(None, Some("org"), false).await,
        Err(BusError::NotFound(
            "Statement with the provided id does not exist.".into()
        ))
    );
    bus.remove_permission(None, Some("acct"), false)
        .await
        .unwrap();
    assert!(
        policy_of(&bus, None).is_none(),
        "the last statement takes the policy"
    );
    assert!(bus.policy("default").is_none());
    assert_eq!(
        bus.remove_permission(None, Some("acct"), false).await,
        Err(BusError::NotFound(
            "EventBus does not have a policy.".into()
        ))
    );
}

#[tokio::test]
async fn whole_policies_custom_buses_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (_queues, bus) = open(dir.path());
    bus.create_event_bus("orders", None).await.unwrap();
    let arn = bus.bus_arn("orders");
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "all", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "events:PutEvents", "Resource": arn}]})
    .to_string();
    bus.put_permission(Permission {
        bus: Some("orders".into()),
        policy: Some(policy.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        bus.describe_event_bus(Some("orders")).unwrap().policy,
        Some(policy),
        "a whole policy is kept as given"
    );
    assert_eq!(bus.policy("orders").unwrap().sid(0), Some("all"));
    assert!(bus.policy("default").is_none(), "policies are per bus");

    for bad in [
        "not json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"events:PutEvents","Resource":"*"}]}"#,
    ] {
        let e = bus
            .put_permission(Permission {
                bus: Some("orders".into()),
                policy: Some(bad.into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ValidationException", "{bad}: {e}");
    }
    assert_eq!(
        bus.policy("orders").unwrap().sid(0),
        Some("all"),
        "unchanged"
    );

    let mut wrong_action = grant(None, "111122223333", "x");
    wrong_action.action = Some("events:PutRule".into());
    assert_eq!(
        bus.put_permission(wrong_action).await,
        Err(BusError::Validation(
            "Provided value in parameter 'action' is not supported.".into()
        ))
    );
    let e = bus
        .put_permission(grant(None, "someone", "x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
    assert_eq!(
        bus.put_permission(grant(Some("missing"), "111122223333", "x"))
            .await,
        Err(BusError::NoSuchBus("missing".into()))
    );

    bus.delete_event_bus("orders").await.unwrap();
    assert!(
        bus.policy("orders").is_none(),
        "the policy goes with its bus"
    );
    bus.remove_permission(None, None, true).await.unwrap();
}
