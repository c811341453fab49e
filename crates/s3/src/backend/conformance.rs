//! The conformance suite every [`Backend`] passes.
//!
//! Each check takes a fresh, empty backend and asserts one part of the
//! contract in [`crate::backend`]; [`run_all`] runs them all, each on a new
//! backend from the factory it is given:
//!
//! ```text
//! #[test]
//! fn conformance() {
//!     updraft_s3::backend::conformance::run_all(&|| Box::new(MyBackend::open_temp()));
//! }
//! ```
//!
//! Checks panic on the first violation; the running check's name is
//! printed first so a failure can be placed.

use std::io::Read;

use crate::backend::{
    Backend, BackendError, BlobRef, BucketRecord, BucketUsage, ObjectMeta, ObjectRecord,
    PartRecord, UploadRecord, VersionCursor, WriteCondition,
};

/// One conformance check: its name and the function that runs it.
pub type Check = (&'static str, fn(&dyn Backend));

/// Every check, in the order [`run_all`] runs them.
pub const CHECKS: &[Check] = &[
    ("buckets", buckets),
    ("blobs_round_trip", blobs_round_trip),
    ("put_replaces_same_version", put_replaces_same_version),
    ("versions_newest_first", versions_newest_first),
    ("write_conditions", write_conditions),
    ("list_objects_latest_only", list_objects_latest_only),
    ("multipart", multipart),
    ("bucket_configs", bucket_configs),
    (
        "usage_counts_versions_and_parts",
        usage_counts_versions_and_parts,
    ),
];

/// Runs every check, each on a fresh backend from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Backend>) {
    for (name, check) in CHECKS {
        eprintln!("backend conformance: {name}");
        let backend = make();
        check(backend.as_ref());
    }
}

/// A bucket record for checks.
pub fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.to_string(),
        owner: "111122223333".to_string(),
        region: "us-east-1".to_string(),
        created_ms: 1_700_000_000_000,
    }
}

/// Writes `bytes` as a finished blob.
pub fn blob(b: &dyn Backend, bytes: &[u8]) -> BlobRef {
    let mut w = b.create_blob().expect("create blob");
    for chunk in bytes.chunks(7) {
        w.write(chunk).expect("write blob");
    }
    w.finish().expect("finish blob")
}

/// Reads a whole blob.
pub fn read(b: &dyn Backend, blob: &BlobRef) -> Vec<u8> {
    let mut out = Vec::new();
    b.read_blob(blob)
        .expect("open blob")
        .read_to_end(&mut out)
        .expect("read blob");
    out
}

/// An object version naming `blobs`.
pub fn object(key: &str, version: &str, blobs: Vec<BlobRef>) -> ObjectRecord {
    ObjectRecord {
        key: key.to_string(),
        version_id: version.to_string(),
        seq: 0,
        delete_marker: false,
        size: blobs.iter().map(|b| b.size).sum(),
        etag: format!("etag-{key}-{version}"),
        last_modified_ms: 1_700_000_000_000,
        meta: ObjectMeta::default(),
        blobs,
    }
}

pub fn buckets(b: &dyn Backend) {
    b.create_bucket(&bucket("b1")).expect("create");
    b.create_bucket(&bucket("a1")).expect("create");
    assert!(matches!(
        b.create_bucket(&bucket("b1")),
        Err(BackendError::Conflict(_))
    ));
    let names: Vec<String> = b
        .list_buckets()
        .expect("list")
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(names, ["a1", "b1"]);
    assert_eq!(b.bucket("b1").expect("get"), Some(bucket("b1")));
    let blob = blob(b, b"x");
    b.put_object(
        "b1",
        object("k", "null", vec![blob]),
        WriteCondition::Always,
    )
    .expect("put");
    assert!(matches!(
        b.delete_bucket("b1"),
        Err(BackendError::NotEmpty(_))
    ));
    b.delete_version("b1", "k", "null").expect("delete version");
    b.delete_bucket("b1").expect("delete");
    assert!(matches!(
        b.delete_bucket("b1"),
        Err(BackendError::NotFound(_))
    ));
    assert_eq!(b.bucket("b1").expect("get"), None);
}

pub fn blobs_round_trip(b: &dyn Backend) {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let blob = blob(b, &data);
    assert_eq!(blob.size, data.len() as u64);
    assert_eq!(read(b, &blob), data);
    b.discard_blob(&blob).expect("discard");
    assert!(matches!(b.read_blob(&blob), Err(BackendError::NotFound(_))));
    // A writer dropped unfinished leaves nothing behind to read.
    let mut w = b.create_blob().expect("create");
    w.write(b"partial").expect("write");
    drop(w);
}

