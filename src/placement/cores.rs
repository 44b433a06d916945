//! Which CPUs this process may use: the affinity mask, capped by a cgroup CPU quota.
//!
//! [`detect_cores`] reads the affinity mask (`sched_getaffinity` through `core_affinity`);
//! then the CPU quota of the process's cgroup (v2 `cpu.max`, v1 `cpu.cfs_quota_us` /
//! `cpu.cfs_period_us`, the lowest along the path from its own cgroup to the root) caps the
//! count, keeping the first CPUs of the mask — a container given 1.5 CPUs of an 8-CPU mask
//! gets 2. If the mask is unreadable, the CPU count the OS reports is used instead. The
//! parsers are pure functions over the files' text, unit-tested on every format.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the list of usable CPUs came from, for the printed [`Plan`](crate::Plan).
///
/// ```
/// use corepool::CoreSource;
///
/// let src = CoreSource::CgroupQuota { quota_cpus: 2, allowed: 8 };
/// assert_eq!(src.to_string(), "cgroup CPU quota of 2 CPUs (affinity mask allows 8)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreSource {
    /// The affinity mask allows `allowed` of the `machine`'s CPUs.
    AffinityMask {
        /// CPUs in the mask.
        allowed: usize,
        /// CPUs the machine has (configured, online or not).
        machine: usize,
    },
    /// A cgroup CPU quota (rounded up to whole CPUs) is lower than the affinity mask.
    CgroupQuota {
        /// The quota in whole CPUs; this many CPUs of the mask are used.
        quota_cpus: usize,
        /// CPUs in the mask.
        allowed: usize,
    },
    /// The affinity mask could not be read; CPUs `0..machine` are assumed.
    Fallback {
        /// The CPU count the OS reported.
        machine: usize,
    },
}

impl fmt::Display for CoreSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CoreSource::AffinityMask { allowed, machine } => write!(
                f,
                "affinity mask allows {allowed} of {machine} {}",
                plural(machine, "CPU", "CPUs")
            ),
            CoreSource::CgroupQuota {
                quota_cpus,
                allowed,
            } => write!(
                f,
                "cgroup CPU quota of {quota_cpus} {} (affinity mask allows {allowed})",
                plural(quota_cpus, "CPU", "CPUs")
            ),
            CoreSource::Fallback { machine } => write!(
                f,
                "affinity mask unreadable; {machine} {} reported by the OS",
                plural(machine, "CPU", "CPUs")
            ),
        }
    }
}

pub(crate) fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The CPUs this process may run on, and how that was decided.
///
/// ```
/// let detected = corepool::detect_cores();
/// assert!(!detected.cpus().is_empty());
/// println!("{} CPUs: {}", detected.cpus().len(), detected.source());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedCores {
    cpus: Vec<usize>,
    source: CoreSource,
}

impl DetectedCores {
    /// OS CPU ids the process may run on, ascending and without duplicates.
    ///
    /// ```
    /// let detected = corepool::detect_cores();
    /// assert!(detected.cpus().windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    /// Where [`cpus`](DetectedCores::cpus) came from.
    ///
    /// ```
    /// use corepool::CoreSource;
    ///
    /// let detected = corepool::detect_cores();
    /// match detected.source() {
    ///     CoreSource::AffinityMask { allowed, .. } => assert_eq!(allowed, detected.cpus().len()),
    ///     CoreSource::CgroupQuota { quota_cpus, .. } => assert_eq!(quota_cpus, detected.cpus().len()),
    ///     CoreSource::Fallback { machine } => assert_eq!(machine, detected.cpus().len()),
    /// }
    /// ```
    pub fn source(&self) -> CoreSource {
        self.source
    }

    /// Builds a detection result by hand; `cpus` is sorted and deduplicated.
    pub(crate) fn from_parts(mut cpus: Vec<usize>, source: CoreSource) -> DetectedCores {
        cpus.sort_unstable();
        cpus.dedup();
        DetectedCores { cpus, source }
    }
}

