//! Throwaway processes for tests and load runs on one machine: a `redis-server` on
//! 127.0.0.1 on a free port, and child processes that are killed when their guard drops
//! (on a panic too) and when the process that started them dies (`PR_SET_PDEATHSIG`, so a
//! test killed by a watchdog or by CI leaves nothing behind).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How to get the broker when it is missing.
pub const INSTALL_HINT: &str = "install Redis 7 or later: `apt-get install redis-server` \
     (Debian/Ubuntu; .ci/run does this), or set REDIS_SERVER to the binary's path";

/// A child process killed (SIGKILL) and reaped when this guard drops.
///
/// ```
/// use std::process::Command;
/// let mut child = corepool_fleet::local::KillOnDrop::spawn(Command::new("sleep").arg("30"))?;
/// assert!(child.try_wait()?.is_none());
/// drop(child); // killed and reaped here
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct KillOnDrop {
    child: Child,
}

impl KillOnDrop {
    /// Spawns `command` so that it also dies if this process (strictly: the spawning
    /// thread) dies first.
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(&mut std::process::Command::new("true"))?;
    /// assert!(c.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(command: &mut Command) -> io::Result<KillOnDrop> {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec and calls only prctl and
        // getppid, both async-signal-safe; it reads one copied integer and allocates nothing
        // on the success path.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    return Err(io::Error::other("parent exited before exec"));
                }
                Ok(())
            });
        }
        Ok(KillOnDrop {
            child: command.spawn()?,
        })
    }

    /// The child's process id.
    ///
    /// ```
    /// let c = corepool_fleet::local::KillOnDrop::spawn(std::process::Command::new("sleep").arg("5"))?;
    /// assert!(c.id() > 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) unless the child has been reaped already.
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(std::process::Command::new("sleep").arg("5"))?;
    /// c.signal(libc::SIGTERM)?;
    /// assert!(!c.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signal(&mut self, signal: i32) -> io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child
        // (checked just above), so it cannot name another process.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops the child (`SIGSTOP`) and returns once every thread of it has stopped: until
    /// [`resume`](Self::resume) or a kill, it changes nothing, so what it holds can be read.
    /// An error if it was reaped already or exits instead of stopping.
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(std::process::Command::new("sleep").arg("5"))?;
    /// c.stop()?;
    /// c.resume()?;
    /// c.signal(libc::SIGKILL)?;
    /// assert_eq!(c.wait()?.code(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Err(io::Error::other("the child has exited"));
        }
        self.signal(libc::SIGSTOP)?;
        let pid = self.child.id() as libc::pid_t;
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes only the status integer it is given; the pid is our
            // child, unreaped (checked above), and WUNTRACED without WNOHANG reports its stop
            // — or, should it die first, reaps it, which the error below reports.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            if r == pid && libc::WIFSTOPPED(status) {
                return Ok(());
            }
            if r == pid {
                return Err(io::Error::other(format!(
                    "the child exited instead of stopping (wait status {status})"
                )));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Lets a [`stop`](Self::stop)ped child run again (`SIGCONT`).
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(&mut std::process::Command::new("true"))?;
    /// c.stop().ok(); // `true` may have exited already
    /// c.resume()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resume(&mut self) -> io::Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// The exit status if the child has exited.
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(std::process::Command::new("sleep").arg("5"))?;
    /// assert!(c.try_wait()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits for the child to exit.
    ///
    /// ```
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(&mut std::process::Command::new("false"))?;
    /// assert_eq!(c.wait()?.code(), Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Waits at most `limit` for the child to exit: `Ok(None)` if it is still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut c = corepool_fleet::local::KillOnDrop::spawn(std::process::Command::new("sleep").arg("5"))?;
    /// assert!(c.wait_timeout(Duration::from_millis(20))?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a local broker did not start.
///
/// ```
/// let e = corepool_fleet::local::LocalRedis::start_binary("/nonexistent/redis-server").unwrap_err();
/// assert!(e.to_string().contains("apt-get install redis-server"));
/// ```
#[derive(Debug)]
pub enum StartError {
    /// The binary is not there (the message says how to install it).
    Missing(String),
    /// It could not be run.
    Spawn(io::Error),
    /// It ran but never answered `PING` (its exit status, if it exited).
    NotReady(Option<ExitStatus>),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Missing(binary) => write!(f, "{binary} not found: {INSTALL_HINT}"),
            StartError::Spawn(e) => write!(f, "could not run redis-server: {e}"),
            StartError::NotReady(Some(status)) => {
                write!(f, "redis-server exited before answering PING ({status})")
            }
            StartError::NotReady(None) => {
                f.write_str("redis-server did not answer PING within 10 s")
            }
        }
    }
}

