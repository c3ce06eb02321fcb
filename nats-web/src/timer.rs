//! Timers from the browser: `setTimeout`, wrapped in a `Send` future.
//!
//! The JS callback owns only a weak handle to the timer's state (a flag and a waker, both
//! `Send`), so the future itself holds no JS value. A timer that is dropped before it
//! fires is not cancelled: its callback finds the state gone and does nothing, and the
//! browser frees the callback after that one call (`Closure::once_into_js`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use nats_client::Instant;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout` (a window's or a worker's).
    #[wasm_bindgen(js_name = setTimeout, catch)]
    fn set_timeout(handler: &JsValue, milliseconds: i32) -> Result<JsValue, JsValue>;
}

/// What the JS callback and the future share.
#[derive(Default)]
struct Alarm {
    rung: bool,
    waker: Option<Waker>,
}

/// A timer completing at a deadline on the browser's clock (`performance.now()`).
#[must_use = "a timer does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The alarm armed for this deadline, if any (re-armed when it rings early).
    alarm: Option<Arc<Mutex<Alarm>>>,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).finish_non_exhaustive()
    }
}

impl Sleep {
    /// A timer for `deadline`; `setTimeout` is called on the first poll.
    pub(crate) fn until(deadline: Instant) -> Self {
        Self { deadline, alarm: None }
    }

    /// A timer `delay` from now.
    pub(crate) fn after(delay: Duration) -> Self {
        Self::until(Instant::now() + delay)
    }

    /// Calls `setTimeout` for the time left (whole milliseconds, rounded up, at most the
    /// browser's limit of 2^31 - 1: a longer wait is armed again when it rings).
    fn arm(&mut self, left: Duration, waker: &Waker) {
        let alarm = Arc::new(Mutex::new(Alarm { rung: false, waker: Some(waker.clone()) }));
        let weak: Weak<Mutex<Alarm>> = Arc::downgrade(&alarm);
        let callback = Closure::once_into_js(move || {
            if let Some(alarm) = weak.upgrade() {
                let waker = {
                    let mut alarm = alarm.lock().unwrap_or_else(PoisonError::into_inner);
                    alarm.rung = true;
                    alarm.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        });
        let millis = left.as_nanos().div_ceil(1_000_000);
        let millis = i32::try_from(millis).unwrap_or(i32::MAX);
        if set_timeout(&callback, millis).is_err() {
            // No timer (a context without setTimeout): ring now rather than never. The
            // client then sees its deadline not yet reached and asks again.
            waker.wake_by_ref();
            return;
        }
        self.alarm = Some(alarm);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let now = Instant::now();
        if now >= this.deadline {
            this.alarm = None;
            return Poll::Ready(());
        }
        if let Some(alarm) = &this.alarm {
            let mut alarm = alarm.lock().unwrap_or_else(PoisonError::into_inner);
            if !alarm.rung {
                if alarm.waker.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
                    alarm.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        // Not armed yet, or rang early (the browser's timers and performance.now() may
        // disagree by a fraction of a millisecond): arm for the time left.
        this.arm(this.deadline - now, cx.waker());
        Poll::Pending
    }
}
