//! Builds the WebAssembly guest programs from source and generates one path
//! constant per program (`$OUT_DIR/guests.rs`, included by `src/lib.rs`).
//!
//! Two cargo workspaces are built, each with a nested `cargo build`:
//! - `guests/`: test-only programs (wasm32-wasip2, plus `cmd-echo` again for
//!   wasm32-wasip1 as a core module);
//! - `../../examples/`: the example functions (wasm32-wasip2).
//!
//! The nested builds use their own target directory (`<target>/guests`), so
//! they never wait on the lock the outer build holds, and they start from a
//! clean environment: the `CARGO_*`/`RUSTFLAGS` variables the outer cargo
//! sets for this script describe the host build, not the guest one.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Constant name, workspace, target triple, package, artifact file name.
const GUESTS: &[(&str, Workspace, &str, &str, &str)] = &[
    (
        "HTTP_ECHO",
        Workspace::Guests,
        P2,
        "http-echo",
        "http_echo.wasm",
    ),
    (
        "HTTP_STATE",
        Workspace::Guests,
        P2,
        "http-state",
        "http_state.wasm",
    ),
    (
        "HTTP_ENV",
        Workspace::Guests,
        P2,
        "http-env",
        "http_env.wasm",
    ),
    (
        "HTTP_LOOP",
        Workspace::Guests,
        P2,
        "http-loop",
        "http_loop.wasm",
    ),
    (
        "HTTP_SLEEP",
        Workspace::Guests,
        P2,
        "http-sleep",
        "http_sleep.wasm",
    ),
    (
        "HTTP_OOM",
        Workspace::Guests,
        P2,
        "http-oom",
        "http_oom.wasm",
    ),
    (
        "HTTP_TRAP",
        Workspace::Guests,
        P2,
        "http-trap",
        "http_trap.wasm",
    ),
    (
        "HTTP_500",
        Workspace::Guests,
        P2,
        "http-500",
        "http_500.wasm",
    ),
    (
        "HTTP_NET",
        Workspace::Guests,
        P2,
        "http-net",
        "http_net.wasm",
    ),
    ("CMD_ECHO", Workspace::Guests, P2, "cmd", "cmd-echo.wasm"),
    ("CMD_EXIT", Workspace::Guests, P2, "cmd", "cmd-exit.wasm"),
    ("CMD_TRAP", Workspace::Guests, P2, "cmd", "cmd-trap.wasm"),
    ("CMD_LOOP", Workspace::Guests, P2, "cmd", "cmd-loop.wasm"),
    (
        "CMD_RECORD",
        Workspace::Guests,
        P2,
        "cmd",
        "cmd-record.wasm",
    ),
    ("P1_CMD_ECHO", Workspace::Guests, P1, "cmd", "cmd-echo.wasm"),
    (
        "EXAMPLE_HELLO_HTTP",
        Workspace::Examples,
        P2,
        "hello-http",
        "hello_http.wasm",
    ),
    (
        "EXAMPLE_JSON_EVENT",
        Workspace::Examples,
        P2,
        "json-event",
        "json-event.wasm",
    ),
];

const P1: &str = "wasm32-wasip1";
const P2: &str = "wasm32-wasip2";

#[derive(Clone, Copy, PartialEq)]
enum Workspace {
    Guests,
    Examples,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let guests_dir = manifest_dir.join("guests");
    let examples_dir = manifest_dir.join("../../examples");
    let examples_dir = examples_dir.canonicalize().unwrap_or(examples_dir);

    rerun_if_changed(&guests_dir, &["common", "cmd", "http-*"]);
    rerun_if_changed(&examples_dir, &["hello-http", "json-event"]);

    check_targets();

    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR has the layout cargo gives it")
        .join("guests");

    cargo_build(&guests_dir, &target_dir, P2, &[]);
    cargo_build(
        &guests_dir,
        &target_dir,
        P1,
        &["-p", "cmd", "--bin", "cmd-echo"],
    );
    cargo_build(&examples_dir, &target_dir, P2, &[]);

    let mut generated = String::new();
    for (name, workspace, triple, package, file) in GUESTS {
        let path = target_dir.join(triple).join("release").join(file);
        assert!(
            path.is_file(),
            "building guest package `{package}` did not produce {}",
            path.display()
        );
        let source = match workspace {
            Workspace::Guests => "crates/test-support/guests",
            Workspace::Examples => "examples",
        };
        writeln!(
            generated,
            "/// `{package}` from `{source}`, built for `{triple}`.\npub const {name}: &str = {:?};",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    generated.push_str(
        "\n/// Every guest constant with its name.\npub const ALL: &[(&str, &str)] = &[\n",
    );
    for (name, ..) in GUESTS {
        writeln!(generated, "    ({name:?}, {name}),").expect("writing to a String");
    }
    generated.push_str("];\n");
    fs::write(out_dir.join("guests.rs"), generated).expect("writing guests.rs");
}

/// Watches the sources of a guest workspace: its manifest and lock file and
/// the member folders matching `dirs` (`name` or `prefix-*`).
fn rerun_if_changed(workspace: &Path, dirs: &[&str]) {
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
    let Ok(entries) = fs::read_dir(workspace) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let watched = dirs.iter().any(|d| match d.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *d,
        });
        if watched && entry.path().is_dir() {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
}

/// Fails early, with the fix, when a wasm target is missing.
fn check_targets() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let missing: Vec<&str> = [P1, P2]
        .into_iter()
        .filter(|t| !sysroot.join("lib/rustlib").join(t).is_dir())
        .collect();
    if !missing.is_empty() {
        panic!(
            "the WebAssembly targets {} are not installed; run `rustup target add wasm32-wasip1 wasm32-wasip2`",
            missing.join(", ")
        );
    }
}

fn cargo_build(workspace: &Path, target_dir: &Path, triple: &str, extra: &[&str]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", triple, "--target-dir"])
        .arg(target_dir)
        .args(extra);
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let inherited_from_outer_build = (key.starts_with("CARGO") && key != "CARGO_HOME")
            || key.starts_with("__CARGO")
            || key.starts_with("RUSTC_")
            || matches!(
                key.as_ref(),
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "OUT_DIR"
                    | "TARGET"
                    | "HOST"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
            );
        if inherited_from_outer_build {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo in {}: {e}", workspace.display()));
    assert!(
        status.success(),
        "building the guests in {} for {triple} failed ({status}); \
         if the target is missing run `rustup target add wasm32-wasip1 wasm32-wasip2`",
        workspace.display()
    );
}
