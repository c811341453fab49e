//! A full disk: what the journal cannot take is held in memory up to
//! `max_buffered` records, the newest beyond that are dropped and counted,
//! and once the disk has room again the held records are written and
//! metering goes on with nothing else lost.
//!
//! The disk fills in three ways: in process, the journal's directory is
//! replaced by a file (no segment can be made; the store still works);
//! in a child process, a file size limit of 0 (`RLIMIT_FSIZE`) makes the
//! kernel refuse every write that would grow a file, the journal's and
//! the store's alike (EFBIG); and in a child in its own mount namespace,
//! a tmpfs filled to the last page (ENOSPC), skipped where mounting is
//! not permitted.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span;
use updraft_metering::{Metering, MeteringConfig, UsageGroup, UsageQuery, UsageRecord, LOG_EVERY};

use super::{manual, record, store_in, stored};

/// The records held in memory at most, in these tests.
const CAP: u64 = 200;

/// Small segments (a few dozen records each), so the journal needs new
/// ones soon, and a small memory bound.
fn config() -> MeteringConfig {
    MeteringConfig {
        segment_bytes: 4096,
        max_buffered: CAP as usize,
        ..manual()
    }
}

#[test]
fn records_beyond_the_cap_are_dropped_counted_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let m = Metering::open_with(dir.path(), store.clone(), config()).unwrap();
    let records: Vec<UsageRecord> = (0..1000).map(record).collect();
    let logs = Logs::default();

    // No segment can be made: the journal's directory is a file now. The
    // segment already mapped stays usable, as on a full disk.
    let journal = dir.path().join("usage-journal");
    let away = dir.path().join("usage-journal.away");
    std::fs::rename(&journal, &away).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let started = Instant::now();
    tracing::subscriber::with_default(logs.clone(), || {
        for r in &records[..600] {
            m.record(r);
            assert!(m.stats().buffered <= CAP, "{:?}", m.stats());
        }
    });
    let outage = m.stats();
    let journaled = 600 - outage.journal_errors;
    assert!(outage.journal_errors > CAP, "{outage:?}");
    assert_eq!(outage.buffered, CAP, "held in memory: the cap, no more");
    assert_eq!(
        outage.dropped,
        outage.journal_errors - CAP,
        "every record beyond the cap is dropped, and counted"
    );
    assert_eq!((outage.recorded, outage.stored), (600, 0));
    let drops = logs.matching("usage records dropped");
    assert!(
        (1..=logged_at_most(started)).contains(&(drops.len() as u64)),
        "one warning per {LOG_EVERY:?}, not one per record: {drops:?}"
    );
    assert_eq!(drops[0].fields["dropped"], "1", "logged at the first drop");
    assert_eq!(drops[0].level, tracing::Level::WARN);
    assert!(
        logs.matching("could not make a usage journal segment")
            .len() as u64
            <= 1
    );

    // The store still works: a flush stores what is held (the journal
    // still cannot take it), and there is room again.
    m.flush().unwrap();
    let s = m.stats();
    assert_eq!((s.buffered, s.stored), (0, CAP));
    for r in &records[600..700] {
        m.record(r);
    }
    let s = m.stats();
    assert_eq!(
        (s.buffered, s.journal_errors),
        (100, outage.journal_errors + 100)
    );
    assert_eq!(s.dropped, outage.dropped, "held, not dropped");

    // Room on the disk again: the held records go into the journal, the
    // full segment is sealed, everything is stored.
    std::fs::remove_file(&journal).unwrap();
    std::fs::rename(&away, &journal).unwrap();
    tracing::subscriber::with_default(logs.clone(), || m.flush().unwrap());
    let recovered = logs.matching("the usage journal can be written again");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(
        recovered[0].fields["dropped_total"],
        outage.dropped.to_string()
    );
    let s = m.stats();
    assert_eq!(s.buffered, 0);
    assert_eq!(s.stored, 700 - outage.dropped);
    let kept: Vec<UsageRecord> = records[..(journaled + CAP) as usize]
        .iter()
        .chain(&records[600..700])
        .cloned()
        .collect();
    assert_eq!(
        stored(&*store),
        kept,
        "the newest records of the outage were dropped, the rest stored once"
    );

    // Recording goes on through the journal: a crash loses nothing more.
    for r in &records[700..] {
        m.record(r);
    }
    assert_eq!(m.stats().journal_errors, s.journal_errors);
    m.abandon();
    let m = Metering::open_with(dir.path(), store.clone(), config()).unwrap();
    assert_eq!(m.stats().stored, 300, "replayed from the journal");
    let totals = m
        .report(&UsageQuery::default(), UsageGroup::None)
        .unwrap()
        .totals;
    assert_eq!(totals.requests, 1000 - outage.dropped);
    assert_eq!(totals.billed_ms, 2 * (1000 - outage.dropped));
}

