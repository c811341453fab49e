//! The sandbox of one execution environment, built with bubblewrap
//! (`bwrap`, Debian package `bubblewrap`).
//!
//! # Threat model
//!
//! The code in a sandbox is hostile: it was uploaded by someone who may
//! want to read other functions' code, the platform's data directory and
//! its credentials, use the node's network, starve the node, or take the
//! platform down. The platform runs as root. Each layer, and what it stops:
//!
//! | layer | stops |
//! |-------|-------|
//! | **mount namespace**, a fresh tmpfs root (remounted read-only) with only: `/usr` (and the `/bin`, `/lib*` links), a few `/etc` files (`ld.so.cache`, certificates, synthesized `passwd`/`group`/`hosts`), the code at `/var/task`, the Python or Node.js install at `/var/lang` and the managed runtime at `/var/runtime` (with the AWS SDK for JavaScript at `/var/runtime/node_modules`; python and nodejs only), this environment's API socket directory, all **read-only**; a private tmpfs `/tmp`; a private `/proc` and a minimal `/dev` | reading other functions' code (`<root_dir>/code/<other>` is not mounted), the data directory and its credentials, `/root`, `/home`, host `/etc` secrets; writing anywhere but `/tmp` |
//! | **`/tmp` size**: the function's `EphemeralStorage` (`EnvConfig::ephemeral_storage_mb`), else `ProcessConfig::tmp_mb` (512 MB) | filling the node's memory through `/tmp`: writes past the size fail with `ENOSPC`, the environment serves on. tmpfs pages are also charged to the environment's memory cgroup (v1 and v2): `/tmp` and the processes share `MemorySize`, and writing more than that to `/tmp` ends as `Runtime.OutOfMemory` (environment discarded), not `ENOSPC`. Without cgroups only the tmpfs size bounds it |
//! | **unprivileged host uid** (2000993 by default): `updraft-sandbox-init stage` binds the private sources into a private mount namespace as root, then drops to that uid before bubblewrap runs | everything the kernel grants to uid 0 rather than to a capability (owner access to root-owned files in mounted trees, writable `/proc/sys` such as `kernel/core_pattern`); an escape from the namespaces lands as a nobody |
//! | **user namespace**, uid 993 / gid 990 inside (Lambda's `sbx_user1051`), no capabilities, `no_new_privs` (bwrap); `--disable-userns` (bubblewrap >= 0.8.0): no user namespace can be made inside it | mounting, `chroot`, raw sockets, setuid binaries: every privileged operation; regaining capabilities in a nested user namespace (and the kernel surface only such a namespace reaches) |
//! | **seccomp filter** ([`crate::seccomp`], compiled once per runtime, installed by bwrap `--seccomp` before the runtime starts): `EPERM` for `ptrace`, `process_vm_readv`/`writev`, `pidfd_getfd`, `kcmp`, `mount` and the new mount API, `umount2`, `pivot_root`, `chroot`, `unshare`, `setns`, `clone` with a `CLONE_NEW*` flag, `bpf`, `perf_event_open`, `userfaultfd`, `io_uring_*`, the key calls, module and kexec calls, `acct`, swap, `reboot`, `syslog`, the file-handle calls, `fanotify_init`, `quotactl`, `lookup_dcookie`, `personality` other than `PER_LINUX`, setting clocks; `ENOSYS` for `clone3` (libc falls back to `clone`) and x32 calls; other ABIs (`int 0x80`) kill the process | reaching kernel code a runtime never needs (where most container escapes start): inspecting or writing other processes, namespaces and mounts even where a capability check would be the only guard, BPF and io_uring, disabling ASLR |
//! | **PID namespace** (bwrap's reaper is pid 1) | seeing, signalling or ptracing the platform or other environments (`kill -9 <platform pid>` finds no such process); killing pid 1 ends the whole namespace |
//! | **network namespace** with only loopback; the Runtime API reaches it as a Unix socket bind-mounted into the sandbox, forwarded to `127.0.0.1:9001` by `updraft-sandbox-init run`; the platform's endpoint likewise (one host socket, `ProcessConfig::endpoint_socket`, forwarded to `127.0.0.1:9000`, the function's `AWS_ENDPOINT_URL`), where every request is authenticated and authorized as the execution role | connecting to other host ports (NATS, ...), other machines, or abstract Unix sockets of the host |
//! | **IPC and UTS namespaces**, `--new-session` | System V / POSIX IPC with other processes; changing the node's hostname; `TIOCSTI` injection into a terminal |
//! | **memory cgroup** (v1 `memory.limit_in_bytes` + `memsw`, or v2 `memory.max`), sized at `MemorySize`; `RLIMIT_AS` where no cgroup exists | a memory hog taking the node's memory: the kernel OOM-kills inside the cgroup, the invocation fails with `Runtime.OutOfMemory` |
//! | **pids cgroup** (`pids.max`) | fork bombs: `fork` fails with `EAGAIN` past the limit; the timeout then kills the tree |
//! | **cpu cgroup**: a weight proportional to `MemorySize` (v2 `cpu.weight`, 100 at 1024 MB; v1 `cpu.shares`, 1024 at 1024 MB), as Lambda allocates CPU by memory | a busy function starving the others: under contention each environment gets CPU in proportion to its memory, and an idle one still gets its share when it wakes. A weight caps nothing on an idle node |
//! | **bounded output**: stdout and stderr go through one pipe into the invocation's `LogSink` (bounded: the oldest output goes); reading after a response stops at what the pipe held | a log flood growing the platform's memory, or holding an invocation open with a writer that never stops |
//! | **timeouts**: 10 s for init, the function's timeout per invocation; then SIGKILL of bwrap, whose death takes the PID namespace down (`--die-with-parent`), plus a sweep of the cgroup | infinite loops and hung runtimes; the environment is discarded |
//! | **`--die-with-parent`** | sandboxes outliving a crashed platform |
//!
//! Known limits (see `SANDBOX.md` in this crate): the seccomp filter is a
//! deny-list (a call it does not name, and the kernel bugs behind it, stay
//! reachable); CPU is shared by weight, not capped, and a function's
//! output is read at the speed it writes it (a flood costs the platform
//! CPU, not memory); `/tmp` shares `MemorySize` with the processes;
//! `PR_SET_PDEATHSIG` follows the *thread* that spawned bwrap, so
//! environments must be started from threads that live as long as they
//! do (tokio workers, not `spawn_blocking`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the code is mounted.
pub const TASK_DIR: &str = "/var/task";
/// Where the managed runtime (awslambdaric, or the Node.js runtime
/// interface client) is mounted.
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Where the Python or Node.js installation is mounted.
pub const LANG_DIR: &str = "/var/lang";
/// Where the platform's helper and the API socket are mounted.
pub const RAPID_DIR: &str = "/var/rapid";
/// The Runtime API address inside the sandbox.
pub const API_ADDR: &str = "127.0.0.1:9001";
/// The platform's endpoint inside the sandbox (forwarded to
/// `ProcessConfig::endpoint_socket`).
pub const ENDPOINT_ADDR: &str = "127.0.0.1:9000";
/// `AWS_ENDPOINT_URL` of functions when the platform's endpoint is
/// reachable.
pub const ENDPOINT_URL: &str = "http://127.0.0.1:9000";
/// Where the endpoint's socket is mounted.
pub const ENDPOINT_SOCKET: &str = "/var/rapid/endpoint.sock";
/// Lambda's sandbox user (`sbx_user1051`).
pub const SANDBOX_UID: u32 = 993;
pub const SANDBOX_GID: u32 = 990;
/// The API socket's file name in the environment's directory.
pub const SOCKET_NAME: &str = "rapi.sock";

