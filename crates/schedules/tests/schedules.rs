//! `Schedules` on a real SQLite event store and real queues: what the API
//! persists, how lists page, and what a firing commits.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use updraft_queues::invocation::{queue_name, AsyncInvocation};
use updraft_queues::{Queues, ReceiveRequest};
use updraft_schedules::{GroupInput, ListRequest, ScheduleError, ScheduleInput, Schedules};
use updraft_store_sqlite::SqliteEventStore;
use updraft_types::Account;

fn open(dir: &Path) -> (Arc<Queues>, Arc<Schedules>) {
    let store = Arc::new(SqliteEventStore::open(&dir.join("events.db")).unwrap());
    let queues = Queues::open(store, "us-east-1", "000000000000").unwrap();
    let schedules = Schedules::open(queues.clone(), Account::default()).unwrap();
    (queues, schedules)
}

fn input(body: serde_json::Value) -> ScheduleInput {
    serde_json::from_value(body).unwrap()
}

fn to_function(expression: &str, function: &str) -> serde_json::Value {
    json!({
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
            "RoleArn": "arn:aws:iam::000000000000:role/x",
            "Input": "{\"n\":1}"
        }
    })
}

fn at_in(secs: i64) -> String {
    let t = Utc::now() + chrono::Duration::seconds(secs);
    format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Waits for one async invocation of `function`.
async fn receive_invocation(queues: &Queues, function: &str) -> AsyncInvocation {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(received) = queues
            .receive(
                &queue_name(function),
                ReceiveRequest {
                    max_messages: 10,
                    visibility_timeout: None,
                    wait: Some(Duration::from_millis(200)),
                },
            )
            .await
        {
            if let Some(m) = received.first() {
                return AsyncInvocation::from_received(m).expect("an invocation");
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no invocation of {function}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn schedules_and_groups_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, schedules) = open(dir.path());
    schedules
        .create_group(
            "team",
            GroupInput {
                client_token: None,
                tags: Vec::new(),
            },
        )
        .await
        .unwrap();
    let mut body = to_function("cron(0 9 ? * MON-FRI *)", "f");
    body["GroupName"] = "team".into();
    body["ScheduleExpressionTimezone"] = "Europe/Paris".into();
    let arn = schedules.create_schedule("s", input(body)).await.unwrap();
    assert_eq!(
        arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule/team/s"
    );
    let before = schedules.get_schedule("s", Some("team")).await.unwrap();
    queues.close();
    drop((queues, schedules));

    let (_queues, schedules) = open(dir.path());
    assert_eq!(
        schedules.get_schedule("s", Some("team")).await.unwrap(),
        before
    );
    assert!(schedules.get_group("default").await.is_ok());
    assert!(schedules.get_group("team").await.is_ok());
}

#[tokio::test]
async fn an_update_replaces_everything_but_the_creation_date() {
    let dir = tempfile::tempdir().unwrap();
    let (_queues, schedules) = open(dir.path());
    let mut body = to_function("rate(5 minutes)", "f");
    body["Description"] = "first".into();
    schedules.create_schedule("s", input(body)).await.unwrap();
    let created = schedules.get_schedule("s", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut body = to_function("rate(10 minutes)", "g");
    body["State"] = "DISABLED".into();
    schedules.update_schedule("s", input(body)).await.unwrap();
    let updated = schedules.get_schedule("s", None).await.unwrap();
    assert_eq!(updated.creation_date, created.creation_date);
    assert!(updated.last_modification_date > created.last_modification_date);
    assert_eq!(updated.description, None);
    assert_eq!(updated.schedule_expression, "rate(10 minutes)");
    assert!(updated.target.arn.ends_with(":function:g"));

    let missing = schedules
        .update_schedule("nope", input(to_function("rate(1 day)", "f")))
        .await;
    assert!(matches!(missing, Err(ScheduleError::NotFound(_))));
}

#[tokio::test]
async fn lists_page_by_group_then_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_queues, schedules) = open(dir.path());
    for name in ["c", "a", "b", "other"] {
        schedules
            .create_schedule(name, input(to_function("rate(1 day)", "f")))
            .await
            .unwrap();
    }
    let mut request = ListRequest {
        max_results: Some(2),
        ..Default::default()
    };
    let first = schedules.list_schedules(&request).await.unwrap();
    let names: Vec<_> = first.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    request.next_token = first.next_token;
    let second = schedules.list_schedules(&request).await.unwrap();
    let names: Vec<_> = second.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["c", "other"]);
    assert_eq!(second.next_token, None);

    let prefixed = schedules
        .list_schedules(&ListRequest {
            name_prefix: Some("o".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(prefixed.items.len(), 1);
    let too_many = schedules
        .list_schedules(&ListRequest {
            max_results: Some(101),
            ..Default::default()
        })
        .await;
    assert!(matches!(too_many, Err(ScheduleError::Validation(_))));
}

#[tokio::test]
async fn a_firing_commits_the_invocation_and_the_slot_and_delete_after_completion() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, schedules) = open(dir.path());
    schedules.start();
    let mut body = to_function(&at_in(1), "fired");
    body["ActionAfterCompletion"] = "DELETE".into();
    schedules
        .create_schedule("once", input(body))
        .await
        .unwrap();
    schedules
        .create_schedule("kept", input(to_function(&at_in(1), "kept")))
        .await
        .unwrap();

    let invocation = receive_invocation(&queues, "fired").await;
    assert_eq!(invocation.payload.as_ref(), b"{\"n\":1}");
    assert_eq!(invocation.trigger, "schedule");
    assert_eq!(invocation.qualifier, None);
    receive_invocation(&queues, "kept").await;
    // Deleted with the firing, in the same transaction.
    assert!(matches!(
        schedules.get_schedule("once", None).await,
        Err(ScheduleError::NotFound(_))
    ));
    let stored = queues
        .store()
        .resource("schedule", "default/kept")
        .unwrap()
        .expect("kept");
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert!(stored["updraftLastFiredMs"].is_i64(), "{stored}");
}
