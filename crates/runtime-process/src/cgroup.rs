//! Per-environment resource limits: memory and process count.
//!
//! Three mechanisms, the first the host has wins (logged once at startup):
//! - **cgroup v2** (`/sys/fs/cgroup/cgroup.controllers`): one directory
//!   `<parent>/<env>` with `memory.max`, `memory.swap.max = 0`, `pids.max`;
//!   peak from `memory.peak`, OOM kills from `memory.events`.
//! - **cgroup v1** (`/sys/fs/cgroup/memory` and `/sys/fs/cgroup/pids`):
//!   `memory/<platform's cgroup>/<parent>/<env>` with `memory.limit_in_bytes` (and
//!   `memory.memsw.limit_in_bytes`, so swap does not extend it),
//!   `pids/<platform's cgroup>/<parent>/<env>` with `pids.max`; peak from
//!   `memory.max_usage_in_bytes`, OOM kills from `memory.oom_control`.
//! - **RLIMIT_AS** on the sandbox's processes: caps address space rather
//!   than resident memory, with no pids limit and no peak measurement.
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
    /// v2: one directory; v1: the memory one, then the pids one.
    pub dirs: Vec<PathBuf>,
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
        let ok = std::fs::create_dir_all(&dir).is_ok()
            && std::fs::write(root.join("cgroup.subtree_control"), "+memory +pids").is_ok()
            && std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids").is_ok();
        if ok {
            return Parents {
                mechanism: LimitMechanism::CgroupV2,
                dirs: vec![dir],
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
            return Parents {
                mechanism: LimitMechanism::CgroupV1,
                dirs: vec![mem, pids],
            };
        }
    }
    Parents {
        mechanism: LimitMechanism::RlimitAs,
        dirs: Vec::new(),
    }
}

/// The cgroups of one environment; removed on drop (once empty).
#[derive(Debug)]
pub(crate) struct Cgroup {
    mechanism: LimitMechanism,
    /// v2: one directory; v1: the memory one, then the pids one.
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates the cgroups of environment `name` with its limits.
    pub fn create(
        parents: &Parents,
        name: &str,
        memory_bytes: u64,
        pids_max: u32,
    ) -> std::io::Result<Option<Cgroup>> {
        let mechanism = parents.mechanism;
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
