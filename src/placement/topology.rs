//! CPU topology: which workers are whose neighbours, so an idle worker steals nearby first.
//!
//! A worker that runs out of work steals from the others in a fixed order, computed once when
//! the pool starts. Neighbours come first: a worker sharing the same core, then an SMT sibling,
//! then one sharing the last-level cache, then one in the same package, then the rest by ring
//! distance. Formally, worker `i` visits every other worker `j` sorted by
//!
//! 1. topology distance between their CPUs ([`Topology::distance`]): 0 same CPU, 1 SMT siblings,
//!    2 same last-level cache, 3 same package, 4 otherwise; an unpinned worker or unknown
//!    topology counts as 4;
//! 2. ring distance `min((j - i) mod n, (i - j) mod n)`, so without topology information
//!    workers steal from `i ± 1`, then `i ± 2`, and victims spread evenly over the pool;
//! 3. the index `j`, so the order is deterministic.
//!
//! Why: a stolen task usually touches data its parent just wrote. Taken by a thread on the same
//! core or sharing its cache, that data is still in cache; taken from across the package or
//! socket, every line has to move over the interconnect. Stealing near first keeps the common
//! case cheap and only reaches far when everything near is idle.
//!
//! The topology is read once from sysfs (`/sys/devices/system/cpu/cpuN/...`). Every file is
//! optional: a missing or unreadable file means "unknown", which only makes the order fall back
//! towards plain ring order.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// Where Linux publishes CPU topology.
const SYSFS_CPU: &str = "/sys/devices/system/cpu";

/// Anything past this many CPUs in one list piece is garbage, not a real range.
const MAX_RANGE: usize = 1 << 16;

/// What sysfs says about one CPU; empty lists and `None` mean unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CpuInfo {
    /// CPUs sharing this CPU's core (itself included).
    smt_siblings: Vec<usize>,
    /// CPUs sharing its highest-level cache (itself included).
    llc: Vec<usize>,
    /// Its physical package (socket).
    package: Option<usize>,
}

/// The CPU topology of the machine, as far as sysfs tells it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Topology {
    cpus: HashMap<usize, CpuInfo>,
}

impl Topology {
    /// Reads the topology of this machine from `/sys/devices/system/cpu`.
    pub(crate) fn read() -> Topology {
        Topology::from_root(Path::new(SYSFS_CPU))
    }

    /// Reads the topology from a sysfs-like tree: `root/cpuN/topology/...` and
    /// `root/cpuN/cache/indexM/...`. A missing `root` gives an empty (all unknown) topology.
    pub(crate) fn from_root(root: &Path) -> Topology {
        let Ok(dir) = fs::read_dir(root) else {
            return Topology::default();
        };
        let cpus = dir
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                let id = cpu_id_of_dir_name(&name.to_string_lossy())?;
                Some((id, read_cpu(&entry.path())))
            })
            .collect();
        Topology { cpus }
    }

    /// How far apart two CPUs are: 0 same CPU, 1 SMT siblings, 2 share the last-level cache,
    /// 3 same package, 4 otherwise or unknown.
    pub(crate) fn distance(&self, a: usize, b: usize) -> u8 {
        if a == b {
            return 0;
        }
        let (ia, ib) = (self.cpus.get(&a), self.cpus.get(&b));
        // Either side's list is enough: sysfs may be readable for one CPU only.
        let listed = |list: fn(&CpuInfo) -> &Vec<usize>| {
            ia.is_some_and(|ia| list(ia).contains(&b)) || ib.is_some_and(|ib| list(ib).contains(&a))
        };
        let package = |info: Option<&CpuInfo>| info.and_then(|info| info.package);
        if listed(|c| &c.smt_siblings) {
            1
        } else if listed(|c| &c.llc) {
            2
        } else if package(ia).is_some() && package(ia) == package(ib) {
            3
        } else {
            4
        }
    }
}

