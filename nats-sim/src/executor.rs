//! The deterministic executor: one thread, a virtual clock, and a run queue from which
//! the run's random generator picks the next task. Tasks run until none is ready; then the
//! clock jumps to the earliest timer. Nothing reads the real clock, nothing runs on
//! another thread, so a seed replays the same interleaving, step for step.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::trace::Trace;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Locks, ignoring poisoning (a panicking run reports its first panic).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A handle on the executor, its clock, its random generator and its trace; clones share
/// them.
#[derive(Clone)]
pub struct Sim(Arc<Inner>);

struct Inner {
    /// The real instant the virtual clock starts at: `Instant`s handed to the client are
    /// `base + now`. Only differences of them are ever used, so runs stay deterministic.
    base: Instant,
    state: Mutex<State>,
    /// Tasks not being polled, by id, each with its one waker. One waker per task, made
    /// once: code that compares wakers (`Waker::will_wake`) then sees the same answer on
    /// every run, where fresh wakers per poll would compare by where the allocator put
    /// them.
    tasks: Mutex<BTreeMap<u64, (Task, Waker)>>,
}

struct State {
    now: Duration,
    rng: Rng,
    ready: BTreeSet<u64>,
    next_id: u64,
    /// Timers by (deadline, id): the id breaks ties in creation order.
    timers: BTreeMap<(Duration, u64), Waker>,
    trace: Trace,
    steps: u64,
}

/// Why a run stopped before its main task completed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stuck {
    /// No task is ready and no timer is set: nothing can ever happen again.
    Deadlock {
        /// The virtual time it happened at.
        at: Duration,
    },
    /// The virtual clock passed the run's limit.
    TimeLimit {
        /// The limit.
        limit: Duration,
    },
    /// More polls than the run's limit without reaching the time limit: a busy loop.
    StepLimit {
        /// Polls made.
        steps: u64,
    },
}

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deadlock { at } => write!(f, "deadlock at {at:?}: no task ready and no timer set"),
            Self::TimeLimit { limit } => write!(f, "the run did not end within {limit:?} of virtual time"),
            Self::StepLimit { steps } => write!(f, "busy loop: {steps} polls without the run ending"),
        }
    }
}

impl std::error::Error for Stuck {}

/// A task's waker: puts its id in the run queue.
struct TaskWaker {
    id: u64,
    sim: Weak<Inner>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(inner) = self.sim.upgrade() {
            lock(&inner.state).ready.insert(self.id);
        }
    }
}

/// Polls allowed per run before it counts as a busy loop.
const MAX_STEPS: u64 = 50_000_000;

