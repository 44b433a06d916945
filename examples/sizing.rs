//! Sizing report: how many threads corepool would start here, and why.
//!
//! Prints the CPUs this process may use and where that came from (affinity mask, cgroup CPU
//! quota), the rule `threads = cores × k + blocking_io` with this machine's numbers and the
//! origin of each, the plan of a real default pool (worker → CPU, pinned or not), the
//! `COREPOOL_*` variables as they are now, and what setting them would change.
//!
//! ```text
//! cargo run --example sizing
//! COREPOOL_PER_CORE=2 COREPOOL_BLOCKING_IO=4 cargo run --example sizing
//! ```
//!
//! Exits non-zero (after printing what it could) if the environment holds a value a pool
//! would refuse.

use std::process::ExitCode;

use corepool::{
    detect_cores, CoreSource, Plan, Pool, Sizing, ENV_BLOCKING_IO, ENV_CORES, ENV_PER_CORE,
};

fn main() -> ExitCode {
    let detected = detect_cores();
    let cpus = detected.cpus();
    println!("detected cores: {} (CPUs {})", cpus.len(), cpu_list(cpus));
    println!("  why: {}", why(detected.source()));
    println!();

    println!("environment (read only for what the code leaves unset):");
    for var in [ENV_CORES, ENV_PER_CORE, ENV_BLOCKING_IO] {
        match std::env::var_os(var) {
            Some(value) if !value.to_string_lossy().trim().is_empty() => {
                println!("  {var:<22} = {value:?}")
            }
            Some(_) => println!("  {var:<22}   set but empty: counts as unset"),
            None => println!("  {var:<22}   unset"),
        }
    }
    println!();

    let plan = match Sizing::cpu_bound().plan(true) {
        Ok(plan) => plan,
        Err(error) => {
            println!("a default pool would not build: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("the rule: threads = cores x k + blocking_io");
    println!(
        "          {} = {} x {} + {}",
        plan.total_threads(),
        plan.cores(),
        plan.per_core(),
        plan.blocking_io()
    );
    println!(
        "  cores       = {:<3} {}",
        plan.cores(),
        origin(ENV_CORES, "every CPU detected above")
    );
    println!(
        "  k           = {:<3} {}",
        plan.per_core(),
        origin(ENV_PER_CORE, "one CPU worker per core")
    );
    println!(
        "  blocking_io = {:<3} {}",
        plan.blocking_io(),
        origin(ENV_BLOCKING_IO, "no blocking lane")
    );
    println!("  worker i goes to allowed CPU number i mod cores");
    println!();

    // A real pool, so the plan shows whether pinning worked, not just what was meant.
    match Pool::builder().build() {
        Ok(pool) => {
            println!("the plan of a default pool, as built:");
            println!("{}", pool.plan());
            pool.shutdown();
        }
        Err(error) => {
            println!("a default pool would not build: {error}");
            return ExitCode::FAILURE;
        }
    }
    println!();

    println!("what the environment would change (that variable set, the others as now):");
    let mut alternatives = Vec::new();
    for k in [1, 2, 4] {
        alternatives.push((ENV_PER_CORE, k, Sizing::cpu_bound().per_core(k)));
    }
    for cores in [1, cpus.len() + 1] {
        alternatives.push((ENV_CORES, cores, Sizing::cpu_bound().cores(cores)));
    }
    alternatives.push((ENV_BLOCKING_IO, 8, Sizing::cpu_bound().blocking_io(8)));
    let now = (plan.cores(), plan.per_core(), plan.blocking_io());
    for (var, value, sizing) in alternatives {
        // A field set in code wins over its variable, exactly as if the variable said so.
        let setting = format!("{var}={value}");
        match sizing.plan(true) {
            Ok(alt) if (alt.cores(), alt.per_core(), alt.blocking_io()) == now => {
                println!("  {setting:<24} {}   (as now)", totals(&alt))
            }
            Ok(alt) => println!("  {setting:<24} {}", totals(&alt)),
            Err(error) => println!("  {setting:<24} refused: {error}"),
        }
    }
    println!(
        "  (a field set in code ignores its variable: Sizing::cpu_bound().per_core(2) \
         is 2 whatever {ENV_PER_CORE} says)"
    );
    ExitCode::SUCCESS
}

/// Why these CPUs, in words.
fn why(source: CoreSource) -> String {
    match source {
        CoreSource::AffinityMask { allowed, machine } if allowed == machine => format!(
            "{source}: the affinity mask (sched_getaffinity) holds every CPU, and no cgroup \
             CPU quota is lower"
        ),
        CoreSource::AffinityMask { .. } => format!(
            "{source}: the affinity mask (set by taskset, a cpuset, ...) leaves out the rest, \
             and no cgroup CPU quota is lower"
        ),
        CoreSource::CgroupQuota { quota_cpus, .. } => format!(
            "{source}: the quota (cpu.max or cpu.cfs_quota_us / cpu.cfs_period_us, rounded up) \
             is lower than the mask, so the first {quota_cpus} CPUs of the mask are used"
        ),
        CoreSource::Fallback { .. } => {
            format!("{source}: CPUs 0.. are assumed and pinning may fail")
        }
    }
}

/// Where a field's value comes from when the code leaves it unset.
fn origin(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => format!("from {var}"),
        _ => format!("default: {default}"),
    }
}

/// `2 x 2 + 0 =  4 threads; workers on CPUs 0 1 0 1`.
fn totals(plan: &Plan) -> String {
    let cpus: Vec<String> = plan
        .workers()
        .iter()
        .map(|w| w.cpu.map_or_else(|| "-".to_owned(), |c| c.to_string()))
        .collect();
    let threads = plan.total_threads();
    let unpinned = plan.workers().iter().any(|w| w.cpu.is_none());
    format!(
        "{} x {} + {} = {threads:>2} {}; workers on CPUs {}{}",
        plan.cores(),
        plan.per_core(),
        plan.blocking_io(),
        if threads == 1 { "thread" } else { "threads" },
        cpus.join(" "),
        if unpinned {
            " (-: no CPU left, runs unpinned)"
        } else {
            ""
        }
    )
}
/// `0-3,6,8-9`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &cpu in cpus {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == cpu => *end = cpu,
            _ => ranges.push((cpu, cpu)),
        }
    }
    ranges
        .iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
