//! Wakers collected under the lock and woken after it is released.
//!
//! Waking a task while holding the shared lock lets it run on another thread at once and
//! block on that same lock; every wake the client does is therefore deferred: the code under
//! the lock pushes wakers here, and the lock guard wakes them once it has unlocked
//! ([`Guard`](crate::shared::Guard)). The first few live inline, so the usual one or two
//! wakes of a round cost no allocation.

use std::task::Waker;

const INLINE: usize = 4;

/// A list of wakers to wake later.
#[derive(Default)]
pub(crate) struct WakeList {
    inline: [Option<Waker>; INLINE],
    len: usize,
    more: Vec<Waker>,
}

impl WakeList {
    /// Adds `waker` (no check for duplicates: a waker woken twice is merely polled twice).
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.len < INLINE {
            self.inline[self.len] = Some(waker);
            self.len += 1;
        } else {
            self.more.push(waker);
        }
    }

    /// Takes the waker out of `slot`, if any, to wake later.
    pub(crate) fn take_from(&mut self, slot: &mut Option<Waker>) {
        if let Some(waker) = slot.take() {
            self.push(waker);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Wakes every waker, in the order they were pushed.
    pub(crate) fn wake_all(self) {
        let Self { inline, more, .. } = self;
        for waker in inline.into_iter().flatten().chain(more) {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Wake, Waker};

    use super::WakeList;

    struct Record(usize, Arc<Mutex<Vec<usize>>>);

    impl Wake for Record {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    #[test]
    fn wakes_every_waker_in_order_inline_and_beyond() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut list = WakeList::default();
        assert!(list.is_empty());
        for i in 0..10 {
            list.push(Waker::from(Arc::new(Record(i, Arc::clone(&order)))));
        }
        let mut slot = Some(Waker::from(Arc::new(Record(10, Arc::clone(&order)))));
        list.take_from(&mut slot);
        assert!(slot.is_none());
        list.take_from(&mut slot);
        assert!(!list.is_empty());
        assert!(order.lock().unwrap().is_empty(), "nothing is woken before wake_all");
        list.wake_all();
        assert_eq!(*order.lock().unwrap(), (0..=10).collect::<Vec<_>>());
    }

    #[test]
    fn no_allocation_for_a_few_wakers() {
        static WOKEN: AtomicUsize = AtomicUsize::new(0);
        struct Count;
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                WOKEN.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut list = WakeList::default();
        for _ in 0..4 {
            list.push(Waker::from(Arc::new(Count)));
        }
        assert_eq!(list.more.capacity(), 0, "four wakers fit inline");
        list.wake_all();
        assert_eq!(WOKEN.load(Ordering::Relaxed), 4);
    }
}
