//! The seccomp filter of every sandbox: a deny-list of the system calls a
//! Lambda runtime never needs, compiled once per runtime (with
//! `seccompiler`) and handed to bubblewrap, which installs it just before
//! it execs the sandbox's first process.
//!
//! ```text
//!   arch != this build's ──────────────────────────> kill the process
//!   nr & 0x4000_0000 (x86_64: the x32 ABI) ────────> ENOSYS
//!   clone3 ────────────────────────────────────────> ENOSYS (libc falls back to clone)
//!   clone with a CLONE_NEW* flag ──────────────────> EPERM
//!   personality(p), p not PER_LINUX and not query ─> EPERM
//!   every syscall of DENIED ───────────────────────> EPERM
//!   anything else ─────────────────────────────────> allowed
//! ```
//!
//! Denied calls fail with an error rather than killing the caller, so a
//! runtime that probes for a feature (io_uring, `perf_event_open`, user
//! namespaces) degrades instead of crashing.
//!
//! A deny-list by number is only as good as its view of the numbers: the
//! filter first checks the architecture (a 64-bit process can still make
//! 32-bit `int 0x80` calls, whose numbers differ) and kills a process that
//! makes a call of another ABI; on x86_64 it refuses the x32 ABI's numbers
//! (bit 30 set), which would otherwise name the same calls under numbers
//! the list does not hold. Lambda runtimes are 64-bit and use neither.
//!
//! `seccompiler` gives every matching rule one action; the two ENOSYS
//! cases are therefore a short hand-written prefix run before the
//! compiled program.

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

/// Why no filter could be built.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error(
        "no seccomp filter for the {0} architecture: the process runtime supports x86_64 and aarch64"
    )]
    UnsupportedArch(String),
    #[error("compiling the seccomp filter")]
    Compile(#[source] seccompiler::BackendError),
}

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// A denied system call and its number on x86_64 and aarch64 (`None`
/// where the architecture does not have it).
struct Denied {
    name: &'static str,
    x86_64: Option<i64>,
    aarch64: Option<i64>,
    when: When,
}

/// Which calls of a denied system call fail.
#[derive(Clone, Copy)]
enum When {
    Always,
    /// `clone` whose flags (argument 0) ask for a new namespace.
    NewNamespace,
    /// `personality` with a persona other than `PER_LINUX` (0) or the
    /// query `0xffffffff`.
    PersonaChange,
}

const fn deny(name: &'static str, x86_64: i64, aarch64: i64) -> Denied {
    Denied {
        name,
        x86_64: Some(x86_64),
        aarch64: Some(aarch64),
        when: When::Always,
    }
}

const fn deny_x86(name: &'static str, x86_64: i64) -> Denied {
    Denied {
        name,
        x86_64: Some(x86_64),
        aarch64: None,
        when: When::Always,
    }
}

/// The deny-list, with the numbers of the kernel's syscall tables
/// (`arch/x86/entry/syscalls/syscall_64.tbl`, `include/uapi/asm-generic/unistd.h`).
const DENIED: &[Denied] = &[
    // Reading or writing other processes' memory.
    deny("ptrace", 101, 117),
    deny("process_vm_readv", 310, 270),
    deny("process_vm_writev", 311, 271),
    deny("pidfd_getfd", 438, 438),
    deny("kcmp", 312, 272),
    // Mounts, old and new API, and changing the root.
    deny("mount", 165, 40),
    deny("umount2", 166, 39),
    deny("pivot_root", 155, 41),
    deny("chroot", 161, 51),
    deny("open_tree", 428, 428),
    deny("move_mount", 429, 429),
    deny("fsopen", 430, 430),
    deny("fsconfig", 431, 431),
    deny("fsmount", 432, 432),
    deny("fspick", 433, 433),
    deny("mount_setattr", 442, 442),
    // Namespaces.
    deny("unshare", 272, 97),
    deny("setns", 308, 268),
    Denied {
        name: "clone",
        x86_64: Some(56),
        aarch64: Some(220),
        when: When::NewNamespace,
    },
    // Kernel attack surface a runtime has no use for.
    deny("bpf", 321, 280),
    deny("perf_event_open", 298, 241),
    deny("userfaultfd", 323, 282),
    deny("io_uring_setup", 425, 425),
    deny("io_uring_enter", 426, 426),
    deny("io_uring_register", 427, 427),
    deny("keyctl", 250, 219),
    deny("add_key", 248, 217),
    deny("request_key", 249, 218),
    deny("open_by_handle_at", 304, 265),
    deny("name_to_handle_at", 303, 264),
    deny("fanotify_init", 300, 262),
    deny("lookup_dcookie", 212, 18),
    // The machine's state: modules, kexec, swap, accounting, clocks.
    deny("kexec_load", 246, 104),
    deny("kexec_file_load", 320, 294),
    deny("init_module", 175, 105),
    deny("finit_module", 313, 273),
    deny("delete_module", 176, 106),
    deny("acct", 163, 89),
    deny("swapon", 167, 224),
    deny("swapoff", 168, 225),
    deny("reboot", 169, 142),
    deny("syslog", 103, 116),
    deny("vhangup", 153, 58),
    deny("quotactl", 179, 60),
    deny("quotactl_fd", 443, 443),
    deny("nfsservctl", 180, 42),
    deny("settimeofday", 164, 170),
    deny("clock_settime", 227, 112),
    deny("adjtimex", 159, 171),
    deny("clock_adjtime", 305, 266),
    Denied {
        name: "personality",
        x86_64: Some(135),
        aarch64: Some(92),
        when: When::PersonaChange,
    },
    // x86 only: port I/O and obsolete calls.
    deny_x86("iopl", 172),
    deny_x86("ioperm", 173),
    deny_x86("create_module", 174),
    deny_x86("uselib", 134),
    deny_x86("ustat", 136),
    deny_x86("sysfs", 139),
    deny_x86("_sysctl", 156),
];

