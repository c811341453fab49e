//! IAM operations through `Iam::handle`: shapes, conflicts, limits and
//! AWS's error codes and messages.

use crate::*;

#[test]
fn create_get_list_update_delete_user() {
    let (_d, dir) = open();
    let r = root();
    let body = ok(iam(
        &dir,
        &r,
        "CreateUser",
        &[("UserName", "alice"), ("Path", "/eng/")],
    ));
    assert!(body.starts_with(
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>"
    ));
    assert!(body.ends_with(
        "<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateUserResponse>"
    ));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:user/eng/alice"
    );
    let id = text(&body, "UserId").unwrap();
    assert!(id.starts_with("AIDA") && id.len() == 21, "{id}");
    let created = text(&body, "CreateDate").unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");

    let msg = err(
        iam(&dir, &r, "CreateUser", &[("UserName", "ALICE")]),
        409,
        "EntityAlreadyExists",
    );
    assert_eq!(msg, "User with name ALICE already exists.");

    let body = ok(iam(&dir, &r, "GetUser", &[("UserName", "alice")]));
    assert_eq!(text(&body, "UserId").unwrap(), id);

    ok(iam(&dir, &r, "CreateUser", &[("UserName", "bob")]));
    let body = ok(iam(&dir, &r, "ListUsers", &[]));
    assert_eq!(texts(&body, "UserName"), ["alice", "bob"]);
    assert_eq!(text(&body, "IsTruncated").unwrap(), "false");
    let body = ok(iam(&dir, &r, "ListUsers", &[("PathPrefix", "/eng/")]));
    assert_eq!(texts(&body, "UserName"), ["alice"]);

    ok(iam(
        &dir,
        &r,
        "UpdateUser",
        &[
            ("UserName", "bob"),
            ("NewUserName", "robert"),
            ("NewPath", "/ops/"),
        ],
    ));
    let body = ok(iam(&dir, &r, "GetUser", &[("UserName", "robert")]));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:user/ops/robert"
    );
    let msg = err(
        iam(&dir, &r, "GetUser", &[("UserName", "bob")]),
        404,
        "NoSuchEntity",
    );
    assert_eq!(msg, "The user with name bob cannot be found.");

    ok(iam(&dir, &r, "DeleteUser", &[("UserName", "robert")]));
    err(
        iam(&dir, &r, "DeleteUser", &[("UserName", "robert")]),
        404,
        "NoSuchEntity",
    );
}

#[test]
fn list_pagination_with_max_items_and_marker() {
    let (_d, dir) = open();
    let r = root();
    for n in ["u1", "u2", "u3", "u4", "u5"] {
        ok(iam(&dir, &r, "CreateUser", &[("UserName", n)]));
    }
    let body = ok(iam(&dir, &r, "ListUsers", &[("MaxItems", "2")]));
    assert_eq!(texts(&body, "UserName"), ["u1", "u2"]);
    assert_eq!(text(&body, "IsTruncated").unwrap(), "true");
    let marker = text(&body, "Marker").unwrap();
    let body = ok(iam(
        &dir,
        &r,
        "ListUsers",
        &[("MaxItems", "2"), ("Marker", &marker)],
    ));
    assert_eq!(texts(&body, "UserName"), ["u3", "u4"]);
    let marker = text(&body, "Marker").unwrap();
    let body = ok(iam(
        &dir,
        &r,
        "ListUsers",
        &[("MaxItems", "2"), ("Marker", &marker)],
    ));
    assert_eq!(texts(&body, "UserName"), ["u5"]);
    assert_eq!(text(&body, "IsTruncated").unwrap(), "false");
    assert!(text(&body, "Marker").is_none());
    err(
        iam(&dir, &r, "ListUsers", &[("MaxItems", "0")]),
        400,
        "ValidationError",
    );
}

