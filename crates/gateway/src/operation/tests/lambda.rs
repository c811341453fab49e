//! Lambda's paths and updraft's own.

use super::*;

#[test]
fn lambda_functions_by_name_partial_arn_and_arn() {
    let f = format!("{FN}:f");
    check(
        op("GET", "/2015-03-31/functions", Body::None),
        "lambda:ListFunctions",
        "*",
    );
    check(
        op("GET", "/2015-03-31/functions/", Body::None),
        "lambda:ListFunctions",
        "*",
    );
    check(
        op(
            "POST",
            "/2015-03-31/functions",
            Body::Json(
                r#"{"FunctionName":"f","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}"#,
            ),
        ),
        "lambda:CreateFunction",
        &f,
    );
    check(
        op("GET", "/2015-03-31/functions/f", Body::None),
        "lambda:GetFunction",
        &f,
    );
    check(
        op("GET", "/2015-03-31/functions/f:live", Body::None),
        "lambda:GetFunction",
        &format!("{f}:live"),
    );
    check(
        op(
            "GET",
            "/2015-03-31/functions/123456789012%3Afunction%3Af?Qualifier=%24LATEST",
            Body::None,
        ),
        "lambda:GetFunction",
        &format!("{f}:$LATEST"),
    );
    check(
        op(
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3A3",
            Body::None,
        ),
        "lambda:GetFunction",
        &format!("{f}:3"),
    );
    check(
        op("DELETE", "/2015-03-31/functions/f?Qualifier=2", Body::None),
        "lambda:DeleteFunction",
        &format!("{f}:2"),
    );
    check(
        op("GET", "/2015-03-31/functions/f/configuration", Body::None),
        "lambda:GetFunctionConfiguration",
        &f,
    );
    check(
        op(
            "PUT",
            "/2015-03-31/functions/f:live/configuration",
            Body::Json("{}"),
        ),
        "lambda:UpdateFunctionConfiguration",
        &f,
    );
    check(
        op("PUT", "/2015-03-31/functions/f/code", Body::Json("{}")),
        "lambda:UpdateFunctionCode",
        &f,
    );
    check(
        op("GET", "/2015-03-31/functions/f/versions", Body::None),
        "lambda:ListVersionsByFunction",
        &f,
    );
    check(
        op("POST", "/2015-03-31/functions/f/versions", Body::Json("{}")),
        "lambda:PublishVersion",
        &f,
    );
}

#[test]
fn lambda_aliases_are_checked_on_the_function() {
    let f = format!("{FN}:f");
    let cases = [
        (
            "GET",
            "/2015-03-31/functions/f/aliases",
            "lambda:ListAliases",
        ),
        (
            "POST",
            "/2015-03-31/functions/f/aliases",
            "lambda:CreateAlias",
        ),
        (
            "GET",
            "/2015-03-31/functions/f/aliases/live",
            "lambda:GetAlias",
        ),
        (
            "PUT",
            "/2015-03-31/functions/f/aliases/live",
            "lambda:UpdateAlias",
        ),
        (
            "DELETE",
            "/2015-03-31/functions/f/aliases/live",
            "lambda:DeleteAlias",
        ),
    ];
    for (method, uri, action) in cases {
        check(op(method, uri, Body::Json("{}")), action, &f);
    }
}

#[test]
fn invoke_is_checked_on_the_qualified_arn_when_a_qualifier_is_given() {
    let f = format!("{FN}:f");
    check(
        op("POST", "/2015-03-31/functions/f/invocations", Body::None),
        "lambda:InvokeFunction",
        &f,
    );
    check(
        op(
            "POST",
            "/2015-03-31/functions/f/invocations?Qualifier=live",
            Body::None,
        ),
        "lambda:InvokeFunction",
        &format!("{f}:live"),
    );
    check(
        op("POST", "/2015-03-31/functions/f:7/invocations", Body::None),
        "lambda:InvokeFunction",
        &format!("{f}:7"),
    );
    // Name and query agree: one qualifier; disagree: the handler refuses.
    check(
        op(
            "POST",
            "/2015-03-31/functions/f:7/invocations?Qualifier=7",
            Body::None,
        ),
        "lambda:InvokeFunction",
        &format!("{f}:7"),
    );
    check(
        op(
            "POST",
            "/2015-03-31/functions/f:7/invocations?Qualifier=8",
            Body::None,
        ),
        "lambda:InvokeFunction",
        "*",
    );
}

