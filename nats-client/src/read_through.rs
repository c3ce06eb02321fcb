//! Read-through: a task waiting for a request's reply or a flush's PONG reads the transport
//! itself when it may ([`ReadWake`](crate::reader::ReadWake) routes the read side's wakes to it), so the answer
//! reaches it with one wake from the reactor and no hop through the driver. See
//! [`crate::reader`] for the claim protocol.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::reader::{Reading, Wait, READS_PER_POLL, READ_THROUGH_BUDGET};
use crate::shared::{Inner, Shared};
use crate::time::Instant;

/// A wait (a request's reply, a flush's PONG) that reads through when it can: it claims
/// reading, reads what the transport has on its own task, and releases the claim when done
/// or dropped.
pub(crate) struct ReadThrough {
    shared: Arc<Shared>,
    token: Wait,
    claimed: bool,
    /// The last read by this wait did not end with the transport blocked.
    unfinished: bool,
}

impl ReadThrough {
    pub(crate) fn new(shared: Arc<Shared>, token: Wait) -> Self {
        Self { shared, token, claimed: false, unfinished: false }
    }

    /// Polls the wait: `check` looks at its slot under the shared state's lock and returns
    /// the answer, or sets the slot's waker to the one given and returns `Pending`. In
    /// between, the task reads through when it may. The waker is registered only once
    /// this task has read (none is given before), so it does not wake itself with the
    /// answer it reads: a wake during its own poll would have the runtime poll it again,
    /// and on tokio wake another worker to steal it.
    pub(crate) fn poll_wait<T>(
        &mut self,
        now: impl Fn() -> Instant,
        cx: &Context<'_>,
        mut check: impl FnMut(&mut Inner, Option<&Waker>) -> Poll<T>,
    ) -> Poll<T> {
        let mut reads = 0;
        let mut register = false;
        loop {
            let mut inner = self.shared.lock();
            let answer = check(&mut inner, register.then_some(cx.waker()));
            drop(inner);
            if answer.is_ready() {
                self.release();
                return answer;
            }
            if register {
                return Poll::Pending;
            }
            if self.read(now(), cx) == Reading::More {
                reads += 1;
                if reads == READ_THROUGH_BUDGET {
                    // Other tasks' messages keep coming: let them run, then read on.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            } else {
                // Read until blocked, or not allowed to read: look once more and wait.
                register = true;
            }
        }
    }

    /// Reads on this task if it may.
    fn read(&mut self, now: Instant, cx: &Context<'_>) -> Reading {
        let wake = self.shared.read_wake();
        if !wake.claim(self.token, cx.waker()) {
            wake.unstick();
            return Reading::Idle;
        }
        self.claimed = true;
        // The driver (or an earlier claimant) is reading: it routes the answer.
        let Some(mut reader) = self.shared.try_reader() else { return Reading::Idle };
        let reading = reader.read(&*self.shared, now, READS_PER_POLL);
        self.unfinished = reading == Reading::More;
        reading
    }

    /// The wait is over: the driver reads from now on.
    pub(crate) fn release(&mut self) {
        if std::mem::take(&mut self.claimed) {
            self.shared.read_wake().release(self.token, std::mem::take(&mut self.unfinished));
        }
    }
}

impl Drop for ReadThrough {
    fn drop(&mut self) {
        self.release();
    }
}

impl std::fmt::Debug for ReadThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadThrough").field("token", &self.token).field("claimed", &self.claimed).finish()
    }
}
