//! Generators, oracles and the committed corpus shared by updraft's fuzz
//! targets.
//!
//! The targets themselves are thin and live in `tests/all/` (one module per
//! target, one test binary). Each target:
//!
//! 1. replays every file of its corpus directory `corpus/<target>/`
//!    ([`corpus`]): real, valid examples (`valid-*`, which must still be
//!    accepted), known-bad ones (`invalid-*`, which must be refused with a
//!    message) and inputs that once crashed (`regress-*`, which also have
//!    a named test);
//! 2. runs proptest properties over generated inputs: random bytes, the
//!    seeds mutated byte by byte ([`mutated`]), and structured but hostile
//!    values ([`json`], [`hostile_string`]).
//!
//! ```text
//!  corpus/<target>/*  ──replay──────────────┐
//!        │                                 ├─> target under test ─> oracle
//!        └─ mutated() ─┐                   │    (in watched())       (no panic, error has a
//!  json(), bytes ... ──┴─ proptest cases ──┘                         message, round trips hold)
//! ```
//!
//! How many generated cases each property runs is [`cases`]: the
//! `UPDRAFT_FUZZ_CASES` environment variable, [`DEFAULT_CASES`] when unset
//! (sized so that the whole crate's tests stay well under a minute in a
//! debug build on two cores). Cases come from a fixed seed unless
//! `UPDRAFT_FUZZ_SEED` names another (`random` for a fresh one each run),
//! so CI is reproducible and longer sessions can explore further. Every
//! case runs [`watched`]: one that takes longer than
//! `UPDRAFT_FUZZ_CASE_MS` (default 20 s) saves its input and aborts the
//! run, so a hang is reported instead of stalling CI.
//!
//! This crate is test tooling: unlike updraft's libraries, it reads those
//! environment variables itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Number, Value};

/// Generated cases per property when `UPDRAFT_FUZZ_CASES` is unset.
pub const DEFAULT_CASES: u32 = 128;

/// The seed generated cases come from when `UPDRAFT_FUZZ_SEED` is unset.
pub const DEFAULT_SEED: u64 = 0x5eed_f022_2026_1203;

/// Generated cases per property: `UPDRAFT_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("UPDRAFT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The proptest configuration of a property that runs `cases() / divisor`
/// cases (at least one): targets whose single case is expensive (compiling
/// WebAssembly) divide.
pub fn config(divisor: u32) -> Config {
    let rng_seed = match std::env::var("UPDRAFT_FUZZ_SEED") {
        Ok(s) if s.trim() == "random" => RngSeed::Random,
        Ok(s) => RngSeed::Fixed(s.trim().parse().unwrap_or(DEFAULT_SEED)),
        Err(_) => RngSeed::Fixed(DEFAULT_SEED),
    };
    Config {
        cases: (cases() / divisor.max(1)).max(1),
        // The corpus is the persistence: a failure found here is added to
        // it by hand, with a named test.
        failure_persistence: None,
        max_shrink_time: 60_000,
        rng_seed,
        ..Config::default()
    }
}

// ---------------------------------------------------------------- corpus

/// One committed input.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The file name, which says what is expected of it ([`Expect`]).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a corpus file's name says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `valid-*`: a real, well-formed example; it must be accepted.
    Valid,
    /// `invalid-*`: it must be refused, with a message.
    Invalid,
    /// Anything else (`regress-*`, `seed-*`): it must not crash or hang.
    Any,
}

impl Seed {
    pub fn expect(&self) -> Expect {
        if self.name.starts_with("valid-") {
            Expect::Valid
        } else if self.name.starts_with("invalid-") {
            Expect::Invalid
        } else {
            Expect::Any
        }
    }

