//! Sizing: how many threads a pool starts and which CPU each worker is meant for.
//!
//! The rule is `threads = cores × k + blocking_io`:
//!
//! * `cores` — how many CPUs the pool spreads over (default: every CPU this process may use);
//! * `k` (`per_core`) — CPU workers per core (default 1; 2 can hide short stalls);
//! * `blocking_io` — the cap of the blocking lane, which never runs CPU work (default 0).
//!
//! Turning a [`Sizing`] into threads takes three steps:
//!
//! 1. [`detect_cores`] reads the CPUs the process may run on: the affinity mask, cut down to the
//!    cgroup CPU quota when a container allows less than the mask (first CPUs of the mask kept).
//!    If the mask is unreadable, the CPU count the OS reports is used instead.
//! 2. `Sizing::resolve` fills each field from code if set there, else from its environment
//!    variable ([`ENV_CORES`], [`ENV_PER_CORE`], [`ENV_BLOCKING_IO`]; empty counts as unset),
//!    else from the default, and rejects zeros, unparsable values and totals above
//!    [`MAX_THREADS`]. Every error names where the bad value came from ([`Origin`]).
//! 3. `Plan::new` lays the CPU workers over the allowed CPUs round-robin: worker `i` is meant
//!    for allowed CPU number `i % cores`, so with `k = 2` workers 0 and 1 get different CPUs and
//!    worker 2 shares a CPU with worker 0. Each worker starts as [`PinStatus::Pending`]; the pool
//!    records [`PinStatus::Pinned`] or [`PinStatus::Failed`] once the worker thread has tried.
//!
//! A [`Plan`] prints as a short report, so a user can see what the pool decided and why.

use std::fmt;

use crate::error::{BuildError, Origin};
use crate::placement::cores::{detect_cores, plural, CoreSource, DetectedCores};

/// How long an idle searching worker keeps looking for work before it sleeps, by default.
///
/// A few times what waking a sleeping thread costs (tens of µs, more on a virtual machine),
/// so that a steady trickle of work finds a worker awake, while a pool with nothing to do
/// still goes quiet within a fraction of a millisecond.
///
/// ```
/// assert_eq!(corepool::DEFAULT_SPIN_BEFORE_PARK.as_micros(), 100);
/// ```
pub const DEFAULT_SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(100);

/// The most threads (CPU workers plus blocking lane) a pool will start.
///
/// A guard against absurd totals such as a stray `COREPOOL_PER_CORE=100000`; asking for more
/// fails with [`BuildError::TooManyThreads`].
///
/// ```
/// use corepool::{BuildError, Sizing, MAX_THREADS};
///
/// let err = Sizing::cpu_bound().cores(MAX_THREADS).per_core(1).blocking_io(1).plan(false);
/// assert!(matches!(err, Err(BuildError::TooManyThreads { total, .. }) if total == MAX_THREADS + 1));
/// ```
pub const MAX_THREADS: usize = 4096;

/// Environment variable that sets `cores` when the code leaves it unset.
///
/// ```
/// assert_eq!(corepool::ENV_CORES, "COREPOOL_CORES");
/// ```
pub const ENV_CORES: &str = "COREPOOL_CORES";

/// Environment variable that sets `per_core` (k) when the code leaves it unset.
///
/// ```
/// assert_eq!(corepool::ENV_PER_CORE, "COREPOOL_PER_CORE");
/// ```
pub const ENV_PER_CORE: &str = "COREPOOL_PER_CORE";

/// Environment variable that sets `blocking_io` when the code leaves it unset.
///
/// ```
/// assert_eq!(corepool::ENV_BLOCKING_IO, "COREPOOL_BLOCKING_IO");
/// ```
pub const ENV_BLOCKING_IO: &str = "COREPOOL_BLOCKING_IO";

/// Environment variable that turns pinning on or off when the code did not call
/// [`Builder::pin_workers`](crate::Builder::pin_workers): `1`, `true`, `yes`, `on` or `0`,
/// `false`, `no`, `off` (any case; blank counts as unset). `COREPOOL_PIN=0` is the switch for
/// a machine shared with other busy processes.
///
/// ```
/// assert_eq!(corepool::ENV_PIN, "COREPOOL_PIN");
/// ```
pub const ENV_PIN: &str = "COREPOOL_PIN";

