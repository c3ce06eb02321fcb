//! Deadlines in the core's timer table that a task waits on (a request's timeout, a
//! flush's): the driver's timer must fire by then.
//!
//! A request or flush written through by its own task ([`Writer`](crate::writer)), whose
//! answer is read by that task too ([`Reader`](crate::reader)), never wakes the driver, so
//! the driver's timer may still be armed for a later deadline (it re-arms only when it
//! runs). [`watch`] wakes the driver in that case, and only then: once re-armed, the
//! driver's timer also covers the requests that follow. (A timer per request would cost as
//! much: on some runtimes registering a timer earlier than the reactor's next wake-up wakes
//! the reactor's thread.)
//!
//! While requests or flushes wait, the driver's timer fires at least every
//! [`CLAIM_LEASE`]: the driver then takes away a read claim whose task was woken and did
//! not read ([`ReadWake::unstick`](crate::reader::ReadWake::unstick)), so a request future
//! kept but no longer polled holds up the connection's other readers for at most that long.
//! Back-to-back requests thus wake the driver about once per lease, not once per request.

use std::time::Duration;

use crate::shared::Inner;
use crate::time::Instant;

/// How often the driver looks at the read claim while tasks wait for answers.
pub(crate) const CLAIM_LEASE: Duration = Duration::from_millis(10);

/// Makes sure the driver's timer fires at or before `at` and within a lease of `now`,
/// waking the driver to re-arm it if it would fire later (or is not armed).
pub(crate) fn watch(inner: &mut Inner, now: Instant, at: Instant) {
    let at = at.min(now + CLAIM_LEASE);
    if inner.driver_deadline.is_none_or(|armed| armed > at) {
        // The driver's next round arms its timer for at most `at` (a wait is pending); waits
        // that start before then need not wake it again.
        inner.driver_deadline = Some(at);
        inner.wake_driver();
    }
}

/// When the driver's timer must fire: the core's next deadline, and a lease from `now`
/// while requests or flushes wait.
pub(crate) fn driver_deadline(inner: &Inner, now: Instant) -> Option<Instant> {
    let core = inner.conn.poll_timeout();
    if inner.requests.is_empty() && inner.flushes.is_empty() {
        return core;
    }
    let lease = now + CLAIM_LEASE;
    Some(core.map_or(lease, |at| at.min(lease)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::Duration;

    use nats_proto::Connection;

    use super::{watch, CLAIM_LEASE};
    use crate::options::ConnectOptions;
    use crate::shared::Shared;
    use crate::time::Instant;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_driver_is_woken_only_for_a_deadline_before_its_timer() {
        let options = ConnectOptions::new().resolve("nats://127.0.0.1:4222").expect("valid options");
        let now = Instant::now();
        let conn = Connection::new(options.proto.clone(), now).expect("valid options");
        let shared = Shared::new(conn);
        let driver = Arc::new(Count::default());
        let wakes = || driver.0.load(Ordering::SeqCst);
        let park = |shared: &Shared| shared.lock().driver_waker = Some(Waker::from(Arc::clone(&driver)));

        park(&shared);
        watch(&mut shared.lock(), now, now + Duration::from_secs(5));
        assert_eq!(wakes(), 1, "no timer armed: the driver arms one");
        assert_eq!(shared.lock().driver_deadline, Some(now + CLAIM_LEASE), "within a lease");
        park(&shared);
        let later = now + CLAIM_LEASE / 2;
        watch(&mut shared.lock(), later, later + Duration::from_secs(5));
        assert_eq!(wakes(), 1, "a later wait is covered by the timer armed for the earlier one");
        watch(&mut shared.lock(), later, later + Duration::from_millis(1));
        assert_eq!(wakes(), 2, "an earlier deadline wakes the driver to re-arm");
    }
}
