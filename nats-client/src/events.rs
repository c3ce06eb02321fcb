//! The stream of connection events ([`Events`]): one listener queue per stream in the
//! shared state, filled as the core's events are dispatched.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::event::ClientEvent;
use crate::shared::Shared;

/// A stream of [`ClientEvent`]s from [`Client::events`](crate::Client::events). Each
/// stream sees every event from its creation on; if it falls more than 1024 events behind,
/// the oldest are dropped. It ends after [`ClientEvent::Closed`].
pub struct Events {
    shared: Arc<Shared>,
    id: u64,
    done: bool,
}

impl Events {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let id = shared.lock().add_listener();
        Self { shared, id, done: false }
    }
}

impl Stream for Events {
    type Item = ClientEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        if self.done {
            return Poll::Ready(None);
        }
        let shared = Arc::clone(&self.shared);
        let mut inner = shared.lock();
        let driver_done = inner.driver_done;
        let Some(listener) = inner.listeners.get_mut(&self.id) else { return Poll::Ready(None) };
        match listener.queue.pop_front() {
            Some(event) => {
                if matches!(event, ClientEvent::Closed(_)) {
                    self.done = true;
                }
                Poll::Ready(Some(event))
            }
            None if driver_done => {
                self.done = true;
                Poll::Ready(None)
            }
            None => {
                listener.waker = Some(cx.waker().clone());
                drop(inner);
                // A request that stopped reading must not hold up the events either.
                shared.read_wake().unstick();
                Poll::Pending
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.shared.lock().listeners.remove(&self.id);
    }
}