/// Environment variable that sets the idle spin window in whole microseconds when the code did
/// not call [`Builder::spin_before_park`](crate::Builder::spin_before_park) (`0`: sleep right
/// after the backoff).
///
/// ```
/// assert_eq!(corepool::ENV_SPIN_US, "COREPOOL_SPIN_US");
/// ```
pub const ENV_SPIN_US: &str = "COREPOOL_SPIN_US";

/// The process environment, as every `COREPOOL_*` reader sees it.
pub(crate) fn process_env(var: &str) -> Option<String> {
    std::env::var_os(var).map(|v| v.to_string_lossy().into_owned())
}

/// [`ENV_PIN`]: `None` when unset or blank, else the switch; anything else is
/// [`BuildError::InvalidEnv`].
pub(crate) fn env_pin(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<bool>, BuildError> {
    let raw = match env(ENV_PIN) {
        Some(raw) if !raw.trim().is_empty() => raw,
        _ => return Ok(None),
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(BuildError::InvalidEnv {
            var: ENV_PIN,
            value: raw,
        }),
    }
}

/// [`ENV_SPIN_US`]: `None` when unset or blank, else the window; anything but a whole number
/// of microseconds is [`BuildError::InvalidEnv`].
pub(crate) fn env_spin(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<std::time::Duration>, BuildError> {
    let raw = match env(ENV_SPIN_US) {
        Some(raw) if !raw.trim().is_empty() => raw,
        _ => return Ok(None),
    };
    match raw.trim().parse::<u64>() {
        Ok(us) => Ok(Some(std::time::Duration::from_micros(us))),
        Err(_) => Err(BuildError::InvalidEnv {
            var: ENV_SPIN_US,
            value: raw,
        }),
    }
}

/// How many threads a pool starts: `cores × per_core + blocking_io`.
///
/// A field set in code wins; an unset field is read from its environment variable
/// ([`ENV_CORES`], [`ENV_PER_CORE`], [`ENV_BLOCKING_IO`]), else takes its default
/// (every allowed CPU, 1 worker per core, no blocking lane).
///
/// ```
/// use corepool::Sizing;
///
/// let plan = Sizing::cpu_bound().cores(2).per_core(2).blocking_io(8).plan(false)?;
/// assert_eq!(plan.total_threads(), 2 * 2 + 8);
/// # Ok::<(), corepool::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizing {
    cores: Option<usize>,
    per_core: Option<usize>,
    blocking_io: Option<usize>,
    oversubscribe: bool,
}

impl Sizing {
    /// Nothing set in code: one worker on every allowed CPU and no blocking lane, unless the
    /// environment says otherwise.
    ///
    /// ```
    /// use corepool::Sizing;
    ///
    /// assert_eq!(Sizing::cpu_bound(), Sizing::default());
    /// ```
    pub fn cpu_bound() -> Sizing {
        Sizing::default()
    }

    /// Spread CPU workers over `n` cores (0 is rejected when the pool is built).
    ///
    /// `n` above the CPUs this process may use ([`detect_cores`]) is
    /// [`BuildError::CoresBeyondAllowed`], naming both numbers: the surplus workers would run
    /// unpinned, competing for CPUs the others are pinned to. [`per_core`](Sizing::per_core)
    /// is the way to run more workers than cores; [`oversubscribe`](Sizing::oversubscribe)
    /// says the surplus is wanted anyway.
    ///
    /// ```
    /// use corepool::Sizing;
    ///
    /// let plan = Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.cores(), 1);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    #[must_use]
    pub fn cores(self, n: usize) -> Self {
        Sizing {
            cores: Some(n),
            ..self
        }
    }

    /// Let [`cores`](Sizing::cores) (set in code or by [`ENV_CORES`]) exceed the CPUs this
    /// process may use (default `false`): the workers beyond them run unpinned. For tests that
    /// need a fixed number of workers on any machine, or deliberate oversubscription.
    ///
    /// ```
    /// use corepool::{BuildError, Sizing};
    ///
    /// let allowed = corepool::detect_cores().cpus().len();
    /// let err = Sizing::cpu_bound().cores(allowed + 1).plan(false).unwrap_err();
    /// assert!(matches!(err, BuildError::CoresBeyondAllowed { cores, allowed: a, .. }
    ///     if cores == allowed + 1 && a == allowed));
    /// println!("{err}");
    /// let plan = Sizing::cpu_bound().cores(allowed + 1).oversubscribe(true).plan(false)?;
    /// assert_eq!(plan.cores(), allowed + 1);
    /// # Ok::<(), BuildError>(())
    /// ```
    #[must_use]
    pub fn oversubscribe(self, yes: bool) -> Self {
        Sizing {
            oversubscribe: yes,
            ..self
        }
    }

    /// Start `k` CPU workers per core (0 is rejected when the pool is built).
    ///
    /// ```
    /// use corepool::Sizing;
    ///
    /// let plan = Sizing::cpu_bound().cores(1).per_core(3).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.cpu_workers(), 3);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    #[must_use]
    pub fn per_core(self, k: usize) -> Self {
        Sizing {
            per_core: Some(k),
            ..self
        }
    }

    /// Let the blocking lane grow to `n` threads (0 = no blocking lane).
    ///
    /// ```
    /// use corepool::Sizing;
    ///
    /// let plan = Sizing::cpu_bound().cores(1).per_core(1).blocking_io(16).plan(false)?;
    /// assert_eq!(plan.blocking_io(), 16);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    #[must_use]
    pub fn blocking_io(self, n: usize) -> Self {
        Sizing {
            blocking_io: Some(n),
            ..self
        }
    }

    /// The plan a pool built with this sizing would follow on this machine, without starting
    /// any thread. `pin` says whether workers would be pinned to their CPUs.
    ///
    /// Reads the CPUs with [`detect_cores`] and the environment variables, like the pool does.
    ///
    /// # Errors
    ///
    /// The same [`BuildError`]s as building a pool with this sizing, except `Spawn`: a zero
    /// `cores` or `per_core`, an unparsable environment value, or more than [`MAX_THREADS`].
    ///
    /// ```
    /// use corepool::{PinStatus, Sizing};
    ///
    /// let plan = Sizing::cpu_bound().cores(1).per_core(2).blocking_io(0).plan(true)?;
    /// assert_eq!(plan.workers()[0].pin, PinStatus::Pending);
    /// println!("{plan}");
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn plan(&self, pin: bool) -> Result<Plan, BuildError> {
        let detected = detect_cores();
        let resolved = self.resolve(&detected)?;
        let mut plan = Plan::new(resolved, &detected, pin);
        if let Some(window) = env_spin(&process_env)? {
            plan.set_spin_before_park(window);
        }
        Ok(plan)
    }

    /// Resolves against the real process environment.
    pub(crate) fn resolve(&self, detected: &DetectedCores) -> Result<Resolved, BuildError> {
        self.resolve_with(&process_env, detected)
    }

    /// Code value, else `env(ENV_...)`, else the default, for each field; then validates.
    pub(crate) fn resolve_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        detected: &DetectedCores,
    ) -> Result<Resolved, BuildError> {
        let (cores, cores_origin) = pick(self.cores, ENV_CORES, env, detected.cpus().len().max(1))?;
        let (per_core, k_origin) = pick(self.per_core, ENV_PER_CORE, env, 1)?;
        let (blocking_io, _) = pick(self.blocking_io, ENV_BLOCKING_IO, env, 0)?;
        // Defaults are never 0, so a 0 always has an origin to blame.
        if let (0, Some(origin)) = (cores, cores_origin) {
            return Err(BuildError::ZeroCores { origin });
        }
        if let (0, Some(origin)) = (per_core, k_origin) {
            return Err(BuildError::ZeroPerCore { origin });
        }
        let total = cores
            .checked_mul(per_core)
            .and_then(|w| w.checked_add(blocking_io));
        if total.is_none_or(|t| t > MAX_THREADS) {
            return Err(BuildError::TooManyThreads {
                total: cores.saturating_mul(per_core).saturating_add(blocking_io),
                limit: MAX_THREADS,
            });
        }
        let allowed = detected.cpus().len().max(1);
        if let (Some(origin), false) = (cores_origin, self.oversubscribe) {
            if cores > allowed {
                return Err(BuildError::CoresBeyondAllowed {
                    cores,
                    allowed,
                    origin,
                });
            }
        }
        Ok(Resolved {
            cores,
            per_core,
            blocking_io,
        })
    }
}

