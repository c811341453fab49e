//! `Iam::authorize` for every kind of caller, and its cache staying
//! correct across changes.

use std::time::{Duration, SystemTime};

use updraft_iam::Caller;
use updraft_policy::{Context, Decision, PolicyDocument, PolicyKind};

use crate::*;

const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

fn decide(dir: &updraft_iam::Iam, caller: &Caller, action: &str) -> Decision {
    dir.authorize(caller, action, QUEUE, &Context::new(), None)
}

#[test]
fn root_is_allowed_everything_in_its_account() {
    let (_d, dir) = open();
    let r = root();
    assert_eq!(decide(&dir, &r, "sqs:DeleteQueue"), Decision::Allow);
    // Not in another account without that account's resource policy.
    assert_eq!(
        dir.authorize(
            &r,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:999999999999:q",
            &Context::new(),
            None
        ),
        Decision::ImplicitDeny
    );
    // A resource policy can deny root.
    let deny_all = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    assert_eq!(
        dir.authorize(
            &r,
            "sqs:SendMessage",
            QUEUE,
            &Context::new(),
            Some(&deny_all)
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn users_get_inline_attached_and_group_policies() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "ivy");
    let ivy = caller_of(&dir, &key);
    assert_eq!(
        decide(&dir, &ivy, "sqs:SendMessage"),
        Decision::ImplicitDeny
    );

    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "send"),
            ("PolicyDocument", &allow(&["sqs:SendMessage"], QUEUE)),
        ],
    ));
    assert_eq!(decide(&dir, &ivy, "sqs:SendMessage"), Decision::Allow);
    assert_eq!(
        decide(&dir, &ivy, "sqs:ReceiveMessage"),
        Decision::ImplicitDeny
    );

    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[
            ("PolicyName", "recv"),
            ("PolicyDocument", &allow(&["sqs:ReceiveMessage"], "*")),
        ],
    ));
    let recv = text(&body, "Arn").unwrap();
    ok(iam(
        &dir,
        &r,
        "AttachUserPolicy",
        &[("UserName", "ivy"), ("PolicyArn", &recv)],
    ));
    assert_eq!(decide(&dir, &ivy, "sqs:ReceiveMessage"), Decision::Allow);

    ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "no-deletes")]));
    ok(iam(
        &dir,
        &r,
        "PutGroupPolicy",
        &[
            ("GroupName", "no-deletes"),
            ("PolicyName", "d"),
            ("PolicyDocument", &deny(&["sqs:*"], "*")),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "AddUserToGroup",
        &[("GroupName", "no-deletes"), ("UserName", "ivy")],
    ));
    assert_eq!(
        decide(&dir, &ivy, "sqs:SendMessage"),
        Decision::ExplicitDeny
    );
    ok(iam(
        &dir,
        &r,
        "RemoveUserFromGroup",
        &[("GroupName", "no-deletes"), ("UserName", "ivy")],
    ));
    assert_eq!(decide(&dir, &ivy, "sqs:SendMessage"), Decision::Allow);

    // A new default version changes the decision at once.
    ok(iam(
        &dir,
        &r,
        "CreatePolicyVersion",
        &[
            ("PolicyArn", &recv),
            ("PolicyDocument", &allow(&["sqs:GetQueueUrl"], "*")),
            ("SetAsDefault", "true"),
        ],
    ));
    assert_eq!(
        decide(&dir, &ivy, "sqs:ReceiveMessage"),
        Decision::ImplicitDeny
    );
    ok(iam(
        &dir,
        &r,
        "SetDefaultPolicyVersion",
        &[("PolicyArn", &recv), ("VersionId", "v1")],
    ));
    assert_eq!(decide(&dir, &ivy, "sqs:ReceiveMessage"), Decision::Allow);

    // Explicit deny wording in the API.
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "iam"),
            ("PolicyDocument", &allow(&["iam:*"], "*")),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "no-users"),
            ("PolicyDocument", &deny(&["iam:CreateUser"], "*")),
        ],
    ));
    let msg = err(
        iam(&dir, &ivy, "CreateUser", &[("UserName", "bob")]),
        403,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        "User: arn:aws:iam::123456789012:user/ivy is not authorized to perform: iam:CreateUser on \
         resource: arn:aws:iam::123456789012:user/bob with an explicit deny in an identity-based policy"
    );
    ok(iam(
        &dir,
        &ivy,
        "CreateGroup",
        &[("GroupName", "made-by-ivy")],
    ));
}