pub fn put_replaces_same_version(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    let first = blob(b, b"first");
    b.put_object(
        "b",
        object("k", "null", vec![first.clone()]),
        WriteCondition::Always,
    )
    .expect("put");
    let second = blob(b, b"second!");
    let rec = b
        .put_object(
            "b",
            object("k", "null", vec![second.clone()]),
            WriteCondition::Always,
        )
        .expect("put");
    let got = b.object("b", "k", None).expect("get").expect("present");
    assert_eq!(got, rec);
    assert_eq!(read(b, &got.blobs[0]), b"second!");
    assert!(
        matches!(b.read_blob(&first), Err(BackendError::NotFound(_))),
        "the replaced blob is deleted"
    );
    let versions = b.list_versions("b", "", None, 10).expect("versions");
    assert_eq!(versions.len(), 1);
    assert!(matches!(
        b.put_object("nope", object("k", "null", vec![]), WriteCondition::Always),
        Err(BackendError::NotFound(_))
    ));
}

pub fn versions_newest_first(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    for v in ["v1", "v2", "v3"] {
        let blob = blob(b, v.as_bytes());
        b.put_object("b", object("k", v, vec![blob]), WriteCondition::Always)
            .expect("put");
    }
    let blob = blob(b, b"other");
    b.put_object("b", object("a", "x", vec![blob]), WriteCondition::Always)
        .expect("put");
    let all = b.list_versions("b", "", None, 10).expect("list");
    let ids: Vec<(&str, &str)> = all
        .iter()
        .map(|o| (o.key.as_str(), o.version_id.as_str()))
        .collect();
    assert_eq!(ids, [("a", "x"), ("k", "v3"), ("k", "v2"), ("k", "v1")]);
    let after = VersionCursor {
        key: "k".into(),
        seq: Some(all[1].seq),
    };
    let rest = b.list_versions("b", "", Some(&after), 10).expect("list");
    assert_eq!(
        rest.iter()
            .map(|o| o.version_id.as_str())
            .collect::<Vec<_>>(),
        ["v2", "v1"]
    );
    assert_eq!(
        b.object("b", "k", None).expect("get").map(|o| o.version_id),
        Some("v3".into())
    );
    assert_eq!(
        b.object("b", "k", Some("v1")).expect("get").map(|o| o.size),
        Some(2)
    );
    let removed = b
        .delete_version("b", "k", "v3")
        .expect("delete")
        .expect("was there");
    assert_eq!(removed.version_id, "v3");
    assert_eq!(
        b.object("b", "k", None).expect("get").map(|o| o.version_id),
        Some("v2".into())
    );
    assert_eq!(b.delete_version("b", "k", "v3").expect("delete"), None);
}

pub fn write_conditions(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    let one = blob(b, b"1");
    b.put_object(
        "b",
        object("k", "null", vec![one]),
        WriteCondition::IfAbsent,
    )
    .expect("absent");
    let two = blob(b, b"2");
    assert!(matches!(
        b.put_object(
            "b",
            object("k", "null", vec![two.clone()]),
            WriteCondition::IfAbsent
        ),
        Err(BackendError::PreconditionFailed)
    ));
    assert!(matches!(
        b.put_object(
            "b",
            object("k", "null", vec![two.clone()]),
            WriteCondition::IfEtag("nope".into())
        ),
        Err(BackendError::PreconditionFailed)
    ));
    b.put_object(
        "b",
        object("k", "null", vec![two]),
        WriteCondition::IfEtag("etag-k-null".into()),
    )
    .expect("etag matches");
    let mut marker = object("k", "m", vec![]);
    marker.delete_marker = true;
    b.put_object("b", marker, WriteCondition::Always)
        .expect("marker");
    let three = blob(b, b"3");
    b.put_object("b", object("k", "v", vec![three]), WriteCondition::IfAbsent)
        .expect("a delete marker counts as absent");
}

pub fn list_objects_latest_only(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    for key in ["p/a", "p/b", "p/c", "q", "p/é"] {
        let blob = blob(b, key.as_bytes());
        b.put_object("b", object(key, "1", vec![blob]), WriteCondition::Always)
            .expect("put");
    }
    let mut marker = object("p/b", "2", vec![]);
    marker.delete_marker = true;
    b.put_object("b", marker, WriteCondition::Always)
        .expect("marker");
    let keys = |prefix: &str, after: &str, limit| -> Vec<String> {
        b.list_objects("b", prefix, after, limit)
            .expect("list")
            .into_iter()
            .map(|o| o.key)
            .collect()
    };
    assert_eq!(keys("", "", 10), ["p/a", "p/c", "p/é", "q"]);
    assert_eq!(keys("p/", "", 10), ["p/a", "p/c", "p/é"]);
    assert_eq!(keys("p/", "p/a", 1), ["p/c"]);
    assert_eq!(keys("", "p/\u{10FFFF}", 10), ["q"]);
}

