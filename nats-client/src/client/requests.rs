//! Requests and their reply streams: one reply ([`Client::request`]), many
//! ([`Client::request_many`], [`Replies`]), the default timeout.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use nats_proto::{Expected, HeaderMap, Msg, RequestId, RequestOutcome};

use super::Client;
use crate::deadline;
use crate::error::RequestError;
use crate::read_through::ReadThrough;
use crate::reader::Wait;
use crate::shared::RequestSlot;

impl Client {
    /// Sends a request and waits for one reply, up to the default request timeout
    /// (nats.py's `timed_request`).
    ///
    /// # Errors
    /// [`RequestError::Timeout`], [`RequestError::NoResponders`], a publish error, or
    /// closed.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let reply = client.request("time.now", "".into()).await?;
    /// println!("{}", String::from_utf8_lossy(&reply.payload));
    /// # Ok(()) }
    /// ```
    pub async fn request(&self, subject: impl AsRef<str>, payload: Bytes) -> Result<Msg, RequestError> {
        self.request_with(subject, None, payload, self.inner.options.request_timeout).await
    }

    /// Sends a request with optional headers and waits up to `timeout` for one reply.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let reply = client.request_with("time.now", None, "".into(), Duration::from_millis(500)).await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(()) }
    /// ```
    pub async fn request_with(
        &self,
        subject: impl AsRef<str>,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Msg, RequestError> {
        let mut replies =
            self.start_request(subject.as_ref(), headers, payload, timeout, Expected::Count(1))?;
        match poll_fn(|cx| Pin::new(&mut replies).poll_reply(cx)).await {
            Some(msg) => Ok(msg),
            None => Err(replies.error().unwrap_or(RequestError::Timeout)),
        }
    }

    /// Sends a request and streams replies until `expected` is met or `timeout` passes
    /// (nats.py's `expected=N`; [`Expected::UntilTimeout`] for scatter-gather).
    ///
    /// # Errors
    /// A publish error; later failures end the stream (see [`Replies::error`]).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use nats_client::Expected;
    ///
    /// // Scatter-gather: every responder's answer within a second.
    /// let mut replies = client.request_many("inventory.count", "sku-42".into(), Expected::UntilTimeout, Duration::from_secs(1))?;
    /// while let Some(reply) = replies.next().await {
    ///     println!("{:?}", reply.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn request_many(
        &self,
        subject: impl AsRef<str>,
        payload: Bytes,
        expected: Expected,
        timeout: Duration,
    ) -> Result<Replies, RequestError> {
        self.start_request(subject.as_ref(), None, payload, timeout, expected)
    }

    /// [`request_many`](Self::request_many) with optional headers. The request is
    /// published before this returns, so the replies can be awaited later (JetStream's
    /// publish-then-await-the-ack pattern).
    ///
    /// # Errors
    /// A publish error; later failures end the stream (see [`Replies::error`]).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use nats_client::{Expected, HeaderMap};
    ///
    /// let headers = HeaderMap::new();
    /// // Published now; the reply is awaited later.
    /// let mut ack = client.request_many_with("orders.store", Some(&headers), "{}".into(), Expected::Count(1), Duration::from_secs(2))?;
    /// // ... other work ...
    /// let first = ack.next().await;
    /// println!("{first:?}");
    /// # Ok(()) }
    /// ```
    pub fn request_many_with(
        &self,
        subject: impl AsRef<str>,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        expected: Expected,
        timeout: Duration,
    ) -> Result<Replies, RequestError> {
        self.start_request(subject.as_ref(), headers, payload, timeout, expected)
    }

    /// The default request timeout ([`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout)).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let timeout = client.request_timeout();
    /// println!("requests wait up to {timeout:?} by default");
    /// # Ok(()) }
    /// ```
    pub fn request_timeout(&self) -> Duration {
        self.inner.options.request_timeout
    }

    /// The default request timeout as async-nats reports it: `None` when requests wait
    /// until answered (a timeout of [`Duration::MAX`], [`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout)
    /// with `None`).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) {
    /// if let Some(timeout) = client.timeout() {
    ///     println!("requests give up after {timeout:?}");
    /// }
    /// # }
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        Some(self.inner.options.request_timeout).filter(|t| *t < nats_proto::time::NEVER)
    }

    fn start_request(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        timeout: Duration,
        expected: Expected,
    ) -> Result<Replies, RequestError> {
        let now = self.now();
        let mut inner = self.shared.lock();
        let id = inner.conn.request_str(now, subject, headers, &payload, timeout, expected)?;
        inner.requests.insert(id, RequestSlot::default());
        deadline::watch(&mut inner, now, nats_proto::time::deadline(now, timeout));
        self.write_through(inner);
        let read = ReadThrough::new(Arc::clone(&self.shared), Wait::Request(id));
        Ok(Replies { client: self.clone(), id, outcome: None, done: false, received: 0, read })
    }
}

/// The replies to one request, as a stream ([`Client::request_many`]). Dropping it
/// forgets the request.
pub struct Replies {
    client: Client,
    id: RequestId,
    outcome: Option<RequestOutcome>,
    done: bool,
    /// Replies yielded so far: a timeout after some is the normal end, not an error.
    received: usize,
    /// Reads the reply on the waiting task when it can.
    read: ReadThrough,
}

impl std::fmt::Debug for Replies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field("id", &self.id)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Replies {
    /// How the request ended, once the stream has ended.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use nats_client::Expected;
    ///
    /// let mut replies = client.request_many("svc.ping", "".into(), Expected::UntilTimeout, Duration::from_secs(1))?;
    /// while replies.next().await.is_some() {}
    /// println!("ended: {:?}", replies.outcome());
    /// # Ok(()) }
    /// ```
    pub fn outcome(&self) -> Option<RequestOutcome> {
        self.outcome
    }

    /// The error that ended the stream, if it ended in one: timeout with no reply at all,
    /// no responders, or closed.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use nats_client::Expected;
    ///
    /// let mut replies = client.request_many("svc.ping", "".into(), Expected::Count(3), Duration::from_secs(1))?;
    /// while replies.next().await.is_some() {}
    /// if let Some(error) = replies.error() {
    ///     eprintln!("request failed: {error}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error(&self) -> Option<RequestError> {
        match self.outcome? {
            RequestOutcome::NoResponders => Some(RequestError::NoResponders),
            RequestOutcome::Closed => Some(RequestError::Closed),
            RequestOutcome::TimedOut if self.received == 0 => Some(RequestError::Timeout),
            _ => None,
        }
    }

    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        if self.done {
            return Poll::Ready(None);
        }
        let Self { client, id, outcome, done, received, read } = self;
        // The core ends the request at its deadline (the driver runs its timers).
        read.poll_wait(
            || client.now(),
            cx,
            |inner, waker| {
                let Some(slot) = inner.requests.get_mut(id) else {
                    *done = true;
                    return Poll::Ready(None);
                };
                if let Some(msg) = slot.replies.pop() {
                    *received += 1;
                    return Poll::Ready(Some(msg));
                }
                if let Some(ended) = slot.outcome {
                    *outcome = Some(ended);
                    *done = true;
                    inner.requests.remove(id);
                    return Poll::Ready(None);
                }
                // None while reading through: this task would wake itself with its reply.
                slot.waker = waker.cloned();
                Poll::Pending
            },
        )
    }
}

impl Stream for Replies {
    type Item = Msg;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        self.get_mut().poll_reply(cx)
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        let mut inner = self.client.shared.lock();
        inner.requests.remove(&self.id);
        inner.conn.cancel_request(self.id);
    }
}