/// Reads the CPUs this process may use: the calling thread's affinity mask (which threads it
/// starts inherit), cut down to the cgroup CPU quota if that is lower.
///
/// ```
/// let detected = corepool::detect_cores();
/// assert!(detected.cpus().len() >= 1);
/// ```
pub fn detect_cores() -> DetectedCores {
    // Under the model checkers every interleaving builds its pool again, and these reads
    // (about thirty system calls) were a third of a whole-pool model's time: read once per
    // test binary. The models pin nothing, so only the count matters, and it cannot change
    // under them.
    #[cfg(any(corepool_loom, corepool_shuttle))]
    {
        static ONCE: crate::sync::OnceLock<DetectedCores> = crate::sync::OnceLock::new();
        ONCE.get_or_init(read_cores).clone()
    }
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    read_cores()
}

/// [`detect_cores`]'s reads.
fn read_cores() -> DetectedCores {
    let mask = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|core| core.id).collect::<Vec<_>>())
        .filter(|ids| !ids.is_empty());
    let quota = match mask {
        Some(_) => read_cgroup_quota(),
        None => None,
    };
    combine(mask, quota, machine_cpus(), num_cpus::get())
}

/// The detection decision, free of I/O: `mask` capped by `quota`, else `0..os_count`.
fn combine(
    mask: Option<Vec<usize>>,
    quota: Option<usize>,
    machine: usize,
    os_count: usize,
) -> DetectedCores {
    let Some(mut cpus) = mask.filter(|m| !m.is_empty()) else {
        let os_count = os_count.max(1);
        return DetectedCores::from_parts(
            (0..os_count).collect(),
            CoreSource::Fallback { machine: os_count },
        );
    };
    cpus.sort_unstable();
    cpus.dedup();
    let allowed = cpus.len();
    match quota {
        Some(quota_cpus) if quota_cpus < allowed => {
            cpus.truncate(quota_cpus.max(1));
            let quota_cpus = cpus.len();
            DetectedCores::from_parts(
                cpus,
                CoreSource::CgroupQuota {
                    quota_cpus,
                    allowed,
                },
            )
        }
        _ => DetectedCores::from_parts(
            cpus,
            CoreSource::AffinityMask {
                allowed,
                machine: machine.max(allowed),
            },
        ),
    }
}

/// CPUs the machine has: the `cpuN` directories in sysfs, else what the OS reports.
fn machine_cpus() -> usize {
    let counted = fs::read_dir("/sys/devices/system/cpu")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|entry| is_cpu_dir_name(&entry.file_name().to_string_lossy()))
                .count()
        })
        .unwrap_or(0);
    if counted > 0 {
        counted
    } else {
        num_cpus::get()
    }
}