/// The warnings a rate limit of one per [`LOG_EVERY`] allows since
/// `started`.
fn logged_at_most(started: Instant) -> u64 {
    1 + started.elapsed().as_secs() / LOG_EVERY.as_secs()
}

/// Meters through a full disk (between `fill` and `free`) on which the
/// store cannot commit either.
fn through_a_full_disk(dir: &Path, fill: &dyn Fn(), free: &dyn Fn()) {
    let store = store_in(dir);
    let m = Metering::open_with(dir, store.clone(), config()).unwrap();
    let records: Vec<UsageRecord> = (0..2000).map(record).collect();
    for r in &records[..100] {
        m.record(r);
    }
    m.flush().unwrap();
    let logs = Logs::default();

    fill();
    let started = Instant::now();
    tracing::subscriber::with_default(logs.clone(), || {
        for (i, r) in records[100..1500].iter().enumerate() {
            m.record(r);
            assert!(m.stats().buffered <= CAP, "{:?}", m.stats());
            if i % 250 == 249 {
                m.flush().expect_err("the store cannot commit either");
                assert!(m.stats().buffered <= CAP, "{:?}", m.stats());
            }
        }
    });
    let outage = m.stats();
    assert!(outage.journal_errors > CAP, "{outage:?}");
    assert!(outage.store_errors > 0, "{outage:?}");
    assert_eq!((outage.recorded, outage.stored), (1500, 100));
    assert_eq!(outage.buffered, CAP, "held in memory: the cap, no more");
    assert_eq!(
        outage.dropped,
        outage.journal_errors - CAP,
        "every record beyond the cap is dropped, and counted"
    );
    let bound = logged_at_most(started);
    for (what, at_least) in [
        ("usage records dropped", 1),
        ("could not make a usage journal segment", 1),
        ("could not store usage records", 1),
    ] {
        let n = logs.matching(what).len() as u64;
        assert!(
            (at_least..=bound).contains(&n),
            "{what}: {n} lines, one per {LOG_EVERY:?} expected"
        );
    }

    free();
    tracing::subscriber::with_default(logs.clone(), || m.flush().unwrap());
    let recovered = logs.matching("the usage journal can be written again");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(
        recovered[0].fields["dropped_total"],
        outage.dropped.to_string()
    );
    let s = m.stats();
    assert_eq!(s.buffered, 0);
    assert_eq!(s.stored, 1500 - outage.dropped);
    let kept = (1500 - outage.dropped) as usize;
    assert_eq!(
        stored(&*store),
        records[..kept],
        "the newest records of the outage were dropped, the rest stored once"
    );

    for r in &records[1500..] {
        m.record(r);
    }
    assert_eq!(
        m.stats().journal_errors,
        outage.journal_errors,
        "the journal takes records again"
    );
    m.abandon(); // a crash: only the journal has the last 500
    let m = Metering::open_with(dir, store.clone(), config()).unwrap();
    assert_eq!(m.stats().stored, 500, "replayed from the journal");
    let totals = m
        .report(&UsageQuery::default(), UsageGroup::None)
        .unwrap()
        .totals;
    assert_eq!(totals.requests, 2000 - outage.dropped);
    assert_eq!(totals.billed_ms, 2 * (2000 - outage.dropped));
    println!("through a full disk: {} records dropped", outage.dropped);
}

