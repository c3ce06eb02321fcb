//! The order in which the shared state's three locks are taken, checked in debug builds:
//! the reader or the writer first, then the state; never the reader and the writer
//! together; never the reader or the writer while the state is held. A task breaking it
//! could deadlock against the driver; the check makes every test that runs the path fail
//! at once instead, with the locks held named.
//!
//! Each thread keeps the set of locks it holds (a guard is not `Send`, so it is released
//! on the thread that took it). Release builds compile none of this.

use std::ops::{Deref, DerefMut};

/// One of the shared state's locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    Reader,
    Writer,
    State,
}

#[cfg(debug_assertions)]
mod held {
    use std::cell::Cell;

    use super::Lock;

    thread_local! {
        static HELD: Cell<u8> = const { Cell::new(0) };
    }

    const fn bit(lock: Lock) -> u8 {
        match lock {
            Lock::Reader => 1,
            Lock::Writer => 2,
            Lock::State => 4,
        }
    }

    /// The locks `lock` may not be taken under.
    const fn forbidden_under(lock: Lock) -> u8 {
        match lock {
            // The reader and the writer: first, and never together.
            Lock::Reader => bit(Lock::Writer) | bit(Lock::State),
            Lock::Writer => bit(Lock::Reader) | bit(Lock::State),
            // The state: under either, but not twice.
            Lock::State => bit(Lock::State),
        }
    }

    pub(super) fn taking(lock: Lock) {
        HELD.with(|held| {
            let now = held.get();
            assert!(
                now & forbidden_under(lock) == 0,
                "lock order: {lock:?} taken while holding {:?}",
                [Lock::Reader, Lock::Writer, Lock::State]
                    .into_iter()
                    .filter(|l| now & bit(*l) != 0)
                    .collect::<Vec<_>>()
            );
            held.set(now | bit(lock));
        });
    }

    pub(super) fn released(lock: Lock) {
        HELD.with(|held| held.set(held.get() & !bit(lock)));
    }
}

/// Records that `lock` is about to be taken (debug builds: panics if the order is broken).
#[inline]
pub(crate) fn taking(lock: Lock) {
    #[cfg(debug_assertions)]
    held::taking(lock);
    #[cfg(not(debug_assertions))]
    let _ = lock;
}

/// Records that `lock` was released.
#[inline]
pub(crate) fn released(lock: Lock) {
    #[cfg(debug_assertions)]
    held::released(lock);
    #[cfg(not(debug_assertions))]
    let _ = lock;
}

/// A guard of the reader or the writer that records its release.
pub(crate) struct Ordered<G> {
    guard: G,
    lock: Lock,
}

impl<G> Ordered<G> {
    /// `guard`, just taken for `lock` (after [`taking`]).
    pub(crate) fn new(guard: G, lock: Lock) -> Self {
        Self { guard, lock }
    }
}

impl<G: Deref> Deref for Ordered<G> {
    type Target = G::Target;

    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for Ordered<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

impl<G> Drop for Ordered<G> {
    fn drop(&mut self) {
        released(self.lock);
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::{released, taking, Lock};

    fn in_thread(f: impl FnOnce() + Send + 'static) -> bool {
        std::thread::spawn(f).join().is_ok()
    }

    #[test]
    fn reader_or_writer_then_state_is_allowed() {
        assert!(in_thread(|| {
            taking(Lock::Reader);
            taking(Lock::State);
            released(Lock::State);
            released(Lock::Reader);
            taking(Lock::Writer);
            taking(Lock::State);
            released(Lock::State);
            released(Lock::Writer);
            taking(Lock::State);
        }));
    }

    #[test]
    fn the_reverse_order_and_both_halves_together_are_caught() {
        assert!(!in_thread(|| {
            taking(Lock::State);
            taking(Lock::Reader);
        }));
        assert!(!in_thread(|| {
            taking(Lock::State);
            taking(Lock::Writer);
        }));
        assert!(!in_thread(|| {
            taking(Lock::Reader);
            taking(Lock::Writer);
        }));
        assert!(!in_thread(|| {
            taking(Lock::State);
            taking(Lock::State);
        }));
    }
}
