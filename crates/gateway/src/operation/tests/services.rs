//! Scheduler, SQS (both protocols), EventBridge, CloudWatch Logs, IAM and STS.

use super::*;

#[test]
fn scheduler_schedules_and_groups() {
    let arn = "arn:aws:scheduler:us-east-1:123456789012";
    let cases = [
        (
            "GET",
            "/schedules",
            "",
            "scheduler:ListSchedules",
            "*".to_string(),
        ),
        (
            "GET",
            "/schedules/s",
            "",
            "scheduler:GetSchedule",
            format!("{arn}:schedule/default/s"),
        ),
        (
            "GET",
            "/schedules/s?groupName=g",
            "",
            "scheduler:GetSchedule",
            format!("{arn}:schedule/g/s"),
        ),
        (
            "DELETE",
            "/schedules/s?groupName=g",
            "",
            "scheduler:DeleteSchedule",
            format!("{arn}:schedule/g/s"),
        ),
        (
            "POST",
            "/schedules/s",
            r#"{"GroupName":"g","ScheduleExpression":"rate(1 minute)"}"#,
            "scheduler:CreateSchedule",
            format!("{arn}:schedule/g/s"),
        ),
        (
            "POST",
            "/schedules/s",
            r#"{"ScheduleExpression":"rate(1 minute)"}"#,
            "scheduler:CreateSchedule",
            format!("{arn}:schedule/default/s"),
        ),
        (
            "PUT",
            "/schedules/s",
            r#"{"GroupName":null}"#,
            "scheduler:UpdateSchedule",
            format!("{arn}:schedule/default/s"),
        ),
        (
            "PUT",
            "/schedules/s",
            "{",
            "scheduler:UpdateSchedule",
            "*".to_string(),
        ),
        (
            "GET",
            "/schedule-groups",
            "",
            "scheduler:ListScheduleGroups",
            "*".to_string(),
        ),
        (
            "GET",
            "/schedule-groups/g",
            "",
            "scheduler:GetScheduleGroup",
            format!("{arn}:schedule-group/g"),
        ),
        (
            "POST",
            "/schedule-groups/g",
            "{}",
            "scheduler:CreateScheduleGroup",
            format!("{arn}:schedule-group/g"),
        ),
        (
            "DELETE",
            "/schedule-groups/g",
            "",
            "scheduler:DeleteScheduleGroup",
            format!("{arn}:schedule-group/g"),
        ),
    ];
    for (method, uri, body, action, resource) in cases {
        let classified = classify_as("scheduler", method, uri, None, Body::Json(body));
        let Classified::Operation(op) = classified else {
            panic!("{method} {uri}: {classified:?}");
        };
        check(op, action, &resource);
    }
}

