//! Loaded code is released when no version of any function uses it any
//! more: after a code update, a version deletion or a function deletion.

mod common;

use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use updraft_api::{CodeUpdate, NewFunction, NewVersion};
use updraft_pool::{
    CodeError, EnvConfig, Environment, FunctionError, LogSink, Protocol, Runtime, Template,
};
use updraft_registry::Registry;
use updraft_types::{CodeArchive, FunctionName};

/// Loads a template that is never started.
struct Loading;

struct Unstartable;

#[async_trait]
impl Template for Unstartable {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }
    async fn start(
        &self,
        _: &EnvConfig,
        _: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError> {
        unreachable!("these tests never start an environment")
    }
}

impl Runtime for Loading {
    fn names(&self) -> &[&str] {
        &["test"]
    }
    fn prepare(&self, _: &str, _: &str, _: &CodeArchive) -> Result<String, CodeError> {
        Ok("event".into())
    }
    fn load(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &dyn Fn() -> Result<CodeArchive, CodeError>,
    ) -> Result<Arc<dyn Template>, CodeError> {
        Ok(Arc::new(Unstartable))
    }
}

fn open(dir: &std::path::Path) -> Registry {
    common::open_with(dir, Arc::new(Loading))
}

fn zip(code: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("main", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(code.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

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
        publish: false,
        tags: Default::default(),
        dead_letter_target_arn: None,
        ephemeral_storage: 512,
    }
}

fn update(code: &str) -> CodeUpdate {
    CodeUpdate {
        zip: zip(code),
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