#[test]
fn permission_boundaries_limit_what_policies_allow() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "jay");
    let jay = caller_of(&dir, &key);
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "jay"),
            ("PolicyName", "all"),
            ("PolicyDocument", ALLOW_ALL),
        ],
    ));
    assert_eq!(decide(&dir, &jay, "sqs:DeleteQueue"), Decision::Allow);
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[
            ("PolicyName", "only-send"),
            ("PolicyDocument", &allow(&["sqs:SendMessage"], "*")),
        ],
    ));
    let boundary = text(&body, "Arn").unwrap();
    ok(iam(
        &dir,
        &r,
        "PutUserPermissionsBoundary",
        &[("UserName", "jay"), ("PermissionsBoundary", &boundary)],
    ));
    assert_eq!(
        decide(&dir, &jay, "sqs:DeleteQueue"),
        Decision::ImplicitDeny
    );
    assert_eq!(decide(&dir, &jay, "sqs:SendMessage"), Decision::Allow);
    ok(iam(
        &dir,
        &r,
        "DeleteUserPermissionsBoundary",
        &[("UserName", "jay")],
    ));
    assert_eq!(decide(&dir, &jay, "sqs:DeleteQueue"), Decision::Allow);
}

#[test]
fn role_sessions_get_the_roles_policies_within_the_session_policy() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "worker"),
            (
                "AssumeRolePolicyDocument",
                &trust_service("lambda.amazonaws.com"),
            ),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "AttachRolePolicy",
        &[
            ("RoleName", "worker"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ],
    ));
    let creds = dir
        .service_credentials(
            "arn:aws:iam::123456789012:role/worker",
            "lambda.amazonaws.com",
            "fn-1",
            Duration::from_secs(900),
        )
        .unwrap();
    let grant = dir
        .lookup_key(
            &creds.access_key_id,
            Some(&creds.session_token),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(grant.secret, creds.secret_access_key);
    let session = grant.caller;
    assert_eq!(
        session.arn(),
        "arn:aws:sts::123456789012:assumed-role/worker/fn-1"
    );
    assert_eq!(decide(&dir, &session, "sqs:DeleteQueue"), Decision::Allow);
    ok(iam(
        &dir,
        &r,
        "DetachRolePolicy",
        &[
            ("RoleName", "worker"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ],
    ));
    assert_eq!(
        decide(&dir, &session, "sqs:DeleteQueue"),
        Decision::ImplicitDeny
    );

    // A session policy narrows an AssumeRole session.
    ok(iam(
        &dir,
        &r,
        "PutRolePolicy",
        &[
            ("RoleName", "worker"),
            ("PolicyName", "all"),
            ("PolicyDocument", ALLOW_ALL),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "worker"),
            (
                "PolicyDocument",
                &trust_aws("arn:aws:iam::123456789012:root"),
            ),
        ],
    ));
    let body = ok(sts(
        &dir,
        &r,
        "AssumeRole",
        &[
            ("RoleArn", "arn:aws:iam::123456789012:role/worker"),
            ("RoleSessionName", "narrow"),
            ("Policy", &allow(&["sqs:SendMessage"], "*")),
        ],
    ));
    let key = text(&body, "AccessKeyId").unwrap();
    let token = text(&body, "SessionToken").unwrap();
    let narrow = dir
        .lookup_key(&key, Some(&token), SystemTime::now())
        .unwrap()
        .caller;
    assert_eq!(decide(&dir, &narrow, "sqs:SendMessage"), Decision::Allow);
    assert_eq!(
        decide(&dir, &narrow, "sqs:DeleteQueue"),
        Decision::ImplicitDeny
    );
}

#[test]
fn conditional_policies_are_decided_per_request() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "kim");
    let kim = caller_of(&dir, &key);
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]
    })
    .to_string();
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "kim"),
            ("PolicyName", "net"),
            ("PolicyDocument", &doc),
        ],
    ));
    let mut inside = Context::new();
    inside.set("aws:SourceIp", "10.1.1.1");
    let mut outside = Context::new();
    outside.set("aws:SourceIp", "192.168.1.1");
    // The condition is read only for SendMessage: ReceiveMessage is
    // decided (and may be kept) whatever the address, SendMessage per
    // request, in either order.
    for _ in 0..3 {
        for context in [&outside, &inside] {
            assert_eq!(
                dir.authorize(&kim, "sqs:ReceiveMessage", QUEUE, context, None),
                Decision::Allow
            );
        }
        assert_eq!(
            dir.authorize(&kim, "sqs:SendMessage", QUEUE, &inside, None),
            Decision::Allow
        );
        assert_eq!(
            dir.authorize(&kim, "sqs:SendMessage", QUEUE, &outside, None),
            Decision::ImplicitDeny
        );
    }
}

