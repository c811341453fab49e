//! Managed and inline policies, attachments, tags and the simulator
//! through `Iam::handle`.

use crate::*;

#[test]
fn managed_policy_versions() {
    let (_d, dir) = open();
    let r = root();
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[
            ("PolicyName", "p"),
            ("PolicyDocument", &allow(&["sqs:*"], "*")),
            ("Description", "queues"),
        ],
    ));
    let arn = text(&body, "Arn").unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/p");
    assert!(text(&body, "PolicyId").unwrap().starts_with("ANPA"));
    assert_eq!(text(&body, "DefaultVersionId").unwrap(), "v1");
    assert_eq!(text(&body, "AttachmentCount").unwrap(), "0");
    let msg = err(
        iam(
            &dir,
            &r,
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", ALLOW_ALL)],
        ),
        409,
        "EntityAlreadyExists",
    );
    assert_eq!(
        msg,
        "A policy called p already exists. Duplicate names are not allowed."
    );

    for i in 2..=5 {
        let doc = allow(&[&format!("sqs:Action{i}")], "*");
        let body = ok(iam(
            &dir,
            &r,
            "CreatePolicyVersion",
            &[
                ("PolicyArn", &arn),
                ("PolicyDocument", &doc),
                ("SetAsDefault", "true"),
            ],
        ));
        assert_eq!(text(&body, "VersionId").unwrap(), format!("v{i}"));
        assert_eq!(text(&body, "IsDefaultVersion").unwrap(), "true");
    }
    let msg = err(
        iam(
            &dir,
            &r,
            "CreatePolicyVersion",
            &[("PolicyArn", &arn), ("PolicyDocument", ALLOW_ALL)],
        ),
        409,
        "LimitExceeded",
    );
    assert!(
        msg.starts_with("A managed policy can have up to 5 versions."),
        "{msg}"
    );

    let body = ok(iam(&dir, &r, "ListPolicyVersions", &[("PolicyArn", &arn)]));
    assert_eq!(texts(&body, "VersionId"), ["v5", "v4", "v3", "v2", "v1"]);
    let body = ok(iam(
        &dir,
        &r,
        "GetPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v1")],
    ));
    assert_eq!(text(&body, "IsDefaultVersion").unwrap(), "false");
    assert!(text(&body, "Document").unwrap().starts_with("%7B"));

    let msg = err(
        iam(
            &dir,
            &r,
            "DeletePolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v5")],
        ),
        409,
        "DeleteConflict",
    );
    assert_eq!(msg, "Cannot delete the default version of a policy.");
    ok(iam(
        &dir,
        &r,
        "SetDefaultPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v2")],
    ));
    let body = ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", &arn)]));
    assert_eq!(text(&body, "DefaultVersionId").unwrap(), "v2");
    err(
        iam(&dir, &r, "DeletePolicy", &[("PolicyArn", &arn)]),
        409,
        "DeleteConflict",
    );
    for v in ["v1", "v3", "v4", "v5"] {
        ok(iam(
            &dir,
            &r,
            "DeletePolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", v)],
        ));
    }
    // A sixth version may be made now, numbered on.
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicyVersion",
        &[("PolicyArn", &arn), ("PolicyDocument", ALLOW_ALL)],
    ));
    assert_eq!(text(&body, "VersionId").unwrap(), "v6");
    ok(iam(
        &dir,
        &r,
        "DeletePolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v6")],
    ));
    ok(iam(&dir, &r, "DeletePolicy", &[("PolicyArn", &arn)]));
    let msg = err(
        iam(&dir, &r, "GetPolicy", &[("PolicyArn", &arn)]),
        404,
        "NoSuchEntity",
    );
    assert_eq!(msg, format!("Policy {arn} was not found."));
}

#[test]
fn malformed_policy_documents_are_refused() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    for bad in [
        "not json",
        r#"{"Version":"2012-10-17"}"#,
        &trust_service("lambda.amazonaws.com"),
    ] {
        let msg = err(
            iam(
                &dir,
                &r,
                "PutUserPolicy",
                &[
                    ("UserName", "u"),
                    ("PolicyName", "p"),
                    ("PolicyDocument", bad),
                ],
            ),
            400,
            "MalformedPolicyDocument",
        );
        assert!(!msg.is_empty());
        err(
            iam(
                &dir,
                &r,
                "CreatePolicy",
                &[("PolicyName", "p"), ("PolicyDocument", bad)],
            ),
            400,
            "MalformedPolicyDocument",
        );
    }
}

