//! Per-environment resource limits: memory, process count and CPU share.
//!
//! Three mechanisms, the first the host has wins (logged once at startup):
//! - **cgroup v2** (`/sys/fs/cgroup/cgroup.controllers`): one directory
//!   `<parent>/<env>` with `memory.max`, `memory.swap.max = 0`, `pids.max`
//!   and, when the `cpu` controller can be enabled, `cpu.weight`; peak
//!   from `memory.peak`, OOM kills from `memory.events`.
//! - **cgroup v1** (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids` and,
//!   when mounted, `/sys/fs/cgroup/cpu`):
//!   `memory/<platform's cgroup>/<parent>/<env>` with `memory.limit_in_bytes` (and
//!   `memory.memsw.limit_in_bytes`, so swap does not extend it),
//!   `pids/<platform's cgroup>/<parent>/<env>` with `pids.max`,
//!   `cpu/<platform's cgroup>/<parent>/<env>` with `cpu.shares`; peak from
//!   `memory.max_usage_in_bytes`, OOM kills from `memory.oom_control`.
//! - **RLIMIT_AS** on the sandbox's processes: caps each process's address
//!   space rather than the sandbox's resident memory, with no pids limit
//!   and no CPU share; the peak is summed from the peaks of the sandbox's
//!   processes instead (see `environment::rss`).
//!
//! CPU, as on Lambda, follows memory: an environment's weight is
//! proportional to its `MemorySize`, scaled so that 1024 MB gets the
//! kernel's default (v2 `cpu.weight` 100, v1 `cpu.shares` 1024). Weights
//! share the CPU among busy environments (a 1024 MB one gets eight times
//! the CPU of a 128 MB one when both want more than there is); they cap
//! nothing while CPU is idle.
//!
//! The sandbox's first process joins the cgroups before it execs
//! bubblewrap (see `updraft-sandbox-init enter`), so nothing escapes
//! accounting by forking early.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// Which mechanism limits memory on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitMechanism {
    CgroupV2,
    CgroupV1,
    RlimitAs,
}

impl LimitMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitMechanism::CgroupV2 => "cgroup v2",
            LimitMechanism::CgroupV1 => "cgroup v1 (memory + pids controllers)",
            LimitMechanism::RlimitAs => "RLIMIT_AS (no cgroup available; no pids limit)",
        }
    }
}

/// Where the environments' cgroups are created.
#[derive(Debug, Clone)]
pub(crate) struct Parents {
    pub mechanism: LimitMechanism,
    /// v2: one directory; v1: the memory one, the pids one, then the cpu
    /// one if the host has that controller.
    pub dirs: Vec<PathBuf>,
    /// Environments get a CPU weight (the `cpu` controller is there).
    pub cpu: bool,
}

/// The v2 `cpu.weight` of an environment of `memory_mb` (1..=10000; 100
/// at 1024 MB).
pub fn cpu_weight(memory_mb: u32) -> u64 {
    (u64::from(memory_mb) * 100 / 1024).clamp(1, 10_000)
}

/// The v1 `cpu.shares` of an environment of `memory_mb` (2..=262144; 1024
/// at 1024 MB).
pub fn cpu_shares(memory_mb: u32) -> u64 {
    u64::from(memory_mb).clamp(2, 262_144)
}

/// This process's cgroup in the v1 hierarchy of `controller` (`/` at the
/// root), from `/proc/self/cgroup`.
fn own_v1_cgroup(controller: &str) -> String {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.to_string())
            })
        })
        .unwrap_or_else(|| "/".to_string())
}

/// Finds the mechanism and creates the parent cgroups. Under cgroup v1 the
/// parent is nested in the platform's own cgroup, so whatever limits the
/// platform also limits its sandboxes.
pub(crate) fn detect(parent: &str) -> Parents {
    let root = Path::new(ROOT);
    if root.join("cgroup.controllers").is_file() {
        let dir = root.join(parent);
        let enable = |controllers: &str| {
            std::fs::write(root.join("cgroup.subtree_control"), controllers).is_ok()
                && std::fs::write(dir.join("cgroup.subtree_control"), controllers).is_ok()
        };
        let ok = std::fs::create_dir_all(&dir).is_ok() && enable("+memory +pids");
        if ok {
            // Optional: the kernel refuses `cpu` while a realtime process
            // sits outside the root cgroup, for one.
            let cpu = enable("+cpu");
            if !cpu {
                tracing::warn!("the cgroup v2 cpu controller cannot be enabled: environments get no CPU weight");
            }
            return Parents {
                mechanism: LimitMechanism::CgroupV2,
                dirs: vec![dir],
                cpu,
            };
        }
    } else {
        let nested = |controller: &str| {
            let own = own_v1_cgroup(controller);
            root.join(controller)
                .join(own.trim_start_matches('/'))
                .join(parent)
        };
        let mem = nested("memory");
        let pids = nested("pids");
        if root.join("memory/memory.limit_in_bytes").is_file()
            && root.join("pids/cgroup.procs").is_file()
            && std::fs::create_dir_all(&mem).is_ok()
            && std::fs::create_dir_all(&pids).is_ok()
        {
            let mut dirs = vec![mem, pids];
            let cpu = nested("cpu");
            let has_cpu =
                root.join("cpu/cpu.shares").is_file() && std::fs::create_dir_all(&cpu).is_ok();
            if has_cpu {
                dirs.push(cpu);
            } else {
                tracing::warn!("no cgroup v1 cpu controller: environments get no CPU weight");
            }
            return Parents {
                mechanism: LimitMechanism::CgroupV1,
                dirs,
                cpu: has_cpu,
            };
        }
    }
    Parents {
        mechanism: LimitMechanism::RlimitAs,
        dirs: Vec::new(),
        cpu: false,
    }
}