    /// The bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// `corpus/<target>/` of this crate.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Every file of `corpus/<target>/`, by name. Panics when there is none:
/// a target without seeds is a mistake.
pub fn corpus(target: &str) -> Vec<Seed> {
    let dir = corpus_dir(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading corpus {}: {e}", dir.display()));
    let mut seeds: Vec<Seed> = entries
        .map(|e| {
            let path = e
                .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
                .path();
            Seed {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes: std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
            }
        })
        .collect();
    seeds.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!seeds.is_empty(), "corpus {} is empty", dir.display());
    seeds
}

/// The bytes of the corpus files whose names end with `suffix` (all of
/// them for `""`), to mutate.
pub fn corpus_bytes(target: &str, suffix: &str) -> Vec<Vec<u8>> {
    corpus(target)
        .into_iter()
        .filter(|s| s.name.ends_with(suffix))
        .map(|s| s.bytes)
        .collect()
}

/// Asserts that an error message is there to show: not empty, not only
/// whitespace.
pub fn assert_message(what: &str, input: &[u8], message: &str) {
    assert!(
        !message.trim().is_empty(),
        "{what}: an error with an empty message for input {}",
        escape(input)
    );
}

/// Bytes as a Rust-like escaped string, for failure messages.
pub fn escape(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(2000)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 2000 {
        format!("b\"{shown}\"... ({} bytes)", bytes.len())
    } else {
        format!("b\"{shown}\"")
    }
}

// ---------------------------------------------------------------- watchdog

struct Running {
    target: &'static str,
    started: Instant,
    input: Vec<u8>,
}

/// The cases running now, by test thread.
type Cases = Mutex<HashMap<ThreadId, Running>>;

/// The longest one case may run: `UPDRAFT_FUZZ_CASE_MS`, default 20 s (a
/// debug build on a busy two-core machine).
pub fn case_limit() -> Duration {
    Duration::from_millis(
        std::env::var("UPDRAFT_FUZZ_CASE_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(20_000),
    )
}

/// One watchdog thread for the test binary: it aborts the process when a
/// case has run longer than [`case_limit`], after printing the target and
/// the input and saving the input to a file.
static RUNNING: LazyLock<Arc<Cases>> = LazyLock::new(|| {
    let cases: Arc<Cases> = Arc::default();
    let watched = cases.clone();
    let limit = case_limit();
    std::thread::Builder::new()
        .name("fuzz-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            let running = watched.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hung) = running.values().find(|r| r.started.elapsed() > limit) {
                let path = std::env::temp_dir().join(format!("updraft-fuzz-hang-{}.bin", hung.target));
                let saved = std::fs::write(&path, &hung.input)
                    .map(|()| path.display().to_string())
                    .unwrap_or_else(|e| format!("(not saved: {e})"));
                eprintln!(
                    "fuzz target {}: one case ran longer than {limit:?}; input saved at {saved}: {}",
                    hung.target,
                    escape(&hung.input)
                );
                std::process::abort();
            }
        })
        .expect("spawning the watchdog thread");
    cases
});

/// Runs one case of `target` on `input` under the watchdog: a case that
/// runs longer than [`case_limit`] aborts the test run with its input.
pub fn watched<R>(target: &'static str, input: &[u8], case: impl FnOnce() -> R) -> R {
    /// Takes the case off the list when it ends, by returning or panicking.
    struct Done(ThreadId);
    impl Drop for Done {
        fn drop(&mut self) {
            RUNNING
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&self.0);
        }
    }
    let me = std::thread::current().id();
    RUNNING.lock().unwrap_or_else(|p| p.into_inner()).insert(
        me,
        Running {
            target,
            started: Instant::now(),
            input: input.to_vec(),
        },
    );
    let _done = Done(me);
    case()
}

// ---------------------------------------------------------------- mutation

