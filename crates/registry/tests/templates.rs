//! Loaded code is released when no version of any function uses it any
//! more: after a code update, a version deletion or a function deletion.

mod common;

use common::{open, zip};
use updraft_api::{CodeUpdate, NewFunction, NewVersion};
use updraft_types::FunctionName;

fn new_function(name: &str, code: &str) -> NewFunction {
    NewFunction {
        name: FunctionName::new(name).unwrap(),
        runtime: "test".into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        handler: None,
        description: String::new(),
        memory_size: 128,
        timeout: 3,
        environment: Default::default(),
        zip: zip(code),
        s3: None,
        publish: false,
        tags: Default::default(),
        dead_letter_target_arn: None,
        ephemeral_storage: 512,
    }
}

fn update(code: &str) -> CodeUpdate {
    CodeUpdate {
        zip: zip(code),
        s3: None,
        publish: false,
        dry_run: false,
        revision_id: None,
    }
}

#[tokio::test]
async fn templates_are_released_when_no_version_uses_their_code() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path());
    let a = registry.create_function(new_function("f", "A")).unwrap();
    let other = registry.create_function(new_function("g", "A")).unwrap();
    registry.template(&a).unwrap();
    assert!(
        registry.loaded_template(&other).is_some(),
        "same code, one template"
    );
    assert_eq!(registry.loaded_templates(), 1);

    // g still runs code A.
    let b = registry.update_code("f", update("B")).unwrap();
    assert_eq!(registry.loaded_templates(), 1);
    registry.template(&b).unwrap();
    assert_eq!(registry.loaded_templates(), 2);
    registry.delete_function("g", None).unwrap();
    assert_eq!(registry.loaded_templates(), 1, "A is released");
    assert!(registry.loaded_template(&a).is_none());

    // A published version keeps its code loaded after $LATEST moves on.
    let v1 = registry
        .publish_version("f", NewVersion::default())
        .unwrap();
    let c = registry.update_code("f", update("C")).unwrap();
    registry.template(&c).unwrap();
    assert!(registry.loaded_template(&v1).is_some(), "version 1 runs B");
    assert_eq!(registry.loaded_templates(), 2);
    registry.delete_function("f", Some("1")).unwrap();
    assert_eq!(registry.loaded_templates(), 1, "B is released");

    registry.delete_function("f", None).unwrap();
    assert_eq!(registry.loaded_templates(), 0);
}
