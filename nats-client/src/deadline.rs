//! A deadline in the core's timer table watched by the task that waits on it.
//!
//! A request or flush written through by its own task ([`Writer`](crate::writer)) does not
//! wake the driver, so the driver's timer may still be armed for a later deadline (it
//! re-arms when woken). The waiting task therefore sleeps until its own deadline and then
//! runs the core's due timers itself; the core stays the one that decides what timed out.
//! Whichever of the two runs the timers first, the other finds nothing due. A task arms a
//! timer only when the driver's fires later than its deadline ([`watch`]): a timer costs a
//! reactor notification on some runtimes, which is the hop write-through saves.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::client::{Client, Sleep};
use crate::shared::Inner;
use crate::time::Instant;

/// A [`Deadline`] at `at` if the waiting task needs one: not when the driver's timer fires
/// at or before it (the driver then runs the core's timers again, and re-arms for the
/// earliest entry, which is at most `at`). Sequential requests mostly need none: the
/// driver's timer sits at an earlier request's deadline.
pub(crate) fn watch(inner: &Inner, at: Instant) -> Option<Deadline> {
    match inner.driver_deadline {
        Some(driver) if driver <= at => None,
        _ => Some(Deadline::new(at)),
    }
}

#[derive(Debug)]
pub(crate) struct Deadline {
    at: Instant,
    /// Armed at the first wait: a reply that is already there needs no timer.
    sleep: Option<Sleep>,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Self {
        Self { at, sleep: None }
    }

    /// Ready once the deadline has passed and the core's due timers have run (their
    /// events routed); the caller then looks at its slot again.
    pub(crate) fn poll(&mut self, client: &Client, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self.sleep.get_or_insert_with(|| client.sleep_until(self.at));
        if Pin::new(sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        client.run_due_timers();
        Poll::Ready(())
    }
}