/// Byte strings that parsers tend to trip on: JSON structure, numbers
/// outside every integer and float type, escapes of invalid code points,
/// invalid UTF-8, percent-encoding, path and wildcard syntax.
pub const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-0",
    b"1e400",
    b"-1e400",
    b"1.7976931348623157e309",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"4294967296",
    b"2147483648",
    b"0.1e-400",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\0",
    b"%",
    b"%zz",
    b"%00",
    b"%ff",
    b"%2F",
    b"%252F",
    b"+",
    b"&",
    b"=",
    b"..",
    b"/../",
    b"//",
    b"*",
    b"**",
    b"?",
    b"#",
    b"$",
    b"${",
    b"${aws:username}",
    b"\r\n",
    b"\n",
    b" ",
    b"\t",
    "\u{e9}".as_bytes(),
    "\u{1f600}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{feff}".as_bytes(),
    b"-",
    b"/",
    b"L",
    b"W",
    b"#5",
    b"9999",
    b"/0",
    b".",
];

/// One edit of a byte string; positions are taken modulo its length.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit of one byte.
    Flip(Index, u8),
    /// Overwrite one byte.
    Set(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Insert one of [`TOKENS`].
    Token(Index, Index),
    /// Delete up to `n` bytes.
    Delete(Index, u16),
    /// Repeat a run of up to 16 bytes `n` times (long strings, huge
    /// numbers, deep nesting).
    Repeat(Index, u8, u16),
    /// Replace from here with a part of another seed.
    Splice(Index, Index, Index),
    /// Cut the input short.
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Token(i, t)),
        2 => (any::<Index>(), 1u16..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1u8..16, 2u16..2000).prop_map(|(i, l, n)| Mutation::Repeat(i, l, n)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(i, s, f)| Mutation::Splice(i, s, f)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `edits` to `input`; `seeds` feed [`Mutation::Splice`].
pub fn apply(input: &[u8], edits: &[Mutation], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    // Positions may be one past the end (inserting at the end).
    let at = |i: &Index, len: usize| i.index(len + 1);
    for edit in edits {
        match edit {
            Mutation::Flip(i, bit) if !out.is_empty() => {
                let p = i.index(out.len());
                out[p] ^= 1 << bit;
            }
            Mutation::Set(i, b) if !out.is_empty() => {
                let p = i.index(out.len());
                out[p] = *b;
            }
            Mutation::Insert(i, bytes) => {
                let p = at(i, out.len());
                out.splice(p..p, bytes.iter().copied());
            }
            Mutation::Token(i, t) => {
                let p = at(i, out.len());
                out.splice(p..p, t.get(TOKENS).iter().copied());
            }
            Mutation::Delete(i, n) if !out.is_empty() => {
                let p = i.index(out.len());
                let end = (p + usize::from(*n)).min(out.len());
                out.drain(p..end);
            }
            Mutation::Repeat(i, len, n) if !out.is_empty() => {
                let p = i.index(out.len());
                let end = (p + usize::from(*len)).min(out.len());
                let run = out[p..end].to_vec();
                let copies: Vec<u8> = run.repeat(usize::from(*n));
                out.splice(end..end, copies);
            }
            Mutation::Splice(i, s, f) if !seeds.is_empty() => {
                let other = s.get(seeds);
                if !other.is_empty() {
                    let p = at(i, out.len());
                    let from = f.index(other.len());
                    out.truncate(p);
                    out.extend_from_slice(&other[from..]);
                }
            }
            Mutation::Truncate(i) => {
                let p = at(i, out.len());
                out.truncate(p);
            }
            _ => {}
        }
    }
    out
}

/// A seed picked from `seeds`, then edited 0 to 8 times. Shrinking removes
/// edits, so a failure shrinks towards the seed it came from.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    mutated_indexed(seeds).prop_map(|(_, bytes)| bytes)
}