/// One field: the code value, else the trimmed environment value, else `default` (no origin).
fn pick(
    code: Option<usize>,
    var: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
    default: usize,
) -> Result<(usize, Option<Origin>), BuildError> {
    if let Some(n) = code {
        return Ok((n, Some(Origin::Code)));
    }
    let raw = match env(var) {
        Some(raw) if !raw.trim().is_empty() => raw,
        _ => return Ok((default, None)),
    };
    match raw.trim().parse::<usize>() {
        Ok(n) => Ok((n, Some(Origin::Env(var)))),
        Err(_) => Err(BuildError::InvalidEnv { var, value: raw }),
    }
}

/// A validated sizing: every field non-zero where required and the total within [`MAX_THREADS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub cores: usize,
    pub per_core: usize,
    pub blocking_io: usize,
}

impl Resolved {
    /// `cores × per_core`; cannot overflow, the total was checked against [`MAX_THREADS`].
    pub(crate) fn cpu_workers(&self) -> usize {
        self.cores * self.per_core
    }
}

/// Whether a CPU worker is pinned to its CPU.
///
/// ```
/// use corepool::PinStatus;
///
/// assert!(PinStatus::Pinned.is_pinned());
/// assert!(!PinStatus::Failed.is_pinned());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// The worker thread has not tried yet.
    Pending,
    /// The worker runs only on its CPU.
    Pinned,
    /// The OS refused; the worker runs unpinned.
    Failed,
    /// Pinning is turned off for this pool.
    Disabled,
    /// More cores were asked for than the process may use; this worker has no CPU and runs
    /// unpinned.
    NoSuchCore,
    /// Worker 0 is the thread that built the pool
    /// ([`Builder::use_current_thread`](crate::Builder::use_current_thread)), whose
    /// affinity corepool leaves alone.
    CallerThread,
}