/// `clone3`, answered with ENOSYS by the prefix.
const CLONE3: i64 = 435;

/// The `CLONE_NEW*` flags `clone` can take in its flags argument
/// (`CLONE_NEWTIME` only exists for `unshare` and `clone3`).
const CLONE_NEW_FLAGS: &[u64] = &[
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

/// `personality(0xffffffff)` only reads the persona.
const PERSONALITY_QUERY: u64 = 0xffff_ffff;

/// The x32 ABI's syscalls have this bit set (x86_64 only).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

// Classic BPF, as `linux/filter.h` spells it.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The architecture this build runs on, if the filter knows its numbers.
fn target(arch: &str) -> Result<TargetArch, SeccompError> {
    match arch {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(SeccompError::UnsupportedArch(other.to_string())),
    }
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SeccompError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(SeccompError::Compile)
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, SeccompError> {
    SeccompRule::new(conditions).map_err(SeccompError::Compile)
}

/// The rules of one denied call: empty means every call.
fn rules_of(when: When) -> Result<Vec<SeccompRule>, SeccompError> {
    match when {
        When::Always => Ok(Vec::new()),
        // One rule per flag: the rules of a call are or-ed.
        When::NewNamespace => CLONE_NEW_FLAGS
            .iter()
            .map(|&flag| rule(vec![cond(0, SeccompCmpOp::MaskedEq(flag), flag)?]))
            .collect(),
        When::PersonaChange => Ok(vec![rule(vec![
            cond(0, SeccompCmpOp::Ne, 0)?,
            cond(0, SeccompCmpOp::Ne, PERSONALITY_QUERY)?,
        ])?]),
    }
}

/// The filter for `arch` (`std::env::consts::ARCH` spelling).
pub fn program(arch: &str) -> Result<BpfProgram, SeccompError> {
    let target_arch = target(arch)?;
    let (audit_arch, x32) = match target_arch {
        TargetArch::aarch64 => (AUDIT_ARCH_AARCH64, false),
        _ => (AUDIT_ARCH_X86_64, true),
    };
    let mut rules = std::collections::BTreeMap::new();
    for denied in DENIED {
        let nr = match target_arch {
            TargetArch::aarch64 => denied.aarch64,
            _ => denied.x86_64,
        };
        if let Some(nr) = nr {
            rules.insert(nr, rules_of(denied.when)?);
        }
    }
    let body: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(EPERM),
        target_arch,
    )
    .and_then(BpfProgram::try_from)
    .map_err(SeccompError::Compile)?;

    // The prefix. Another architecture skips it: the body kills it.
    let mut checks = vec![insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR)];
    if x32 {
        checks.push(insn(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT));
        checks.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS));
    }
    checks.push(insn(BPF_JMP_JEQ_K, 0, 1, CLONE3 as u32));
    checks.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS));
    let mut program = vec![
        insn(BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH),
        insn(BPF_JMP_JEQ_K, 0, checks.len() as u8, audit_arch),
    ];
    program.extend(checks);
    program.extend(body);
    Ok(program)
}

/// The filter of this build's architecture as bubblewrap reads it from
/// `--seccomp FD`: the raw `struct sock_filter` array.
pub fn compile() -> Result<Vec<u8>, SeccompError> {
    Ok(to_bytes(&program(std::env::consts::ARCH)?))
}