/// As [`mutated`], with the index of the seed the input came from (for
/// properties that compare the result with the seed's).
pub fn mutated_indexed(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = (usize, Vec<u8>)> {
    assert!(!seeds.is_empty(), "mutated() needs at least one seed");
    let seeds = Arc::new(seeds);
    (any::<Index>(), prop::collection::vec(mutation(), 0..8)).prop_map(move |(pick, edits)| {
        let i = pick.index(seeds.len());
        (i, apply(&seeds[i], &edits, &seeds))
    })
}

/// Random bytes, up to `max` long.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

// ---------------------------------------------------------------- text

/// Strings that have broken validators: empty, whitespace, control
/// characters, any Unicode, very long, and a few with meaning to updraft.
pub fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just(String::new()),
        4 => "\\PC{0,24}",
        3 => "[ -~]{0,24}",
        2 => "[\\x00-\\x1f\\x7f ]{1,4}",
        1 => ("\\PC{1,4}", 100usize..3000).prop_map(|(s, n)| s.repeat(n)),
        3 => select(SPECIAL_STRINGS).prop_map(str::to_string),
    ]
    .boxed()
}

/// Strings with a meaning somewhere in updraft.
pub const SPECIAL_STRINGS: &[&str] = &[
    " ",
    "$LATEST",
    "..",
    "../../etc/passwd",
    "/",
    "*",
    "?",
    "%00",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "\u{1f600}",
    "null",
    "true",
    "0",
    "-1",
    "${aws:username}",
    "${",
    "arn:aws:lambda:us-east-1:000000000000:function:f",
    "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
    "arn:aws:sqs:us-east-1:000000000000:q",
    "arn:aws:iam::000000000000:role/r",
    "AKIAUPDRAFTTEST00001",
    "x86_64",
    "Zip",
    "wasm",
    "python3.12",
    "provided.al2023",
    "NONE",
    "AWS_IAM",
    "BUFFERED",
];

// ---------------------------------------------------------------- JSON

/// Integers at the edges of updraft's ranges and of the integer types.
const EDGE_INTEGERS: &[i64] = &[
    0,
    -1,
    1,
    127,
    128,
    900,
    901,
    10_240,
    10_241,
    i32::MAX as i64,
    i32::MAX as i64 + 1,
    u32::MAX as i64,
    u32::MAX as i64 + 1,
    i64::MIN,
    i64::MAX,
];

/// Numbers at the edges: zero, extremes of every integer type, tiny and
/// huge floats.
pub fn json_number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        select(EDGE_INTEGERS).prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(
            &[
                0.5f64,
                -0.0,
                1e-300,
                1e300,
                f64::MAX,
                f64::MIN_POSITIVE,
                128.0
            ][..]
        )
        .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
    .boxed()
}

