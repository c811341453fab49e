//! Access keys: the API, and what `lookup_key` makes of them.

use std::time::SystemTime;

use updraft_iam::KeyError;
use updraft_policy::PrincipalKind;

use crate::*;

#[test]
fn access_keys_are_created_listed_deactivated_and_deleted() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "eve")]));
    let body = ok(iam(&dir, &r, "CreateAccessKey", &[("UserName", "eve")]));
    let id = text(&body, "AccessKeyId").unwrap();
    let secret = text(&body, "SecretAccessKey").unwrap();
    assert!(id.starts_with("AKIA") && id.len() == 20, "{id}");
    assert_eq!(secret.len(), 40);
    assert_eq!(text(&body, "Status").unwrap(), "Active");

    let grant = dir.lookup_key(&id, None, SystemTime::now()).unwrap();
    assert_eq!(grant.secret, secret);
    assert_eq!(grant.caller.arn(), "arn:aws:iam::123456789012:user/eve");
    assert!(grant.caller.user_id.starts_with("AIDA"));
    assert!(matches!(
        grant.caller.principal.kind,
        PrincipalKind::User { .. }
    ));

    ok(iam(&dir, &r, "CreateAccessKey", &[("UserName", "eve")]));
    let msg = err(
        iam(&dir, &r, "CreateAccessKey", &[("UserName", "eve")]),
        409,
        "LimitExceeded",
    );
    assert_eq!(msg, "Cannot exceed quota for AccessKeysPerUser: 2");

    let body = ok(iam(&dir, &r, "ListAccessKeys", &[("UserName", "eve")]));
    assert_eq!(texts(&body, "AccessKeyId").len(), 2);
    assert!(!body.contains("SecretAccessKey"), "{body}");

    ok(iam(
        &dir,
        &r,
        "UpdateAccessKey",
        &[
            ("UserName", "eve"),
            ("AccessKeyId", &id),
            ("Status", "Inactive"),
        ],
    ));
    let e = dir.lookup_key(&id, None, SystemTime::now()).unwrap_err();
    assert_eq!(e, KeyError::InactiveKey);
    assert_eq!(e.code(), "InvalidClientTokenId");
    assert_eq!(
        e.message(),
        "The security token included in the request is invalid."
    );
    ok(iam(
        &dir,
        &r,
        "UpdateAccessKey",
        &[
            ("UserName", "eve"),
            ("AccessKeyId", &id),
            ("Status", "Active"),
        ],
    ));
    assert!(dir.lookup_key(&id, None, SystemTime::now()).is_ok());

    let body = ok(iam(
        &dir,
        &r,
        "GetAccessKeyLastUsed",
        &[("AccessKeyId", &id)],
    ));
    assert_eq!(text(&body, "UserName").unwrap(), "eve");

    ok(iam(
        &dir,
        &r,
        "DeleteAccessKey",
        &[("UserName", "eve"), ("AccessKeyId", &id)],
    ));
    assert_eq!(
        dir.lookup_key(&id, None, SystemTime::now()).unwrap_err(),
        KeyError::UnknownKey
    );
    let msg = err(
        iam(
            &dir,
            &r,
            "DeleteAccessKey",
            &[("UserName", "eve"), ("AccessKeyId", &id)],
        ),
        404,
        "NoSuchEntity",
    );
    assert_eq!(msg, format!("The Access Key with id {id} cannot be found"));
}

#[test]
fn a_user_manages_its_own_keys_without_naming_itself() {
    let (_d, dir) = open();
    let (key, _) = user_with_key(&dir, "frank");
    ok(iam(
        &dir,
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "frank"),
            ("PolicyName", "own-keys"),
            (
                "PolicyDocument",
                &allow(
                    &["iam:*AccessKey*", "iam:GetUser"],
                    "arn:aws:iam::123456789012:user/${aws:username}",
                ),
            ),
        ],
    ));
    let me = caller_of(&dir, &key);
    let body = ok(iam(&dir, &me, "ListAccessKeys", &[]));
    assert_eq!(texts(&body, "AccessKeyId"), std::slice::from_ref(&key));
    let body = ok(iam(&dir, &me, "GetUser", &[]));
    assert_eq!(text(&body, "UserName").unwrap(), "frank");
    // Not someone else's.
    ok(iam(&dir, &root(), "CreateUser", &[("UserName", "gina")]));
    let msg = err(
        iam(&dir, &me, "ListAccessKeys", &[("UserName", "gina")]),
        403,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        "User: arn:aws:iam::123456789012:user/frank is not authorized to perform: iam:ListAccessKeys \
         on resource: arn:aws:iam::123456789012:user/gina because no identity-based policy allows \
         the iam:ListAccessKeys action"
    );
}

