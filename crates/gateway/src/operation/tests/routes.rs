//! What the router routes, and that every route it declares is classified.

use super::*;

#[test]
fn requests_no_route_serves_are_unknown() {
    for (method, uri, target) in [
        ("PATCH", "/2015-03-31/functions/f", None),
        ("GET", "/2015-03-31/functions/f/nothing", None),
        ("GET", "/", None),
        ("POST", "/", None),
        ("POST", "/", Some("AWSStepFunctions.StartExecution")),
        ("GET", "/schedules/s/extra", None),
        ("GET", "/123456789012/q", None),
    ] {
        assert_eq!(
            classify_as("lambda", method, uri, target, Body::None),
            Classified::Unknown,
            "{method} {uri}"
        );
    }
}

#[test]
fn routing_is_by_path_before_target_as_the_router_routes() {
    // A target header on a Lambda path does not change what runs.
    let classified = classify_as(
        "sqs",
        "GET",
        "/2015-03-31/functions",
        Some("AmazonSQS.SendMessage"),
        Body::None,
    );
    assert_eq!(
        classified,
        Classified::Operation(Operation::any("lambda:ListFunctions"))
    );
    // A form POSTed to a literal route is that route's, not a queue URL's.
    let classified = classify_as(
        "scheduler",
        "POST",
        "/schedule-groups/g",
        None,
        Body::Form("Action=PurgeQueue"),
    );
    let Classified::Operation(op) = classified else {
        panic!("{classified:?}");
    };
    assert_eq!(op.action, "scheduler:CreateScheduleGroup");
    // A form with a target on a queue URL still runs the query protocol.
    let classified = classify_as(
        "sqs",
        "POST",
        "/123456789012/q",
        Some("AmazonSQS.ListQueues"),
        Body::Form("Action=PurgeQueue"),
    );
    let Classified::Operation(op) = classified else {
        panic!("{classified:?}");
    };
    assert_eq!(op.action, "sqs:PurgeQueue");
    // Literal segments match as sent: an encoded one is not the route.
    assert_eq!(
        classify_as(
            "lambda",
            "GET",
            "/2015%2D03%2D31/functions",
            None,
            Body::None
        ),
        Classified::Unknown
    );
}

#[test]
fn any_input_is_classified_without_panicking() {
    let bodies: [&[u8]; 7] = [
        b"",
        b"\xff\xfe",
        b"{\"Entries\":[{\"EventBusName\":\"arn:\"}]}",
        b"Action=&QueueUrl=%",
        b"{\"QueueUrl\":\"://\"}",
        b"{\"logGroupIdentifier\":\"arn:aws:logs\"}",
        b"{\"Name\":\"arn:aws:events:r:a:event-bus/\"}",
    ];
    let targets = [
        None,
        Some("AmazonSQS.SendMessage"),
        Some("AWSEvents.PutEvents"),
        Some("AWSEvents.DescribeEventBus"),
        Some("Logs_20140328.FilterLogEvents"),
    ];
    for uri in [
        "/",
        "/a/b",
        "/2015-03-31/functions/%",
        "/schedules/%ZZ",
        "/2015-03-31/functions/:::/invocations",
    ] {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            for target in targets {
                for body in bodies {
                    for content_type in ["application/x-www-form-urlencoded", "application/json"] {
                        let mut request = http::Request::builder()
                            .method(method)
                            .uri(uri)
                            .header("content-type", content_type);
                        if let Some(t) = target {
                            request = request.header("x-amz-target", t);
                        }
                        let parts = request.body(()).expect("valid request").into_parts().0;
                        let _ = classify(&parts, body, "sqs", REGION, ACCOUNT, &|a| a == ACCOUNT);
                    }
                }
            }
        }
    }
}

