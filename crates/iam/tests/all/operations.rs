//! Users, groups, roles and validation through `Iam::handle`: shapes,
//! conflicts, and AWS's error codes and messages.

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
    let msg = err(
        iam(&dir, &r, "ListUsers", &[("MaxItems", "0")]),
        400,
        "ValidationError",
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: \
         Member must have value greater than or equal to 1"
    );
    err(
        iam(&dir, &r, "ListUsers", &[("MaxItems", "1001")]),
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
