//! The "channel pool" baseline: the job/worker design of the Go worker-pool write-ups, in
//! Rust.
//!
//! One unbounded MPMC channel carries boxed jobs; `workers` long-lived threads each loop
//! `for job in rx.iter() { job() }`. Any thread, a worker included, can submit through a
//! [`Spawner`] (a clone of the sending end). There is no per-worker queue and no stealing:
//! every submit and every take goes through the one shared channel.
//!
//! Shutdown on drop: the pool drops its sender; once every [`Spawner`] is gone too, the
//! channel disconnects, each worker's `rx.iter()` ends after the queue is drained, and the
//! drop joins the threads.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

/// A unit of work as the channel carries it.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of worker threads draining one shared job channel.
pub struct ChannelPool {
    /// `Some` until `drop`, which takes it to disconnect the channel.
    sender: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

/// A cloneable handle that submits jobs to a [`ChannelPool`], from any thread.
#[derive(Clone)]
pub struct Spawner {
    sender: Sender<Job>,
}

impl ChannelPool {
    /// Starts `workers` threads reading one unbounded channel.
    pub fn new(workers: usize) -> Self {
        assert!(workers > 0, "a channel pool needs at least one worker");
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        let workers = (0..workers)
            .map(|index| {
                let receiver: Receiver<Job> = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("channel-pool-{index}"))
                    .spawn(move || {
                        for job in receiver.iter() {
                            job();
                        }
                    })
                    .expect("failed to start a channel-pool worker")
            })
            .collect();
        Self {
            sender: Some(sender),
            workers,
        }
    }

    /// Submits `f` to run on some worker.
    #[inline]
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.sender
            .as_ref()
            .expect("sender is only taken in drop")
            .send(Box::new(f))
            .expect("channel pool workers are gone");
    }

    /// A handle that a job running on the pool can capture to submit more jobs.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            sender: self.sender.clone().expect("sender is only taken in drop"),
        }
    }
}

impl Spawner {
    /// Submits `f` to run on some worker of the pool this handle came from.
    #[inline]
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.sender
            .send(Box::new(f))
            .expect("channel pool workers are gone");
    }
}

impl Drop for ChannelPool {
    fn drop(&mut self) {
        // Dropping the last sender disconnects the channel; workers finish the queued jobs
        // and leave their loops.
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            worker.join().expect("a channel-pool worker panicked");
        }
    }
}