/// `cpu12` → 12; `cpufreq`, `cpuidle` and other entries → `None`.
fn cpu_id_of_dir_name(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("cpu")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads one `cpuN` directory; whatever is missing stays unknown.
fn read_cpu(dir: &Path) -> CpuInfo {
    let topology = dir.join("topology");
    let read_list = |path: &Path| {
        fs::read_to_string(path)
            .map(|text| parse_cpu_list(&text))
            .unwrap_or_default()
    };
    let mut smt_siblings = read_list(&topology.join("thread_siblings_list"));
    if smt_siblings.is_empty() {
        smt_siblings = read_list(&topology.join("core_cpus_list"));
    }
    let package = fs::read_to_string(topology.join("physical_package_id"))
        .ok()
        .and_then(|text| text.trim().parse().ok());
    CpuInfo {
        smt_siblings,
        llc: read_last_level_cache(&dir.join("cache"), read_list),
        package,
    }
}

/// The `shared_cpu_list` of the cache with the highest `level` under `cache_dir`; caches that
/// tie on the highest level are merged.
fn read_last_level_cache(cache_dir: &Path, read_list: impl Fn(&Path) -> Vec<usize>) -> Vec<usize> {
    let Ok(dir) = fs::read_dir(cache_dir) else {
        return Vec::new();
    };
    let mut best: Option<(u32, Vec<usize>)> = None;
    for entry in dir.filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        let index = entry.path();
        let Some(level) = fs::read_to_string(index.join("level"))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let shared = read_list(&index.join("shared_cpu_list"));
        if shared.is_empty() {
            continue;
        }
        match &mut best {
            Some((best_level, list)) if *best_level == level => list.extend(shared),
            Some((best_level, _)) if *best_level > level => {}
            _ => best = Some((level, shared)),
        }
    }
    let mut llc = best.map(|(_, list)| list).unwrap_or_default();
    llc.sort_unstable();
    llc.dedup();
    llc
}

