//! `updraft-sandbox-init`: the small helper on both sides of a process
//! sandbox. One process
//! execs through the stages (same pid, so bubblewrap's parent stays the
//! platform):
//!
//! ```text
//! updraft-sandbox-init enter [--cgroup DIR]... [--rlimit-as BYTES] [--seccomp HEX] -- PROGRAM ARGS...
//!     as root, outside: joins the cgroups (so every process of the
//!     sandbox is accounted from its first instruction), sets the
//!     resource limits, puts the compiled seccomp filter (`--seccomp`,
//!     hex) in an anonymous file that PROGRAM inherits and replaces the
//!     argument `@seccomp-fd` with its descriptor's number (bwrap's
//!     `--seccomp FD` reads it), execs PROGRAM. PROGRAM is either bwrap, or:
//! unshare --mount --propagation private -- updraft-sandbox-init stage --uid U --gid G -- bwrap ARGS...
//!     as root, in a private mount namespace: opens every `@src:PATH`
//!     argument, mounts a small tmpfs over /tmp (in this namespace only),
//!     bind-mounts each source at /tmp/sN and puts that path in its place,
//!     drops to the unprivileged host uid/gid, then execs bubblewrap.
//!     Unprivileged, bubblewrap can then mount sources its uid could not
//!     reach by path (the data directory is 0700, pyenv lives in /root).
//! updraft-sandbox-init run --listen 127.0.0.1:9001 --socket PATH [--forward ADDR=PATH]... -- COMMAND ARGS...
//!     inside the sandbox (network namespace with only loopback): forwards
//!     TCP connections on the listen address to the Runtime API's Unix
//!     socket (and on each `--forward` address to its socket: the
//!     platform's endpoint), runs COMMAND (the bootstrap) and exits with
//!     its status.
//! ```
//!
//! Standard library and rustix only: it starts in about a millisecond.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode};

/// Runs the helper with its arguments (without the program name). The
/// `updraft-sandbox-init` binary is this function; a platform binary can
/// also call it for a subcommand and be configured as the helper
/// ([`crate::ProcessConfig::init_binary`] + `init_args`).
pub fn main(args: Vec<String>) -> ExitCode {
    let Some(split) = args.iter().position(|a| a == "--") else {
        return usage("missing `--` before the command");
    };
    let (opts, command) = (&args[..split], &args[split + 1..]);
    if command.is_empty() {
        return usage("missing the command after `--`");
    }
    match opts.first().map(String::as_str) {
        Some("enter") => enter(&opts[1..], command),
        Some("stage") => stage(&opts[1..], command),
        Some("run") => run(&opts[1..], command),
        _ => usage("the first argument is `enter`, `stage` or `run`"),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "updraft-sandbox-init: {problem}\n\
         usage: updraft-sandbox-init enter [--cgroup DIR]... [--rlimit-as BYTES] [--seccomp HEX] -- PROGRAM ARGS...\n\
         \x20      updraft-sandbox-init stage --uid U --gid G -- PROGRAM ARGS...\n\
         \x20      updraft-sandbox-init run --listen ADDR --socket PATH [--forward ADDR=PATH]... -- COMMAND ARGS..."
    );
    ExitCode::from(2)
}

/// Pairs of `--name value` options.
fn options(opts: &[String]) -> Result<Vec<(&str, &str)>, String> {
    let pairs = opts.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(format!("options come in pairs: {opts:?}"));
    }
    Ok(pairs.map(|p| (p[0].as_str(), p[1].as_str())).collect())
}

/// The exit status of a helper that could not set the sandbox up.
pub const SETUP_FAILED: i32 = 125;

fn fail(what: String) -> ExitCode {
    eprintln!("updraft-sandbox-init: {what}");
    ExitCode::from(SETUP_FAILED as u8)
}

/// The argument of `enter`'s command that becomes the seccomp filter's
/// descriptor number.
pub const SECCOMP_FD_ARG: &str = "@seccomp-fd";