/// Host files of `/etc` the runtimes need (missing ones are skipped).
const HOST_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates.conf",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/os-release",
];

/// Host directories of the root that are links into `/usr` on merged-usr
/// systems, or directories elsewhere.
const HOST_ROOT_DIRS: &[&str] = &["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Synthesized `/etc` files, written once under the runtime's root dir.
pub(crate) fn write_etc(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n\
                 sbx_user1051:x:{SANDBOX_UID}:{SANDBOX_GID}::/tmp:/sbin/nologin\n\
                 nobody:x:65534:65534:nobody:/:/sbin/nologin\n"
            ),
        ),
        (
            "group",
            format!("root:x:0:\nsbx_user1051:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"),
        ),
        (
            "hosts",
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string(),
        ),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files dns\n".to_string(),
        ),
        ("resolv.conf", String::new()),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)?;
        }
    }
    Ok(())
}

/// Everything that differs between two sandboxes.
pub(crate) struct Spec<'a> {
    pub code_dir: &'a Path,
    /// The environment's private directory holding the API socket.
    pub env_dir: &'a Path,
    /// The platform's endpoint (a Unix socket of the host), when functions
    /// may call it.
    pub endpoint_socket: Option<&'a Path>,
    pub init_binary: &'a Path,
    pub init_args: &'a [String],
    pub etc_dir: &'a Path,
    /// Python and Node.js runtimes: the language's installation and the
    /// managed runtime.
    pub lang: Option<Lang<'a>>,
    pub tmp_bytes: u64,
    pub hostname: &'a str,
    pub env: &'a [(String, String)],
    /// The runtime's command line inside the sandbox.
    pub command: &'a [String],
    /// bwrap runs unprivileged: private sources are `@src:` arguments.
    pub staged: bool,
    /// Install the seccomp filter that `updraft-sandbox-init enter
    /// --seccomp` passes on (its descriptor is the `@seccomp-fd` argument).
    pub seccomp: bool,
}

