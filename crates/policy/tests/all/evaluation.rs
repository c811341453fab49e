//! The evaluation logic: precedence, root, accounts, resource policies,
//! boundaries, session policies, and the simulator's detail.

use super::*;
use serde_json::json;
use updraft_policy::{evaluate_detailed, PolicySource};

const FN_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:f";
const OTHER_FN_ARN: &str = "arn:aws:lambda:us-east-1:444455556666:function:f";

fn allow_invoke() -> PolicyDocument {
    statements(json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}))
}

fn function_policy(principal: Value) -> PolicyDocument {
    resource(json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "grant", "Effect": "Allow", "Principal": principal,
        "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:*:*:function:f"}]}))
}

fn no_context() -> Context {
    Context::new()
}

#[test]
fn nothing_allows_means_implicit_deny() {
    let alice = user(ACCOUNT, "alice");
    assert_eq!(
        decide(&alice, "s3:GetObject", "*", &no_context(), &[], None),
        Decision::ImplicitDeny
    );
}

#[test]
fn an_explicit_deny_wins_everywhere() {
    let alice = user(ACCOUNT, "alice");
    let allow = allow_invoke();
    let deny = statements(json!({"Effect": "Deny", "Action": "lambda:*", "Resource": FN_ARN}));
    let ctx = no_context();
    assert_eq!(
        decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[&allow, &deny],
            None
        ),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[&deny, &allow],
            None
        ),
        Decision::ExplicitDeny
    );
    // A deny for another resource does not apply.
    let other = "arn:aws:lambda:us-east-1:111122223333:function:g";
    assert_eq!(
        decide(
            &alice,
            "lambda:InvokeFunction",
            other,
            &ctx,
            &[&allow, &deny],
            None
        ),
        Decision::Allow
    );
    // A deny in the resource policy wins over an identity allow.
    let resource_deny = resource(json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
        "Action": "lambda:InvokeFunction", "Resource": FN_ARN}}));
    assert_eq!(
        decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[&allow],
            Some(&resource_deny)
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn actions_ignore_case_and_take_wildcards() {
    let alice = user(ACCOUNT, "alice");
    let p = statements(
        json!({"Effect": "Allow", "Action": ["S3:get*", "sqs:?endMessage"], "Resource": "*"}),
    );
    let ctx = no_context();
    assert!(decide(&alice, "s3:GetObject", "*", &ctx, &[&p], None).is_allowed());
    assert!(decide(&alice, "s3:getobjecttagging", "*", &ctx, &[&p], None).is_allowed());
    assert!(decide(&alice, "sqs:SendMessage", "*", &ctx, &[&p], None).is_allowed());
    assert!(!decide(&alice, "s3:PutObject", "*", &ctx, &[&p], None).is_allowed());
    let star = statements(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
    assert!(decide(&alice, "anything:AtAll", "*", &ctx, &[&star], None).is_allowed());
}

#[test]
fn resources_are_case_sensitive_and_take_wildcards() {
    let alice = user(ACCOUNT, "alice");
    let p = statements(json!({"Effect": "Allow", "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::bucket/public/*", "arn:aws:s3:::bucket/file-?.txt"]}));
    let ctx = no_context();
    let d = |r: &str| decide(&alice, "s3:GetObject", r, &ctx, &[&p], None);
    assert_eq!(d("arn:aws:s3:::bucket/public/a/b"), Decision::Allow);
    assert_eq!(d("arn:aws:s3:::bucket/file-1.txt"), Decision::Allow);
    assert_eq!(d("arn:aws:s3:::bucket/file-10.txt"), Decision::ImplicitDeny);
    assert_eq!(d("arn:aws:s3:::bucket/Public/a"), Decision::ImplicitDeny);
    assert_eq!(d("arn:aws:s3:::BUCKET/public/a"), Decision::ImplicitDeny);
}

#[test]
fn not_action_and_not_resource() {
    let alice = user(ACCOUNT, "alice");
    let ctx = no_context();
    let p = statements(json!([
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::open/*"}
    ]));
    assert!(decide(&alice, "sqs:SendMessage", "*", &ctx, &[&p], None).is_allowed());
    assert_eq!(
        decide(&alice, "iam:CreateUser", "*", &ctx, &[&p], None),
        Decision::ImplicitDeny
    );
    assert!(decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::open/x",
        &ctx,
        &[&p],
        None
    )
    .is_allowed());
    assert_eq!(
        decide(
            &alice,
            "s3:GetObject",
            "arn:aws:s3:::closed/x",
            &ctx,
            &[&p],
            None
        ),
        Decision::ExplicitDeny
    );
}

#[test]
fn policy_variables_in_resources() {
    let p = statements(json!({"Effect": "Allow", "Action": "s3:*",
        "Resource": "arn:aws:s3:::home/${aws:username}/*"}));
    let ctx = no_context();
    let alice = user(ACCOUNT, "alice");
    assert!(decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::home/alice/x",
        &ctx,
        &[&p],
        None
    )
    .is_allowed());
    assert!(!decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::home/bob/x",
        &ctx,
        &[&p],
        None
    )
    .is_allowed());
    // A role session has no aws:username: the statement matches nothing.
    let s = session(ACCOUNT, "r", "alice");
    assert!(!decide(
        &s,
        "s3:GetObject",
        "arn:aws:s3:::home/alice/x",
        &ctx,
        &[&p],
        None
    )
    .is_allowed());
    // Unless the caller puts it in the context.
    let mut ctx = Context::new();
    ctx.set("aws:username", "alice");
    assert!(decide(
        &s,
        "s3:GetObject",
        "arn:aws:s3:::home/alice/x",
        &ctx,
        &[&p],
        None
    )
    .is_allowed());
    // Version 2008-10-17 has no variables: `${...}` is literal text.
    let old = resource(
        json!({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}}),
    );
    assert!(!old.has_variables());
    assert!(p.has_variables());
    assert!(!decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::home/alice/x",
        &ctx,
        &[],
        Some(&old)
    )
    .is_allowed());
    assert!(decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::home/${aws:username}/x",
        &ctx,
        &[],
        Some(&old)
    )
    .is_allowed());
}

#[test]
fn root_is_allowed_in_its_own_account_unless_a_resource_policy_denies() {
    let ctx = no_context();
    let me = root(ACCOUNT);
    assert!(decide(&me, "lambda:InvokeFunction", FN_ARN, &ctx, &[], None).is_allowed());
    assert!(decide(
        &me,
        "s3:GetObject",
        "arn:aws:s3:::bucket/k",
        &ctx,
        &[],
        None
    )
    .is_allowed());
    assert!(decide(&me, "sts:GetCallerIdentity", "*", &ctx, &[], None).is_allowed());
    assert_eq!(
        decide(&me, "lambda:InvokeFunction", OTHER_FN_ARN, &ctx, &[], None),
        Decision::ImplicitDeny
    );
    let deny = resource(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*",
        "Action": "lambda:*", "Resource": "*"}}),
    );
    assert_eq!(
        decide(&me, "lambda:InvokeFunction", FN_ARN, &ctx, &[], Some(&deny)),
        Decision::ExplicitDeny
    );
    // Another account's resource policy can let a root in.
    let grant = function_policy(json!({"AWS": ACCOUNT}));
    assert!(decide(
        &me,
        "lambda:InvokeFunction",
        OTHER_FN_ARN,
        &ctx,
        &[],
        Some(&grant)
    )
    .is_allowed());
}

#[test]
fn same_account_resource_policy_grants() {
    let ctx = no_context();
    let alice = user(ACCOUNT, "alice");
    // Naming the user is enough.
    let to_alice = function_policy(json!({"AWS": "arn:aws:iam::111122223333:user/alice"}));
    assert!(decide(
        &alice,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_alice)
    )
    .is_allowed());
    let bob = user(ACCOUNT, "bob");
    assert!(!decide(
        &bob,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_alice)
    )
    .is_allowed());
    // Naming the account only delegates to the account's identity policies.
    for account in [json!(ACCOUNT), json!("arn:aws:iam::111122223333:root")] {
        let to_account = function_policy(json!({"AWS": account}));
        assert!(!decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[],
            Some(&to_account)
        )
        .is_allowed());
        assert!(decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[&allow_invoke()],
            Some(&to_account)
        )
        .is_allowed());
    }
    // Everyone.
    for everyone in [json!("*"), json!({"AWS": "*"})] {
        let open = function_policy(everyone);
        assert!(decide(
            &alice,
            "lambda:InvokeFunction",
            FN_ARN,
            &ctx,
            &[],
            Some(&open)
        )
        .is_allowed());
    }
    // A role's ARN matches its sessions; a session ARN matches that session.
    let s = session(ACCOUNT, "worker", "job-1");
    let to_role = function_policy(json!({"AWS": "arn:aws:iam::111122223333:role/worker"}));
    assert!(decide(
        &s,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_role)
    )
    .is_allowed());
    let to_session =
        function_policy(json!({"AWS": "arn:aws:sts::111122223333:assumed-role/worker/job-1"}));
    assert!(decide(
        &s,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_session)
    )
    .is_allowed());
    let other_session = session(ACCOUNT, "worker", "job-2");
    assert!(!decide(
        &other_session,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_session)
    )
    .is_allowed());
}

#[test]
fn cross_account_needs_both_sides() {
    let ctx = no_context();
    let stranger = user(OTHER, "carol");
    let allow = allow_invoke();
    let to_other_account = function_policy(json!({"AWS": OTHER}));
    let to_carol = function_policy(json!({"AWS": "arn:aws:iam::444455556666:user/carol"}));
    let d = |ids: &[&PolicyDocument], rp: Option<&PolicyDocument>| {
        decide(&stranger, "lambda:InvokeFunction", FN_ARN, &ctx, ids, rp)
    };
    assert_eq!(d(&[&allow], None), Decision::ImplicitDeny);
    assert_eq!(d(&[], Some(&to_carol)), Decision::ImplicitDeny);
    assert_eq!(d(&[], Some(&to_other_account)), Decision::ImplicitDeny);
    assert_eq!(d(&[&allow], Some(&to_carol)), Decision::Allow);
    assert_eq!(d(&[&allow], Some(&to_other_account)), Decision::Allow);
    // A grant to a third account does not help.
    let to_third = function_policy(json!({"AWS": "999988887777"}));
    assert_eq!(d(&[&allow], Some(&to_third)), Decision::ImplicitDeny);
}

#[test]
fn a_resource_without_an_account_in_its_arn_belongs_to_aws_resource_account() {
    // S3 bucket ARNs name no account: the bucket's owner comes with the
    // request as `aws:ResourceAccount`.
    const OBJECT: &str = "arn:aws:s3:::photos/cat.jpg";
    let read = statements(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}));
    let bucket_policy = |principal: Value| {
        resource(json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": principal,
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}]}))
    };
    let mut owned_by_other = Context::new();
    owned_by_other.set("aws:ResourceAccount", OTHER);
    let mut owned_by_caller = Context::new();
    owned_by_caller.set("aws:ResourceAccount", ACCOUNT);
    let alice = user(ACCOUNT, "alice");
    let d = |ctx: &Context, ids: &[&PolicyDocument], rp: Option<&PolicyDocument>| {
        decide(&alice, "s3:GetObject", OBJECT, ctx, ids, rp)
    };
    // Her own account's bucket: her identity policy is enough.
    assert_eq!(d(&owned_by_caller, &[&read], None), Decision::Allow);
    assert_eq!(d(&no_context(), &[&read], None), Decision::Allow);
    // Another account's bucket: the bucket policy must grant her too.
    assert_eq!(d(&owned_by_other, &[&read], None), Decision::ImplicitDeny);
    let to_caller_account = bucket_policy(json!({"AWS": ACCOUNT}));
    assert_eq!(
        d(&owned_by_other, &[&read], Some(&to_caller_account)),
        Decision::Allow
    );
    assert_eq!(
        d(&owned_by_other, &[], Some(&to_caller_account)),
        Decision::ImplicitDeny
    );
    // The root user of another account is no exception.
    let other_root = root(ACCOUNT);
    assert_eq!(
        decide(
            &other_root,
            "s3:GetObject",
            OBJECT,
            &owned_by_other,
            &[],
            None
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn service_principals_need_the_resource_policy() {
    let ctx = no_context();
    let events = service("events.amazonaws.com");
    let grant = function_policy(json!({"Service": "events.amazonaws.com"}));
    assert!(decide(
        &events,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&grant)
    )
    .is_allowed());
    let sqs = service("sqs.amazonaws.com");
    assert!(!decide(
        &sqs,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&grant)
    )
    .is_allowed());
    assert!(!decide(&events, "lambda:InvokeFunction", FN_ARN, &ctx, &[], None).is_allowed());
    // An account grant does not cover a service.
    let to_account = function_policy(json!({"AWS": ACCOUNT}));
    assert!(!decide(
        &events,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&to_account)
    )
    .is_allowed());
    // A condition on the source, as AddPermission writes it.
    let scoped = resource(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": FN_ARN,
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/r"}}}}),
    );
    let mut ctx = Context::new();
    ctx.set(
        "aws:SourceArn",
        "arn:aws:events:us-east-1:111122223333:rule/r",
    );
    assert!(decide(
        &events,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&scoped)
    )
    .is_allowed());
    ctx.set(
        "aws:SourceArn",
        "arn:aws:events:us-east-1:111122223333:rule/other",
    );
    assert!(!decide(
        &events,
        "lambda:InvokeFunction",
        FN_ARN,
        &ctx,
        &[],
        Some(&scoped)
    )
    .is_allowed());
}

#[test]
fn not_principal() {
    let ctx = no_context();
    let p = resource(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/admin"},
         "Action": "sqs:DeleteQueue", "Resource": "*"},
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}]}));
    let admin = user(ACCOUNT, "admin");
    let alice = user(ACCOUNT, "alice");
    assert!(decide(&admin, "sqs:DeleteQueue", "*", &ctx, &[], Some(&p)).is_allowed());
    assert_eq!(
        decide(&alice, "sqs:DeleteQueue", "*", &ctx, &[], Some(&p)),
        Decision::ExplicitDeny
    );
    assert!(decide(&alice, "sqs:SendMessage", "*", &ctx, &[], Some(&p)).is_allowed());
}

fn with_limits(
    principal: &Principal,
    action: &str,
    identity: &[&PolicyDocument],
    boundary: Option<&PolicyDocument>,
    session_policy: Option<&PolicyDocument>,
    resource_policy: Option<&PolicyDocument>,
) -> Decision {
    let ctx = Context::new();
    let request = Request {
        principal,
        action,
        resource: FN_ARN,
        context: &ctx,
    };
    let set = PolicySet {
        identity,
        boundary,
        session: session_policy,
        resource: resource_policy,
    };
    evaluate(&request, &set)
}

#[test]
fn boundaries_and_session_policies_limit_identity_policies() {
    let alice = user(ACCOUNT, "alice");
    let everything = statements(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
    let lambda_only = statements(json!({"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}));
    let invoke_only =
        statements(json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}));
    let d = |action, boundary, session_policy| {
        with_limits(
            &alice,
            action,
            &[&everything],
            boundary,
            session_policy,
            None,
        )
    };
    assert_eq!(
        d("lambda:GetFunction", Some(&lambda_only), None),
        Decision::Allow
    );
    assert_eq!(
        d("sqs:SendMessage", Some(&lambda_only), None),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d("lambda:GetFunction", None, Some(&invoke_only)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(
            "lambda:InvokeFunction",
            Some(&lambda_only),
            Some(&invoke_only)
        ),
        Decision::Allow
    );
    // The boundary does not grant by itself.
    assert_eq!(
        with_limits(
            &alice,
            "lambda:GetFunction",
            &[],
            Some(&lambda_only),
            None,
            None
        ),
        Decision::ImplicitDeny
    );
    // A deny in a boundary or session policy is an explicit deny.
    let deny =
        statements(json!({"Effect": "Deny", "Action": "lambda:GetFunction", "Resource": "*"}));
    assert_eq!(
        d("lambda:GetFunction", Some(&deny), None),
        Decision::ExplicitDeny
    );
    assert_eq!(
        d("lambda:GetFunction", None, Some(&deny)),
        Decision::ExplicitDeny
    );
}

#[test]
fn resource_grants_and_boundaries() {
    let sqs_only = statements(json!({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}));
    // A grant to the user itself is not limited by its boundary.
    let alice = user(ACCOUNT, "alice");
    let to_alice = function_policy(json!({"AWS": "arn:aws:iam::111122223333:user/alice"}));
    assert_eq!(
        with_limits(
            &alice,
            "lambda:InvokeFunction",
            &[],
            Some(&sqs_only),
            None,
            Some(&to_alice)
        ),
        Decision::Allow
    );
    // A grant to a role's ARN is limited by the session's boundary and session policy.
    let s = session(ACCOUNT, "worker", "job");
    let to_role = function_policy(json!({"AWS": "arn:aws:iam::111122223333:role/worker"}));
    assert_eq!(
        with_limits(&s, "lambda:InvokeFunction", &[], None, None, Some(&to_role)),
        Decision::Allow
    );
    assert_eq!(
        with_limits(
            &s,
            "lambda:InvokeFunction",
            &[],
            Some(&sqs_only),
            None,
            Some(&to_role)
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        with_limits(
            &s,
            "lambda:InvokeFunction",
            &[],
            None,
            Some(&sqs_only),
            Some(&to_role)
        ),
        Decision::ImplicitDeny
    );
    // A grant to the session's own ARN is not.
    let to_session =
        function_policy(json!({"AWS": "arn:aws:sts::111122223333:assumed-role/worker/job"}));
    assert_eq!(
        with_limits(
            &s,
            "lambda:InvokeFunction",
            &[],
            Some(&sqs_only),
            Some(&sqs_only),
            Some(&to_session)
        ),
        Decision::Allow
    );
}

#[test]
fn trust_policies_decide_assume_role() {
    let role_arn = "arn:aws:iam::111122223333:role/worker";
    let trust = doc(
        PolicyKind::Trust,
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"}]}),
    );
    let ctx = no_context();
    let lambda = service("lambda.amazonaws.com");
    assert!(decide(&lambda, "sts:AssumeRole", role_arn, &ctx, &[], Some(&trust)).is_allowed());
    let carol = user(OTHER, "carol");
    let may_assume =
        statements(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}));
    assert!(decide(
        &carol,
        "sts:AssumeRole",
        role_arn,
        &ctx,
        &[&may_assume],
        Some(&trust)
    )
    .is_allowed());
    assert!(!decide(&carol, "sts:AssumeRole", role_arn, &ctx, &[], Some(&trust)).is_allowed());
    let alice = user(ACCOUNT, "alice");
    assert!(!decide(
        &alice,
        "sts:AssumeRole",
        role_arn,
        &ctx,
        &[&may_assume],
        Some(&trust)
    )
    .is_allowed());
}

#[test]
fn detailed_evaluation_names_the_deciding_statements() {
    let alice = user(ACCOUNT, "alice");
    let a = identity(json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadAll", "Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"},
        {"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "red"}}}]}));
    let b = identity(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"}]}));
    let ctx = Context::new();
    let run = |action: &str, ids: &[&PolicyDocument]| {
        let request = Request {
            principal: &alice,
            action,
            resource: FN_ARN,
            context: &ctx,
        };
        evaluate_detailed(
            &request,
            &PolicySet {
                identity: ids,
                ..PolicySet::default()
            },
        )
    };
    let e = run("lambda:GetFunction", &[&a, &b]);
    assert_eq!(e.decision, Decision::Allow);
    let got: Vec<_> = e
        .matched_statements
        .iter()
        .map(|m| (m.source, m.index, m.sid.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (PolicySource::Identity(0), 0, Some("ReadAll")),
            (PolicySource::Identity(1), 0, None)
        ]
    );
    let e = run("lambda:DeleteFunction", &[&a, &b]);
    assert_eq!(e.decision, Decision::ExplicitDeny);
    let got: Vec<_> = e
        .matched_statements
        .iter()
        .map(|m| (m.source, m.index, m.deny))
        .collect();
    assert_eq!(got, [(PolicySource::Identity(1), 1, true)]);
    let e = run("lambda:InvokeFunction", &[&a]);
    assert_eq!(e.decision, Decision::ImplicitDeny);
    assert!(e.matched_statements.is_empty());
    assert_eq!(e.missing_context_keys, ["aws:requesttag/team"]);
    assert_eq!(e.boundary_allows, None);
    // With a boundary, whether it allows.
    let boundary = statements(json!({"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}));
    for (action, allows) in [
        ("lambda:GetFunction", true),
        ("lambda:ListFunctions", false),
    ] {
        let request = Request {
            principal: &alice,
            action,
            resource: FN_ARN,
            context: &ctx,
        };
        let set = PolicySet {
            identity: &[&b],
            boundary: Some(&boundary),
            ..PolicySet::default()
        };
        let e = evaluate_detailed(&request, &set);
        assert_eq!(e.boundary_allows, Some(allows), "{action}");
        assert_eq!(e.decision.is_allowed(), allows, "{action}");
        assert_eq!(
            e.decision.simulator_name(),
            if allows { "allowed" } else { "implicitDeny" }
        );
    }
    // The detailed and the plain decisions agree.
    for action in [
        "lambda:GetFunction",
        "lambda:DeleteFunction",
        "lambda:InvokeFunction",
        "s3:GetObject",
    ] {
        let request = Request {
            principal: &alice,
            action,
            resource: FN_ARN,
            context: &ctx,
        };
        let set = PolicySet {
            identity: &[&a, &b],
            ..PolicySet::default()
        };
        assert_eq!(
            evaluate(&request, &set),
            run(action, &[&a, &b]).decision,
            "{action}"
        );
    }
}
