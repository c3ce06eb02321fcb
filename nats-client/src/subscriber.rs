//! `Subscriber`: the messages of one subscription, as a `Stream`.

use std::collections::VecDeque;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use nats_proto::{HeaderMap, Msg, Sid, State, Subject};

use crate::client::Client;
use crate::error::UnsubscribeError;

/// The messages of one subscription. Dropping it unsubscribes.
///
/// Messages are taken from the connection in batches: one lock per batch, not per
/// message. The stream ends when the subscription ends: after
/// [`unsubscribe_after`](Self::unsubscribe_after)'s count, a drain, or the connection's
/// close.
pub struct Subscriber {
    client: Client,
    sid: Sid,
    subject: Subject,
    batch: VecDeque<Msg>,
    ended: bool,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("sid", &self.sid)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    pub(crate) fn new(client: Client, sid: Sid, subject: Subject) -> Self {
        Self { client, sid, subject, batch: VecDeque::new(), ended: false }
    }

    /// The subscription id.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let subscriber = client.subscribe("orders.*").await?;
    /// println!("subscription {}", subscriber.sid());
    /// # Ok(()) }
    /// ```
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The subject or filter subscribed to.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let subscriber = client.subscribe("orders.*").await?;
    /// assert_eq!(subscriber.subject().as_str(), "orders.*");
    /// # Ok(()) }
    /// ```
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Unsubscribes now; messages already received can still be read, then the stream ends.
    ///
    /// # Errors
    /// [`UnsubscribeError::Ended`] when the subscription had already ended,
    /// [`UnsubscribeError::Closed`] when the connection is closed.
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut subscriber = client.subscribe("updates.>").await?;
    /// // ... read some messages ...
    /// subscriber.unsubscribe().await?;
    /// # Ok(()) }
    /// ```
    pub fn unsubscribe(&mut self) -> Ready<Result<(), UnsubscribeError>> {
        let mut inner = self.client.shared.lock();
        let closed = inner.conn.state() == State::Closed;
        let existed = inner.conn.unsubscribe(self.sid, None);
        let inner = &mut *inner;
        if let Some(slot) = inner.subs.get_mut(&self.sid) {
            slot.ended = true;
            inner.wakes.take_from(&mut slot.waker);
        }
        inner.wake_driver();
        outcome(existed, closed)
    }

    /// Drains the subscription (async-nats' `Subscriber::drain`): UNSUB on the server now;
    /// the messages already received, and those the server sent before it processed the
    /// UNSUB, are still delivered; then the stream ends (once the server's PONG confirms
    /// nothing more is in flight). Unlike [`unsubscribe`](Self::unsubscribe), nothing in
    /// flight is lost. The connection stays up.
    ///
    /// # Errors
    /// As [`unsubscribe`](Self::unsubscribe).
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// let mut jobs = client.queue_subscribe("jobs", "workers").await?;
    /// // Shutting down: take no new work, finish what was already sent to us.
    /// jobs.drain().await?;
    /// while let Some(job) = jobs.next().await {
    ///     println!("finishing {:?}", job.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn drain(&mut self) -> Ready<Result<(), UnsubscribeError>> {
        let mut inner = self.client.shared.lock();
        let closed = inner.conn.state() == State::Closed;
        let existed = inner.conn.drain_subscription(self.sid);
        inner.wake_driver();
        outcome(existed, closed)
    }

    /// Ends the subscription after `max` messages in total, counting those already
    /// received (nats.py's `auto_unsubscribe`). Survives reconnects with the remaining
    /// count. When `max` have already arrived, the subscription ends at once.
    ///
    /// # Errors
    /// As [`unsubscribe`](Self::unsubscribe).
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut subscriber = client.subscribe("jobs").await?;
    /// subscriber.unsubscribe_after(10).await?; // the stream ends after the tenth message
    /// # Ok(()) }
    /// ```
    pub fn unsubscribe_after(&mut self, max: u64) -> Ready<Result<(), UnsubscribeError>> {
        let mut inner = self.client.shared.lock();
        let closed = inner.conn.state() == State::Closed;
        let existed = inner.conn.unsubscribe(self.sid, Some(max));
        inner.wake_driver();
        outcome(existed, closed)
    }

    fn size(msg: &Msg) -> u64 {
        (msg.payload.len() + msg.headers.as_deref().map_or(0, HeaderMap::encoded_len)) as u64
    }
}

/// What an unsubscribe or drain did: closed wins over "already ended". The work is done
/// when the call returns; the future is ready at once, so that code written for async-nats
/// (`subscriber.unsubscribe().await?`) reads the same, and `into_inner()` takes the result
/// without an executor.
fn outcome(existed: bool, closed: bool) -> Ready<Result<(), UnsubscribeError>> {
    ready(match (existed, closed) {
        (_, true) => Err(UnsubscribeError::Closed),
        (false, false) => Err(UnsubscribeError::Ended),
        (true, false) => Ok(()),
    })
}

impl Subscriber {
    /// Room in the task-side queue (tests).
    #[cfg(test)]
    pub(crate) fn batch_capacity(&self) -> usize {
        self.batch.capacity()
    }
}

/// Messages a caught-up subscription keeps room for in each of its two queues.
const KEEP_QUEUED: usize = 256;

impl Stream for Subscriber {
    type Item = Msg;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        if let Some(msg) = self.batch.pop_front() {
            return Poll::Ready(Some(msg));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let mut guard = this.client.shared.lock();
        let inner = &mut *guard;
        let Some(slot) = inner.subs.get_mut(&this.sid) else {
            this.ended = true;
            return Poll::Ready(None);
        };
        if slot.queue.is_empty() {
            if slot.ended {
                this.ended = true;
                return Poll::Ready(None);
            }
            slot.waker = Some(cx.waker().clone());
            // Caught up: the room a burst left in the queues goes back to the allocator
            // (kept while messages flow, so a burst does not reallocate as it drains).
            if slot.queue.capacity() > KEEP_QUEUED {
                slot.queue.shrink_to(KEEP_QUEUED);
            }
            if this.batch.capacity() > KEEP_QUEUED {
                this.batch.shrink_to(KEEP_QUEUED);
            }
            drop(guard);
            // A request that stopped reading must not hold up this subscription.
            this.client.shared.read_wake().unstick();
            return Poll::Pending;
        }
        std::mem::swap(&mut this.batch, &mut slot.queue);
        let bytes: u64 = this.batch.iter().map(Self::size).sum();
        inner.conn.handle_consumed(this.sid, this.batch.len() as u64, bytes);
        Poll::Ready(this.batch.pop_front())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let mut inner = self.client.shared.lock();
        inner.subs.remove(&self.sid);
        if inner.conn.unsubscribe(self.sid, None) {
            inner.wake_driver();
        }
    }
}