impl std::error::Error for StartError {}

/// A `redis-server` on 127.0.0.1, on a free port, with no persistence; stopped (SIGKILL)
/// when dropped.
///
/// ```no_run
/// let redis = corepool_fleet::local::LocalRedis::start()?;
/// let mut con = corepool_fleet::connect(&redis.url())?;
/// let _: () = redis::cmd("PING").query(&mut con)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LocalRedis {
    port: u16,
    _process: KillOnDrop,
}

impl LocalRedis {
    /// Starts `$REDIS_SERVER`, else `redis-server` from `PATH` (or `/usr/bin`, `/usr/sbin`).
    ///
    /// ```no_run
    /// let redis = corepool_fleet::local::LocalRedis::start()?;
    /// println!("{}", redis.url());
    /// # Ok::<(), corepool_fleet::local::StartError>(())
    /// ```
    pub fn start() -> Result<LocalRedis, StartError> {
        let binary = std::env::var("REDIS_SERVER")
            .ok()
            .or_else(|| find_in_path("redis-server"))
            .unwrap_or_else(|| "redis-server".to_string());
        Self::start_binary(&binary)
    }

    /// Starts the given `redis-server` binary.
    ///
    /// ```no_run
    /// let redis = corepool_fleet::local::LocalRedis::start_binary("/usr/bin/redis-server")?;
    /// assert!(redis.port() > 0);
    /// # Ok::<(), corepool_fleet::local::StartError>(())
    /// ```
    pub fn start_binary(binary: &str) -> Result<LocalRedis, StartError> {
        let mut last = StartError::NotReady(None);
        // A port found free can be taken by someone else before the server binds it:
        // then the server exits at once and we try another.
        for _ in 0..5 {
            let port = free_port().map_err(StartError::Spawn)?;
            let mut command = Command::new(binary);
            command
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--loglevel", "warning", "--protected-mode", "yes"])
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            let mut process = match KillOnDrop::spawn(&mut command) {
                Ok(p) => p,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StartError::Missing(binary.to_string()));
                }
                Err(e) => return Err(StartError::Spawn(e)),
            };
            match wait_ready(port, &mut process) {
                Ok(()) => {
                    return Ok(LocalRedis {
                        port,
                        _process: process,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The port it listens on.
    ///
    /// ```no_run
    /// let redis = corepool_fleet::local::LocalRedis::start()?;
    /// assert_ne!(redis.port(), 0);
    /// # Ok::<(), corepool_fleet::local::StartError>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    ///
    /// ```no_run
    /// let redis = corepool_fleet::local::LocalRedis::start()?;
    /// assert!(redis.url().starts_with("redis://127.0.0.1:"));
    /// # Ok::<(), corepool_fleet::local::StartError>(())
    /// ```
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

fn find_in_path(name: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"])
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|p| p.is_file());
    found.map(|p| p.to_string_lossy().into_owned())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn wait_ready(port: u16, process: &mut KillOnDrop) -> Result<(), StartError> {
    let url = format!("redis://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = process.try_wait().map_err(StartError::Spawn)? {
            return Err(StartError::NotReady(Some(status)));
        }
        if let Ok(mut con) = crate::connect(&url)
            && redis::cmd("PING").query::<String>(&mut con).is_ok()
        {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(StartError::NotReady(None))
}
