//! Deployment packages: `updraft_registry::code::unpack` (the zip is read,
//! every entry checked and inflated within limits) and the second check
//! of the unpacked paths in `updraft_runtime_process::check_paths`.
//!
//! Corpus files are zip archives (`valid-*.zip` unpack, `invalid-*.zip`
//! are refused: traversal, absolute paths, links, a bomb, garbage), read
//! with small limits: 1 MiB zipped, 4 MiB unzipped, 64 entries.
//!
//! Properties: unpacking never panics; a refusal has a message; what is
//! accepted stays within the limits, has only relative paths without `..`
//! and no links, and is never refused by the runtime's path check for a
//! reason of safety; an archive written with any names, contents, modes
//! and compression unpacks to those same files.

use std::io::Write as _;

use proptest::prelude::*;
use updraft_fuzz::{assert_message, bytes, config, corpus, corpus_bytes, mutated, watched, Expect};
use updraft_registry::code::{unpack, Limits};
use updraft_types::CodeArchive;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const TARGET: &str = "zip";

fn limits() -> Limits {
    Limits {
        max_zipped: 1 << 20,
        max_unzipped: 4 << 20,
        max_files: 64,
    }
}

/// The oracle for any input.
fn check(input: &[u8]) -> Result<CodeArchive, String> {
    let result = watched(TARGET, input, || unpack(input, &limits()));
    match &result {
        Err(message) => assert_message(TARGET, input, message),
        Ok(archive) => {
            let limits = limits();
            assert!(archive.files.len() <= limits.max_files);
            let total: u64 = archive.files.iter().map(|f| f.data.len() as u64).sum();
            assert!(total <= limits.max_unzipped, "{total} bytes unzipped");
            for f in &archive.files {
                assert!(
                    !f.path.is_empty()
                        && !f.path.starts_with('/')
                        && !f.path.split(['/', '\\']).any(|c| c == ".."),
                    "unsafe path {:?} accepted",
                    f.path
                );
                assert!(
                    f.mode.is_none_or(|m| m & 0o170000 != 0o120000),
                    "link {:?} accepted",
                    f.path
                );
            }
            // The runtime checks again. It may refuse duplicates, a file
            // that is also a directory, or an entry whose mode names
            // another file type than a regular file or a link (a FIFO, a
            // device, a directory), or a name with a backslash (a plain
            // character on Linux, which the runtime refuses anyway): the
            // registry lets those through, see FUZZING.md. Never a path
            // the registry let through as safe.
            if let Err(e) = updraft_runtime_process::check_paths(archive) {
                let backslash = archive.files.iter().any(|f| f.path.contains('\\'));
                assert!(
                    e.0.contains("twice")
                        || e.0.contains("both as a file and as a directory")
                        || e.0.contains("is not a regular file")
                        || (backslash && e.0.contains("unsafe path")),
                    "the registry accepted what the runtime calls unsafe: {}",
                    e.0
                );
            }
        }
    }
    result
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let result = check(&seed.bytes);
        match seed.expect() {
            Expect::Valid => assert!(result.is_ok(), "{}: {result:?}", seed.name),
            Expect::Invalid => assert!(result.is_err(), "{}: accepted", seed.name),
            Expect::Any => {}
        }
    }
}

/// Found by `mutated_archives_unpack_safely_or_are_refused`: an entry
/// with an empty name unpacked to the path `""`, and one named
/// `./app.py` to `./app.py`, both of which the process runtime then
/// refused as unsafe. The empty name is now refused, `.` parts dropped.
#[test]
fn regress_empty_and_dot_names() {
    let seed = corpus(TARGET)
        .into_iter()
        .find(|s| s.name == "regress-empty-entry-name.zip")
        .expect("the corpus file");
    let err = check(&seed.bytes).expect_err("an entry without a name is refused");
    assert!(err.contains("without a file name"), "{err}");

    for (name, path) in [
        ("./app.py", "app.py"),
        ("a/./b.py", "a/b.py"),
        ("./d/./e.py", "d/e.py"),
    ] {
        let zip = write_zip(&[Entry {
            name: name.into(),
            data: b"x".to_vec(),
            mode: 0o644,
            deflate: false,
        }]);
        let archive = check(&zip).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(archive.files[0].path, path);
    }
    for name in ["", "."] {
        let zip = write_zip(&[Entry {
            name: name.into(),
            data: b"x".to_vec(),
            mode: 0o644,
            deflate: false,
        }]);
        assert!(check(&zip).is_err(), "{name:?} accepted");
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    data: Vec<u8>,
    mode: u32,
    deflate: bool,
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let segment = "[A-Za-z0-9_.-]{1,8}".prop_filter("not a dot segment", |s| s != "." && s != "..");
    let name = prop::collection::vec(segment, 1..4).prop_map(|s| s.join("/"));
    let entry = (
        name,
        prop::collection::vec(any::<u8>(), 0..2048),
        prop::sample::select(&[0o644u32, 0o755, 0o600, 0o444][..]),
        any::<bool>(),
    )
        .prop_map(|(name, data, mode, deflate)| Entry {
            name,
            data,
            mode,
            deflate,
        });
    prop::collection::vec(entry, 0..8).prop_map(|mut entries| {
        // One entry per name, and no name that is also another's directory.
        let mut seen: Vec<String> = Vec::new();
        entries.retain(|e| {
            let clash = seen.iter().any(|s| {
                s == &e.name
                    || s.starts_with(&format!("{}/", e.name))
                    || e.name.starts_with(&format!("{s}/"))
            });
            if !clash {
                seen.push(e.name.clone());
            }
            !clash
        });
        entries
    })
}

fn write_zip(entries: &[Entry]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for e in entries {
        let options = SimpleFileOptions::default()
            .compression_method(if e.deflate {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            })
            .unix_permissions(e.mode);
        w.start_file(e.name.as_str(), options).expect("start_file");
        w.write_all(&e.data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_are_refused_cleanly(input in bytes(1024)) {
        check(&input).ok();
    }

    #[test]
    fn mutated_archives_unpack_safely_or_are_refused(input in mutated(corpus_bytes(TARGET, ".zip"))) {
        check(&input).ok();
    }

    #[test]
    fn written_archives_unpack_to_their_files(entries in entries()) {
        let zip = write_zip(&entries);
        let archive = match check(&zip) {
            Ok(a) => a,
            Err(e) => return Err(TestCaseError::fail(format!("{entries:?}: {e}"))),
        };
        prop_assert_eq!(archive.files.len(), entries.len());
        for (e, f) in entries.iter().zip(&archive.files) {
            prop_assert_eq!(&f.path, &e.name);
            prop_assert_eq!(f.data.as_ref(), e.data.as_slice());
            prop_assert_eq!(f.mode.map(|m| m & 0o777), Some(e.mode));
        }
        prop_assert!(updraft_runtime_process::check_paths(&archive).is_ok());
    }
}