/// `cpu0`, `cpu17`… but not `cpufreq` or `cpuidle`.
fn is_cpu_dir_name(name: &str) -> bool {
    name.strip_prefix("cpu")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

fn read_cgroup_quota() -> Option<usize> {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroup_quota_cpus(Path::new(CGROUP_MOUNT), &own)
}

/// The lowest CPU quota, in whole CPUs, on the process's cgroup or any ancestor, under `mount`.
///
/// Looks at cgroup v2 `cpu.max` and cgroup v1 `cpu/cpu.cfs_quota_us` + `cpu.cfs_period_us`,
/// at the path named in `/proc/self/cgroup` (`proc_self_cgroup`) and up to the mount root.
fn cgroup_quota_cpus(mount: &Path, proc_self_cgroup: &str) -> Option<usize> {
    let own = parse_proc_self_cgroup(proc_self_cgroup);
    let v2 = cgroup_ancestry(own.unified.as_deref().unwrap_or("/"))
        .into_iter()
        .filter_map(|rel| fs::read_to_string(mount.join(rel).join("cpu.max")).ok())
        .filter_map(|text| parse_cpu_max(&text));
    let v1 = cgroup_ancestry(own.cpu_v1.as_deref().unwrap_or("/"))
        .into_iter()
        .filter_map(|rel| {
            let dir = mount.join("cpu").join(rel);
            let quota = fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok()?;
            let period = fs::read_to_string(dir.join("cpu.cfs_period_us")).ok()?;
            parse_cfs_quota(&quota, &period)
        });
    v2.chain(v1).min()
}

/// The process's cgroup paths from `/proc/self/cgroup`.
#[derive(Debug, Default, PartialEq, Eq)]
struct OwnCgroup {
    /// The v2 (unified) path, from the `0::/path` line.
    unified: Option<String>,
    /// The v1 path of the hierarchy holding the `cpu` controller.
    cpu_v1: Option<String>,
}

/// Parses lines of `hierarchy-id:controllers:path`; unknown or malformed lines are skipped.
fn parse_proc_self_cgroup(text: &str) -> OwnCgroup {
    let mut own = OwnCgroup::default();
    for line in text.lines() {
        let mut parts = line.trim().splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !path.starts_with('/') {
            continue;
        }
        if id == "0" && controllers.is_empty() {
            own.unified = Some(path.to_owned());
        } else if controllers.split(',').any(|c| c == "cpu") {
            own.cpu_v1 = Some(path.to_owned());
        }
    }
    own
}

/// Relative directories from a cgroup path up to the root: `/a/b` → `a/b`, `a`, `` (root).
///
/// A path that climbs (`..`, seen from inside a cgroup namespace) yields only the root.
fn cgroup_ancestry(path: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|&p| p == ".." || p == ".") {
        return vec![PathBuf::new()];
    }
    (0..=parts.len())
        .rev()
        .map(|n| parts[..n].iter().collect())
        .collect()
}

/// cgroup v2 `cpu.max`: `"max 100000"` = no limit, `"150000 100000"` = 2 CPUs (rounded up).
fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut fields = text.split_whitespace();
    let (quota, period) = (fields.next()?, fields.next()?);
    if fields.next().is_some() || quota == "max" {
        return None;
    }
    quota_to_cpus(quota.parse().ok()?, period.parse().ok()?)
}

/// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`; a quota of `-1` = no limit.
fn parse_cfs_quota(quota: &str, period: &str) -> Option<usize> {
    let quota: i64 = quota.trim().parse().ok()?;
    quota_to_cpus(u64::try_from(quota).ok()?, period.trim().parse().ok()?)
}

