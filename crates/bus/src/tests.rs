//! The bus over real queues (SQLite event store in a temporary
//! directory): resources, routing, delivery, persistence, and a
//! measurement of matching speed.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use updraft_queues::invocation::{queue_name, AsyncInvocation};
use updraft_queues::{QueueConfig, ReceiveRequest};
use updraft_store_sqlite::SqliteEventStore;

use super::*;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:";

fn open(dir: &Path) -> (Arc<Queues>, Arc<Bus>) {
    let store = SqliteEventStore::open(&dir.join("events.db")).expect("event store");
    let queues = Queues::open(Arc::new(store), "us-east-1", "000000000000").expect("queues open");
    let bus = Bus::open(queues.clone(), Account::default()).expect("bus open");
    (queues, bus)
}

fn spec(name: &str, bus: Option<&str>, pattern: &str) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        bus: bus.map(str::to_string),
        event_pattern: Some(pattern.into()),
        ..Default::default()
    }
}

fn target(id: &str, arn: &str) -> Target {
    Target {
        id: id.into(),
        arn: arn.into(),
        role_arn: None,
        input: None,
        input_path: None,
        input_transformer: None,
    }
}

fn entry(bus: Option<&str>, source: &str, detail: Value) -> EventEntry {
    EventEntry {
        bus: bus.map(str::to_string),
        source: Some(source.into()),
        detail_type: Some("order placed".into()),
        detail: Some(detail.to_string()),
        resources: vec!["arn:aws:x:::thing".into()],
        time_ms: None,
    }
}

/// Every message waiting in `queue`, received now.
async fn drain(queues: &Queues, queue: &str) -> Vec<updraft_queues::Received> {
    queues
        .receive(
            queue,
            ReceiveRequest {
                max_messages: 100,
                visibility_timeout: Some(Duration::from_secs(60)),
                wait: Some(Duration::ZERO),
            },
        )
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn matched_events_reach_functions_and_queues_in_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, bus) = open(dir.path());
    queues
        .create_queue(QueueConfig::new("orders"))
        .await
        .unwrap();
    bus.create_event_bus("shop", Some("the shop".into()))
        .await
        .unwrap();
    bus.put_rule(spec(
        "big",
        Some("shop"),
        r#"{"source":["shop.orders"],"detail":{"total":[{"numeric":[">",100]}]}}"#,
    ))
    .await
    .unwrap();
    let failures = bus
        .put_targets(
            Some("shop"),
            "big",
            vec![
                target("f", &format!("{FUNCTION_ARN}billing:live")),
                target("q", &format!("{QUEUE_ARN}orders")),
            ],
        )
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");

    let results = bus
        .put_events(vec![
            entry(Some("shop"), "shop.orders", json!({"total": 250})),
            entry(Some("shop"), "shop.orders", json!({"total": 5})),
            entry(None, "shop.orders", json!({"total": 999})),
        ])
        .await
        .unwrap();
    let ids: Vec<String> = results.into_iter().map(|r| r.unwrap()).collect();

    let sqs = drain(&queues, "orders").await;
    assert_eq!(sqs.len(), 1, "only the big order on the shop bus matches");
    let event: Value = serde_json::from_slice(&sqs[0].body).unwrap();
    assert_eq!(event["id"], ids[0]);
    assert_eq!(event["version"], "0");
    assert_eq!(event["source"], "shop.orders");
    assert_eq!(event["detail-type"], "order placed");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["resources"], json!(["arn:aws:x:::thing"]));
    assert_eq!(event["detail"], json!({"total": 250}));
    assert!(event["time"].as_str().unwrap().ends_with('Z'));

    let invocations = drain(&queues, &queue_name("billing")).await;
    assert_eq!(invocations.len(), 1);
    let inv = AsyncInvocation::from_received(&invocations[0]).expect("an invocation");
    assert_eq!(inv.function, "billing");
    assert_eq!(inv.qualifier.as_deref(), Some("live"));
    assert_eq!(inv.trigger, "bus");
    assert_eq!(
        serde_json::from_slice::<Value>(&inv.payload).unwrap(),
        event
    );
}

