//! STS: caller identity, AssumeRole (both sides of the check), session
//! tokens and expiry, and the platform's service credentials.

use std::time::{Duration, SystemTime};

use updraft_iam::{IamError, KeyError};

use crate::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/app";

#[test]
fn get_caller_identity_for_root_users_and_sessions() {
    let (_d, dir) = open();
    let body = ok(sts(&dir, &root(), "GetCallerIdentity", &[]));
    assert!(body.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
    ));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:root"
    );
    assert_eq!(text(&body, "UserId").unwrap(), ACCOUNT);
    assert_eq!(text(&body, "Account").unwrap(), ACCOUNT);

    let (key, _) = user_with_key(&dir, "max");
    // No permission is needed.
    let body = ok(sts(&dir, &caller_of(&dir, &key), "GetCallerIdentity", &[]));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:iam::123456789012:user/max"
    );
    assert!(text(&body, "UserId").unwrap().starts_with("AIDA"));
}

#[test]
fn assume_role_needs_the_trust_policy_and_the_identity_policy() {
    let (_d, dir) = open();
    let r = root();
    let (key, _) = user_with_key(&dir, "ned");
    let ned = caller_of(&dir, &key);
    // Trust delegated to the account: Ned also needs an identity policy.
    let body = ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "app"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    let role_id = text(&body, "RoleId").unwrap();
    let assume = |who| {
        sts(
            &dir,
            who,
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", "s1")],
        )
    };
    let msg = err(assume(&ned), 403, "AccessDenied");
    assert_eq!(
        msg,
        "User: arn:aws:iam::123456789012:user/ned is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/app"
    );
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "ned"),
            ("PolicyName", "assume"),
            ("PolicyDocument", &allow(&["sts:AssumeRole"], ROLE)),
        ],
    ));
    let body = ok(assume(&ned));
    assert_eq!(
        text(&body, "AssumedRoleId").unwrap(),
        format!("{role_id}:s1")
    );
    assert_eq!(
        texts(&body, "Arn"),
        ["arn:aws:sts::123456789012:assumed-role/app/s1"]
    );
    let key = text(&body, "AccessKeyId").unwrap();
    let token = text(&body, "SessionToken").unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20);
    assert_eq!(text(&body, "SecretAccessKey").unwrap().len(), 40);
    assert!(text(&body, "Expiration").unwrap().ends_with('Z'));

    let session = dir
        .lookup_key(&key, Some(&token), SystemTime::now())
        .unwrap()
        .caller;
    let body = ok(sts(&dir, &session, "GetCallerIdentity", &[]));
    assert_eq!(text(&body, "UserId").unwrap(), format!("{role_id}:s1"));
    assert_eq!(
        text(&body, "Arn").unwrap(),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );

    // A trust policy that names another principal refuses Ned even with
    // the identity policy.
    ok(iam(
        &dir,
        &r,
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "app"),
            (
                "PolicyDocument",
                &trust_aws("arn:aws:iam::123456789012:user/someone"),
            ),
        ],
    ));
    err(assume(&ned), 403, "AccessDenied");
    // One that names Ned directly needs no identity policy.
    ok(iam(
        &dir,
        &r,
        "DeleteUserPolicy",
        &[("UserName", "ned"), ("PolicyName", "assume")],
    ));
    ok(iam(
        &dir,
        &r,
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "app"),
            (
                "PolicyDocument",
                &trust_aws("arn:aws:iam::123456789012:user/ned"),
            ),
        ],
    ));
    ok(assume(&ned));
    // An unknown role is refused the same way as a forbidden one.
    let msg = err(
        sts(
            &dir,
            &ned,
            "AssumeRole",
            &[
                ("RoleArn", "arn:aws:iam::123456789012:role/none"),
                ("RoleSessionName", "s1"),
            ],
        ),
        403,
        "AccessDenied",
    );
    assert!(msg.contains("sts:AssumeRole"));
}

#[test]
fn assume_role_durations_and_session_names() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "app"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    let msg = err(
        sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s"),
                ("DurationSeconds", "3600"),
            ],
        ),
        400,
        "ValidationError",
    );
    assert!(msg.contains("roleSessionName"), "{msg}");
    let msg = err(
        sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "ok-name"),
                ("DurationSeconds", "899"),
            ],
        ),
        400,
        "ValidationError",
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
    );
    let msg = err(
        sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "ok-name"),
                ("DurationSeconds", "7200"),
            ],
        ),
        400,
        "ValidationError",
    );
    assert_eq!(
        msg,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    ok(iam(
        &dir,
        &r,
        "UpdateRole",
        &[("RoleName", "app"), ("MaxSessionDuration", "7200")],
    ));
    let body = ok(sts(
        &dir,
        &r,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "ok-name"),
            ("DurationSeconds", "7200"),
        ],
    ));
    let exp = text(&body, "Expiration").unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(&exp).unwrap();
    let secs = (exp.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!((7190..=7200).contains(&secs), "{secs}");

    let msg = err(
        sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "p"),
                ("Policy", "nope"),
            ],
        ),
        400,
        "ValidationError",
    );
    assert!(msg.contains("roleSessionName"));
    err(
        sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "pp"),
                ("Policy", "nope"),
            ],
        ),
        400,
        "MalformedPolicyDocument",
    );
    let body = ok(sts(
        &dir,
        &r,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "pp"),
            ("Policy", ALLOW_ALL),
        ],
    ));
    assert!(
        text(&body, "PackedPolicySize")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
}