fn to_bytes(program: &[sock_filter]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for i in program {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    bytes
}

/// The names of the calls the filter denies on `arch`.
pub fn denied_names(arch: &str) -> Vec<&'static str> {
    DENIED
        .iter()
        .filter(|d| match arch {
            "aarch64" => d.aarch64.is_some(),
            _ => d.x86_64.is_some(),
        })
        .map(|d| d.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;

    /// Runs a seccomp program on one call, as the kernel's classic BPF
    /// interpreter does (the instructions seccompiler and the prefix use).
    fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_ne_bytes());
        data.extend_from_slice(&arch.to_ne_bytes());
        data.extend_from_slice(&0u64.to_ne_bytes());
        for a in args {
            data.extend_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &program[pc];
            pc += 1;
            match i.code {
                0x20 => {
                    let at = i.k as usize;
                    acc = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
                }
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let hit = match i.code {
                        0x15 => acc == i.k,
                        0x25 => acc > i.k,
                        0x35 => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
                0x06 => return i.k,
                other => panic!("instruction {other:#x} not interpreted"),
            }
        }
    }

    fn nr(arch: &str, name: &str) -> u32 {
        let d = DENIED.iter().find(|d| d.name == name).unwrap();
        let n = if arch == "aarch64" {
            d.aarch64
        } else {
            d.x86_64
        };
        n.unwrap() as u32
    }

    #[test]
    fn denies_the_list_with_eperm_and_allows_the_rest() {
        for (arch, audit) in [
            ("x86_64", AUDIT_ARCH_X86_64),
            ("aarch64", AUDIT_ARCH_AARCH64),
        ] {
            let p = program(arch).unwrap();
            let eperm = SECCOMP_RET_ERRNO | EPERM;
            for name in denied_names(arch) {
                if matches!(name, "clone" | "personality") {
                    continue;
                }
                assert_eq!(
                    run(&p, audit, nr(arch, name), [0; 6]),
                    eperm,
                    "{arch} {name}"
                );
            }
            // read, write, openat, mmap, futex, getpid: allowed.
            let allowed: &[u32] = if arch == "x86_64" {
                &[0, 1, 257, 9, 202, 39]
            } else {
                &[63, 64, 56, 222, 98, 172]
            };
            for &n in allowed {
                assert_eq!(run(&p, audit, n, [0; 6]), SECCOMP_RET_ALLOW, "{arch} {n}");
            }
            // clone: threads and forks pass, namespaces do not.
            let clone = nr(arch, "clone");
            let thread = 0x003d_0f00; // glibc's pthread_create flags
            assert_eq!(
                run(&p, audit, clone, [thread, 0, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            assert_eq!(
                run(&p, audit, clone, [0x11, 0, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            for flag in CLONE_NEW_FLAGS {
                assert_eq!(
                    run(&p, audit, clone, [0x11 | flag, 0, 0, 0, 0, 0]),
                    eperm,
                    "{arch} clone {flag:#x}"
                );
            }
            assert_eq!(
                run(&p, audit, CLONE3 as u32, [0; 6]),
                SECCOMP_RET_ERRNO | ENOSYS
            );
            // personality: only PER_LINUX and the query.
            let pers = nr(arch, "personality");
            assert_eq!(run(&p, audit, pers, [0; 6]), SECCOMP_RET_ALLOW);
            assert_eq!(
                run(&p, audit, pers, [PERSONALITY_QUERY, 0, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC.
            for persona in [0x0004_0000, 0x0040_0000] {
                assert_eq!(run(&p, audit, pers, [persona, 0, 0, 0, 0, 0]), eperm);
            }
        }
    }

    #[test]
    fn other_abis_cannot_go_around_the_list() {
        let p = program("x86_64").unwrap();
        // x32: mount with the x32 bit.
        assert_eq!(
            run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 165, [0; 6]),
            SECCOMP_RET_ERRNO | ENOSYS
        );
        // i386 (int 0x80), aarch64 calls on x86_64 and the reverse.
        assert_eq!(
            run(&p, AUDIT_ARCH_I386, 21, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(
            run(&p, AUDIT_ARCH_AARCH64, 63, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
        let p = program("aarch64").unwrap();
        assert_eq!(
            run(&p, AUDIT_ARCH_X86_64, 0, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn unknown_architectures_are_refused() {
        let err = program("riscv64").unwrap_err();
        assert!(err.to_string().contains("riscv64 architecture"), "{err}");
    }

    #[test]
    fn bytes_are_the_raw_sock_filter_array() {
        let p = program(std::env::consts::ARCH).unwrap();
        let bytes = compile().unwrap();
        assert_eq!(bytes.len(), p.len() * 8);
        assert_eq!(&bytes[..2], &0x20u16.to_ne_bytes());
        assert_eq!(&bytes[4..8], &SECCOMP_DATA_ARCH.to_ne_bytes());
    }
}