/// Every route the router declares, read from the source that declares
/// it (`.route("PATH", get(..).post(..))`), as (method, path).
fn declared_routes(source: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for chunk in source.split(".route(").skip(1) {
        let Some(start) = chunk.find('"') else {
            continue;
        };
        let rest = &chunk[start + 1..];
        let Some(end) = rest.find('"') else {
            continue;
        };
        let path = &rest[..end];
        let mut handlers = &rest[end + 1..];
        for stop in [".merge(", ".fallback(", ".layer(", "\n}"] {
            if let Some(i) = handlers.find(stop) {
                handlers = &handlers[..i];
            }
        }
        for method in ["get", "post", "put", "delete", "patch", "any"] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = handlers[from..].find(&needle) {
                let at = from + i;
                let before = handlers[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    routes.push((method.to_uppercase(), path.to_string()));
                }
                from = at + needle.len();
            }
        }
    }
    routes
}

/// The operation names a dispatching function matches (`"Name" =>`).
fn dispatched(source: &str, function: &str) -> Vec<String> {
    let start = source.find(function).expect("dispatching function");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
    body.split(" =>")
        .filter_map(|before| {
            let before = before.trim_end();
            let name = before.strip_suffix('"')?;
            let open = name.rfind('"')?;
            let name = &name[open + 1..];
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_route_the_router_serves_is_classified() {
    let sources = [
        include_str!("../../lib.rs"),
        include_str!("../../event_invoke.rs"),
        include_str!("../../mappings.rs"),
        include_str!("../../scheduler.rs"),
        include_str!("../../sqs.rs"),
    ];
    let mut checked = 0;
    for source in sources {
        for (method, path) in declared_routes(source) {
            // Function URLs and /metrics are outside the signed routes.
            if path.starts_with("/fn/") || path == "/metrics" {
                continue;
            }
            let uri: String = path
                .split('/')
                .map(|segment| match segment {
                    "{account}" => ACCOUNT.to_string(),
                    "{uuid}" => "1f4b7d3c-2a6e-4c1b-9d0e-8f7a6b5c4d3e".to_string(),
                    "{sha}" => "ab".repeat(32),
                    s if s.starts_with('{') => "x1".to_string(),
                    s => s.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let (method, body) = match method.as_str() {
                // `any` routes are the query protocol on a queue URL.
                "ANY" => (
                    "POST".to_string(),
                    Body::Form("Action=SendMessage&MessageBody=x"),
                ),
                _ if path == "/" => continue,
                _ => (method, Body::Json("{}")),
            };
            let classified = classify_as("lambda", &method, &uri, None, body);
            assert!(
                matches!(classified, Classified::Operation(_)),
                "{method} {path} is not classified"
            );
            // A `get` route answers HEAD with the same handler.
            if method == "GET" {
                let head = classify_as("lambda", "HEAD", &uri, None, body);
                assert_eq!(head, classified, "HEAD {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} routes found");

    let sqs = dispatched(include_str!("../../sqs.rs"), "async fn execute(");
    let events = dispatched(include_str!("../../eventbridge.rs"), "async fn handle(");
    let logs = dispatched(include_str!("../../logs/api.rs"), "fn dispatch(");
    assert!(
        sqs.len() >= 17 && events.len() >= 15 && logs.len() >= 17,
        "{sqs:?} {events:?} {logs:?}"
    );
    let targets = sqs
        .iter()
        .map(|op| format!("AmazonSQS.{op}"))
        .chain(events.iter().map(|op| format!("AWSEvents.{op}")))
        .chain(logs.iter().map(|op| format!("Logs_20140328.{op}")));
    for target in targets {
        let classified = classify_as("sqs", "POST", "/", Some(&target), Body::Json("{}"));
        assert!(
            matches!(classified, Classified::Operation(_)),
            "{target} is not classified"
        );
    }
    for action in &sqs {
        let form = format!("Action={action}&Version=2012-11-05");
        let classified = classify_as("sqs", "POST", "/", None, Body::Form(&form));
        assert!(
            matches!(classified, Classified::Operation(_)),
            "query-protocol {action} is not classified"
        );
    }
}