#[test]
fn sessions_expire_and_need_their_token() {
    let (_d, dir) = open();
    let r = root();
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "app"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    let body = ok(sts(
        &dir,
        &r,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("DurationSeconds", "900"),
        ],
    ));
    let key = text(&body, "AccessKeyId").unwrap();
    let token = text(&body, "SessionToken").unwrap();
    let now = SystemTime::now();
    assert!(dir.lookup_key(&key, Some(&token), now).is_ok());
    assert_eq!(
        dir.lookup_key(&key, None, now).unwrap_err(),
        KeyError::MissingToken
    );
    assert_eq!(
        dir.lookup_key(&key, Some("wrong"), now).unwrap_err(),
        KeyError::WrongToken
    );
    let later = now + Duration::from_secs(901);
    let e = dir.lookup_key(&key, Some(&token), later).unwrap_err();
    assert_eq!(e, KeyError::Expired);
    assert_eq!(e.code(), "ExpiredToken");
    assert_eq!(
        e.message(),
        "The security token included in the request is expired"
    );

    // Deleting the role revokes its sessions.
    ok(iam(&dir, &r, "DeleteRole", &[("RoleName", "app")]));
    assert!(dir.lookup_key(&key, Some(&token), now).is_err());
}

#[test]
fn get_session_token_for_users_not_for_sessions() {
    let (_d, dir) = open();
    let (key, _) = user_with_key(&dir, "olga");
    let olga = caller_of(&dir, &key);
    let body = ok(sts(
        &dir,
        &olga,
        "GetSessionToken",
        &[("DurationSeconds", "900")],
    ));
    let skey = text(&body, "AccessKeyId").unwrap();
    let token = text(&body, "SessionToken").unwrap();
    let session = dir
        .lookup_key(&skey, Some(&token), SystemTime::now())
        .unwrap()
        .caller;
    assert_eq!(session.arn(), "arn:aws:iam::123456789012:user/olga");
    let msg = err(
        sts(&dir, &session, "GetSessionToken", &[]),
        403,
        "AccessDenied",
    );
    assert_eq!(msg, "Cannot call GetSessionToken with session credentials");
    err(
        sts(
            &dir,
            &olga,
            "GetSessionToken",
            &[("DurationSeconds", "129601")],
        ),
        400,
        "ValidationError",
    );
    // Root sessions last at most an hour.
    err(
        sts(
            &dir,
            &root(),
            "GetSessionToken",
            &[("DurationSeconds", "3601")],
        ),
        400,
        "ValidationError",
    );
    ok(sts(&dir, &root(), "GetSessionToken", &[]));
    let e = sts(&dir, &root(), "Fly", &[]);
    err(e, 400, "InvalidAction");
}

#[test]
fn service_credentials_need_a_trusting_role() {
    let (_d, dir) = open();
    let r = root();
    let missing = dir.check_trusts(ROLE, "lambda.amazonaws.com").unwrap_err();
    assert!(matches!(missing, IamError::NoSuchRole(_)));
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "app"),
            (
                "AssumeRolePolicyDocument",
                &trust_service("scheduler.amazonaws.com"),
            ),
        ],
    ));
    let e = dir.check_trusts(ROLE, "lambda.amazonaws.com").unwrap_err();
    assert!(matches!(e, IamError::NotTrusted { .. }));
    assert!(dir
        .service_credentials(ROLE, "lambda.amazonaws.com", "f", Duration::from_secs(3600))
        .is_err());
    let creds = dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "sched-1",
            Duration::from_secs(60),
        )
        .unwrap();
    // Held to at least 15 minutes.
    let left = creds.expiration.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(890) && left <= Duration::from_secs(900),
        "{left:?}"
    );
    // A live session for the same role and name is shared; another name
    // gets its own.
    let again = dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "sched-1",
            Duration::from_secs(900),
        )
        .unwrap();
    assert_eq!(again, creds);
    let other = dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "sched-2",
            Duration::from_secs(900),
        )
        .unwrap();
    assert_ne!(other.access_key_id, creds.access_key_id);
    // Not one with too little time left for what is asked.
    let longer = dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "sched-1",
            Duration::from_secs(3600),
        )
        .unwrap();
    assert_ne!(longer.access_key_id, creds.access_key_id);

    // A one-character function name is a session name here.
    assert!(dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "f",
            Duration::from_secs(900)
        )
        .is_ok());
    assert!(dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            "no spaces",
            Duration::from_secs(900)
        )
        .is_err());
    assert!(dir
        .service_credentials(
            ROLE,
            "scheduler.amazonaws.com",
            &"a".repeat(65),
            Duration::from_secs(900)
        )
        .is_err());

    let arn = dir
        .ensure_service_role(
            ACCOUNT,
            "updraft",
            &["lambda.amazonaws.com", "events.amazonaws.com"],
        )
        .unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:role/updraft");
    dir.check_trusts(&arn, "lambda.amazonaws.com").unwrap();
    dir.check_trusts(&arn, "events.amazonaws.com").unwrap();
    assert!(dir.check_trusts(&arn, "scheduler.amazonaws.com").is_err());
    // Existing roles are left alone.
    let g = dir.generation();
    dir.ensure_service_role(ACCOUNT, "updraft", &["scheduler.amazonaws.com"])
        .unwrap();
    assert_eq!(dir.generation(), g);
}