#[test]
fn the_generation_moves_on_every_change() {
    let (_d, dir) = open();
    let g0 = dir.generation();
    ok(iam(&dir, &root(), "CreateUser", &[("UserName", "lee")]));
    let g1 = dir.generation();
    assert!(g1 > g0);
    // Reads and refused changes do not move it.
    ok(iam(&dir, &root(), "GetUser", &[("UserName", "lee")]));
    err(
        iam(&dir, &root(), "CreateUser", &[("UserName", "lee")]),
        409,
        "EntityAlreadyExists",
    );
    assert_eq!(dir.generation(), g1);
}

#[test]
fn service_principals_need_the_resource_policy() {
    let (_d, dir) = open();
    let svc = Caller::service("events.amazonaws.com", ACCOUNT);
    let fn_arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    assert_eq!(
        dir.authorize(&svc, "lambda:InvokeFunction", fn_arn, &Context::new(), None),
        Decision::ImplicitDeny
    );
    let policy = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"*"}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    assert_eq!(
        dir.authorize(
            &svc,
            "lambda:InvokeFunction",
            fn_arn,
            &Context::new(),
            Some(&policy)
        ),
        Decision::Allow
    );
}

#[test]
fn users_read_aws_managed_policies_with_identity_policies() {
    let (_d, dir) = open();
    let (key, _) = user_with_key(&dir, "mo");
    let mo = caller_of(&dir, &key);
    let admin = [("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess")];
    err(iam(&dir, &mo, "GetPolicy", &admin), 403, "AccessDenied");
    ok(iam(
        &dir,
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "mo"),
            ("PolicyName", "read"),
            ("PolicyDocument", &allow(&["iam:GetPolicy"], "*")),
        ],
    ));
    let body = ok(iam(&dir, &mo, "GetPolicy", &admin));
    assert_eq!(text(&body, "PolicyName").unwrap(), "AdministratorAccess");
}

#[test]
fn access_denied_names_the_kind_of_policy_that_refused() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "rae");
    let rae = caller_of(&dir, &key);
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "rae"),
            ("PolicyName", "iam"),
            ("PolicyDocument", &allow(&["iam:*"], "*")),
        ],
    ));
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[
            ("PolicyName", "read-only"),
            ("PolicyDocument", &allow(&["iam:Get*", "iam:List*"], "*")),
        ],
    ));
    let boundary = text(&body, "Arn").unwrap();
    ok(iam(
        &dir,
        &r,
        "PutUserPermissionsBoundary",
        &[("UserName", "rae"), ("PermissionsBoundary", &boundary)],
    ));
    ok(iam(&dir, &rae, "ListUsers", &[]));
    let msg = err(
        iam(&dir, &rae, "CreateUser", &[("UserName", "x")]),
        403,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        "User: arn:aws:iam::123456789012:user/rae is not authorized to perform: iam:CreateUser on \
         resource: arn:aws:iam::123456789012:user/x because no permissions boundary allows the \
         iam:CreateUser action"
    );

    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "admin"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "PutRolePolicy",
        &[
            ("RoleName", "admin"),
            ("PolicyName", "all"),
            ("PolicyDocument", ALLOW_ALL),
        ],
    ));
    let body = ok(sts(
        &dir,
        &r,
        "AssumeRole",
        &[
            ("RoleArn", "arn:aws:iam::123456789012:role/admin"),
            ("RoleSessionName", "narrow"),
            ("Policy", &allow(&["iam:Get*"], "*")),
        ],
    ));
    let session = dir
        .lookup_key(
            &text(&body, "AccessKeyId").unwrap(),
            Some(&text(&body, "SessionToken").unwrap()),
            SystemTime::now(),
        )
        .unwrap()
        .caller;
    let msg = err(iam(&dir, &session, "ListUsers", &[]), 403, "AccessDenied");
    assert_eq!(
        msg,
        "User: arn:aws:sts::123456789012:assumed-role/admin/narrow is not authorized to perform: \
         iam:ListUsers on resource: arn:aws:iam::123456789012:user/ because no session policy \
         allows the iam:ListUsers action"
    );
}