/// Any JSON value, up to a few levels deep, with hostile leaves.
pub fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => json_number(),
        4 => hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((hostile_string(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// JSON text no `Value` can hold: numbers beyond `f64`, raw invalid
/// escapes, and nesting far deeper than any parser's limit.
pub fn raw_json() -> BoxedStrategy<String> {
    prop_oneof![
        6 => json().prop_map(|v| v.to_string()),
        2 => select(&[
            "1e400", "-1e400", "18446744073709551616", "-9223372036854775809",
            "0.1e-400", "1.0", "-0", "1E+2", "\"\\ud800\"", "\"\\u0000\"",
            "\"\\udfff\\ud800\"", "[]", "{}", "[null]", "{\"\":null}",
        ][..])
        .prop_map(str::to_string),
        1 => deep_nesting(),
    ]
    .boxed()
}

/// Arrays or objects nested 100 to 20,000 levels deep (serde_json stops
/// at 128; nothing may overflow the stack).
pub fn deep_nesting() -> BoxedStrategy<String> {
    (100usize..20_000, any::<bool>())
        .prop_map(|(depth, arrays)| {
            if arrays {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            }
        })
        .boxed()
}

/// A JSON object whose members are taken from `paths`, with hostile
/// values: what gets past `deny_unknown_fields` and reaches validation.
///
/// A path is dotted for nested objects and names the member's JSON type
/// after a colon: `Code.ZipFile:s` (string), `Timeout:i` (number),
/// `Publish:b` (boolean), `Tags:m` (object of strings), `Layers:a` (array
/// of strings), `ImageConfig:v` (anything). Three members in four get a
/// value of their type (so validation is reached), the rest any JSON
/// text at all (type confusion, numbers beyond `f64`, deep nesting).
pub fn shaped(paths: &'static [&'static str]) -> BoxedStrategy<String> {
    let member = (select(paths), 0u8..4).prop_flat_map(|(path, dice)| {
        let (name, kind) = path.split_once(':').unwrap_or((path, "v"));
        let value = if dice == 0 {
            raw_json()
        } else {
            typed_value(kind.chars().next().unwrap_or('v'))
        };
        value.prop_map(move |v| (name, v))
    });
    prop::collection::vec(member, 0..10)
        .prop_map(|members| nested_object(&members))
        .boxed()
}

/// JSON text of a value of `kind` (see [`shaped`]).
fn typed_value(kind: char) -> BoxedStrategy<String> {
    let string = || hostile_string().prop_map(|s| Value::String(s).to_string());
    match kind {
        's' => string().boxed(),
        'i' => json_number().prop_map(|v| v.to_string()).boxed(),
        'b' => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        'm' => prop::collection::btree_map(hostile_string(), hostile_string(), 0..5)
            .prop_map(|m| serde_json::to_string(&m).unwrap_or_default())
            .boxed(),
        'a' => prop::collection::vec(hostile_string(), 0..4)
            .prop_map(|v| serde_json::to_string(&v).unwrap_or_default())
            .boxed(),
        _ => json().prop_map(|v| v.to_string()).boxed(),
    }
}

/// `{"a":{"b":RAW}}` from `[("a.b", "RAW")]`; a later member of the same
/// path replaces an earlier one.
pub fn nested_object(members: &[(&str, String)]) -> String {
    #[derive(Default)]
    struct Tree(Vec<(String, Node)>);
    enum Node {
        Raw(String),
        Object(Tree),
    }
    impl Tree {
        fn insert(&mut self, path: &[&str], raw: &str) {
            let Some((first, rest)) = path.split_first() else {
                return;
            };
            let pos = self.0.iter().position(|(k, _)| k == first);
            if rest.is_empty() {
                let node = Node::Raw(raw.to_string());
                match pos {
                    Some(p) => self.0[p].1 = node,
                    None => self.0.push((first.to_string(), node)),
                }
                return;
            }
            let p = match pos {
                Some(p) => p,
                None => {
                    self.0
                        .push((first.to_string(), Node::Object(Tree::default())));
                    self.0.len() - 1
                }
            };
            if let Node::Raw(_) = self.0[p].1 {
                self.0[p].1 = Node::Object(Tree::default());
            }
            if let Node::Object(t) = &mut self.0[p].1 {
                t.insert(rest, raw);
            }
        }
        fn write(&self, out: &mut String) {
            out.push('{');
            for (i, (k, node)) in self.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                match node {
                    Node::Raw(r) => out.push_str(r),
                    Node::Object(t) => t.write(out),
                }
            }
            out.push('}');
        }
    }
    let mut tree = Tree::default();
    for (path, raw) in members {
        let parts: Vec<&str> = path.split('.').collect();
        tree.insert(&parts, raw);
    }
    let mut out = String::new();
    tree.write(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_object_groups_dotted_members() {
        let text = nested_object(&[
            ("A", "1".into()),
            ("B.C", "\"x\"".into()),
            ("B.D", "[]".into()),
            ("A", "2".into()),
        ]);
        assert_eq!(text, r#"{"A":2,"B":{"C":"x","D":[]}}"#);
    }

    proptest! {
        #[test]
        fn mutations_stay_in_bounds(
            seed in bytes(16),
            edits in prop::collection::vec(mutation(), 0..16),
        ) {
            let seeds = vec![seed.clone(), Vec::new()];
            let _ = apply(&seed, &edits, &seeds);
        }
    }
}