#[tokio::test]
async fn target_inputs_shape_what_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, bus) = open(dir.path());
    for q in ["constant", "path", "transformed"] {
        queues.create_queue(QueueConfig::new(q)).await.unwrap();
    }
    bus.put_rule(spec("r", None, r#"{"source":["app"]}"#))
        .await
        .unwrap();
    let mut constant = target("c", &format!("{QUEUE_ARN}constant"));
    constant.input = Some(r#"{"fixed":true}"#.into());
    let mut path = target("p", &format!("{QUEUE_ARN}path"));
    path.input_path = Some("$.detail.items[1]".into());
    let mut transformed = target("t", &format!("{QUEUE_ARN}transformed"));
    transformed.input_transformer = Some(InputTransformer {
        input_paths_map: BTreeMap::from([("who".into(), "$.detail.user".into())]),
        input_template: r#"{"msg": "hello <who>", "user": <who>, "rule": <aws.events.rule-name>}"#
            .into(),
    });
    bus.put_targets(None, "r", vec![constant, path, transformed])
        .await
        .unwrap();
    bus.put_event(NewEvent {
        bus: "default".into(),
        source: "app".into(),
        detail_type: "t".into(),
        detail: json!({"user": "ada", "items": ["a", {"b": 2}]}),
        resources: vec![],
    })
    .await
    .unwrap();
    let body = |m: &updraft_queues::Received| serde_json::from_slice::<Value>(&m.body).unwrap();
    assert_eq!(
        body(&drain(&queues, "constant").await[0]),
        json!({"fixed": true})
    );
    assert_eq!(body(&drain(&queues, "path").await[0]), json!({"b": 2}));
    assert_eq!(
        body(&drain(&queues, "transformed").await[0]),
        json!({"msg": "hello ada", "user": "ada", "rule": "r"})
    );
}

#[tokio::test]
async fn disabled_rules_do_not_match_and_enabled_ones_again() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, bus) = open(dir.path());
    queues.create_queue(QueueConfig::new("q")).await.unwrap();
    bus.put_rule(spec("r", None, r#"{"source":["s"]}"#))
        .await
        .unwrap();
    bus.put_targets(None, "r", vec![target("t", &format!("{QUEUE_ARN}q"))])
        .await
        .unwrap();
    bus.set_rule_state(None, "r", RuleState::Disabled)
        .await
        .unwrap();
    bus.put_events(vec![entry(None, "s", json!({}))])
        .await
        .unwrap();
    assert!(drain(&queues, "q").await.is_empty());
    // Updating the pattern keeps the state and the targets.
    bus.put_rule(spec("r", None, r#"{"source":["s","s2"]}"#))
        .await
        .unwrap();
    let (rule, _) = bus.describe_rule(None, "r").unwrap();
    assert_eq!(rule.state, RuleState::Disabled);
    assert_eq!(rule.targets.len(), 1);
    bus.set_rule_state(None, "r", RuleState::Enabled)
        .await
        .unwrap();
    bus.put_events(vec![entry(None, "s2", json!({}))])
        .await
        .unwrap();
    assert_eq!(drain(&queues, "q").await.len(), 1);
}

#[tokio::test]
async fn resources_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (queues, bus) = open(dir.path());
        bus.create_event_bus("b", None).await.unwrap();
        bus.put_rule(spec("r", Some("b"), r#"{"source":["s"]}"#))
            .await
            .unwrap();
        bus.put_targets(
            Some("b"),
            "r",
            vec![target("t", &format!("{FUNCTION_ARN}f"))],
        )
        .await
        .unwrap();
        bus.put_rule(RuleSpec {
            state: Some(RuleState::Disabled),
            description: Some("off".into()),
            ..spec("off", None, r#"{"source":["s"]}"#)
        })
        .await
        .unwrap();
        queues.close();
    }
    let (queues, bus) = open(dir.path());
    assert_eq!(
        bus.list_event_buses("")
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>(),
        ["b", "default"]
    );
    let (rule, arn) = bus.describe_rule(Some("b"), "r").unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/b/r");
    assert_eq!(rule.targets, vec![target("t", &format!("{FUNCTION_ARN}f"))]);
    let (off, arn) = bus.describe_rule(None, "off").unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/off");
    assert_eq!(
        (off.state, off.description.as_deref()),
        (RuleState::Disabled, Some("off"))
    );
    bus.put_events(vec![entry(Some("b"), "s", json!({}))])
        .await
        .unwrap();
    assert_eq!(drain(&queues, &queue_name("f")).await.len(), 1);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (queues, bus) = open(dir.path());
    queues.create_queue(QueueConfig::new("q")).await.unwrap();
    let err = bus
        .put_rule(spec("r", None, r#"{"source":"s"}"#))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidEventPatternException");
    let err = bus
        .put_rule(RuleSpec {
            schedule_expression: Some("rate(1 minute)".into()),
            ..spec("sched", None, r#"{"source":["s"]}"#)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EventBridge Scheduler"), "{err}");
    assert_eq!(
        bus.put_rule(spec("r", Some("nope"), r#"{"source":["s"]}"#))
            .await
            .unwrap_err(),
        BusError::NoSuchBus("nope".into())
    );
    assert!(bus.list_rules(None, "").unwrap().is_empty());

    bus.put_rule(spec("r", None, r#"{"source":["s"]}"#))
        .await
        .unwrap();
    let failures = bus
        .put_targets(
            None,
            "r",
            vec![target("x", "arn:aws:sns:us-east-1:000000000000:t")],
        )
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].message.contains("not supported"));
    let six = (0..6)
        .map(|i| target(&format!("t{i}"), &format!("{QUEUE_ARN}q")))
        .collect();
    assert_eq!(
        bus.put_targets(None, "r", six).await.unwrap_err().code(),
        "LimitExceededException"
    );
    assert!(bus.list_targets(None, "r").unwrap().is_empty());

    bus.put_targets(None, "r", vec![target("t", &format!("{QUEUE_ARN}q"))])
        .await
        .unwrap();
    let eleven = (0..11).map(|_| entry(None, "s", json!({}))).collect();
    assert_eq!(
        bus.put_events(eleven).await.unwrap_err().code(),
        "ValidationException"
    );
    let big = entry(None, "s", json!({"x": "a".repeat(MAX_ENTRIES_SIZE)}));
    assert!(bus
        .put_events(vec![entry(None, "s", json!({})), big])
        .await
        .unwrap_err()
        .to_string()
        .contains("over the limit"));
    assert_eq!(
        bus.put_events(vec![
            entry(None, "s", json!({})),
            entry(Some("nope"), "s", json!({}))
        ])
        .await
        .unwrap_err(),
        BusError::NoSuchBus("nope".into())
    );
    assert!(
        drain(&queues, "q").await.is_empty(),
        "nothing was delivered"
    );

    // Per-entry failures: the valid entries are still delivered.
    let mut no_source = entry(None, "s", json!({}));
    no_source.source = None;
    let mut array_detail = entry(None, "s", json!({}));
    array_detail.detail = Some("[1]".into());
    let results = bus
        .put_events(vec![
            no_source,
            array_detail,
            entry(None, "aws.ec2", json!({})),
            entry(None, "s", json!({})),
        ])
        .await
        .unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code, |_| "ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "InvalidArgument",
            "MalformedDetail",
            "NotAuthorizedForSourceException",
            "ok"
        ]
    );
    assert_eq!(drain(&queues, "q").await.len(), 1);
}

#[tokio::test]
async fn buses_and_rules_follow_eventbridge_lifecycle_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (_queues, bus) = open(dir.path());
    assert_eq!(
        bus.delete_event_bus("default").await.unwrap_err().code(),
        "ValidationException"
    );
    assert_eq!(
        bus.create_event_bus("default", None)
            .await
            .unwrap_err()
            .code(),
        "ResourceAlreadyExistsException"
    );
    assert_eq!(
        bus.create_event_bus("a/b", None).await.unwrap_err().code(),
        "ValidationException"
    );
    bus.create_event_bus("b", None).await.unwrap();
    assert_eq!(
        bus.create_event_bus("b", None).await.unwrap_err().code(),
        "ResourceAlreadyExistsException"
    );
    let arn = bus.bus_arn("b");
    assert_eq!(bus.describe_event_bus(Some(&arn)).unwrap().name, "b");
    bus.put_rule(spec("r", Some("b"), r#"{"source":["s"]}"#))
        .await
        .unwrap();
    bus.put_targets(
        Some(&arn),
        "r",
        vec![target("t", &format!("{FUNCTION_ARN}f"))],
    )
    .await
    .unwrap();
    assert_eq!(
        bus.delete_rule(Some("b"), "r")
            .await
            .unwrap_err()
            .to_string(),
        "Rule can't be deleted since it has targets."
    );
    bus.remove_targets(Some("b"), "r", &["t".into()])
        .await
        .unwrap();
    bus.delete_rule(Some("b"), "r").await.unwrap();
    bus.delete_rule(Some("b"), "r").await.unwrap();
    assert_eq!(
        bus.describe_rule(Some("b"), "r").unwrap_err().to_string(),
        "Rule r does not exist on EventBus b."
    );
    bus.put_rule(spec("again", Some("b"), r#"{"source":["s"]}"#))
        .await
        .unwrap();
    bus.delete_event_bus("b").await.unwrap();
    assert_eq!(
        bus.list_rules(Some("b"), "").unwrap_err(),
        BusError::NoSuchBus("b".into())
    );
    bus.create_event_bus("b", None).await.unwrap();
    assert!(
        bus.list_rules(Some("b"), "").unwrap().is_empty(),
        "rules went with their bus"
    );
}

#[test]
fn test_event_pattern_checks_the_event() {
    let event = json!({"id":"1","account":"1","source":"s","time":"t","region":"r","detail-type":"d","detail":{"a":1}})
        .to_string();
    assert_eq!(
        test_event_pattern(r#"{"detail":{"a":[1]}}"#, &event),
        Ok(true)
    );
    assert_eq!(
        test_event_pattern(r#"{"detail":{"a":[2]}}"#, &event),
        Ok(false)
    );
    assert_eq!(
        test_event_pattern(r#"{"detail":5}"#, &event)
            .unwrap_err()
            .code(),
        "InvalidEventPatternException"
    );
    assert_eq!(
        test_event_pattern(r#"{"source":["s"]}"#, r#"{"source":"s"}"#)
            .unwrap_err()
            .code(),
        "ValidationException"
    );
}

/// Events matched per second against 1,000 rules on one bus, through the
/// index and, for comparison, trying every rule.
/// `cargo test -p updraft-bus --release -- --ignored --nocapture matching_speed`
#[test]
#[ignore = "a measurement; run in release mode"]
fn matching_speed() {
    let account = Account::default();
    let rules: Vec<Arc<CompiledRule>> = (0..1000)
        .map(|i| {
            let pattern = match i % 10 {
                // A tenth of the rules cannot be indexed.
                0 => json!({"source": [{"prefix": format!("svc{i}.")}]}),
                1 => json!({"detail-type": [format!("type{i}")], "detail": {"n": [{"numeric": [">", 5]}]}}),
                _ => json!({"source": [format!("svc{}", i % 200)], "detail": {"state": ["on", "off"], "level": [{"numeric": [">=", i % 7]}]}}),
            };
            Arc::new(
                Rule {
                    name: format!("rule{i}"),
                    bus: DEFAULT_BUS.into(),
                    event_pattern: pattern.to_string(),
                    state: RuleState::Enabled,
                    description: None,
                    role_arn: None,
                    targets: vec![],
                }
                .compile(&account, format!("arn:rule{i}"))
                .unwrap(),
            )
        })
        .collect();
    let events: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"version":"0","id":"x","source": format!("svc{}", i % 250),"detail-type": format!("type{}", i % 50),
                "account":"0","time":"t","region":"r","resources":[],
                "detail": {"state": if i % 2 == 0 {"on"} else {"idle"}, "level": i % 9, "n": i}})
        })
        .collect();
    let index = RuleIndex::build(rules.iter());
    let measure = |what: &str, f: &dyn Fn(&Value) -> usize| {
        let start = Instant::now();
        let mut matched = 0;
        let mut n = 0;
        while start.elapsed() < Duration::from_secs(2) {
            for e in &events {
                matched += f(e);
                n += 1;
            }
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{what}: {rate:.0} events/s against 1000 rules ({matched} matches)");
    };
    measure("indexed", &|e| index.matching(e).len());
    measure("every rule", &|e| {
        rules.iter().filter(|r| r.pattern.matches(e)).count()
    });
}