/// The mounts of a language runtime.
pub(crate) struct Lang<'a> {
    /// The installation prefix, at `/var/lang`.
    pub prefix: &'a Path,
    /// The managed runtime directory, at `/var/runtime`.
    pub runtime_dir: &'a Path,
    /// Node.js: the SDK's `node_modules`, at `/var/runtime/node_modules`
    /// (a directory of `runtime_dir`), also reached as `/node_modules`.
    pub node_modules: Option<&'a Path>,
}

/// A private source: staged by `updraft-sandbox-init stage` (as root) when
/// bubblewrap runs unprivileged, else the path itself.
fn src(spec: &Spec<'_>, path: &Path) -> String {
    if spec.staged {
        format!("@src:{}", path.display())
    } else {
        path.display().to_string()
    }
}

/// The bwrap command line (after the `bwrap` program itself).
pub(crate) fn bwrap_args(spec: &Spec<'_>) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |parts: &[&dyn AsRef<std::ffi::OsStr>]| {
        a.extend(parts.iter().map(|p| p.as_ref().to_os_string()));
    };
    push(&[
        &"--unshare-user",
        // No user namespace inside the sandbox's (bubblewrap >= 0.8.0).
        &"--disable-userns",
        &"--unshare-pid",
        &"--unshare-ipc",
        &"--unshare-uts",
        &"--unshare-net",
        &"--unshare-cgroup-try",
        &"--uid",
        &SANDBOX_UID.to_string(),
        &"--gid",
        &SANDBOX_GID.to_string(),
        &"--hostname",
        &spec.hostname,
        &"--die-with-parent",
        &"--new-session",
        &"--clearenv",
        &"--ro-bind",
        &"/usr",
        &"/usr",
    ]);
    for dir in HOST_ROOT_DIRS {
        let path = Path::new(dir);
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(path) {
                    push(&[&"--symlink", &target, dir]);
                }
            }
            Ok(m) if m.is_dir() => push(&[&"--ro-bind", dir, dir]),
            _ => {}
        }
    }
    for file in HOST_ETC {
        push(&[&"--ro-bind-try", file, file]);
    }
    for name in ["passwd", "group", "hosts", "nsswitch.conf", "resolv.conf"] {
        let src = src(spec, &spec.etc_dir.join(name));
        let dest = PathBuf::from("/etc").join(name);
        push(&[&"--ro-bind", &src, &dest]);
    }
    push(&[
        &"--proc",
        &"/proc",
        &"--dev",
        &"/dev",
        &"--size",
        &spec.tmp_bytes.to_string(),
        &"--perms",
        &"1777",
        &"--tmpfs",
        &"/tmp",
        &"--ro-bind",
        &src(spec, spec.code_dir),
        &TASK_DIR,
        &"--ro-bind",
        &src(spec, spec.env_dir),
        &Path::new(RAPID_DIR).join("api"),
        &"--ro-bind",
        &src(spec, spec.init_binary),
        &Path::new(RAPID_DIR).join("init"),
    ]);
    if let Some(lang) = &spec.lang {
        push(&[
            &"--ro-bind",
            &src(spec, lang.prefix),
            &LANG_DIR,
            &"--ro-bind",
            &src(spec, lang.runtime_dir),
            &RUNTIME_DIR,
        ]);
        if let Some(modules) = lang.node_modules {
            let at = Path::new(RUNTIME_DIR).join("node_modules");
            push(&[
                &"--ro-bind",
                &src(spec, modules),
                &at,
                &"--symlink",
                &at,
                &"/node_modules",
            ]);
        }
    }
    if let Some(socket) = spec.endpoint_socket {
        push(&[&"--ro-bind", &src(spec, socket), &ENDPOINT_SOCKET]);
    }
    // Everything is mounted: make the root itself read-only too.
    push(&[&"--remount-ro", &"/", &"--chdir", &TASK_DIR]);
    if spec.seccomp {
        push(&[&"--seccomp", &crate::init::SECCOMP_FD_ARG]);
    }
    for (k, v) in spec.env {
        push(&[&"--setenv", k, v]);
    }
    push(&[&"--", &Path::new(RAPID_DIR).join("init")]);
    for arg in spec.init_args {
        push(&[arg]);
    }
    push(&[
        &"run",
        &"--listen",
        &API_ADDR,
        &"--socket",
        &Path::new(RAPID_DIR).join("api").join(SOCKET_NAME),
    ]);
    if spec.endpoint_socket.is_some() {
        push(&[&"--forward", &format!("{ENDPOINT_ADDR}={ENDPOINT_SOCKET}")]);
    }
    push(&[&"--"]);
    for c in spec.command {
        push(&[c]);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(seccomp: bool) -> Vec<String> {
        let p = Path::new("/x");
        bwrap_args(&Spec {
            code_dir: p,
            env_dir: p,
            endpoint_socket: None,
            init_binary: p,
            init_args: &[],
            etc_dir: p,
            lang: None,
            tmp_bytes: 20 << 20,
            hostname: "h",
            env: &[],
            command: &["/var/task/bootstrap".to_string()],
            staged: false,
            seccomp,
        })
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
    }

    /// `flag value` appears in `args` before the command.
    fn has(args: &[String], flag: &str, value: Option<&str>) -> bool {
        let end = args.iter().position(|a| a == "--").unwrap();
        args[..end].iter().enumerate().any(|(i, a)| {
            a == flag && value.is_none_or(|v| args.get(i + 1).map(String::as_str) == Some(v))
        })
    }

    #[test]
    fn user_namespaces_are_disabled_inside() {
        let a = args(true);
        assert!(has(&a, "--unshare-user", None));
        assert!(has(&a, "--disable-userns", None));
    }

    #[test]
    fn the_filter_is_the_helpers_descriptor() {
        assert!(has(
            &args(true),
            "--seccomp",
            Some(crate::init::SECCOMP_FD_ARG)
        ));
        assert!(!has(&args(false), "--seccomp", None));
    }

    #[test]
    fn node_gets_its_sdk_under_the_runtime_and_at_the_root() {
        let p = Path::new("/x");
        let a: Vec<String> = bwrap_args(&Spec {
            code_dir: p,
            env_dir: p,
            endpoint_socket: None,
            init_binary: p,
            init_args: &[],
            etc_dir: p,
            lang: Some(Lang {
                prefix: Path::new("/usr"),
                runtime_dir: Path::new("/ric"),
                node_modules: Some(Path::new("/sdk/node_modules")),
            }),
            tmp_bytes: 1 << 20,
            hostname: "h",
            env: &[],
            command: &["/var/lang/bin/node".to_string()],
            staged: false,
            seccomp: true,
        })
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
        let at = |window: &[&str]| a.windows(window.len()).position(|w| w == window);
        let ric = at(&["--ro-bind", "/ric", RUNTIME_DIR]).unwrap();
        let sdk = at(&[
            "--ro-bind",
            "/sdk/node_modules",
            "/var/runtime/node_modules",
        ])
        .unwrap();
        assert!(ric < sdk, "the SDK is mounted inside the runtime directory");
        assert!(at(&["--symlink", "/var/runtime/node_modules", "/node_modules"]).is_some());
        assert!(at(&["--ro-bind", "/usr", LANG_DIR]).is_some());
    }

    #[test]
    fn tmp_is_a_tmpfs_of_the_given_size() {
        let a = args(true);
        let size = a.iter().position(|x| x == "--size").unwrap();
        assert_eq!(a[size + 1], (20u64 << 20).to_string());
        assert_eq!(a[size + 4..size + 6], ["--tmpfs", "/tmp"]);
    }
}