#[test]
fn inline_policies_and_attachments_of_users_groups_and_roles() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "g")]));
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "role"),
            (
                "AssumeRolePolicyDocument",
                &trust_service("lambda.amazonaws.com"),
            ),
        ],
    ));
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[("PolicyName", "m"), ("PolicyDocument", ALLOW_ALL)],
    ));
    let arn = text(&body, "Arn").unwrap();
    let doc = allow(&["sqs:SendMessage"], "*");
    for (holder, param, name) in [
        ("User", "UserName", "u"),
        ("Group", "GroupName", "g"),
        ("Role", "RoleName", "role"),
    ] {
        ok(iam(
            &dir,
            &r,
            &format!("Put{holder}Policy"),
            &[
                (param, name),
                ("PolicyName", "inline"),
                ("PolicyDocument", &doc),
            ],
        ));
        let body = ok(iam(
            &dir,
            &r,
            &format!("Get{holder}Policy"),
            &[(param, name), ("PolicyName", "inline")],
        ));
        assert_eq!(text(&body, param).unwrap(), name);
        let decoded = percent_decode(&text(&body, "PolicyDocument").unwrap());
        assert_eq!(decoded, doc);
        let body = ok(iam(
            &dir,
            &r,
            &format!("List{holder}Policies"),
            &[(param, name)],
        ));
        assert_eq!(texts(&body, "member"), ["inline"]);
        let msg = err(
            iam(
                &dir,
                &r,
                &format!("Get{holder}Policy"),
                &[(param, name), ("PolicyName", "nope")],
            ),
            404,
            "NoSuchEntity",
        );
        assert_eq!(
            msg,
            format!(
                "The {} policy with name nope cannot be found.",
                holder.to_lowercase()
            )
        );

        ok(iam(
            &dir,
            &r,
            &format!("Attach{holder}Policy"),
            &[(param, name), ("PolicyArn", &arn)],
        ));
        let body = ok(iam(
            &dir,
            &r,
            &format!("ListAttached{holder}Policies"),
            &[(param, name)],
        ));
        assert_eq!(texts(&body, "PolicyArn"), std::slice::from_ref(&arn));
        assert_eq!(texts(&body, "PolicyName"), ["m"]);
    }
    let body = ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", &arn)]));
    assert_eq!(text(&body, "AttachmentCount").unwrap(), "3");
    let body = ok(iam(
        &dir,
        &r,
        "ListEntitiesForPolicy",
        &[("PolicyArn", &arn)],
    ));
    assert_eq!(texts(&body, "UserName"), ["u"]);
    assert_eq!(texts(&body, "GroupName"), ["g"]);
    assert_eq!(texts(&body, "RoleName"), ["role"]);
    let msg = err(
        iam(&dir, &r, "DeletePolicy", &[("PolicyArn", &arn)]),
        409,
        "DeleteConflict",
    );
    assert_eq!(msg, "Cannot delete a policy attached to entities.");

    let missing = "arn:aws:iam::123456789012:policy/missing";
    let msg = err(
        iam(
            &dir,
            &r,
            "AttachUserPolicy",
            &[("UserName", "u"), ("PolicyArn", missing)],
        ),
        404,
        "NoSuchEntity",
    );
    assert_eq!(
        msg,
        format!("Policy {missing} does not exist or is not attachable.")
    );
    ok(iam(
        &dir,
        &r,
        "DetachUserPolicy",
        &[("UserName", "u"), ("PolicyArn", &arn)],
    ));
    err(
        iam(
            &dir,
            &r,
            "DetachUserPolicy",
            &[("UserName", "u"), ("PolicyArn", &arn)],
        ),
        404,
        "NoSuchEntity",
    );
    let msg = err(
        iam(&dir, &r, "DeleteRole", &[("RoleName", "role")]),
        409,
        "DeleteConflict",
    );
    assert_eq!(msg, "Cannot delete entity, must delete policies first.");
}