#[test]
fn validation_errors_use_aws_wording() {
    let (_d, dir) = open();
    let r = root();
    let msg = err(
        iam(&dir, &r, "CreateUser", &[("UserName", "bad name")]),
        400,
        "ValidationError",
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    );
    let msg = err(iam(&dir, &r, "CreateUser", &[]), 400, "ValidationError");
    assert_eq!(
        msg,
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: \
         Member must not be null"
    );
    let long = "a".repeat(65);
    let msg = err(
        iam(&dir, &r, "CreateUser", &[("UserName", &long)]),
        400,
        "ValidationError",
    );
    assert!(
        msg.ends_with("Member must have length less than or equal to 64"),
        "{msg}"
    );
    err(
        iam(
            &dir,
            &r,
            "CreateUser",
            &[("UserName", "x"), ("Path", "nope")],
        ),
        400,
        "ValidationError",
    );

    let r2 = iam(&dir, &r, "FlyToTheMoon", &[]);
    let msg = err(r2, 400, "InvalidAction");
    assert!(msg.contains("FlyToTheMoon"), "{msg}");
}

#[test]
fn delete_user_conflicts_until_keys_policies_and_groups_are_gone() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "carol");
    let msg = err(
        iam(&dir, &r, "DeleteUser", &[("UserName", "carol")]),
        409,
        "DeleteConflict",
    );
    assert_eq!(msg, "Cannot delete entity, must delete access keys first.");
    ok(iam(
        &dir,
        &r,
        "DeleteAccessKey",
        &[("UserName", "carol"), ("AccessKeyId", &key)],
    ));

    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "carol"),
            ("PolicyName", "p"),
            ("PolicyDocument", ALLOW_ALL),
        ],
    ));
    let msg = err(
        iam(&dir, &r, "DeleteUser", &[("UserName", "carol")]),
        409,
        "DeleteConflict",
    );
    assert_eq!(msg, "Cannot delete entity, must delete policies first.");
    ok(iam(
        &dir,
        &r,
        "DeleteUserPolicy",
        &[("UserName", "carol"), ("PolicyName", "p")],
    ));

    ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "devs")]));
    ok(iam(
        &dir,
        &r,
        "AddUserToGroup",
        &[("GroupName", "devs"), ("UserName", "carol")],
    ));
    let msg = err(
        iam(&dir, &r, "DeleteUser", &[("UserName", "carol")]),
        409,
        "DeleteConflict",
    );
    assert_eq!(
        msg,
        "Cannot delete entity, must remove users from group first."
    );
    let msg = err(
        iam(&dir, &r, "DeleteGroup", &[("GroupName", "devs")]),
        409,
        "DeleteConflict",
    );
    assert_eq!(
        msg,
        "Cannot delete entity, must remove users from group first."
    );
    ok(iam(
        &dir,
        &r,
        "RemoveUserFromGroup",
        &[("GroupName", "devs"), ("UserName", "carol")],
    ));
    ok(iam(&dir, &r, "DeleteUser", &[("UserName", "carol")]));
    ok(iam(&dir, &r, "DeleteGroup", &[("GroupName", "devs")]));
}

#[test]
fn groups_and_membership() {
    let (_d, dir) = open();
    let r = root();
    let body = ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "devs")]));
    assert!(text(&body, "GroupId").unwrap().starts_with("AGPA"));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:group/devs"
    );
    err(
        iam(&dir, &r, "CreateGroup", &[("GroupName", "devs")]),
        409,
        "EntityAlreadyExists",
    );
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "dan")]));
    ok(iam(
        &dir,
        &r,
        "AddUserToGroup",
        &[("GroupName", "devs"), ("UserName", "dan")],
    ));
    let body = ok(iam(&dir, &r, "GetGroup", &[("GroupName", "devs")]));
    assert_eq!(texts(&body, "UserName"), ["dan"]);
    let body = ok(iam(&dir, &r, "ListGroupsForUser", &[("UserName", "dan")]));
    assert_eq!(texts(&body, "GroupName"), ["devs"]);
    let body = ok(iam(&dir, &r, "ListGroups", &[]));
    assert_eq!(texts(&body, "GroupName"), ["devs"]);
    err(
        iam(
            &dir,
            &r,
            "AddUserToGroup",
            &[("GroupName", "nope"), ("UserName", "dan")],
        ),
        404,
        "NoSuchEntity",
    );
    err(
        iam(
            &dir,
            &r,
            "RemoveUserFromGroup",
            &[("GroupName", "devs"), ("UserName", "nobody")],
        ),
        404,
        "NoSuchEntity",
    );
}