/// Parses a Linux CPU list such as `"0-3,8,10-11\n"` into ascending, distinct ids.
///
/// Pieces that are not a number or an ascending `a-b` range are ignored.
pub(crate) fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for piece in s.trim().split(',').map(str::trim) {
        let (first, last) = match piece.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (piece.parse::<usize>(), piece.parse::<usize>()),
        };
        if let (Ok(first), Ok(last)) = (first, last) {
            if first <= last && last - first < MAX_RANGE {
                cpus.extend(first..=last);
            }
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// Steal order for every worker: neighbours first — a worker sharing the same core, SMT
/// sibling, same cache, same package — then ring distance.
///
/// `cpus[i]` is the OS CPU worker `i` is pinned to (`None` = unpinned). The result's entry `i`
/// lists every other worker index, nearest first: by [`Topology::distance`] (4 if either side
/// is unpinned), then by ring distance `min((j - i) mod n, (i - j) mod n)`, then by index.
pub(crate) fn neighbour_order(cpus: &[Option<usize>], topo: &Topology) -> Vec<Vec<usize>> {
    let n = cpus.len();
    (0..n)
        .map(|i| {
            let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            others.sort_by_key(|&j| {
                let distance = match (cpus[i], cpus[j]) {
                    (Some(a), Some(b)) => topo.distance(a, b),
                    _ => 4,
                };
                let ring = ((j + n - i) % n).min((i + n - j) % n);
                (distance, ring, j)
            });
            others
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake sysfs tree in the temp directory, removed on drop.
    struct FakeSysfs {
        root: PathBuf,
    }

    impl FakeSysfs {
        fn new() -> FakeSysfs {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            // ORDERING: only uniqueness matters; no other memory is published through it.
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let root = std::env::temp_dir().join(format!(
                "corepool-topology-test-{}-{n}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            ));
            fs::create_dir_all(&root).unwrap();
            FakeSysfs { root }
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    impl Drop for FakeSysfs {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// 4 CPUs as SMT pairs {0,2} and {1,3}, one shared L3, one package.
    fn two_smt_pairs() -> FakeSysfs {
        let sys = FakeSysfs::new();
        for cpu in 0..4 {
            let pair = if cpu % 2 == 0 { "0,2\n" } else { "1,3\n" };
            sys.write(&format!("cpu{cpu}/topology/thread_siblings_list"), pair);
            sys.write(&format!("cpu{cpu}/topology/physical_package_id"), "0\n");
            sys.write(&format!("cpu{cpu}/cache/index0/level"), "1\n");
            sys.write(&format!("cpu{cpu}/cache/index0/shared_cpu_list"), pair);
            sys.write(&format!("cpu{cpu}/cache/index3/level"), "3\n");
            sys.write(&format!("cpu{cpu}/cache/index3/shared_cpu_list"), "0-3\n");
        }
        sys.write("cpufreq/policy0/whatever", "x");
        sys
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list("5"), [5]);
        assert_eq!(parse_cpu_list(" 3 , 1-2 ,1\n"), [1, 2, 3]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("\n"), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("x,4-2,7,-1,2-,0-3:2,9"), [7, 9]);
        assert_eq!(parse_cpu_list("0-18446744073709551615,1"), [1]);
    }

    #[test]
    fn distances_from_fake_sysfs() {
        let sys = two_smt_pairs();
        let topo = Topology::from_root(&sys.root);
        assert_eq!(topo.distance(0, 0), 0);
        assert_eq!(topo.distance(0, 2), 1);
        assert_eq!(topo.distance(3, 1), 1);
        assert_eq!(topo.distance(0, 1), 2);
        assert_eq!(topo.distance(0, 9), 4, "unknown cpu");
    }

    #[test]
    fn package_and_fallback_files() {
        let sys = FakeSysfs::new();
        sys.write("cpu0/topology/core_cpus_list", "0-1\n");
        sys.write("cpu0/topology/physical_package_id", "0\n");
        sys.write("cpu2/topology/physical_package_id", "0\n");
        sys.write("cpu3/topology/physical_package_id", "1\n");
        let topo = Topology::from_root(&sys.root);
        assert_eq!(
            topo.distance(0, 1),
            1,
            "core_cpus_list stands in for siblings"
        );
        assert_eq!(topo.distance(1, 0), 1, "known from cpu0's side only");
        assert_eq!(topo.distance(0, 2), 3);
        assert_eq!(topo.distance(0, 3), 4);
    }

    #[test]
    fn smt_sibling_is_stolen_from_first() {
        let sys = two_smt_pairs();
        let topo = Topology::from_root(&sys.root);
        let cpus = [Some(0), Some(1), Some(2), Some(3)];
        let order = neighbour_order(&cpus, &topo);
        assert_eq!(order[0], [2, 1, 3]);
        assert_eq!(order[1], [3, 0, 2]);
        assert_eq!(order[3], [1, 0, 2]);
    }

    #[test]
    fn same_cpu_worker_comes_first() {
        let sys = two_smt_pairs();
        let topo = Topology::from_root(&sys.root);
        // k = 2 over cpus 0 and 1: workers 0, 2 on cpu0 and 1, 3 on cpu1.
        let cpus = [Some(0), Some(1), Some(0), Some(1)];
        let order = neighbour_order(&cpus, &topo);
        assert_eq!(order[0], [2, 1, 3]);
        assert_eq!(order[1], [3, 0, 2]);
    }

    #[test]
    fn no_sysfs_gives_ring_order() {
        let topo = Topology::from_root(Path::new("/nonexistent/corepool/cpu"));
        let cpus: Vec<_> = (0..5).map(Some).collect();
        let order = neighbour_order(&cpus, &topo);
        assert_eq!(order[0], [1, 4, 2, 3]);
        assert_eq!(order[2], [1, 3, 0, 4]);
        assert_eq!(order[4], [0, 3, 1, 2]);
    }

    #[test]
    fn unpinned_workers_go_by_ring() {
        let sys = two_smt_pairs();
        let topo = Topology::from_root(&sys.root);
        let unpinned = neighbour_order(&[None, None, None, None], &topo);
        assert_eq!(unpinned[0], [1, 3, 2]);
        // Worker 2 is unpinned: it is no longer worker 0's SMT neighbour.
        let mixed = neighbour_order(&[Some(0), Some(1), None, Some(2)], &topo);
        assert_eq!(mixed[0], [3, 1, 2]);
        assert_eq!(mixed[2], [1, 3, 0]);
    }

    #[test]
    fn tiny_pools() {
        let topo = Topology::default();
        assert_eq!(neighbour_order(&[], &topo), Vec::<Vec<usize>>::new());
        assert_eq!(neighbour_order(&[Some(0)], &topo), [Vec::<usize>::new()]);
    }

    #[test]
    fn this_machine_reads_without_panicking() {
        let topo = Topology::read();
        assert_eq!(topo.distance(0, 0), 0);
        assert!(topo.distance(0, 1) <= 4);
    }
}