impl PinStatus {
    /// True only for [`PinStatus::Pinned`].
    ///
    /// ```
    /// use corepool::PinStatus;
    ///
    /// assert!(!PinStatus::Pending.is_pinned());
    /// ```
    pub fn is_pinned(self) -> bool {
        self == PinStatus::Pinned
    }
}

/// Where one CPU worker is meant to run.
///
/// ```
/// use corepool::Sizing;
///
/// let plan = Sizing::cpu_bound().cores(1).per_core(2).blocking_io(0).plan(false)?;
/// let w = plan.workers()[1];
/// assert_eq!(w.index, 1);
/// assert_eq!(w.cpu, corepool::detect_cores().cpus().first().copied());
/// # Ok::<(), corepool::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerPlacement {
    /// The worker's index in the pool, `0..cpu_workers`.
    pub index: usize,
    /// The OS CPU id it is meant for; `None` if fewer CPUs are allowed than cores asked for.
    pub cpu: Option<usize>,
    /// Whether it is pinned there.
    pub pin: PinStatus,
}

/// What a pool decided: the resolved sizing, where the CPUs came from and each worker's CPU.
///
/// Prints as a short report:
///
/// ```
/// use corepool::Sizing;
///
/// let plan = Sizing::cpu_bound().cores(1).per_core(1).blocking_io(4).plan(false)?;
/// let text = plan.to_string();
/// assert!(text.starts_with("corepool plan: 1 core x 1 per core + 4 blocking = 5 threads"));
/// assert!(text.contains("  cpu worker 0 -> cpu "));
/// assert!(text.contains("  blocking lane: up to 4 threads\n"));
/// assert!(text.ends_with("  idle spin before parking: 100 us"));
/// # Ok::<(), corepool::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    cores: usize,
    per_core: usize,
    blocking_io: usize,
    source: CoreSource,
    workers: Vec<WorkerPlacement>,
    spin_before_park: std::time::Duration,
}

impl Plan {
    /// Lays `resolved.cpu_workers()` workers over the allowed CPUs round-robin.
    pub(crate) fn new(resolved: Resolved, detected: &DetectedCores, pin: bool) -> Plan {
        let cores = resolved.cores;
        debug_assert!(cores > 0, "Plan::new with cores = {cores}");
        let workers = (0..resolved.cpu_workers())
            .map(|index| {
                let cpu = detected.cpus().get(index % cores).copied();
                let pin = match (pin, cpu) {
                    (false, _) => PinStatus::Disabled,
                    (true, None) => PinStatus::NoSuchCore,
                    (true, Some(_)) => PinStatus::Pending,
                };
                WorkerPlacement { index, cpu, pin }
            })
            .collect();
        Plan {
            cores,
            per_core: resolved.per_core,
            blocking_io: resolved.blocking_io,
            source: detected.source(),
            workers,
            spin_before_park: DEFAULT_SPIN_BEFORE_PARK,
        }
    }