#[test]
fn roles_with_trust_policies() {
    let (_d, dir) = open();
    let r = root();
    let trust = trust_service("lambda.amazonaws.com");
    let body = ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "fn"),
            ("AssumeRolePolicyDocument", &trust),
            ("Description", "a <function> role"),
            ("MaxSessionDuration", "7200"),
        ],
    ));
    assert!(text(&body, "RoleId").unwrap().starts_with("AROA"));
    assert_eq!(text(&body, "MaxSessionDuration").unwrap(), "7200");
    assert_eq!(
        text(&body, "Description").unwrap(),
        "a &lt;function&gt; role"
    );
    // Documents come back URL-encoded, as IAM returns them.
    let encoded = text(&body, "AssumeRolePolicyDocument").unwrap();
    assert!(
        encoded.starts_with("%7B%22") && !encoded.contains('"'),
        "{encoded}"
    );
    assert!(encoded.contains("lambda.amazonaws.com"), "{encoded}");

    let msg = err(
        iam(
            &dir,
            &r,
            "CreateRole",
            &[("RoleName", "bad"), ("AssumeRolePolicyDocument", "{nope")],
        ),
        400,
        "MalformedPolicyDocument",
    );
    assert!(!msg.is_empty());
    // A trust policy needs a principal; an identity policy as trust is refused.
    err(
        iam(
            &dir,
            &r,
            "CreateRole",
            &[("RoleName", "bad"), ("AssumeRolePolicyDocument", ALLOW_ALL)],
        ),
        400,
        "MalformedPolicyDocument",
    );
    err(
        iam(
            &dir,
            &r,
            "CreateRole",
            &[
                ("RoleName", "x"),
                ("AssumeRolePolicyDocument", &trust),
                ("MaxSessionDuration", "60"),
            ],
        ),
        400,
        "ValidationError",
    );

    ok(iam(
        &dir,
        &r,
        "UpdateRole",
        &[("RoleName", "fn"), ("MaxSessionDuration", "3600")],
    ));
    let body = ok(iam(&dir, &r, "GetRole", &[("RoleName", "fn")]));
    assert_eq!(text(&body, "MaxSessionDuration").unwrap(), "3600");
    assert!(body.contains("<RoleLastUsed/>"));

    let other = trust_service("events.amazonaws.com");
    ok(iam(
        &dir,
        &r,
        "UpdateAssumeRolePolicy",
        &[("RoleName", "fn"), ("PolicyDocument", &other)],
    ));
    assert!(dir
        .check_trusts("arn:aws:iam::123456789012:role/fn", "events.amazonaws.com")
        .is_ok());
    assert!(dir
        .check_trusts("arn:aws:iam::123456789012:role/fn", "lambda.amazonaws.com")
        .is_err());

    let body = ok(iam(&dir, &r, "ListRoles", &[]));
    assert_eq!(texts(&body, "RoleName"), ["fn"]);
    ok(iam(&dir, &r, "DeleteRole", &[("RoleName", "fn")]));
    let msg = err(
        iam(&dir, &r, "GetRole", &[("RoleName", "fn")]),
        404,
        "NoSuchEntity",
    );
    assert_eq!(msg, "The role with name fn cannot be found.");
}

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
fn tags_and_permission_boundaries() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(
        &dir,
        &r,
        "CreateUser",
        &[
            ("UserName", "u"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "core"),
        ],
    ));
    ok(iam(
        &dir,
        &r,
        "TagUser",
        &[
            ("UserName", "u"),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "dev"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "edge"),
        ],
    ));
    let body = ok(iam(&dir, &r, "ListUserTags", &[("UserName", "u")]));
    assert_eq!(texts(&body, "Key"), ["team", "env"]);
    assert_eq!(texts(&body, "Value"), ["edge", "dev"]);
    ok(iam(
        &dir,
        &r,
        "UntagUser",
        &[("UserName", "u"), ("TagKeys.member.1", "team")],
    ));
    let body = ok(iam(&dir, &r, "ListUserTags", &[("UserName", "u")]));
    assert_eq!(texts(&body, "Key"), ["env"]);

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
    ok(iam(
        &dir,
        &r,
        "TagRole",
        &[
            ("RoleName", "role"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ],
    ));
    let body = ok(iam(&dir, &r, "ListRoleTags", &[("RoleName", "role")]));
    assert_eq!(texts(&body, "Key"), ["k"]);

    let body = ok(iam(
        &dir,
        &r,
        "CreatePolicy",
        &[("PolicyName", "b"), ("PolicyDocument", ALLOW_ALL)],
    ));
    let arn = text(&body, "Arn").unwrap();
    err(
        iam(
            &dir,
            &r,
            "PutUserPermissionsBoundary",
            &[
                ("UserName", "u"),
                (
                    "PermissionsBoundary",
                    "arn:aws:iam::123456789012:policy/none",
                ),
            ],
        ),
        404,
        "NoSuchEntity",
    );
    ok(iam(
        &dir,
        &r,
        "PutUserPermissionsBoundary",
        &[("UserName", "u"), ("PermissionsBoundary", &arn)],
    ));
    ok(iam(
        &dir,
        &r,
        "PutRolePermissionsBoundary",
        &[("RoleName", "role"), ("PermissionsBoundary", &arn)],
    ));
    let body = ok(iam(&dir, &r, "GetUser", &[("UserName", "u")]));
    assert_eq!(text(&body, "PermissionsBoundaryArn").unwrap(), arn);
    let body = ok(iam(&dir, &r, "GetPolicy", &[("PolicyArn", &arn)]));
    assert_eq!(text(&body, "PermissionsBoundaryUsageCount").unwrap(), "2");
    ok(iam(
        &dir,
        &r,
        "DeleteUserPermissionsBoundary",
        &[("UserName", "u")],
    ));
    ok(iam(
        &dir,
        &r,
        "DeleteRolePermissionsBoundary",
        &[("RoleName", "role")],
    ));
    let body = ok(iam(&dir, &r, "GetRole", &[("RoleName", "role")]));
    assert!(text(&body, "PermissionsBoundaryArn").is_none());
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
fn groups_are_renamed_with_their_members() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "old")]));
    ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "taken")]));
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "u")]));
    ok(iam(
        &dir,
        &r,
        "AddUserToGroup",
        &[("GroupName", "old"), ("UserName", "u")],
    ));
    err(
        iam(
            &dir,
            &r,
            "UpdateGroup",
            &[("GroupName", "old"), ("NewGroupName", "taken")],
        ),
        409,
        "EntityAlreadyExists",
    );
    ok(iam(
        &dir,
        &r,
        "UpdateGroup",
        &[
            ("GroupName", "old"),
            ("NewGroupName", "new"),
            ("NewPath", "/team/"),
        ],
    ));
    let body = ok(iam(&dir, &r, "GetGroup", &[("GroupName", "new")]));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:group/team/new"
    );
    assert_eq!(texts(&body, "UserName"), ["u"]);
    let body = ok(iam(&dir, &r, "ListGroupsForUser", &[("UserName", "u")]));
    assert_eq!(texts(&body, "GroupName"), ["new"]);
    err(
        iam(&dir, &r, "GetGroup", &[("GroupName", "old")]),
        404,
        "NoSuchEntity",
    );
    // The user is checked before the group.
    let msg = err(
        iam(
            &dir,
            &r,
            "AddUserToGroup",
            &[("GroupName", "none"), ("UserName", "nobody")],
        ),
        404,
        "NoSuchEntity",
    );
    assert_eq!(msg, "The user with name nobody cannot be found.");
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