impl Sim {
    /// An executor at virtual time zero whose choices all come from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Inner {
            base: Instant::now(),
            state: Mutex::new(State {
                now: Duration::ZERO,
                rng: Rng::new(seed),
                ready: BTreeSet::new(),
                next_id: 0,
                timers: BTreeMap::new(),
                trace: Trace::new(seed),
                steps: 0,
            }),
            tasks: Mutex::new(BTreeMap::new()),
        }))
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        lock(&self.0.state).now
    }

    /// The virtual clock as an `Instant` (for the client's `Runtime::now`).
    pub fn now(&self) -> Instant {
        self.0.base + self.elapsed()
    }

    /// Converts an `Instant` of [`now`](Self::now)'s clock to virtual time.
    pub fn to_virtual(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.0.base)
    }

    /// Draws from the run's random generator.
    pub fn with_rng<T>(&self, f: impl FnOnce(&mut Rng) -> T) -> T {
        f(&mut lock(&self.0.state).rng)
    }

    /// Folds `words` into the run's trace hash (and its text log when recording).
    pub fn trace(&self, words: &[u64], text: impl FnOnce() -> String) {
        let mut state = lock(&self.0.state);
        let now = state.now;
        state.trace.record(now, words, text);
    }

    /// The trace hash so far: equal for two runs of one seed.
    pub fn trace_hash(&self) -> u64 {
        lock(&self.0.state).trace.hash()
    }

    /// Keeps the last `lines` trace entries as text, for a replay to print.
    pub fn record_trace(&self, lines: usize) {
        lock(&self.0.state).trace.keep_text(lines);
    }

    /// The recorded trace text (empty unless [`record_trace`](Self::record_trace)).
    pub fn trace_text(&self) -> Vec<String> {
        lock(&self.0.state).trace.text()
    }

    /// Polls made so far.
    pub fn steps(&self) -> u64 {
        lock(&self.0.state).steps
    }

    /// Runs `future` in the background.
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        let id = {
            let mut state = lock(&self.0.state);
            let id = state.next_id;
            state.next_id += 1;
            state.ready.insert(id);
            id
        };
        let waker = Waker::from(Arc::new(TaskWaker { id, sim: Arc::downgrade(&self.0) }));
        lock(&self.0.tasks).insert(id, (Box::pin(future), waker));
    }

    /// A future completing at virtual time `at`.
    pub fn sleep_until(&self, at: Duration) -> Sleep {
        Sleep { sim: self.clone(), at, key: None }
    }

    /// A future completing `by` from now.
    pub fn sleep(&self, by: Duration) -> Sleep {
        self.sleep_until(self.elapsed() + by)
    }

    /// Wakes `waker` at virtual time `at` (at once if that has passed).
    pub(crate) fn wake_at(&self, at: Duration, waker: Waker) {
        let mut state = lock(&self.0.state);
        if at <= state.now {
            drop(state);
            waker.wake();
            return;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.timers.insert((at, id), waker);
    }

    /// Runs the tasks until `main` completes, jumping the clock from timer to timer.
    ///
    /// # Errors
    /// [`Stuck`] when nothing can happen any more, when virtual time passes `limit`, or
    /// on a busy loop; the tasks are dropped then.
    pub fn block_on<T: Send + 'static>(
        &self,
        main: impl Future<Output = T> + Send + 'static,
        limit: Duration,
    ) -> Result<T, Stuck> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        self.spawn(async move {
            let value = main.await;
            *lock(&out) = Some(value);
        });
        let result = loop {
            if let Some(value) = lock(&slot).take() {
                break Ok(value);
            }
            if let Err(stuck) = self.step(limit) {
                break Err(stuck);
            }
        };
        // Drop what is left (clients' drivers, servers) with the run.
        let tasks = std::mem::take(&mut *lock(&self.0.tasks));
        drop(tasks);
        result
    }

    /// Polls one ready task, or moves the clock to the next timer.
    fn step(&self, limit: Duration) -> Result<(), Stuck> {
        let picked = {
            let mut state = lock(&self.0.state);
            state.steps += 1;
            if state.steps > MAX_STEPS {
                return Err(Stuck::StepLimit { steps: state.steps });
            }
            if state.ready.is_empty() {
                let Some((&(at, id), _)) = state.timers.first_key_value() else {
                    return Err(Stuck::Deadlock { at: state.now });
                };
                if at > limit {
                    return Err(Stuck::TimeLimit { limit });
                }
                state.now = at;
                let waker = state.timers.remove(&(at, id)).expect("present");
                drop(state);
                waker.wake();
                return Ok(());
            }
            let n = state.ready.len() as u64;
            let index = usize::try_from(state.rng.below(n)).unwrap_or(0);
            let id = *state.ready.iter().nth(index).expect("index below len");
            state.ready.remove(&id);
            let now = state.now;
            state.trace.record(now, &[1, id], || format!("poll task {id}"));
            id
        };
        let Some((mut task, waker)) = lock(&self.0.tasks).remove(&picked) else {
            return Ok(()); // Woken after it completed.
        };
        if task.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
            lock(&self.0.tasks).insert(picked, (task, waker));
        }
        Ok(())
    }
}

/// A timer on the virtual clock.
pub struct Sleep {
    sim: Sim,
    at: Duration,
    key: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.sim.0.state);
        if state.now >= self.at {
            if let Some(key) = self.key {
                state.timers.remove(&key);
            }
            drop(state);
            self.key = None;
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                let id = state.next_id;
                state.next_id += 1;
                (self.at, id)
            }
        };
        state.timers.insert(key, cx.waker().clone());
        drop(state);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            lock(&self.sim.0.state).timers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{lock, Sim, Stuck};

    #[test]
    fn the_clock_jumps_to_timers_and_the_seed_fixes_the_interleaving() {
        let order = |seed| {
            let sim = Sim::new(seed);
            let log = Arc::new(Mutex::new(Vec::new()));
            for task in 0..5u64 {
                let (s, log) = (sim.clone(), Arc::clone(&log));
                sim.spawn(async move {
                    for round in 0..3u64 {
                        lock(&log).push((task, round, s.elapsed()));
                        s.sleep(Duration::from_millis(10)).await;
                    }
                });
            }
            let s = sim.clone();
            let end =
                sim.block_on(async move { s.sleep(Duration::from_secs(1)).await }, Duration::from_secs(2));
            assert_eq!(end, Ok(()));
            assert_eq!(sim.elapsed(), Duration::from_secs(1));
            let log = lock(&log).clone();
            (log, sim.trace_hash())
        };
        let (a, hash_a) = order(1);
        assert_eq!((a.clone(), hash_a), order(1), "one seed, one run");
        assert_eq!(a.len(), 15);
        assert!(a.iter().all(|&(_, round, at)| at == Duration::from_millis(10 * round)));
        let shuffled = (2..20).any(|seed| order(seed).0 != a);
        assert!(shuffled, "other seeds interleave the ready tasks differently");
    }

    #[test]
    fn a_run_that_cannot_progress_or_end_is_reported() {
        let sim = Sim::new(0);
        assert_eq!(
            sim.block_on(std::future::pending::<()>(), Duration::from_secs(1)),
            Err(Stuck::Deadlock { at: Duration::ZERO })
        );
        let sim = Sim::new(0);
        let s = sim.clone();
        let forever = async move {
            loop {
                s.sleep(Duration::from_millis(100)).await;
            }
        };
        assert_eq!(
            sim.block_on(forever, Duration::from_secs(1)),
            Err(Stuck::TimeLimit { limit: Duration::from_secs(1) })
        );
    }
}
