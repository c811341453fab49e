use super::*;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function";

/// How a test request is sent.
#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    Json(&'a str),
    Form(&'a str),
}

fn parts(method: &str, uri: &str, target: Option<&str>, body: Body) -> http::request::Parts {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(target) = target {
        builder = builder.header("x-amz-target", target);
    }
    match body {
        Body::Json(_) => builder = builder.header("content-type", "application/x-amz-json-1.0"),
        Body::Form(_) => {
            builder = builder.header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
        }
        Body::None => {}
    }
    builder.body(()).expect("valid request").into_parts().0
}

fn classify_as(
    service: &str,
    method: &str,
    uri: &str,
    target: Option<&str>,
    body: Body,
) -> Classified {
    let bytes = match body {
        Body::None => "",
        Body::Json(b) | Body::Form(b) => b,
    };
    classify(
        &parts(method, uri, target, body),
        bytes.as_bytes(),
        service,
        REGION,
        ACCOUNT,
        &|account| account == ACCOUNT,
    )
}

fn op(method: &str, uri: &str, body: Body) -> Operation {
    match classify_as("lambda", method, uri, None, body) {
        Classified::Operation(op) => op,
        other => panic!("{method} {uri}: {other:?}"),
    }
}

fn json(target: &str, body: &str) -> Operation {
    match classify_as("sqs", "POST", "/", Some(target), Body::Json(body)) {
        Classified::Operation(op) => op,
        other => panic!("{target}: {other:?}"),
    }
}

#[track_caller]
fn check(op: Operation, action: &str, resource: &str) {
    assert_eq!(
        (op.action.as_str(), op.resource.as_str()),
        (action, resource)
    );
    assert!(op.more_resources.is_empty(), "{:?}", op.more_resources);
    assert!(op.passed_roles.is_empty(), "{:?}", op.passed_roles);
}

/// The roles `op` passes, as (role, service).
fn passed(op: &Operation) -> Vec<(&str, &str)> {
    op.passed_roles
        .iter()
        .map(|p| (p.role.as_str(), p.service))
        .collect()
}

mod lambda;
mod routes;
mod services;