fn enter(opts: &[String], command: &[String]) -> ExitCode {
    let opts = match options(opts) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let pid = std::process::id().to_string();
    // Open until the exec: PROGRAM inherits it.
    let mut seccomp = None;
    for (name, value) in opts {
        match name {
            "--cgroup" => {
                let procs = std::path::Path::new(value).join("cgroup.procs");
                if let Err(e) = std::fs::write(&procs, &pid) {
                    return fail(format!("cannot join the cgroup {}: {e}", procs.display()));
                }
            }
            "--rlimit-as" => {
                let Ok(bytes) = value.parse::<u64>() else {
                    return usage("--rlimit-as takes a number of bytes");
                };
                let limit = rustix::process::Rlimit {
                    current: Some(bytes),
                    maximum: Some(bytes),
                };
                if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::As, limit) {
                    return fail(format!("cannot set RLIMIT_AS: {e}"));
                }
            }
            "--seccomp" => {
                let Some(filter) = from_hex(value) else {
                    return usage("--seccomp takes the compiled filter in hex");
                };
                match inheritable_file(&filter) {
                    Ok(fd) => seccomp = Some(fd),
                    Err(e) => return fail(format!("cannot pass the seccomp filter on: {e}")),
                }
            }
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let mut command = command.to_vec();
    for arg in command.iter_mut().filter(|a| *a == SECCOMP_FD_ARG) {
        let Some(fd) = &seccomp else {
            return usage(&format!("{SECCOMP_FD_ARG} without --seccomp"));
        };
        *arg = std::os::fd::AsRawFd::as_raw_fd(fd).to_string();
    }
    let err = Command::new(&command[0]).args(&command[1..]).exec();
    drop(seccomp);
    fail(format!("cannot run {}: {err}", command[0]))
}

/// An anonymous file holding `data`, read from its start, that survives
/// exec (its own open file description: readers of other sandboxes do not
/// share its offset).
fn inheritable_file(data: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::{Seek, SeekFrom};
    let fd = rustix::fs::memfd_create("updraft-seccomp", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(data)?;
    file.seek(SeekFrom::Start(0))?;
    let fd = std::os::fd::OwnedFd::from(file);
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty())?;
    Ok(fd)
}

/// Lower-case or upper-case hex, two digits a byte.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(16);
    pairs
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

pub(crate) fn to_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn stage(opts: &[String], command: &[String]) -> ExitCode {
    use rustix::fs::{Mode, OFlags};
    let opts = match options(opts) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let mut uid = None;
    let mut gid = None;
    for (name, value) in opts {
        match (name, value.parse::<u32>()) {
            ("--uid", Ok(v)) => uid = Some(v),
            ("--gid", Ok(v)) => gid = Some(v),
            _ => return usage(&format!("bad option {name} {value}")),
        }
    }
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return usage("stage needs --uid and --gid");
    };
    // Open every source first: the tmpfs below hides /tmp.
    let mut sources = Vec::new();
    for (i, arg) in command.iter().enumerate() {
        if let Some(path) = arg.strip_prefix("@src:") {
            match rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) {
                Ok(fd) => {
                    let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
                    sources.push((i, fd, is_dir));
                }
                Err(e) => return fail(format!("cannot open {path}: {e}")),
            }
        }
    }
    // This mount namespace is private to this process (unshare
    // --propagation private): nothing here is visible to the host.
    if let Err(e) = rustix::mount::mount(
        "updraft-stage",
        "/tmp",
        "tmpfs",
        rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
        Some(c"mode=0755,size=64k"),
    ) {
        return fail(format!("cannot mount the staging tmpfs: {e}"));
    }
    let mut args = command.to_vec();
    for (n, (i, fd, is_dir)) in sources.iter().enumerate() {
        let target = format!("/tmp/s{n}");
        let made = if *is_dir {
            std::fs::create_dir(&target)
        } else {
            std::fs::File::create(&target).map(drop)
        };
        if let Err(e) = made {
            return fail(format!("cannot create {target}: {e}"));
        }
        let from = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd));
        if let Err(e) = rustix::mount::mount_bind(from.as_str(), target.as_str()) {
            return fail(format!("cannot stage {}: {e}", &command[*i][5..]));
        }
        args[*i] = target;
    }
    drop(sources);
    // One thread: the per-thread calls are the whole process's.
    let dropped = rustix::thread::set_thread_groups(&[])
        .and_then(|()| rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid)))
        .and_then(|()| rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid)));
    if let Err(e) = dropped {
        return fail(format!("cannot switch to uid {uid} gid {gid}: {e}"));
    }
    if rustix::process::getuid().as_raw() != uid || rustix::process::geteuid().as_raw() != uid {
        return fail(format!("still not uid {uid}"));
    }
    let err = Command::new(&args[0]).args(&args[1..]).exec();
    fail(format!("cannot run {}: {err}", args[0]))
}

fn run(opts: &[String], command: &[String]) -> ExitCode {
    let opts = match options(opts) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let mut listen = None;
    let mut socket = None;
    let mut forwards = Vec::new();
    for (name, value) in opts {
        match name {
            "--listen" => listen = Some(value.to_string()),
            "--socket" => socket = Some(value.to_string()),
            "--forward" => match value.split_once('=') {
                Some((addr, path)) => forwards.push((addr.to_string(), path.to_string())),
                None => return usage("--forward takes ADDR=PATH"),
            },
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let (Some(listen), Some(socket)) = (listen, socket) else {
        return usage("run needs --listen and --socket");
    };
    forwards.insert(0, (listen, socket));
    // Listen before the bootstrap starts, so its first request connects.
    for (listen, socket) in forwards {
        let listener = match TcpListener::bind(&listen) {
            Ok(l) => l,
            Err(e) => {
                return fail(format!("cannot listen on {listen}: {e}"));
            }
        };
        std::thread::spawn(move || forward(listener, socket));
    }

    let status = match Command::new(&command[0]).args(&command[1..]).status() {
        Ok(status) => status,
        Err(e) => {
            // What Lambda reports as Runtime.InvalidEntrypoint.
            eprintln!(
                "updraft-sandbox-init: cannot start the runtime {}: {e}",
                command[0]
            );
            return ExitCode::from(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        _ => ExitCode::FAILURE,
    }
}

/// Accepts connections forever; each is copied both ways to a new
/// connection to the Unix socket.
fn forward(listener: TcpListener, socket: String) {
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        let socket = socket.clone();
        std::thread::spawn(move || {
            let _ = tcp.set_nodelay(true);
            let Ok(unix) = UnixStream::connect(&socket) else {
                let _ = tcp.shutdown(Shutdown::Both);
                return;
            };
            let (Ok(tcp2), Ok(unix2)) = (tcp.try_clone(), unix.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || {
                copy(&tcp2, &unix2);
                let _ = unix2.shutdown(Shutdown::Write);
            });
            copy(&unix, &tcp);
            let _ = tcp.shutdown(Shutdown::Write);
            let _ = up.join();
        });
    }
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let _ = std::io::copy(&mut from, &mut to);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let data = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(to_hex(&data), "00017f80ff");
        assert_eq!(from_hex("00017F80ff").unwrap(), data);
        for bad in ["0", "0g", "+1", "zz"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }
}