#[test]
fn trust_conditions_see_the_external_id() {
    let (_d, dir) = open();
    let r = root();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "shared-secret"}}}]
    })
    .to_string();
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[("RoleName", "app"), ("AssumeRolePolicyDocument", &trust)],
    ));
    let (key, _) = user_with_key(&dir, "pia");
    ok(iam(
        &dir,
        &r,
        "PutUserPolicy",
        &[
            ("UserName", "pia"),
            ("PolicyName", "assume"),
            ("PolicyDocument", &allow(&["sts:AssumeRole"], "*")),
        ],
    ));
    let pia = caller_of(&dir, &key);
    err(
        sts(
            &dir,
            &pia,
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", "s1")],
        ),
        403,
        "AccessDenied",
    );
    err(
        sts(
            &dir,
            &pia,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("ExternalId", "guess"),
            ],
        ),
        403,
        "AccessDenied",
    );
    ok(sts(
        &dir,
        &pia,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("ExternalId", "shared-secret"),
        ],
    ));
}

#[test]
fn a_users_session_ends_with_the_user() {
    let (_d, dir) = open();
    let (key, _) = user_with_key(&dir, "quin");
    let body = ok(sts(&dir, &caller_of(&dir, &key), "GetSessionToken", &[]));
    let skey = text(&body, "AccessKeyId").unwrap();
    let token = text(&body, "SessionToken").unwrap();
    let r = root();
    ok(iam(
        &dir,
        &r,
        "DeleteAccessKey",
        &[("UserName", "quin"), ("AccessKeyId", &key)],
    ));
    // Deleting the key alone leaves the session, as on AWS.
    assert!(dir
        .lookup_key(&skey, Some(&token), SystemTime::now())
        .is_ok());
    ok(iam(&dir, &r, "DeleteUser", &[("UserName", "quin")]));
    assert!(dir
        .lookup_key(&skey, Some(&token), SystemTime::now())
        .is_err());
    // A new user of the same name does not bring it back.
    ok(iam(&dir, &r, "CreateUser", &[("UserName", "quin")]));
    assert!(dir
        .lookup_key(&skey, Some(&token), SystemTime::now())
        .is_err());
}

#[test]
fn assume_a_role_in_another_account() {
    let (_d, dir) = open();
    let other = updraft_iam::Caller::root("210987654321");
    let role = "arn:aws:iam::210987654321:role/shared";
    ok(iam(
        &dir,
        &other,
        "CreateRole",
        &[
            ("RoleName", "shared"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    ok(iam(
        &dir,
        &other,
        "PutRolePolicy",
        &[
            ("RoleName", "shared"),
            ("PolicyName", "q"),
            ("PolicyDocument", &allow(&["sqs:*"], "*")),
        ],
    ));
    let (key, _) = user_with_key(&dir, "tess");
    let tess = caller_of(&dir, &key);
    let assume = |who| {
        sts(
            &dir,
            who,
            "AssumeRole",
            &[("RoleArn", role), ("RoleSessionName", "x-acct")],
        )
    };
    // The trust policy grants the account; the user's own policies must too.
    err(assume(&tess), 403, "AccessDenied");
    ok(iam(
        &dir,
        &root(),
        "PutUserPolicy",
        &[
            ("UserName", "tess"),
            ("PolicyName", "a"),
            ("PolicyDocument", &allow(&["sts:AssumeRole"], role)),
        ],
    ));
    let body = ok(assume(&tess));
    assert_eq!(
        texts(&body, "Arn"),
        ["arn:aws:sts::210987654321:assumed-role/shared/x-acct"]
    );
    let session = dir
        .lookup_key(
            &text(&body, "AccessKeyId").unwrap(),
            Some(&text(&body, "SessionToken").unwrap()),
            SystemTime::now(),
        )
        .unwrap()
        .caller;
    assert_eq!(session.account(), "210987654321");
    let body = ok(sts(&dir, &session, "GetCallerIdentity", &[]));
    assert_eq!(text(&body, "Account").unwrap(), "210987654321");
    // The trusted account's root may; another account's root may not.
    let own_root = root();
    ok(assume(&own_root));
    let third = updraft_iam::Caller::root("333333333333");
    err(assume(&third), 403, "AccessDenied");
}