/// The cgroups of one environment; removed on drop (once empty).
#[derive(Debug)]
pub(crate) struct Cgroup {
    mechanism: LimitMechanism,
    /// v2: one directory; v1: the memory one, the pids one, then the cpu
    /// one (when the host has it).
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates the cgroups of environment `name` with its limits: memory
    /// at `memory_mb`, `pids_max` processes, a CPU weight proportional to
    /// `memory_mb`.
    pub fn create(
        parents: &Parents,
        name: &str,
        memory_mb: u32,
        pids_max: u32,
    ) -> std::io::Result<Option<Cgroup>> {
        let mechanism = parents.mechanism;
        let memory_bytes = u64::from(memory_mb) * 1024 * 1024;
        let cgroup = match mechanism {
            LimitMechanism::RlimitAs => return Ok(None),
            LimitMechanism::CgroupV2 => {
                let dir = parents.dirs[0].join(name);
                let cg = Cgroup {
                    mechanism,
                    dirs: vec![dir.clone()],
                };
                std::fs::create_dir(&dir)?;
                std::fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("pids.max"), pids_max.to_string())?;
                if parents.cpu {
                    std::fs::write(dir.join("cpu.weight"), cpu_weight(memory_mb).to_string())?;
                }
                cg
            }
            LimitMechanism::CgroupV1 => {
                let mem = parents.dirs[0].join(name);
                let pids = parents.dirs[1].join(name);
                std::fs::create_dir(&mem)?;
                let cg = Cgroup {
                    mechanism,
                    dirs: vec![mem.clone()],
                };
                std::fs::write(mem.join("memory.limit_in_bytes"), memory_bytes.to_string())?;
                // Absent when swap accounting is off; then there is no swap
                // to extend the limit with either.
                let _ = std::fs::write(
                    mem.join("memory.memsw.limit_in_bytes"),
                    memory_bytes.to_string(),
                );
                let _ = std::fs::write(mem.join("memory.swappiness"), "0");
                std::fs::create_dir(&pids)?;
                let mut cg = cg;
                cg.dirs.push(pids.clone());
                std::fs::write(pids.join("pids.max"), pids_max.to_string())?;
                if let Some(parent) = parents.dirs.get(2) {
                    let cpu = parent.join(name);
                    std::fs::create_dir(&cpu)?;
                    cg.dirs.push(cpu.clone());
                    std::fs::write(cpu.join("cpu.shares"), cpu_shares(memory_mb).to_string())?;
                }
                cg
            }
        };
        Ok(Some(cgroup))
    }

    /// The directories a process joins (each has `cgroup.procs`).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dirs[0].join(file)).ok()
    }

    /// Peak memory use of the environment, in bytes.
    pub fn peak_bytes(&self) -> u64 {
        let file = match self.mechanism {
            LimitMechanism::CgroupV2 => "memory.peak",
            _ => "memory.max_usage_in_bytes",
        };
        self.read(file)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// How many processes the kernel's OOM killer killed in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.mechanism {
            LimitMechanism::CgroupV2 => "memory.events",
            _ => "memory.oom_control",
        };
        self.read(file)
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
            })
            .unwrap_or(0)
    }

    /// Host pids of the processes still in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        self.read("cgroup.procs")
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILLs every process still in the cgroup.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // A cgroup can be removed only once its processes are gone; they
        // were killed before the environment let go of it.
        for _ in 0..50 {
            self.kill_all();
            if self
                .dirs
                .iter()
                .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tracing::warn!(dirs = ?self.dirs, "could not remove the cgroups of an environment");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_follows_memory() {
        assert_eq!(cpu_weight(1024), 100);
        assert_eq!(cpu_weight(128), 12);
        assert_eq!(cpu_weight(10_240), 1000);
        assert_eq!(cpu_weight(1), 1);
        assert_eq!(cpu_shares(1024), 1024);
        assert_eq!(cpu_shares(128), 128);
        assert_eq!(cpu_shares(10_240), 10_240);
        assert_eq!(cpu_shares(1), 2);
    }
}