#[test]
fn lambda_permissions() {
    let f = format!("{FN}:f");
    check(
        op("GET", "/2015-03-31/functions/f/policy", Body::None),
        "lambda:GetPolicy",
        &f,
    );
    check(
        op(
            "POST",
            "/2015-03-31/functions/f/policy?Qualifier=live",
            Body::Json("{}"),
        ),
        "lambda:AddPermission",
        &format!("{f}:live"),
    );
    check(
        op(
            "DELETE",
            "/2015-03-31/functions/f:live/policy/sid-1",
            Body::None,
        ),
        "lambda:RemovePermission",
        &format!("{f}:live"),
    );
}

#[test]
fn lambda_urls_concurrency_and_configs() {
    let f = format!("{FN}:f");
    let live = format!("{f}:live");
    let cases: [(&str, &str, &str, &str); 20] = [
        (
            "GET",
            "/2021-10-31/functions/f/url",
            "lambda:GetFunctionUrlConfig",
            &f,
        ),
        (
            "POST",
            "/2021-10-31/functions/f/url?Qualifier=live",
            "lambda:CreateFunctionUrlConfig",
            &live,
        ),
        (
            "PUT",
            "/2021-10-31/functions/f/url",
            "lambda:UpdateFunctionUrlConfig",
            &f,
        ),
        // The URL handler reads the qualifier from the query only.
        (
            "DELETE",
            "/2021-10-31/functions/f:live/url",
            "lambda:DeleteFunctionUrlConfig",
            &f,
        ),
        (
            "GET",
            "/2021-10-31/functions/f/urls",
            "lambda:ListFunctionUrlConfigs",
            &f,
        ),
        (
            "PUT",
            "/2017-10-31/functions/f/concurrency",
            "lambda:PutFunctionConcurrency",
            &f,
        ),
        (
            "DELETE",
            "/2017-10-31/functions/f/concurrency",
            "lambda:DeleteFunctionConcurrency",
            &f,
        ),
        (
            "GET",
            "/2019-09-30/functions/f/concurrency",
            "lambda:GetFunctionConcurrency",
            &f,
        ),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency?List=ALL",
            "lambda:ListProvisionedConcurrencyConfigs",
            &f,
        ),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=live",
            "lambda:GetProvisionedConcurrencyConfig",
            &live,
        ),
        (
            "PUT",
            "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=live",
            "lambda:PutProvisionedConcurrencyConfig",
            &live,
        ),
        (
            "DELETE",
            "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=live",
            "lambda:DeleteProvisionedConcurrencyConfig",
            &live,
        ),
        (
            "GET",
            "/2019-09-25/functions/f/event-invoke-config",
            "lambda:GetFunctionEventInvokeConfig",
            &f,
        ),
        (
            "PUT",
            "/2019-09-25/functions/f/event-invoke-config?Qualifier=live",
            "lambda:PutFunctionEventInvokeConfig",
            &live,
        ),
        (
            "POST",
            "/2019-09-25/functions/f:live/event-invoke-config",
            "lambda:UpdateFunctionEventInvokeConfig",
            &live,
        ),
        (
            "DELETE",
            "/2019-09-25/functions/f/event-invoke-config",
            "lambda:DeleteFunctionEventInvokeConfig",
            &f,
        ),
        (
            "GET",
            "/2019-09-25/functions/f/event-invoke-config/list",
            "lambda:ListFunctionEventInvokeConfigs",
            &f,
        ),
        (
            "GET",
            "/updraft/v1/usage?Start=2026-01-01",
            "updraft:GetUsage",
            "arn:aws:updraft:us-east-1:123456789012:usage",
        ),
        (
            "GET",
            "/updraft/v1/usage?account=111111111111",
            "updraft:GetUsage",
            "arn:aws:updraft:us-east-1:111111111111:usage",
        ),
        ("GET", "/updraft/v1/queues", "updraft:ListQueues", "*"),
    ];
    for (method, uri, action, resource) in cases {
        check(op(method, uri, Body::Json("{}")), action, resource);
    }
    check(
        op(
            "GET",
            &format!("/updraft/v1/code/{}", "ab".repeat(32)),
            Body::None,
        ),
        "lambda:GetFunction",
        "*",
    );
}