#[test]
fn attachments_are_limited_to_ten() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    for i in 0..11 {
        let name = format!("p{i}");
        let body = ok(iam(
            &dir,
            &r,
            "CreatePolicy",
            &[("PolicyName", &name), ("PolicyDocument", ALLOW_ALL)],
        ));
        let arn = text(&body, "Arn").unwrap();
        let res = iam(
            &dir,
            &r,
            "AttachUserPolicy",
            &[("UserName", "u"), ("PolicyArn", &arn)],
        );
        if i < 10 {
            ok(res);
        } else {
            let msg = err(res, 409, "LimitExceeded");
            assert_eq!(msg, "Cannot exceed quota for PoliciesPerUser: 10");
        }
    }
}

#[test]
fn simulate_principal_and_custom_policies() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "u"),
            ("PolicyName", "queues"),
            ("PolicyDocument", &allow(&["sqs:*"], "*")),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "u"),
            ("PolicyName", "no-delete"),
            ("PolicyDocument", &deny(&["sqs:DeleteQueue"], "*")),
        ],
    ));
    let body = ok(iam(
        &dir,
        &r,
        "SimulatePrincipalPolicy",
        &[
            ("PolicySourceArn", "arn:aws:iam::123456789012:user/u"),
            ("ActionNames.member.1", "sqs:SendMessage"),
            ("ActionNames.member.2", "sqs:DeleteQueue"),
            ("ActionNames.member.3", "lambda:InvokeFunction"),
            (
                "ResourceArns.member.1",
                "arn:aws:sqs:us-east-1:123456789012:q",
            ),
        ],
    ));
    assert_eq!(
        texts(&body, "EvalDecision"),
        ["allowed", "explicitDeny", "implicitDeny"]
    );
    assert_eq!(texts(&body, "SourcePolicyId"), ["queues", "no-delete"]);
    assert_eq!(
        texts(&body, "EvalResourceName"),
        vec!["arn:aws:sqs:us-east-1:123456789012:q"; 3]
    );

    let conditional = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]
    })
    .to_string();
    let body = ok(iam(
        &dir,
        &r,
        "SimulateCustomPolicy",
        &[
            ("PolicyInputList.member.1", &conditional),
            ("ActionNames.member.1", "s3:GetObject"),
            ("ContextEntries.member.1.ContextKeyName", "aws:SourceIp"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                "10.1.2.3",
            ),
            ("ContextEntries.member.1.ContextKeyType", "ip"),
        ],
    ));
    assert_eq!(texts(&body, "EvalDecision"), ["allowed"]);
    assert_eq!(texts(&body, "SourcePolicyId"), ["PolicyInputList.1"]);
    let body = ok(iam(
        &dir,
        &r,
        "SimulateCustomPolicy",
        &[
            ("PolicyInputList.member.1", &conditional),
            ("ActionNames.member.1", "s3:GetObject"),
        ],
    ));
    assert_eq!(texts(&body, "EvalDecision"), ["implicitDeny"]);
    err(
        iam(
            &dir,
            &r,
            "SimulatePrincipalPolicy",
            &[
                ("PolicySourceArn", "arn:aws:iam::123456789012:user/nobody"),
                ("ActionNames.member.1", "s3:GetObject"),
            ],
        ),
        404,
        "NoSuchEntity",
    );
}

#[test]
fn aws_managed_administrator_access_is_readable_and_attachable() {
    let (_d, dir) = open();
    let r = root();
    let arn = "arn:aws:iam::aws:policy/AdministratorAccess";
    let body = ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", arn)]));
    assert_eq!(text(&body, "PolicyName").unwrap(), "AdministratorAccess");
    assert_eq!(text(&body, "AttachmentCount").unwrap(), "0");
    let body = ok(iam(
        &dir,
        &r,
        "GetPolicyVersion",
        &[("PolicyArn", arn), ("VersionId", "v1")],
    ));
    assert_eq!(text(&body, "IsDefaultVersion").unwrap(), "true");
    let body = ok(iam(&dir, &r, "ListPolicies", &[("Scope", "AWS")]));
    assert_eq!(texts(&body, "PolicyName"), ["AdministratorAccess"]);
    ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[("PolicyName", "mine"), ("PolicyDocument", ALLOW_ALL)],
    ));
    let body = ok(iam(&dir, &r, "ListPolicies", &[("Scope", "Local")]));
    assert_eq!(texts(&body, "PolicyName"), ["mine"]);
    let body = ok(iam(&dir, &r, "ListPolicies", &[]));
    assert_eq!(texts(&body, "PolicyName"), ["AdministratorAccess", "mine"]);

    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    ok(iam(
        &dir,
        &r,
        "AttachUserPolicy",
        &[("UserName", "u"), ("PolicyArn", arn)],
    ));
    let body = ok(iam(
        &dir,
        &r,
        "ListAttachedUserPolicies",
        &[("UserName", "u")],
    ));
    assert_eq!(texts(&body, "PolicyName"), ["AdministratorAccess"]);
    let body = ok(iam(&dir, &r, "ListPolicies", &[("OnlyAttached", "true")]));
    assert_eq!(texts(&body, "PolicyName"), ["AdministratorAccess"]);
    // It cannot be changed or deleted.
    err(
        iam(&dir, &r, "DeletePolicy", &[("PolicyArn", arn)]),
        404,
        "NoSuchEntity",
    );
    err(
        iam(
            &dir,
            &r,
            "CreatePolicyVersion",
            &[("PolicyArn", arn), ("PolicyDocument", ALLOW_ALL)],
        ),
        404,
        "NoSuchEntity",
    );
    ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", arn)]));
}