pub fn multipart(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    let upload = UploadRecord {
        upload_id: "u1".into(),
        key: "big".into(),
        initiated_ms: 1,
        meta: ObjectMeta::default(),
        initiator: "me".into(),
    };
    b.create_upload("b", &upload).expect("create upload");
    assert_eq!(b.upload("b", "u1").expect("get"), Some(upload.clone()));
    let part = |n: u32, bytes: &[u8]| PartRecord {
        part_number: n,
        etag: format!("p{n}"),
        last_modified_ms: 2,
        blob: blob(b, bytes),
        checksum: None,
    };
    let p1 = part(1, b"one-");
    let replaced = part(2, b"old");
    b.put_part("b", "u1", &p1).expect("part 1");
    b.put_part("b", "u1", &replaced).expect("part 2");
    let p2 = part(2, b"two");
    b.put_part("b", "u1", &p2).expect("part 2 again");
    assert!(matches!(
        b.read_blob(&replaced.blob),
        Err(BackendError::NotFound(_))
    ));
    let p3 = part(3, b"unused");
    b.put_part("b", "u1", &p3).expect("part 3");
    let parts = b.list_parts("b", "u1").expect("parts");
    assert_eq!(parts, vec![p1.clone(), p2.clone(), p3.clone()]);
    assert_eq!(b.list_uploads("b", "", None, 10).expect("uploads").len(), 1);
    let stale = object("big", "null", vec![p1.blob.clone(), replaced.blob.clone()]);
    assert!(
        matches!(
            b.complete_upload("b", "u1", stale, WriteCondition::Always),
            Err(BackendError::Conflict(_))
        ),
        "a replaced part's blob cannot be completed"
    );
    assert!(
        b.upload("b", "u1").expect("get").is_some(),
        "a refused completion keeps the upload"
    );
    let obj = object("big", "null", vec![p1.blob.clone(), p2.blob.clone()]);
    let rec = b
        .complete_upload("b", "u1", obj, WriteCondition::Always)
        .expect("complete");
    assert_eq!(rec.size, 7);
    assert!(
        matches!(b.read_blob(&p3.blob), Err(BackendError::NotFound(_))),
        "unused parts are deleted"
    );
    assert_eq!(read(b, &p1.blob), b"one-");
    assert_eq!(b.upload("b", "u1").expect("get"), None);
    assert!(matches!(
        b.abort_upload("b", "u1"),
        Err(BackendError::NotFound(_))
    ));
    assert!(matches!(
        b.put_part("b", "u1", &part(4, b"late")),
        Err(BackendError::NotFound(_))
    ));
    let u2 = UploadRecord {
        upload_id: "u2".into(),
        ..upload
    };
    b.create_upload("b", &u2).expect("create");
    let p = part(1, b"x");
    b.put_part("b", "u2", &p).expect("part");
    b.abort_upload("b", "u2").expect("abort");
    assert!(matches!(
        b.read_blob(&p.blob),
        Err(BackendError::NotFound(_))
    ));
    assert!(b
        .list_uploads("b", "", None, 10)
        .expect("uploads")
        .is_empty());
}

pub fn bucket_configs(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    assert_eq!(b.bucket_config("b", "policy").expect("get"), None);
    b.set_bucket_config("b", "policy", Some("{}")).expect("set");
    b.set_bucket_config("b", "policy", Some("{\"a\":1}"))
        .expect("set again");
    assert_eq!(
        b.bucket_config("b", "policy").expect("get").as_deref(),
        Some("{\"a\":1}")
    );
    b.set_bucket_config("b", "policy", None).expect("remove");
    assert_eq!(b.bucket_config("b", "policy").expect("get"), None);
    assert!(matches!(
        b.set_bucket_config("x", "policy", Some("{}")),
        Err(BackendError::NotFound(_))
    ));
}

pub fn usage_counts_versions_and_parts(b: &dyn Backend) {
    b.create_bucket(&bucket("b")).expect("create");
    assert_eq!(b.usage("b").expect("usage"), BucketUsage::default());
    let one = blob(b, b"12345");
    b.put_object("b", object("k", "v1", vec![one]), WriteCondition::Always)
        .expect("put");
    let two = blob(b, b"123");
    b.put_object("b", object("k", "v2", vec![two]), WriteCondition::Always)
        .expect("put");
    let three = blob(b, b"1");
    b.put_object(
        "b",
        object("gone", "v1", vec![three]),
        WriteCondition::Always,
    )
    .expect("put");
    let mut marker = object("gone", "m", vec![]);
    marker.delete_marker = true;
    b.put_object("b", marker, WriteCondition::Always)
        .expect("marker");
    let upload = UploadRecord {
        upload_id: "u".into(),
        key: "big".into(),
        initiated_ms: 1,
        meta: ObjectMeta::default(),
        initiator: "me".into(),
    };
    b.create_upload("b", &upload).expect("upload");
    let part = PartRecord {
        part_number: 1,
        etag: "e".into(),
        last_modified_ms: 1,
        blob: blob(b, b"1234567"),
        checksum: None,
    };
    b.put_part("b", "u", &part).expect("part");
    assert_eq!(
        b.usage("b").expect("usage"),
        BucketUsage {
            objects: 1,
            versions: 4,
            bytes: 16
        }
    );
    assert!(matches!(b.usage("nope"), Err(BackendError::NotFound(_))));
}