#[test]
fn root_keys_and_unknown_keys() {
    let (_d, dir) = open();
    dir.ensure_root_key(ACCOUNT, "FOOBARKEY", "FOOBARSECRET")
        .unwrap();
    let grant = dir
        .lookup_key("FOOBARKEY", None, SystemTime::now())
        .unwrap();
    assert_eq!(grant.secret, "FOOBARSECRET");
    assert_eq!(grant.caller.arn(), "arn:aws:iam::123456789012:root");
    assert_eq!(grant.caller.user_id, ACCOUNT);
    // Idempotent; a new secret replaces the old one.
    dir.ensure_root_key(ACCOUNT, "FOOBARKEY", "FOOBARSECRET")
        .unwrap();
    dir.ensure_root_key(ACCOUNT, "FOOBARKEY", "OTHER").unwrap();
    assert_eq!(
        dir.lookup_key("FOOBARKEY", None, SystemTime::now())
            .unwrap()
            .secret,
        "OTHER"
    );
    // A key id cannot move to another account.
    assert!(dir
        .ensure_root_key("210987654321", "FOOBARKEY", "x")
        .is_err());

    let e = dir
        .lookup_key("AKIANOSUCHKEY0000000", None, SystemTime::now())
        .unwrap_err();
    assert_eq!(e, KeyError::UnknownKey);
    assert_eq!(e.code(), "InvalidClientTokenId");
    assert_eq!(e.status(), 403);
}

#[test]
fn deleting_a_user_revokes_its_keys_at_once() {
    let (_d, dir) = open();
    let (key, _) = user_with_key(&dir, "hal");
    assert!(dir.lookup_key(&key, None, SystemTime::now()).is_ok());
    ok(iam(
        &dir,
        &root(),
        "DeleteAccessKey",
        &[("UserName", "hal"), ("AccessKeyId", &key)],
    ));
    ok(iam(&dir, &root(), "DeleteUser", &[("UserName", "hal")]));
    assert_eq!(
        dir.lookup_key(&key, None, SystemTime::now()).unwrap_err(),
        KeyError::UnknownKey
    );
}

#[test]
fn root_manages_its_own_keys_through_the_api() {
    let (_d, dir) = open();
    let r = root();
    dir.ensure_root_key(ACCOUNT, "FOOBARKEY", "FOOBARSECRET")
        .unwrap();
    let body = ok(iam(&dir, &r, "CreateAccessKey", &[]));
    assert!(text(&body, "UserName").is_none(), "{body}");
    let id = text(&body, "AccessKeyId").unwrap();
    let secret = text(&body, "SecretAccessKey").unwrap();
    let grant = dir.lookup_key(&id, None, SystemTime::now()).unwrap();
    assert_eq!(grant.secret, secret);
    assert_eq!(grant.caller.arn(), "arn:aws:iam::123456789012:root");
    let body = ok(iam(&dir, &r, "ListAccessKeys", &[]));
    assert_eq!(texts(&body, "AccessKeyId"), ["FOOBARKEY", id.as_str()]);
    err(iam(&dir, &r, "CreateAccessKey", &[]), 409, "LimitExceeded");
    ok(iam(
        &dir,
        &r,
        "UpdateAccessKey",
        &[("AccessKeyId", &id), ("Status", "Inactive")],
    ));
    assert_eq!(
        dir.lookup_key(&id, None, SystemTime::now()).unwrap_err(),
        KeyError::InactiveKey
    );
    ok(iam(&dir, &r, "DeleteAccessKey", &[("AccessKeyId", &id)]));
    assert_eq!(
        dir.lookup_key(&id, None, SystemTime::now()).unwrap_err(),
        KeyError::UnknownKey
    );
    assert!(dir.lookup_key("FOOBARKEY", None, SystemTime::now()).is_ok());
}