#[test]
fn event_source_mappings() {
    let esm = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:\
               1f4b7d3c-2a6e-4c1b-9d0e-8f7a6b5c4d3e";
    let uuid = "/2015-03-31/event-source-mappings/1f4b7d3c-2a6e-4c1b-9d0e-8f7a6b5c4d3e";
    let create = r#"{"FunctionName":"f","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:q"}"#;
    for path in [
        "/2015-03-31/event-source-mappings",
        "/2015-03-31/event-source-mappings/",
    ] {
        check(
            op("POST", path, Body::Json(create)),
            "lambda:CreateEventSourceMapping",
            "*",
        );
        check(
            op("GET", path, Body::None),
            "lambda:ListEventSourceMappings",
            "*",
        );
    }
    check(
        op("GET", uuid, Body::None),
        "lambda:GetEventSourceMapping",
        esm,
    );
    check(
        op("PUT", uuid, Body::Json("{}")),
        "lambda:UpdateEventSourceMapping",
        esm,
    );
    check(
        op("DELETE", uuid, Body::None),
        "lambda:DeleteEventSourceMapping",
        esm,
    );
}

#[test]
fn a_function_named_in_another_region_or_account_is_checked_there_and_here() {
    // The handler acts on the node's `f` whatever the ARN spells, so the
    // action must be allowed on both.
    let op = op(
        "POST",
        "/2015-03-31/functions/arn:aws:lambda:eu-west-1:210987654321:function:f/invocations",
        Body::None,
    );
    assert_eq!(op.action, "lambda:InvokeFunction");
    assert_eq!(
        op.resource,
        "arn:aws:lambda:eu-west-1:210987654321:function:f"
    );
    assert_eq!(op.more_resources, vec![format!("{FN}:f")]);
    let partial = self::op("GET", "/2015-03-31/functions/:function:f", Body::None);
    assert_eq!(partial.resource, "arn:aws:lambda:us-east-1::function:f");
    assert_eq!(partial.more_resources, vec![format!("{FN}:f")]);
}

#[test]
fn a_function_of_another_account_on_the_node_is_checked_in_that_account() {
    // The node holds 210987654321's resources too: the handler acts in
    // that account, in the node's region.
    let on_node = |uri: &str| {
        let parts = parts("POST", uri, None, Body::None);
        match classify(&parts, b"", "lambda", REGION, ACCOUNT, &|a| {
            a == ACCOUNT || a == "210987654321"
        }) {
            Classified::Operation(op) => op,
            other => panic!("{uri}: {other:?}"),
        }
    };
    let there = "arn:aws:lambda:us-east-1:210987654321:function:f";
    check(
        on_node(&format!("/2015-03-31/functions/{there}/invocations")),
        "lambda:InvokeFunction",
        there,
    );
    let op = on_node(
        "/2015-03-31/functions/arn:aws:lambda:eu-west-1:210987654321:function:f/invocations",
    );
    assert_eq!(op.more_resources, vec![there.to_string()]);
}

#[test]
fn lambda_names_the_handler_refuses_are_checked_on_any_resource() {
    for uri in [
        "/2015-03-31/functions/f*/invocations",
        "/2015-03-31/functions/a:b:c:d:e/invocations",
        "/2015-03-31/functions/f/invocations?Qualifier=bad%2Fone",
        "/2015-03-31/functions/%FF/invocations",
    ] {
        check(op("POST", uri, Body::None), "lambda:InvokeFunction", "*");
    }
    for body in ["", "not json", r#"{"FunctionName":7}"#, "[]"] {
        check(
            op("POST", "/2015-03-31/functions", Body::Json(body)),
            "lambda:CreateFunction",
            "*",
        );
    }
}

#[test]
fn a_function_s_execution_role_is_passed_to_lambda() {
    let role = "arn:aws:iam::123456789012:role/worker";
    let create = op(
        "POST",
        "/2015-03-31/functions",
        Body::Json(&format!(
            r#"{{"FunctionName":"f","Role":"{role}","Runtime":"wasm"}}"#
        )),
    );
    assert_eq!(create.resource, format!("{FN}:f"));
    assert_eq!(passed(&create), vec![(role, "lambda.amazonaws.com")]);
    let update = op(
        "PUT",
        "/2015-03-31/functions/f/configuration",
        Body::Json(&format!(r#"{{"Role":"{role}","Timeout":3}}"#)),
    );
    assert_eq!(update.action, "lambda:UpdateFunctionConfiguration");
    assert_eq!(passed(&update), vec![(role, "lambda.amazonaws.com")]);
    // No role, no pass; a body the handler refuses: any resource.
    check(
        op(
            "PUT",
            "/2015-03-31/functions/f/configuration",
            Body::Json(r#"{"Timeout":3}"#),
        ),
        "lambda:UpdateFunctionConfiguration",
        &format!("{FN}:f"),
    );
    check(
        op(
            "PUT",
            "/2015-03-31/functions/f/configuration",
            Body::Json(r#"{"Role":1}"#),
        ),
        "lambda:UpdateFunctionConfiguration",
        "*",
    );
}
