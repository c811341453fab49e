//! Function resource policies through the registry, on a SQLite store:
//! AddPermission, RemovePermission, GetPolicy, revisions, qualifiers,
//! what goes with a version, an alias or the function, and what a registry
//! opened again on the same files serves.
//!
//! The functions here are never run.

mod common;

use common::{open, zip};
use serde_json::{json, Value};
use updraft_api::{AddPermissionRequest, LambdaError, NewAlias, NewFunction, NewVersion};
use updraft_registry::{PermissionError, Registry, RegistryError};
use updraft_types::{FunctionName, Qualifier};

fn create(registry: &Registry, name: &str) -> FunctionName {
    let name = FunctionName::new(name).unwrap();
    registry
        .create_function(NewFunction {
            name: name.clone(),
            runtime: "test".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            handler: None,
            description: String::new(),
            memory_size: 128,
            timeout: 3,
            environment: Default::default(),
            zip: zip("code"),
            s3: None,
            publish: false,
            tags: Default::default(),
            dead_letter_target_arn: None,
            ephemeral_storage: 512,
        })
        .unwrap();
    name
}

fn permission(body: Value) -> updraft_api::NewPermission {
    serde_json::from_value::<AddPermissionRequest>(body)
        .unwrap()
        .validate()
        .unwrap()
}

fn allow(sid: &str, principal: &str) -> updraft_api::NewPermission {
    permission(
        json!({"StatementId": sid, "Action": "lambda:InvokeFunction", "Principal": principal}),
    )
}

fn refused(e: PermissionError) -> LambdaError {
    match e {
        PermissionError::Refused(e) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

#[tokio::test]
async fn add_get_and_remove_statements() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let f = create(&registry, "f");

    let none = registry.get_policy(&f, None).unwrap_err();
    assert_eq!(
        refused(none),
        LambdaError::ResourceNotFound("No policy is associated with the given resource.".into())
    );
    assert!(registry.resource_policy(&f, None).is_none());

    let statement = registry
        .add_permission(
            &f,
            None,
            permission(json!({
                "StatementId": "s3",
                "Action": "lambda:InvokeFunction",
                "Principal": "s3.amazonaws.com",
                "SourceArn": "arn:aws:s3:::bucket",
                "SourceAccount": "000000000000",
            })),
        )
        .unwrap();
    let statement: Value = serde_json::from_str(&statement).unwrap();
    assert_eq!(
        statement,
        json!({
            "Sid": "s3", "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": ARN,
            "Condition": {
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
                "StringEquals": {"AWS:SourceAccount": "000000000000"},
            },
        })
    );
    registry
        .add_permission(&f, None, allow("account", "111122223333"))
        .unwrap();

    let view = registry.get_policy(&f, None).unwrap();
    let policy: Value = serde_json::from_str(&view.policy).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Id"], "default");
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["s3", "account"]);
    assert_eq!(
        policy["Statement"][1]["Principal"],
        json!({"AWS": "arn:aws:iam::111122223333:root"})
    );
    let document = registry.resource_policy(&f, None).expect("parsed and kept");
    assert_eq!(document.statement_count(), 2);
    assert!(
        registry.resource_policy(&f, Some("$LATEST")).is_some(),
        "$LATEST is the unqualified function"
    );

    let dup = registry
        .add_permission(&f, None, allow("s3", "*"))
        .unwrap_err();
    assert_eq!(
        refused(dup),
        LambdaError::ResourceConflict(
            "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.".into()
        )
    );

    let missing = registry
        .remove_permission(&f, None, "nope", None)
        .unwrap_err();
    assert_eq!(
        refused(missing),
        LambdaError::ResourceNotFound("Statement nope is not found in resource policy.".into())
    );
    registry.remove_permission(&f, None, "s3", None).unwrap();
    assert_eq!(
        registry
            .resource_policy(&f, None)
            .unwrap()
            .statement_count(),
        1
    );
    registry
        .remove_permission(&f, None, "account", None)
        .unwrap();
    assert!(
        registry.get_policy(&f, None).is_err(),
        "the policy goes with its last statement"
    );
    assert!(registry.resource_policy(&f, None).is_none());
}