fn quota_to_cpus(quota: u64, period: u64) -> Option<usize> {
    if quota == 0 || period == 0 {
        return None;
    }
    usize::try_from(quota.div_ceil(period)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_source_display() {
        let mask = CoreSource::AffinityMask {
            allowed: 2,
            machine: 2,
        };
        assert_eq!(mask.to_string(), "affinity mask allows 2 of 2 CPUs");
        let quota = CoreSource::CgroupQuota {
            quota_cpus: 2,
            allowed: 8,
        };
        assert_eq!(
            quota.to_string(),
            "cgroup CPU quota of 2 CPUs (affinity mask allows 8)"
        );
        let fallback = CoreSource::Fallback { machine: 4 };
        assert_eq!(
            fallback.to_string(),
            "affinity mask unreadable; 4 CPUs reported by the OS"
        );
    }

    #[test]
    fn cpu_max_formats() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("200000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_cpu_max("0 100000"), None);
        assert_eq!(parse_cpu_max("100000 0"), None);
        assert_eq!(parse_cpu_max("100000"), None);
        assert_eq!(parse_cpu_max("lots 100000"), None);
        assert_eq!(parse_cpu_max("1 2 3"), None);
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn cfs_v1_values() {
        assert_eq!(parse_cfs_quota("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs_quota("150000\n", "100000\n"), Some(2));
        assert_eq!(parse_cfs_quota("400000", "100000"), Some(4));
        assert_eq!(parse_cfs_quota("1000", "100000"), Some(1));
        assert_eq!(parse_cfs_quota("100000", "0"), None);
        assert_eq!(parse_cfs_quota("garbage", "100000"), None);
        assert_eq!(parse_cfs_quota("100000", ""), None);
    }

    #[test]
    fn proc_self_cgroup_lines() {
        let v2 = parse_proc_self_cgroup("0::/user.slice/app.scope\n");
        assert_eq!(v2.unified.as_deref(), Some("/user.slice/app.scope"));
        assert_eq!(v2.cpu_v1, None);
        let hybrid = "12:cpu,cpuacct:/docker/abc\n4:memory:/x\n1:name=systemd:/\n0::/\n";
        let own = parse_proc_self_cgroup(hybrid);
        assert_eq!(own.unified.as_deref(), Some("/"));
        assert_eq!(own.cpu_v1.as_deref(), Some("/docker/abc"));
        let cpuset_only = parse_proc_self_cgroup("3:cpuset:/a\n");
        assert_eq!(cpuset_only, OwnCgroup::default());
        assert_eq!(
            parse_proc_self_cgroup("garbage\n::\n7\n"),
            OwnCgroup::default()
        );
    }

    #[test]
    fn cgroup_ancestry_walks_up() {
        let expect = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(cgroup_ancestry("/a/b"), expect(&["a/b", "a", ""]));
        assert_eq!(cgroup_ancestry("/"), expect(&[""]));
        assert_eq!(cgroup_ancestry("/../../x"), expect(&[""]));
    }

    #[test]
    fn quota_read_from_a_fake_cgroup_tree() {
        let root = std::env::temp_dir().join(format!(
            "corepool-sizing-test-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("cpu.max", "max 100000\n");
        write("pod/cpu.max", "300000 100000\n");
        write("pod/app/cpu.max", "max 100000\n");
        let v2 = cgroup_quota_cpus(&root, "0::/pod/app\n");
        let v2_elsewhere = cgroup_quota_cpus(&root, "0::/other\n");
        write("cpu/cpu.cfs_quota_us", "-1\n");
        write("cpu/cpu.cfs_period_us", "100000\n");
        write("cpu/job/cpu.cfs_quota_us", "150000\n");
        write("cpu/job/cpu.cfs_period_us", "100000\n");
        let v1 = cgroup_quota_cpus(&root, "3:cpu,cpuacct:/job\n0::/\n");
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(v2, Some(3), "the lowest quota on the way up");
        assert_eq!(v2_elsewhere, None);
        assert_eq!(v1, Some(2));
        assert_eq!(
            cgroup_quota_cpus(Path::new("/nonexistent/corepool"), "0::/"),
            None
        );
    }

    #[test]
    fn combine_caps_the_mask_by_quota() {
        let capped = combine(Some(vec![5, 1, 3, 7]), Some(2), 8, 8);
        assert_eq!(capped.cpus(), [1, 3]);
        assert_eq!(
            capped.source(),
            CoreSource::CgroupQuota {
                quota_cpus: 2,
                allowed: 4
            }
        );
        let loose = combine(Some(vec![0, 1]), Some(4), 8, 8);
        assert_eq!(loose.cpus(), [0, 1]);
        assert_eq!(
            loose.source(),
            CoreSource::AffinityMask {
                allowed: 2,
                machine: 8
            }
        );
        let fallback = combine(None, Some(1), 0, 4);
        assert_eq!(fallback.cpus(), [0, 1, 2, 3]);
        assert_eq!(fallback.source(), CoreSource::Fallback { machine: 4 });
        assert_eq!(combine(Some(vec![]), None, 0, 0).cpus(), [0]);
    }

    #[test]
    fn cpu_dir_names() {
        assert!(is_cpu_dir_name("cpu0"));
        assert!(is_cpu_dir_name("cpu127"));
        assert!(!is_cpu_dir_name("cpu"));
        assert!(!is_cpu_dir_name("cpufreq"));
        assert!(!is_cpu_dir_name("cpuidle"));
    }

    #[test]
    fn real_detection_is_sane() {
        let detected = detect_cores();
        assert!(!detected.cpus().is_empty());
        assert!(detected.cpus().windows(2).all(|w| w[0] < w[1]));
        let resolved = crate::Sizing::cpu_bound()
            .resolve_with(&|_| None, &detected)
            .unwrap();
        assert_eq!(resolved.cores, detected.cpus().len());
    }
}