#[test]
fn policy_tags() {
    let (_d, dir) = open();
    let r = root();
    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[
            ("PolicyName", "p"),
            ("PolicyDocument", ALLOW_ALL),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
        ],
    ));
    let arn = text(&body, "Arn").unwrap();
    ok(iam(
        &dir,
        &r,
        "TagPolicy",
        &[
            ("PolicyArn", &arn),
            ("Tags.member.1.Key", "b"),
            ("Tags.member.1.Value", "2"),
        ],
    ));
    let body = ok(iam(&dir, &r, "ListPolicyTags", &[("PolicyArn", &arn)]));
    assert_eq!(texts(&body, "Key"), ["a", "b"]);
    ok(iam(
        &dir,
        &r,
        "UntagPolicy",
        &[("PolicyArn", &arn), ("TagKeys.member.1", "a")],
    ));
    let body = ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", &arn)]));
    assert_eq!(texts(&body, "Key"), ["b"]);
    let long = "k".repeat(129);
    let msg = err(
        iam(
            &dir,
            &r,
            "TagPolicy",
            &[("PolicyArn", &arn), ("Tags.member.1.Key", &long)],
        ),
        400,
        "ValidationError",
    );
    assert!(msg.contains("tags.member.key"), "{msg}");
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn policy_sizes_are_limited_as_iam_counts_them() {
    let (_d, dir) = open();
    let r = root();
    let many = |n: usize| -> String {
        let actions: Vec<String> = (0..n).map(|i| format!("sqs:Action{i:05}")).collect();
        let refs: Vec<&str> = actions.iter().map(String::as_str).collect();
        allow(&refs, "*")
    };
    // About 18 characters per action.
    let small = many(250);
    let big = many(400);
    let msg = err(
        iam(
            &dir,
            &r,
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", &big)],
        ),
        409,
        "LimitExceeded",
    );
    assert_eq!(msg, "Cannot exceed quota for PolicySize: 6144");
    // White space does not count.
    let spaced = small.replace(',', &format!(",{}", " ".repeat(20)));
    assert!(spaced.len() > 6144);
    ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[("PolicyName", "p"), ("PolicyDocument", &spaced)],
    ));

    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "u"),
            ("PolicyName", "a"),
            ("PolicyDocument", &many(60)),
        ],
    ));
    // The user's inline policies together are held to 2,048.
    let msg = err(
        iam(
            &dir,
            &r,
            "PutUserPolicy",
            &[
                ("UserName", "u"),
                ("PolicyName", "b"),
                ("PolicyDocument", &many(60)),
            ],
        ),
        409,
        "LimitExceeded",
    );
    assert_eq!(msg, "Maximum policy size of 2048 bytes exceeded for user u");
    // Replacing one counts it once.
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "u"),
            ("PolicyName", "a"),
            ("PolicyDocument", &many(60)),
        ],
    ));
    let msg = err(
        iam(
            &dir,
            &r,
            "CreateRole",
            &[
                ("RoleName", "big"),
                (
                    "AssumeRolePolicyDocument",
                    &trust_service(&format!("{}.amazonaws.com", "x".repeat(2100))),
                ),
            ],
        ),
        409,
        "LimitExceeded",
    );
    assert_eq!(msg, "Cannot exceed quota for ACLSizePerRole: 2048");
}