#[tokio::test]
async fn revisions_guard_changes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let f = create(&registry, "f");
    let function_revision = registry.get_function("f", None).unwrap().revision_id;

    let mut stale = allow("a", "*");
    stale.revision_id = Some("not-it".into());
    let e = registry.add_permission(&f, None, stale).unwrap_err();
    assert!(
        matches!(
            e,
            PermissionError::Registry(RegistryError::PreconditionFailed(_))
        ),
        "{e:?}"
    );
    let mut first = allow("a", "*");
    first.revision_id = Some(function_revision.clone());
    registry.add_permission(&f, None, first).unwrap();

    let revision = registry.get_policy(&f, None).unwrap().revision_id;
    let mut second = allow("b", "*");
    second.revision_id = Some(function_revision);
    assert!(
        registry.add_permission(&f, None, second).is_err(),
        "once there is a policy, its revision is the one compared"
    );
    assert!(registry
        .remove_permission(&f, None, "a", Some("not-it"))
        .is_err());
    registry
        .remove_permission(&f, None, "a", Some(&revision))
        .unwrap();
}

#[tokio::test]
async fn qualifiers_have_their_own_policies_which_go_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let f = create(&registry, "f");
    registry
        .publish_version(
            "f",
            NewVersion {
                code_sha256: None,
                description: None,
                revision_id: None,
            },
        )
        .unwrap();
    registry
        .create_alias(
            "f",
            NewAlias {
                name: "live".into(),
                function_version: "1".into(),
                description: String::new(),
            },
        )
        .unwrap();
    let live = Qualifier::Alias("live".into());
    let one = Qualifier::Version(1);

    let statement = registry
        .add_permission(&f, Some(&live), allow("live", "*"))
        .unwrap();
    assert!(
        statement.contains(&format!("\"Resource\":\"{ARN}:live\"")),
        "{statement}"
    );
    registry
        .add_permission(&f, Some(&one), allow("one", "*"))
        .unwrap();
    assert!(registry.resource_policy(&f, None).is_none(), "no fallback");
    assert!(registry.get_policy(&f, None).is_err());
    assert_eq!(
        registry.resource_policy(&f, Some("live")).unwrap().sid(0),
        Some("live")
    );
    assert_eq!(
        registry.resource_policy(&f, Some("1")).unwrap().sid(0),
        Some("one")
    );

    let e = registry
        .add_permission(&f, Some(&Qualifier::Alias("beta".into())), allow("x", "*"))
        .unwrap_err();
    assert!(
        matches!(e, PermissionError::Registry(RegistryError::NotFound(_))),
        "{e:?}"
    );
    let e = registry
        .get_policy(&FunctionName::new("g").unwrap(), None)
        .unwrap_err();
    assert!(
        matches!(e, PermissionError::Registry(RegistryError::NotFound(_))),
        "{e:?}"
    );

    registry.delete_alias("f", "live").unwrap();
    assert!(registry.resource_policy(&f, Some("live")).is_none());
    registry
        .create_alias(
            "f",
            NewAlias {
                name: "live".into(),
                function_version: "1".into(),
                description: String::new(),
            },
        )
        .unwrap();
    assert!(
        registry.get_policy(&f, Some(&live)).is_err(),
        "an alias created again starts without a policy"
    );
    registry.delete_alias("f", "live").unwrap();
    registry.delete_function("f", Some("1")).unwrap();
    assert!(
        registry.resource_policy(&f, Some("1")).is_none(),
        "a version's policy goes with it"
    );
}

#[tokio::test]
async fn policies_are_served_after_reopening_and_go_with_the_function() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = open(dir.path());
        let f = create(&registry, "f");
        registry
            .add_permission(&f, None, allow("kept", "111122223333"))
            .unwrap();
    }
    let registry = open(dir.path());
    let f = FunctionName::new("f").unwrap();
    assert_eq!(
        registry.resource_policy(&f, None).unwrap().sid(0),
        Some("kept")
    );
    registry.delete_function("f", None).unwrap();
    assert!(registry.resource_policy(&f, None).is_none());
    create(&registry, "f");
    assert!(
        registry.resource_policy(&f, None).is_none(),
        "a function created again starts without a policy"
    );
}
