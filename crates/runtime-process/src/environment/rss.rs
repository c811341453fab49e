//! Peak memory of a sandbox without cgroups, from `/proc`.
//!
//! Without a cgroup (the `RLIMIT_AS` fallback) nothing counts an
//! environment's memory for us, so its process tree is walked instead:
//!
//! ```text
//!   bwrap (the spawned child: `enter` execs into it, same pid)
//!     └─ bwrap (pid 1 of the sandbox)
//!          └─ updraft-sandbox-init run
//!               └─ bootstrap | python -m awslambdaric
//!                    └─ whatever the function forks
//! ```
//!
//! from the spawned child's pid through `/proc/<pid>/task/<tid>/children`
//! (a process's children are listed under the thread that forked them),
//! adding up each process's `VmHWM`, its own peak resident set. About three
//! small reads per process; processes that exit meanwhile (`ENOENT`, or a
//! zombie without `VmHWM`) count zero.
//!
//! **Summed, not the largest.** The figure stands for what the cgroup
//! paths report (`memory.peak`, `memory.max_usage_in_bytes`): the memory
//! of every process of the sandbox. A function that forks (a shell
//! bootstrap running its handler as a child, `multiprocessing` workers)
//! holds memory in several processes at once, and the largest alone would
//! report a fraction of it. The sum errs upwards instead: the processes'
//! peaks may not have coincided, and pages they share (libraries,
//! copy-on-write pages after a fork) count once per process — a few MB per
//! process more than a cgroup would charge.
//!
//! What it cannot see: processes that ended before the walk (their peak
//! went with them; a handler's short-lived child between two samples),
//! and, past [`MAX_READS`], the rest of an unusually large tree (without
//! cgroups there is no pids limit).

/// At most this many `/proc` reads per walk (status files and children
/// lists): a fork bomb does not turn a sample into a scan.
const MAX_READS: usize = 1024;

/// The sum of the peak resident sets of `root` and its descendants, in
/// bytes (0 if `root` is gone).
pub(crate) fn tree_peak_bytes(root: u32) -> u64 {
    let mut total = 0u64;
    let mut reads = 0;
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        if reads >= MAX_READS {
            tracing::debug!(
                root,
                left = pending.len() + 1,
                "sandbox process tree too large to measure whole"
            );
            break;
        }
        reads += 1;
        total = total.saturating_add(vm_hwm_bytes(pid).unwrap_or(0));
        reads += children(pid, MAX_READS.saturating_sub(reads), &mut pending);
    }
    total
}

/// The peak resident set of `pid` (`VmHWM` of `/proc/<pid>/status`).
fn vm_hwm_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

/// `VmHWM:     1234 kB` → 1234 × 1024.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kb: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Pushes the children of every thread of `pid` onto `into`, reading at
/// most `budget` children lists; answers how many it read.
fn children(pid: u32, budget: usize, into: &mut Vec<u32>) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut reads = 0;
    for task in tasks.flatten().take(budget) {
        reads += 1;
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            into.extend(
                list.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        let status =
            "Name:\tpython3\nVmPeak:\t  200000 kB\nVmHWM:\t   70400 kB\nVmRSS:\t   12000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(70400 * 1024));
        // A zombie or a kernel thread has no memory lines.
        assert_eq!(parse_vm_hwm("Name:\tgone\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn sums_a_live_tree_and_ignores_a_missing_one() {
        let own = vm_hwm_bytes(std::process::id()).expect("our own VmHWM");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        // `spawn` returns once the exec is done: the child has a peak.
        let child_peak = tree_peak_bytes(child.id());
        // Found through the children list of the thread that forked it.
        let tree = tree_peak_bytes(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(child_peak > 0);
        assert!(tree >= own + child_peak, "{tree} < {own} + {child_peak}");
        // A pid past the kernel's maximum never exists.
        assert_eq!(tree_peak_bytes(u32::MAX), 0);
    }
}