// ---------------------------------------------------------------------------
// Child processes: a file size limit and a mount namespace are the
// process's, so these run in a child (this test binary, running `child`).

const CHILD_DIR: &str = "UPDRAFT_METERING_TEST_FULL_DISK_DIR";
const CHILD_MODE: &str = "UPDRAFT_METERING_TEST_FULL_DISK_MODE";

#[test]
fn child() {
    let (Ok(dir), Ok(mode)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_MODE)) else {
        return; // only runs as the child of the tests below
    };
    let dir = Path::new(&dir);
    match mode.as_str() {
        "fsize" => {
            use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
            let before = getrlimit(Resource::Fsize);
            let full = Rlimit {
                current: Some(0),
                maximum: before.maximum,
            };
            through_a_full_disk(dir, &|| setrlimit(Resource::Fsize, full).unwrap(), &|| {
                setrlimit(Resource::Fsize, before).unwrap()
            });
        }
        "tmpfs" => {
            let mnt = dir.join("tmpfs");
            std::fs::create_dir(&mnt).unwrap();
            if let Err(e) = rustix::mount::mount(
                "tmpfs",
                &mnt,
                "tmpfs",
                rustix::mount::MountFlags::empty(),
                c"size=4m,mode=0700",
            ) {
                println!("skipped: cannot mount a tmpfs: {e}");
                return;
            }
            let filler = mnt.join("filler");
            through_a_full_disk(&mnt, &|| fill_up(&filler), &|| {
                std::fs::remove_file(&filler).unwrap()
            });
        }
        other => panic!("{other}: no such mode"),
    }
}

/// Writes `path` until its filesystem has no page left.
fn fill_up(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let page = [0xa5u8; 4096];
    loop {
        match file.write(&page) {
            Ok(0) => panic!("a write of nothing"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::StorageFull => return,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

/// Runs `child` in `mode` through `wrapper` (a command that runs the
/// rest of its arguments).
fn run_child(mode: &str, wrapper: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(wrapper[0])
        .args(&wrapper[1..])
        .arg(exe)
        .args([
            "full_disk::child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_MODE, mode)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{mode}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The child's line that starts with `start` (the test harness may have
/// written the test's name before it).
fn said<'a>(stdout: &'a str, start: &str) -> Option<&'a str> {
    stdout
        .lines()
        .find_map(|l| l.find(start).map(|at| &l[at..]))
}

/// Passes on what the child said it did, which it must have said.
fn report(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    match said(&stdout, "through a full disk:") {
        Some(line) => eprintln!("{line}"),
        None => panic!("the child did not get through: {stdout}"),
    }
}

#[test]
fn a_file_size_limit_fails_the_journal_and_the_store() {
    // The kernel signals SIGXFSZ where it refuses a write for the limit;
    // ignored (and so inherited through exec), the write fails with EFBIG.
    let out = run_child("fsize", &["sh", "-c", r#"trap '' XFSZ; exec "$0" "$@""#]);
    report(&out);
}

#[test]
fn a_full_tmpfs_fails_the_journal_and_the_store() {
    let private = ["unshare", "--mount", "--propagation", "private"];
    let probe = Command::new(private[0])
        .args(&private[1..])
        .arg("true")
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: no private mount namespace for a tmpfs here ({probe:?}); \
             a_file_size_limit_fails_the_journal_and_the_store covers a full disk"
        );
        return;
    }
    let out = run_child("tmpfs", &private);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = said(&stdout, "skipped:") {
        eprintln!("{line}");
        return;
    }
    report(&out);
}

// ---------------------------------------------------------------------------

/// The events logged on the threads it is the default subscriber of.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<Logged>>>);

#[derive(Debug, Clone)]
struct Logged {
    level: tracing::Level,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Logs {
    fn matching(&self, message: &str) -> Vec<Logged> {
        let logged = self.0.lock().unwrap();
        logged
            .iter()
            .filter(|l| l.message.contains(message))
            .cloned()
            .collect()
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}