#[test]
fn sqs_json_protocol() {
    let q = "arn:aws:sqs:us-east-1:123456789012:q";
    let url = r#"{"QueueUrl":"http://localhost:9000/123456789012/q"}"#;
    check(json("AmazonSQS.ListQueues", "{}"), "sqs:ListQueues", "*");
    check(
        json("AmazonSQS.CreateQueue", r#"{"QueueName":"q"}"#),
        "sqs:CreateQueue",
        q,
    );
    check(
        json("AmazonSQS.GetQueueUrl", r#"{"QueueName":"q"}"#),
        "sqs:GetQueueUrl",
        q,
    );
    for (operation, action) in [
        ("DeleteQueue", "sqs:DeleteQueue"),
        ("GetQueueAttributes", "sqs:GetQueueAttributes"),
        ("SetQueueAttributes", "sqs:SetQueueAttributes"),
        ("PurgeQueue", "sqs:PurgeQueue"),
        ("TagQueue", "sqs:TagQueue"),
        ("UntagQueue", "sqs:UntagQueue"),
        ("ListQueueTags", "sqs:ListQueueTags"),
        ("SendMessage", "sqs:SendMessage"),
        ("SendMessageBatch", "sqs:SendMessage"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
        ("DeleteMessage", "sqs:DeleteMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibility", "sqs:ChangeMessageVisibility"),
        (
            "ChangeMessageVisibilityBatch",
            "sqs:ChangeMessageVisibility",
        ),
        ("AddPermission", "sqs:AddPermission"),
        ("RemovePermission", "sqs:RemovePermission"),
        (
            "ListDeadLetterSourceQueues",
            "sqs:ListDeadLetterSourceQueues",
        ),
    ] {
        check(json(&format!("AmazonSQS.{operation}"), url), action, q);
    }
    // AWS's own queue URL names its region.
    check(
        json(
            "AmazonSQS.SendMessage",
            r#"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q","MessageBody":"x"}"#,
        ),
        "sqs:SendMessage",
        q,
    );
    // Malformed: any resource; the handler refuses the body.
    for body in [
        "nope",
        r#"{"QueueUrl":5}"#,
        "{}",
        r#"{"QueueUrl":"http://h/q"}"#,
    ] {
        check(json("AmazonSQS.SendMessage", body), "sqs:SendMessage", "*");
    }
    assert_eq!(
        classify_as(
            "sqs",
            "POST",
            "/",
            Some("AmazonSQS.Frobnicate"),
            Body::Json("{}")
        ),
        Classified::Unknown
    );
}

#[test]
fn sqs_queues_of_other_accounts_are_checked_there_and_here() {
    let op = json(
        "AmazonSQS.GetQueueUrl",
        r#"{"QueueName":"q","QueueOwnerAWSAccountId":"210987654321"}"#,
    );
    assert_eq!(op.resource, "arn:aws:sqs:us-east-1:210987654321:q");
    assert_eq!(
        op.more_resources,
        vec!["arn:aws:sqs:us-east-1:123456789012:q".to_string()]
    );
    let op = json(
        "AmazonSQS.ReceiveMessage",
        r#"{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/210987654321/q"}"#,
    );
    assert_eq!(op.resource, "arn:aws:sqs:eu-west-1:210987654321:q");
    assert_eq!(op.more_resources.len(), 1);
}

#[test]
fn sqs_query_protocol_on_the_root_and_on_a_queue_url() {
    let q = "arn:aws:sqs:us-east-1:123456789012:q";
    let query =
        |uri: &str, form: &str| match classify_as("sqs", "POST", uri, None, Body::Form(form)) {
            Classified::Operation(op) => op,
            other => panic!("{uri} {form}: {other:?}"),
        };
    check(
        query("/", "Action=ListQueues&Version=2012-11-05"),
        "sqs:ListQueues",
        "*",
    );
    check(
        query(
            "/",
            "Action=SendMessage&QueueUrl=http%3A%2F%2Flocalhost%2F123456789012%2Fq&MessageBody=hi+there",
        ),
        "sqs:SendMessage",
        q,
    );
    check(
        query(
            "/123456789012/q",
            "Action=DeleteMessageBatch&Version=2012-11-05",
        ),
        "sqs:DeleteMessage",
        q,
    );
    check(
        query("/", "Action=CreateQueue&QueueName=q"),
        "sqs:CreateQueue",
        q,
    );
    assert_eq!(
        classify_as("sqs", "POST", "/", None, Body::Form("Version=2012-11-05")),
        Classified::Unknown
    );
}

#[test]
fn eventbridge_buses_and_rules() {
    let events = "arn:aws:events:us-east-1:123456789012";
    let cases = [
        (
            "PutEvents",
            r#"{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}"#,
            "events:PutEvents",
            format!("{events}:event-bus/default"),
        ),
        (
            "CreateEventBus",
            r#"{"Name":"orders"}"#,
            "events:CreateEventBus",
            format!("{events}:event-bus/orders"),
        ),
        (
            "DeleteEventBus",
            r#"{"Name":"orders"}"#,
            "events:DeleteEventBus",
            format!("{events}:event-bus/orders"),
        ),
        (
            "DescribeEventBus",
            "{}",
            "events:DescribeEventBus",
            format!("{events}:event-bus/default"),
        ),
        (
            "DescribeEventBus",
            r#"{"Name":"arn:aws:events:us-east-1:123456789012:event-bus/orders"}"#,
            "events:DescribeEventBus",
            format!("{events}:event-bus/orders"),
        ),
        ("ListEventBuses", "{}", "events:ListEventBuses", "*".into()),
        (
            "PutRule",
            r#"{"Name":"r","EventPattern":"{}"}"#,
            "events:PutRule",
            format!("{events}:rule/r"),
        ),
        (
            "PutRule",
            r#"{"Name":"r","EventBusName":"orders"}"#,
            "events:PutRule",
            format!("{events}:rule/orders/r"),
        ),
        (
            "DeleteRule",
            r#"{"Name":"r","EventBusName":"default"}"#,
            "events:DeleteRule",
            format!("{events}:rule/r"),
        ),
        (
            "DescribeRule",
            r#"{"Name":"r","EventBusName":"arn:aws:events:us-east-1:123456789012:event-bus/orders"}"#,
            "events:DescribeRule",
            format!("{events}:rule/orders/r"),
        ),
        (
            "EnableRule",
            r#"{"Name":"r"}"#,
            "events:EnableRule",
            format!("{events}:rule/r"),
        ),
        (
            "DisableRule",
            r#"{"Name":"r"}"#,
            "events:DisableRule",
            format!("{events}:rule/r"),
        ),
        (
            "ListRules",
            r#"{"EventBusName":"orders"}"#,
            "events:ListRules",
            "*".into(),
        ),
        (
            "PutTargets",
            r#"{"Rule":"r","Targets":[]}"#,
            "events:PutTargets",
            format!("{events}:rule/r"),
        ),
        (
            "RemoveTargets",
            r#"{"Rule":"r","EventBusName":"orders","Ids":["1"]}"#,
            "events:RemoveTargets",
            format!("{events}:rule/orders/r"),
        ),
        (
            "ListTargetsByRule",
            r#"{"Rule":"r"}"#,
            "events:ListTargetsByRule",
            format!("{events}:rule/r"),
        ),
        (
            "TestEventPattern",
            r#"{"EventPattern":"{}","Event":"{}"}"#,
            "events:TestEventPattern",
            "*".into(),
        ),
        ("PutRule", "[1]", "events:PutRule", "*".into()),
        (
            "PutRule",
            r#"{"EventBusName":"orders"}"#,
            "events:PutRule",
            "*".into(),
        ),
        (
            "DescribeEventBus",
            r#"{"Name":"arn:aws:sqs:us-east-1:123456789012:q"}"#,
            "events:DescribeEventBus",
            "*".into(),
        ),
    ];
    for (operation, body, action, resource) in cases {
        check(
            json(&format!("AWSEvents.{operation}"), body),
            action,
            &resource,
        );
    }
}

#[test]
fn put_events_names_every_bus_its_entries_name_once() {
    let events = "arn:aws:events:us-east-1:123456789012";
    let op = json(
        "AWSEvents.PutEvents",
        r#"{"Entries":[
            {"EventBusName":"orders"},
            {},
            {"EventBusName":"arn:aws:events:us-east-1:123456789012:event-bus/orders"},
            {"EventBusName":null}
        ]}"#,
    );
    assert_eq!(op.action, "events:PutEvents");
    assert_eq!(op.resource, format!("{events}:event-bus/orders"));
    assert_eq!(
        op.more_resources,
        vec![format!("{events}:event-bus/default")]
    );
    for body in [
        r#"{"Entries":[]}"#,
        r#"{"Entries":[{"EventBusName":1}]}"#,
        "{}",
    ] {
        check(json("AWSEvents.PutEvents", body), "events:PutEvents", "*");
    }
}

#[test]
fn logs_filter_log_events() {
    let group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*";
    check(
        json(
            "Logs_20140328.FilterLogEvents",
            r#"{"logGroupName":"/aws/lambda/f","filterPattern":"ERROR"}"#,
        ),
        "logs:FilterLogEvents",
        group,
    );
    for identifier in [
        "/aws/lambda/f",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*",
    ] {
        let body = serde_json::json!({ "logGroupIdentifier": identifier }).to_string();
        check(
            json("Logs_20140328.FilterLogEvents", &body),
            "logs:FilterLogEvents",
            group,
        );
    }
    check(
        json("Logs_20140328.FilterLogEvents", "{}"),
        "logs:FilterLogEvents",
        "*",
    );
    check(
        json(
            "Logs_20140328.PutLogEvents",
            r#"{"logGroupName":"/aws/lambda/f","logStreamName":"s","logEvents":[]}"#,
        ),
        "logs:PutLogEvents",
        group,
    );
    check(
        json(
            "Logs_20140328.TagResource",
            r#"{"resourceArn":"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f","tags":{}}"#,
        ),
        "logs:TagResource",
        group,
    );
    check(
        json("Logs_20140328.DescribeLogGroups", "{}"),
        "logs:DescribeLogGroups",
        "*",
    );
    assert_eq!(
        classify_as(
            "logs",
            "POST",
            "/",
            Some("Logs_20140328.PutSubscriptionFilter"),
            Body::Json("{}")
        ),
        Classified::Unknown
    );
}

#[test]
fn iam_and_sts_authorize_each_call_themselves() {
    for service in ["iam", "sts"] {
        assert_eq!(
            classify_as(
                service,
                "POST",
                "/",
                None,
                Body::Form("Action=GetCallerIdentity&Version=2011-06-15")
            ),
            Classified::SelfAuthorized
        );
    }
}

#[test]
fn target_roles_are_passed_to_scheduler_and_events() {
    let role = "arn:aws:iam::123456789012:role/invoker";
    let body = format!(
        r#"{{"ScheduleExpression":"rate(1 minute)","FlexibleTimeWindow":{{"Mode":"OFF"}},
            "Target":{{"Arn":"arn:aws:lambda:us-east-1:123456789012:function:f","RoleArn":"{role}"}}}}"#
    );
    let classified = classify_as("scheduler", "POST", "/schedules/s", None, Body::Json(&body));
    let Classified::Operation(op) = classified else {
        panic!("{classified:?}");
    };
    assert_eq!(op.action, "scheduler:CreateSchedule");
    assert_eq!(passed(&op), vec![(role, "scheduler.amazonaws.com")]);

    let op = json(
        "AWSEvents.PutTargets",
        &format!(
            r#"{{"Rule":"r","Targets":[
                {{"Id":"1","Arn":"arn:aws:sqs:us-east-1:123456789012:q","RoleArn":"{role}"}},
                {{"Id":"2","Arn":"arn:aws:sqs:us-east-1:123456789012:q2"}},
                {{"Id":"3","Arn":"arn:aws:sqs:us-east-1:123456789012:q3","RoleArn":"{role}"}}
            ]}}"#
        ),
    );
    assert_eq!(op.resource, "arn:aws:events:us-east-1:123456789012:rule/r");
    assert_eq!(passed(&op), vec![(role, "events.amazonaws.com")]);
    let op = json(
        "AWSEvents.PutRule",
        &format!(r#"{{"Name":"r","ScheduleExpression":"rate(5 minutes)","RoleArn":"{role}"}}"#),
    );
    assert_eq!(passed(&op), vec![(role, "events.amazonaws.com")]);
}