    /// Records the idle spin window the pool uses.
    pub(crate) fn set_spin_before_park(&mut self, window: std::time::Duration) {
        self.spin_before_park = window;
    }

    /// How long the last searching idle worker spins before it parks
    /// ([`Builder::spin_before_park`](crate::Builder::spin_before_park), else
    /// [`COREPOOL_SPIN_US`](ENV_SPIN_US), else the default).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::builder().spin_before_park(Duration::ZERO).build()?;
    /// assert_eq!(pool.plan().spin_before_park(), Duration::ZERO);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn spin_before_park(&self) -> std::time::Duration {
        self.spin_before_park
    }

    /// Records how pinning went for `worker`.
    pub(crate) fn set_pin(&mut self, worker: usize, status: PinStatus) {
        let len = self.workers.len();
        debug_assert!(worker < len, "set_pin for worker {worker} of {len}");
        if let Some(placement) = self.workers.get_mut(worker) {
            placement.pin = status;
        }
    }

    /// Cores the CPU workers are spread over.
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(2).per_core(1).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.cores(), 2);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// CPU workers per core (k).
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(1).per_core(2).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.per_core(), 2);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn per_core(&self) -> usize {
        self.per_core
    }

    /// The blocking lane's thread cap.
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(1).per_core(1).blocking_io(3).plan(false)?;
    /// assert_eq!(plan.blocking_io(), 3);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn blocking_io(&self) -> usize {
        self.blocking_io
    }

    /// CPU workers: `cores × per_core`.
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(3).oversubscribe(true).per_core(2).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.cpu_workers(), 6);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn cpu_workers(&self) -> usize {
        self.workers.len()
    }

    /// Every thread the pool may run: CPU workers plus the blocking lane's cap.
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(3).oversubscribe(true).per_core(2).blocking_io(4).plan(false)?;
    /// assert_eq!(plan.total_threads(), 10);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn total_threads(&self) -> usize {
        self.cpu_workers() + self.blocking_io
    }

    /// Where the list of usable CPUs came from.
    ///
    /// ```
    /// let plan = corepool::Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.source(), corepool::detect_cores().source());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn source(&self) -> CoreSource {
        self.source
    }

    /// Each CPU worker's placement, in worker order.
    ///
    /// ```
    /// use corepool::PinStatus;
    ///
    /// let plan = corepool::Sizing::cpu_bound().cores(2).per_core(2).blocking_io(0).plan(false)?;
    /// assert_eq!(plan.workers().len(), 4);
    /// assert_eq!(plan.workers()[0].cpu, plan.workers()[2].cpu);
    /// assert!(plan.workers().iter().all(|w| w.pin == PinStatus::Disabled));
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn workers(&self) -> &[WorkerPlacement] {
        &self.workers
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "corepool plan: {} {} x {} per core + {} blocking = {} {} ({})",
            self.cores,
            plural(self.cores, "core", "cores"),
            self.per_core,
            self.blocking_io,
            self.total_threads(),
            plural(self.total_threads(), "thread", "threads"),
            self.source,
        )?;
        for w in &self.workers {
            write!(f, "  cpu worker {} -> ", w.index)?;
            match w.cpu {
                Some(cpu) => write!(f, "cpu {cpu}")?,
                None => f.write_str("no such cpu")?,
            }
            let status = match w.pin {
                PinStatus::Pending => "pending",
                PinStatus::Pinned => "pinned",
                PinStatus::Failed => "pin failed, running unpinned",
                PinStatus::Disabled => "pinning off",
                PinStatus::NoSuchCore => "running unpinned",
                PinStatus::CallerThread => "the building thread, left unpinned",
            };
            writeln!(f, " ({status})")?;
        }
        writeln!(
            f,
            "  blocking lane: up to {} {}",
            self.blocking_io,
            plural(self.blocking_io, "thread", "threads")
        )?;
        write!(
            f,
            "  idle spin before parking: {} us",
            self.spin_before_park.as_micros()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(n: usize) -> DetectedCores {
        DetectedCores::from_parts(
            (0..n).collect(),
            CoreSource::AffinityMask {
                allowed: n,
                machine: n,
            },
        )
    }

    fn env_of(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs = pairs.to_vec();
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        }
    }

    fn resolve(
        sizing: Sizing,
        pairs: &[(&'static str, &'static str)],
    ) -> Result<Resolved, BuildError> {
        sizing.resolve_with(&env_of(pairs), &machine(8))
    }

    fn r(cores: usize, per_core: usize, blocking_io: usize) -> Resolved {
        Resolved {
            cores,
            per_core,
            blocking_io,
        }
    }

    #[test]
    fn defaults_use_every_detected_cpu() {
        assert_eq!(resolve(Sizing::cpu_bound(), &[]).unwrap(), r(8, 1, 0));
    }

    #[test]
    fn code_beats_env() {
        let env = &[
            (ENV_CORES, "3"),
            (ENV_PER_CORE, "4"),
            (ENV_BLOCKING_IO, "5"),
        ];
        let s = Sizing::cpu_bound().cores(2).per_core(2).blocking_io(1);
        assert_eq!(resolve(s, env).unwrap(), r(2, 2, 1));
    }

    #[test]
    fn env_fills_unset_fields() {
        let env = &[
            (ENV_CORES, " 3\n"),
            (ENV_PER_CORE, "4"),
            (ENV_BLOCKING_IO, "5"),
        ];
        assert_eq!(
            resolve(Sizing::cpu_bound().cores(2), env).unwrap(),
            r(2, 4, 5)
        );
        assert_eq!(resolve(Sizing::cpu_bound(), env).unwrap(), r(3, 4, 5));
    }

    #[test]
    fn empty_env_counts_as_unset() {
        let env = &[(ENV_CORES, ""), (ENV_PER_CORE, "  "), (ENV_BLOCKING_IO, "")];
        assert_eq!(resolve(Sizing::cpu_bound(), env).unwrap(), r(8, 1, 0));
    }

    #[test]
    fn errors_name_the_culprit() {
        let zero_code = resolve(Sizing::cpu_bound().cores(0), &[(ENV_CORES, "4")]);
        assert!(matches!(
            zero_code,
            Err(BuildError::ZeroCores {
                origin: Origin::Code
            })
        ));
        let zero_env = resolve(Sizing::cpu_bound(), &[(ENV_CORES, "0")]);
        assert!(matches!(
            zero_env,
            Err(BuildError::ZeroCores {
                origin: Origin::Env(ENV_CORES)
            })
        ));
        let k_code = resolve(Sizing::cpu_bound().per_core(0), &[]);
        assert!(matches!(
            k_code,
            Err(BuildError::ZeroPerCore {
                origin: Origin::Code
            })
        ));
        let k_env = resolve(Sizing::cpu_bound(), &[(ENV_PER_CORE, "0")]);
        assert!(matches!(
            k_env,
            Err(BuildError::ZeroPerCore {
                origin: Origin::Env(ENV_PER_CORE)
            })
        ));
        for (var, raw) in [
            (ENV_CORES, " two "),
            (ENV_PER_CORE, "-1"),
            (ENV_BLOCKING_IO, "1.5"),
        ] {
            match resolve(Sizing::cpu_bound(), &[(var, raw)]) {
                Err(BuildError::InvalidEnv { var: v, value }) => {
                    assert_eq!(v, var);
                    assert_eq!(value, raw, "the raw value, untrimmed");
                }
                other => panic!("{var}={raw:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn cores_beyond_the_allowed_cpus_need_the_opt_in() {
        // `resolve` runs against an 8-CPU machine.
        assert_eq!(
            resolve(Sizing::cpu_bound().cores(8), &[]).unwrap(),
            r(8, 1, 0)
        );
        let code = resolve(Sizing::cpu_bound().cores(64), &[]);
        assert!(matches!(
            code,
            Err(BuildError::CoresBeyondAllowed {
                cores: 64,
                allowed: 8,
                origin: Origin::Code
            })
        ));
        let text = code.unwrap_err().to_string();
        assert!(
            text.contains("64") && text.contains("only 8 CPUs"),
            "{text}"
        );
        let env = resolve(Sizing::cpu_bound(), &[(ENV_CORES, "9")]);
        assert!(matches!(
            env,
            Err(BuildError::CoresBeyondAllowed {
                cores: 9,
                allowed: 8,
                origin: Origin::Env(ENV_CORES)
            })
        ));
        let opted = Sizing::cpu_bound().cores(64).oversubscribe(true);
        assert_eq!(resolve(opted, &[]).unwrap(), r(64, 1, 0));
        // per_core is not limited by the CPUs.
        let k = Sizing::cpu_bound().cores(8).per_core(4);
        assert_eq!(resolve(k, &[]).unwrap(), r(8, 4, 0));
    }

    #[test]
    fn max_threads_boundary() {
        let at_limit = Sizing::cpu_bound()
            .cores(2048)
            .oversubscribe(true)
            .per_core(2)
            .blocking_io(0);
        assert_eq!(resolve(at_limit, &[]).unwrap().cpu_workers(), MAX_THREADS);
        let with_lane = Sizing::cpu_bound()
            .cores(4000)
            .oversubscribe(true)
            .per_core(1)
            .blocking_io(96);
        assert!(resolve(with_lane, &[]).is_ok());
        let over = Sizing::cpu_bound()
            .cores(4000)
            .oversubscribe(true)
            .per_core(1)
            .blocking_io(97);
        assert!(matches!(
            resolve(over, &[]),
            Err(BuildError::TooManyThreads {
                total: 4097,
                limit: MAX_THREADS
            })
        ));
        let huge = Sizing::cpu_bound()
            .cores(usize::MAX)
            .per_core(2)
            .blocking_io(1);
        assert!(matches!(
            resolve(huge, &[]),
            Err(BuildError::TooManyThreads {
                total: usize::MAX,
                ..
            })
        ));
        let huge_lane = Sizing::cpu_bound()
            .cores(1)
            .per_core(1)
            .blocking_io(usize::MAX);
        assert!(matches!(
            resolve(huge_lane, &[]),
            Err(BuildError::TooManyThreads {
                total: usize::MAX,
                ..
            })
        ));
    }

    #[test]
    fn plan_maps_workers_round_robin() {
        let detected = DetectedCores::from_parts(
            vec![6, 2, 4],
            CoreSource::AffinityMask {
                allowed: 3,
                machine: 8,
            },
        );
        let plan = Plan::new(r(2, 2, 1), &detected, true);
        let cpus: Vec<_> = plan.workers().iter().map(|w| w.cpu).collect();
        // Core indices 0, 1, 0, 1 of the ascending mask [2, 4, 6].
        assert_eq!(cpus, [Some(2), Some(4), Some(2), Some(4)]);
        assert!(plan.workers().iter().all(|w| w.pin == PinStatus::Pending));
        assert_eq!(
            plan.workers().iter().map(|w| w.index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!((plan.cpu_workers(), plan.total_threads()), (4, 5));
    }

    #[test]
    fn more_cores_than_allowed_means_no_such_core() {
        let plan = Plan::new(r(3, 1, 0), &machine(2), true);
        let pins: Vec<_> = plan.workers().iter().map(|w| (w.cpu, w.pin)).collect();
        assert_eq!(
            pins,
            [
                (Some(0), PinStatus::Pending),
                (Some(1), PinStatus::Pending),
                (None, PinStatus::NoSuchCore)
            ]
        );
        let off = Plan::new(r(3, 1, 0), &machine(2), false);
        assert!(off.workers().iter().all(|w| w.pin == PinStatus::Disabled));
    }

    #[test]
    fn plan_display_lines() {
        let mut plan = Plan::new(r(3, 1, 4), &machine(2), true);
        plan.set_pin(0, PinStatus::Pinned);
        plan.set_pin(1, PinStatus::Failed);
        let text = plan.to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "corepool plan: 3 cores x 1 per core + 4 blocking = 7 threads \
                 (affinity mask allows 2 of 2 CPUs)",
                "  cpu worker 0 -> cpu 0 (pinned)",
                "  cpu worker 1 -> cpu 1 (pin failed, running unpinned)",
                "  cpu worker 2 -> no such cpu (running unpinned)",
                "  blocking lane: up to 4 threads",
                "  idle spin before parking: 100 us",
            ]
        );
        let off = Plan::new(r(2, 1, 0), &machine(2), false).to_string();
        assert!(
            off.contains("  cpu worker 1 -> cpu 1 (pinning off)"),
            "{off}"
        );
        let pending = Plan::new(r(1, 1, 1), &machine(2), true).to_string();
        assert!(
            pending.contains("  cpu worker 0 -> cpu 0 (pending)"),
            "{pending}"
        );
        assert!(pending.starts_with("corepool plan: 1 core x 1 per core + 1 blocking = 2 threads"));
        assert!(pending.contains("up to 1 thread\n"));
    }
}
