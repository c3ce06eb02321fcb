//! `Client`: the cheap, cloneable handle applications use.

use std::borrow::Borrow;
use std::future::{poll_fn, ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use nats_proto::{
    ConnectionError, Expected, FlushId, HeaderMap, Msg, QueueGroup, RequestId, RequestOutcome, Server,
    ServerAddr, ServerInfo, ServerPoolError, ServerVersion, State, Statistics, Subject,
};

use crate::deadline;
use crate::driver::Driver;
use crate::error::{ConnectError, DrainError, ReconnectError, RequestError, SubscribeError};
use crate::events::Events;
use crate::options::ConnectOptions;
use crate::read_through::ReadThrough;
use crate::reader::Wait;
use crate::runtime::Runtime;
use crate::shared::{FlushSlot, Guard, RequestSlot, Shared, SubSlot, HIGH_WATER};
use crate::subscriber::Subscriber;
use crate::time::{Instant, SystemTime};
use crate::writer::Pumped;
use nats_proto::{FlushError, PublishError};

/// Connects to the servers in `urls` (comma-separated `nats://` / `tls://` URLs) on the
/// given runtime. Returns once connected, or with [`ConnectError::NoServers`] once every
/// server failed (at once with [`ConnectOptions::retry_on_initial_connect`]).
///
/// # Errors
/// A [`ConnectError`].
///
/// ```no_run
/// # async fn example<R: nats_client::Runtime>(runtime: R) -> Result<(), Box<dyn std::error::Error>> {
/// use nats_client::{connect_with_runtime, ConnectOptions};
///
/// // Applications usually call their adapter's `connect` (nats-tokio, nats-smol,
/// // nats-async-std), which passes its runtime here.
/// let client = connect_with_runtime(runtime, "nats://127.0.0.1:4222", ConnectOptions::new()).await?;
/// client.publish("greet.joe", "hello".into()).await?;
/// # Ok(()) }
/// ```
pub async fn connect_with_runtime<R: Runtime>(
    runtime: R,
    urls: &str,
    options: ConnectOptions,
) -> Result<Client, ConnectError> {
    let options = options.resolve(urls)?;
    #[cfg(not(feature = "tls"))]
    if needs_tls::<R>(&options.proto) {
        return Err(ConnectError::TlsUnavailable);
    }
    let proto = options.proto.clone();
    let conn = nats_proto::Connection::new(proto, runtime.now())?;
    let shared = Arc::new(Shared::new(conn));
    for callback in options.callbacks.iter().cloned() {
        let mut events = Events::new(Arc::clone(&shared));
        runtime.spawn(async move {
            while let Some(event) = poll_fn(|cx| Pin::new(&mut events).poll_next(cx)).await {
                callback(event).await;
            }
        });
    }
    let driver = Driver::new(
        runtime.clone(),
        Arc::clone(&shared),
        options.tls.clone(),
        options.auth_callback.clone(),
        options.local_address,
    );
    runtime.spawn(driver.run());
    let runtime: Arc<dyn DynRuntime> = Arc::new(runtime);
    // The callbacks live in their tasks only: a callback capturing a client must not keep
    // the handle (and so the connection) alive through the options.
    let mut options = options;
    options.callbacks.clear();
    options.auth_callback = None;
    let client = Client { inner: Arc::new(Handle { options, shared: Arc::clone(&shared), runtime }), shared };
    if !client.inner.options.proto.retry_on_initial_connect {
        client.wait_for_first_connection().await?;
    }
    Ok(client)
}

/// A task on the runtime, boxed.
type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The connection's runtime, object-safe: its timers, clock and tasks, so that `Client`
/// stays non-generic and the layers above (services, JetStream) need no runtime of their
/// own.
trait DynRuntime: Send + Sync {
    fn sleep_until(&self, deadline: Instant) -> BoxTask;
    fn now(&self) -> Instant;
    fn system_time(&self) -> SystemTime;
    fn spawn(&self, task: BoxTask);
}

impl<R: Runtime> DynRuntime for R {
    fn sleep_until(&self, deadline: Instant) -> BoxTask {
        Box::pin(Runtime::sleep_until(self, deadline))
    }

    fn now(&self) -> Instant {
        Runtime::now(self)
    }

    fn system_time(&self) -> SystemTime {
        Runtime::system_time(self)
    }

    fn spawn(&self, task: BoxTask) {
        Runtime::spawn(self, task);
    }
}

/// Closes the connection when the last handle goes.
struct Handle {
    options: ConnectOptions,
    shared: Arc<Shared>,
    runtime: Arc<dyn DynRuntime>,
}

/// A timer on the client's runtime ([`Client::sleep_until`]): completes at its deadline.
#[must_use = "a timer does nothing unless awaited"]
pub struct Sleep(Pin<Box<dyn Future<Output = ()> + Send>>);

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

/// A connection to NATS. Cloning is cheap; the connection closes when the last clone (and
/// the last [`Subscriber`]) is dropped, or on [`close`](Self::close).
///
/// Publishing encodes straight into the connection's outbound buffer under a short lock:
/// no channel hop and no allocation per message. A publish waits only when more than
/// 8 MiB are queued for the socket (backpressure).
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
    inner: Arc<Handle>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("state", &self.connection_state()).finish_non_exhaustive()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.conn.close();
        inner.wake_driver();
    }
}

impl Client {
    async fn wait_for_first_connection(&self) -> Result<(), ConnectError> {
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            match inner.conn.state() {
                State::Connected | State::Draining | State::Reconnecting => Poll::Ready(Ok(())),
                State::Closed => {
                    Poll::Ready(Err(ConnectError::NoServers { last: inner.conn.last_error().cloned() }))
                }
                _ => {
                    register(&mut inner.state_waiters, cx);
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Publishes `payload` to `subject`.
    ///
    /// # Errors
    /// A [`PublishError`]: invalid subject, payload over the server's `max_payload`,
    /// reconnect buffer full, or closed. Nothing is queued then.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.publish("greet.joe", "hello".into()).await?;
    /// # Ok(()) }
    /// ```
    pub fn publish<S: AsRef<str>>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> impl Future<Output = Result<(), PublishError>> + use<'_, S> {
        poll_fn(move |cx| self.poll_publish(cx, subject.as_ref(), None, None, &payload))
    }

    /// Publishes with a reply subject.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// // Whoever handles the message answers on "greet.replies".
    /// client.publish_with_reply("greet.joe", "greet.replies", "hello".into()).await?;
    /// # Ok(()) }
    /// ```
    pub fn publish_with_reply<S: AsRef<str>, R: AsRef<str>>(
        &self,
        subject: S,
        reply: R,
        payload: Bytes,
    ) -> impl Future<Output = Result<(), PublishError>> + use<'_, S, R> {
        poll_fn(move |cx| self.poll_publish(cx, subject.as_ref(), Some(reply.as_ref()), None, &payload))
    }

    /// Publishes with headers.
    ///
    /// # Errors
    /// As [`publish`](Self::publish), plus
    /// [`PublishError::HeadersNotSupported`].
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::{HeaderMap, HeaderName, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(HeaderName::new("Trace-Id")?, HeaderValue::new("abc-123")?);
    /// client.publish_with_headers("orders.new", &headers, "{\"id\":7}".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: impl Borrow<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.publish_message(subject.as_ref(), None, Some(headers.borrow()), payload).await
    }

    /// Publishes with a reply subject and headers.
    ///
    /// # Errors
    /// As [`publish_with_headers`](Self::publish_with_headers).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::HeaderMap;
    ///
    /// let headers: HeaderMap = [("Trace-Id", "abc-123")].into_iter().collect();
    /// client.publish_with_reply_and_headers("orders.new", "orders.acks", headers, "{}".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_with_reply_and_headers(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        headers: impl Borrow<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.publish_message(subject.as_ref(), Some(reply.as_ref()), Some(headers.borrow()), payload).await
    }

    /// Publishes with an optional reply subject and optional headers.
    ///
    /// # Errors
    /// As [`publish_with_headers`](Self::publish_with_headers).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use nats_client::HeaderMap;
    ///
    /// let headers = HeaderMap::new();
    /// client.publish_message("orders.new", Some("orders.acks"), Some(&headers), Bytes::from_static(b"{}")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_message(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        poll_fn(|cx| self.poll_publish(cx, subject, reply, headers, &payload)).await
    }

    /// One attempt to publish: waits (backpressure) only while more than the high-water
    /// mark is queued for the socket.
    fn poll_publish(
        &self,
        cx: &mut Context<'_>,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Poll<Result<(), PublishError>> {
        let mut inner = self.shared.lock();
        if inner.conn.outbound().len() >= HIGH_WATER
            && matches!(inner.conn.state(), State::Connected | State::Draining)
        {
            register(&mut inner.write_waiters, cx);
            inner.wake_driver();
            return Poll::Pending;
        }
        // Wake the driver only when its buffer goes from empty to non-empty: otherwise it
        // is already awake and will take everything queued before it sleeps.
        let was_empty = inner.conn.outbound().is_empty();
        let result = inner.conn.publish_str(subject, reply, headers, payload);
        if result.is_ok() && was_empty && !inner.conn.outbound().is_empty() {
            inner.wake_driver();
        }
        Poll::Ready(result)
    }

    /// Subscribes to a subject or wildcard filter (`foo.*`, `foo.>`).
    ///
    /// # Errors
    /// A [`SubscribeError`].
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// let mut subscriber = client.subscribe("orders.*").await?;
    /// while let Some(message) = subscriber.next().await {
    ///     println!("{}: {:?}", message.subject, message.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscriber, SubscribeError> {
        self.subscribe_inner(subject.as_ref(), None)
    }

    /// Subscribes as a member of a queue group: each message goes to one member.
    ///
    /// # Errors
    /// A [`SubscribeError`].
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// // Each order goes to one of the workers in the "billing" group.
    /// let mut worker = client.queue_subscribe("orders.new", "billing").await?;
    /// if let Some(order) = worker.next().await {
    ///     println!("billing {:?}", order.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue_group: impl AsRef<str>,
    ) -> Result<Subscriber, SubscribeError> {
        self.subscribe_inner(subject.as_ref(), Some(queue_group.as_ref()))
    }

    fn subscribe_inner(&self, subject: &str, queue: Option<&str>) -> Result<Subscriber, SubscribeError> {
        let subject = Subject::new(subject)?;
        let queue = queue.map(QueueGroup::new).transpose()?;
        let mut inner = self.shared.lock();
        let sid = inner.conn.subscribe(subject.clone(), queue).map_err(|_| SubscribeError::Closed)?;
        inner.conn.set_pending_limits(sid, Some(self.inner.options.pending_limits));
        inner.subs.insert(sid, SubSlot::default());
        inner.wake_driver();
        Ok(Subscriber::new(self.clone(), sid, subject))
    }

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

    /// A fresh, unique subject under the connection's inbox prefix (`_INBOX.<token>` by
    /// default), for subscriptions that receive replies (JetStream pull requests, say).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// let inbox = client.new_inbox();
    /// let mut replies = client.subscribe(&inbox).await?;
    /// client.publish_with_reply("jobs.start", &inbox, "job-1".into()).await?;
    /// let progress = replies.next().await;
    /// println!("{progress:?}");
    /// # Ok(()) }
    /// ```
    pub fn new_inbox(&self) -> String {
        format!(
            "{}.{}",
            self.inner.options.proto.inbox_prefix,
            inbox_token(self.inner.options.proto.rng_seed)
        )
    }

    /// A fresh random token of 22 base62 characters (the shape of a NUID), from the
    /// connection's random source: unique within the process, unpredictable across
    /// processes (seeded from the browser's crypto in a page). Object names in an object
    /// store, service ids and consumer names take it.
    ///
    /// ```no_run
    /// # fn example(client: nats_client::Client) {
    /// let id = client.new_token();
    /// assert_eq!(id.len(), 22);
    /// # }
    /// ```
    pub fn new_token(&self) -> String {
        inbox_token(self.inner.options.proto.rng_seed)
    }

    /// A timer on the runtime the client was connected with: completes at `deadline`.
    /// Layers above the client (JetStream) use it for their deadlines without naming the
    /// runtime.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// // A timer on the client's runtime, whatever that runtime is.
    /// client.sleep_until(client.now() + Duration::from_millis(100)).await;
    /// # Ok(()) }
    /// ```
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep(self.inner.runtime.sleep_until(deadline))
    }

    /// The current time on the clock of the runtime the client was connected with
    /// ([`Runtime::now`]): the clock its deadlines and [`sleep_until`](Self::sleep_until)
    /// use. Layers above the client compute their deadlines from it.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let deadline = client.now() + Duration::from_secs(5);
    /// client.sleep_until(deadline).await;
    /// # Ok(()) }
    /// ```
    pub fn now(&self) -> Instant {
        self.inner.runtime.now()
    }

    /// The wall-clock time on the runtime the client was connected with
    /// ([`Runtime::system_time`]): what the layers above the client write as a time (an
    /// object's modification time, a service's start), in the browser too, where std's
    /// clock panics.
    ///
    /// ```no_run
    /// # fn example(client: nats_client::Client) {
    /// println!("now: {}", nats_client::rfc3339::format(client.system_time()));
    /// # }
    /// ```
    pub fn system_time(&self) -> SystemTime {
        self.inner.runtime.system_time()
    }

    /// Runs `task` in the background on the runtime the client was connected with: the
    /// layers above the client (a service's discovery task, say) need no runtime of their
    /// own.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) {
    /// let background = client.clone();
    /// client.spawn(async move {
    ///     let _ = background.publish("heartbeat", "alive".into()).await;
    /// });
    /// # }
    /// ```
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.runtime.spawn(Box::pin(task));
    }

    /// The instant `wait` from [`now`](Self::now), for
    /// [`sleep_until`](Self::sleep_until) and other deadlines. A wait of any length is
    /// fine: one of [`nats_proto::time::NEVER`] (about 136 years) or more, up to
    /// [`Duration::MAX`], means never and is capped to it, where `now() + wait` would
    /// panic.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// client.sleep_until(client.deadline(Duration::from_millis(100))).await;
    /// let never = client.deadline(Duration::MAX);
    /// # let _ = never;
    /// # Ok(()) }
    /// ```
    pub fn deadline(&self, wait: Duration) -> Instant {
        nats_proto::time::deadline(self.now(), wait)
    }

    /// The default request timeout ([`ConnectOptions::request_timeout`]).
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
    /// until answered (a timeout of [`Duration::MAX`], [`ConnectOptions::request_timeout`]
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

    /// Writes what the core has queued from this task (write-through), so that a request
    /// or a flush reaches the socket without a hop through the driver task. When the
    /// writer is busy (the driver or another task is writing; it takes these bytes too) or
    /// not connected, the driver is woken instead.
    fn write_through(&self, inner: Guard<'_>) {
        // The driver's waker goes to the transport: if it would block, the driver writes
        // the rest. None means the driver is awake already and writes everything.
        let Some(waker) = inner.driver_waker.clone() else { return };
        drop(inner);
        let pumped = self
            .shared
            .try_writer()
            .map(|mut writer| writer.pump(&*self.shared, &mut Context::from_waker(&waker)));
        if matches!(pumped, None | Some(Pumped::Idle | Pumped::More | Pumped::Failed)) {
            self.shared.lock().wake_driver();
        }
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

    /// Waits until the server has processed everything published before, up to the
    /// default flush timeout.
    ///
    /// # Errors
    /// A [`FlushError`].
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.publish("audit.log", "user logged in".into()).await?;
    /// // Returns once the server has processed the publish.
    /// client.flush().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), FlushError> {
        self.flush_timeout(self.inner.options.flush_timeout).await
    }

    /// [`flush`](Self::flush) with a timeout (nats.py's `flush(timeout)`).
    ///
    /// # Errors
    /// A [`FlushError`].
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// client.publish("audit.log", "user logged in".into()).await?;
    /// client.flush_timeout(Duration::from_millis(500)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        let now = self.now();
        let id = {
            let mut inner = self.shared.lock();
            let id = inner.conn.flush(now, timeout);
            inner.flushes.insert(id, FlushSlot::default());
            // Now rather than when the guard drops: a flush refused at once (not
            // connected) has its answer in the slot before write-through looks.
            inner.dispatch();
            deadline::watch(&mut inner, now, nats_proto::time::deadline(now, timeout));
            self.write_through(inner);
            id
        };
        // The slot goes however the wait ends, the flush future dropped early included.
        struct SlotGuard<'a>(&'a Shared, FlushId);
        impl Drop for SlotGuard<'_> {
            fn drop(&mut self) {
                self.0.lock().flushes.remove(&self.1);
            }
        }
        let _slot = SlotGuard(&self.shared, id);
        let mut read = ReadThrough::new(Arc::clone(&self.shared), Wait::Flush(id));
        poll_fn(|cx| {
            read.poll_wait(
                || self.now(),
                cx,
                |inner, waker| {
                    let slot = inner.flushes.get_mut(&id).expect("flush slots live until taken");
                    if let Some(result) = slot.result.take() {
                        return Poll::Ready(result);
                    }
                    slot.waker = waker.cloned();
                    Poll::Pending
                },
            )
        })
        .await
    }

    /// Drops the current connection and reconnects through the server pool at once (no
    /// reconnect wait for this attempt). Subscriptions are made again on the new
    /// connection and publishes not yet written are kept in the reconnect buffer, as after
    /// a lost connection. Events report `Disconnected` (with
    /// [`ConnectionError::ForcedReconnect`]) then `Reconnected`.
    ///
    /// Does nothing and says why ([`ReconnectError`]) when not connected, while
    /// draining, when reconnecting is disabled, or once closed. The work is done when this
    /// returns, before the new connection is up; the returned future is ready at once
    /// (`.await` it, as with async-nats, or take the result with
    /// [`Ready::into_inner`]).
    ///
    /// ```no_run
    /// # async fn demo(client: nats_client::Client) {
    /// // Move this client to another server of the cluster, for instance to rebalance.
    /// if let Err(not_now) = client.force_reconnect().await {
    ///     eprintln!("no reconnect: {not_now}");
    /// }
    /// # }
    /// ```
    pub fn force_reconnect(&self) -> Ready<Result<(), ReconnectError>> {
        let now = self.now();
        let mut inner = self.shared.lock();
        let result = match inner.conn.state() {
            State::Closed => Err(ReconnectError::Closed),
            State::Draining => Err(ReconnectError::Draining),
            _ if !self.inner.options.proto.allow_reconnect => Err(ReconnectError::Disabled),
            _ if inner.conn.force_reconnect(now) => Ok(()),
            _ => Err(ReconnectError::NotConnected),
        };
        if result.is_ok() {
            inner.wake_driver();
        }
        ready(result)
    }

    /// Drains: unsubscribes everything, lets messages in flight be delivered, confirms the
    /// publishes made so far, then closes. Waits until closed.
    ///
    /// # Errors
    /// [`DrainError::Timeout`] when the drain did not finish within the drain timeout,
    /// [`DrainError::Closed`] when the connection closed with an error first. The
    /// connection is closed in every case.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// // Lets subscribers finish what was delivered, then closes.
    /// client.drain().await?;
    /// # Ok(()) }
    /// ```
    pub async fn drain(&self) -> Result<(), DrainError> {
        {
            let now = self.now();
            let mut inner = self.shared.lock();
            inner.conn.drain(now);
            inner.wake_driver();
        }
        self.wait_closed().await;
        match self.shared.lock().conn.closed_with() {
            None => Ok(()),
            Some(ConnectionError::DrainTimeout) => Err(DrainError::Timeout),
            Some(error) => Err(DrainError::Closed(error.clone())),
        }
    }

    /// Closes at once (call [`flush`](Self::flush) first to be sure earlier publishes
    /// reached the server). Waits until the connection's task has finished.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.flush().await?;
    /// client.close().await;
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) {
        {
            let mut inner = self.shared.lock();
            inner.conn.close();
            inner.wake_driver();
        }
        self.wait_closed().await;
    }

    async fn wait_closed(&self) {
        poll_fn(|cx: &mut Context<'_>| {
            let mut inner = self.shared.lock();
            if inner.driver_done {
                Poll::Ready(())
            } else {
                register(&mut inner.state_waiters, cx);
                Poll::Pending
            }
        })
        .await;
    }

    /// A stream of connection events from now on.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    /// use nats_client::ClientEvent;
    ///
    /// let mut events = client.events();
    /// while let Some(event) = events.next().await {
    ///     if let ClientEvent::Disconnected(error) = event {
    ///         eprintln!("lost the connection: {error}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(&self) -> Events {
        Events::new(Arc::clone(&self.shared))
    }

    /// The connection state.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use nats_client::State;
    ///
    /// if client.connection_state() == State::Reconnecting {
    ///     eprintln!("publishes are buffered until the connection is back");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn connection_state(&self) -> State {
        self.shared.lock().conn.state()
    }

    /// Whether connected right now.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// if !client.is_connected() {
    ///     eprintln!("not connected right now");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_connected(&self) -> bool {
        self.connection_state() == State::Connected
    }

    /// The server connected to (nats.py's `connected_url`).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// if let Some(server) = client.connected_url() {
    ///     println!("connected to {server}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn connected_url(&self) -> Option<ServerAddr> {
        self.shared.lock().conn.connected_server().cloned()
    }

    /// The last error (nats.py's `last_error`).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// if let Some(error) = client.last_error() {
    ///     eprintln!("last error: {error}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn last_error(&self) -> Option<ConnectionError> {
        self.shared.lock().conn.last_error().cloned()
    }

    /// Traffic counters.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let stats = client.statistics();
    /// println!("{} messages in, {} out, {} reconnects", stats.in_msgs, stats.out_msgs, stats.reconnects);
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> Statistics {
        self.shared.lock().conn.statistics()
    }

    /// The server's last INFO.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// if let Some(info) = client.server_info() {
    ///     println!("server {} version {}", info.server_id, info.version);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn server_info(&self) -> Option<ServerInfo> {
        self.shared.lock().conn.server_info().cloned()
    }

    /// The connected server's version, once connected (`None` before, or when the server
    /// sends a version that does not parse). It can change after a reconnect to another
    /// server.
    pub fn server_version(&self) -> Option<ServerVersion> {
        self.shared.lock().conn.server_info().and_then(ServerInfo::server_version)
    }

    /// The server's `max_payload`, once connected.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let limit = client.max_payload().unwrap_or(1024 * 1024);
    /// println!("payloads up to {limit} bytes");
    /// # Ok(()) }
    /// ```
    pub fn max_payload(&self) -> Option<u64> {
        self.shared.lock().conn.max_payload()
    }

    /// Known servers, configured and discovered (nats.py's `servers`).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// for server in client.servers() {
    ///     println!("known server: {server}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn servers(&self) -> Vec<ServerAddr> {
        self.shared.lock().conn.servers()
    }

    /// The server pool with each server's history (ADR-40): address, failed attempts
    /// since its last connection, whether it was ever connected to, whether it was
    /// discovered from the cluster. In the order the servers will be tried.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) {
    /// for server in client.server_pool() {
    ///     println!("{}: {} failed attempts, connected before: {}", server.addr, server.failed_attempts, server.did_connect);
    /// }
    /// # }
    /// ```
    pub fn server_pool(&self) -> Vec<Server> {
        self.shared.lock().conn.server_pool()
    }

    /// Replaces the server pool (ADR-40), for example with a list from service discovery:
    /// comma-separated URLs, as for connecting. Servers already in the pool keep their
    /// history; the others, discovered ones included, are dropped. The current connection
    /// stays up even if its server is no longer listed; the new pool serves the next
    /// reconnect. Done when this returns; the future is ready at once (`.await` it as in
    /// async-nats, or [`Ready::into_inner`]).
    ///
    /// # Errors
    /// [`ServerPoolError::Invalid`] for an unparsable or empty list, one mixing WebSocket
    /// and NATS URLs, or one of the other kind than the connection's;
    /// [`ServerPoolError::Closed`] once closed.
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.set_server_pool("nats://10.0.0.7:4222, nats://10.0.0.8:4222").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_server_pool(&self, urls: &str) -> Ready<Result<(), ServerPoolError>> {
        let servers = match ServerAddr::parse_list(urls) {
            Ok(servers) => servers,
            Err(error) => return ready(Err(ServerPoolError::Invalid(error))),
        };
        ready(self.shared.lock().conn.set_server_pool(servers))
    }

    /// Servers learned from the cluster (nats.py's `discovered_servers`).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// println!("the cluster told us about {} servers", client.discovered_servers().len());
    /// # Ok(()) }
    /// ```
    pub fn discovered_servers(&self) -> Vec<ServerAddr> {
        self.shared.lock().conn.discovered_servers()
    }
}

/// Whether connecting needs TLS by the client: a `tls://` server, a `wss://` one on a
/// runtime without built-in WebSocket, or the options' `require_tls` / `tls_first`.
#[cfg(not(feature = "tls"))]
fn needs_tls<R: Runtime>(proto: &nats_proto::Options) -> bool {
    proto.tls_required
        || proto.tls_first
        || proto.servers.iter().any(|server| match server.scheme() {
            nats_proto::Scheme::Tls => true,
            nats_proto::Scheme::Wss => !R::NATIVE_WEBSOCKET,
            _ => false,
        })
}

/// A 22-character token, unique within the process (a counter) and unpredictable across
/// processes (hashed with a randomly keyed hasher, and the connection's random seed when
/// it has one: in the browser std's hasher keys are fixed, and the seed comes from the
/// browser's crypto).
fn inbox_token(seed: Option<u64>) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static KEYS: OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = KEYS.get_or_init(Default::default);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut high = a.build_hasher();
    let mut low = b.build_hasher();
    if let Some(seed) = seed {
        high.write_u64(seed);
        low.write_u64(seed.rotate_left(32));
    }
    high.write_u64(n);
    low.write_u64(n);
    let mut value = (u128::from(high.finish()) << 64) | u128::from(low.finish() ^ n);
    let mut token = String::with_capacity(22);
    for _ in 0..22 {
        token.push(char::from(ALPHABET[(value % 62) as usize]));
        value /= 62;
    }
    token
}

/// Adds the task's waker to `waiters` unless it is already there: a future polled again
/// and again (in a `select` loop, say) must not grow the list.
fn register(waiters: &mut Vec<std::task::Waker>, cx: &Context<'_>) {
    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
        waiters.push(cx.waker().clone());
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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Waker};
    use std::time::{Duration, Instant};

    use nats_proto::{Action, Connection, State};

    use super::{Client, Handle};
    use crate::options::ConnectOptions;
    use crate::shared::Shared;

    /// A client whose core is driven to `Connected` by hand (no driver task, no socket).
    /// A clock that stands still, timers that fire at once, tasks dropped: enough for
    /// the tests of a client that never reaches its runtime.
    struct FixedClock(Instant);

    impl super::DynRuntime for FixedClock {
        fn sleep_until(&self, _: Instant) -> super::BoxTask {
            Box::pin(std::future::ready(()))
        }

        fn now(&self) -> Instant {
            self.0
        }

        fn system_time(&self) -> crate::SystemTime {
            crate::UNIX_EPOCH
        }

        fn spawn(&self, _: super::BoxTask) {}
    }

    fn connected_client() -> Client {
        let options = ConnectOptions::new().resolve("nats://127.0.0.1:4222").expect("valid options");
        let now = Instant::now();
        let mut conn = Connection::new(options.proto.clone(), now).expect("valid options");
        let Some(Action::Connect(transport, _)) = conn.poll_action() else { panic!("no Connect action") };
        conn.handle_connected(now, transport);
        conn.handle_input(
            now,
            transport,
            b"INFO {\"server_id\":\"x\",\"version\":\"2.10.0\",\"max_payload\":1048576,\"headers\":true}\r\n",
        );
        while conn.take_outbound(usize::MAX).is_some() {}
        conn.handle_input(now, transport, b"PONG\r\n");
        assert_eq!(conn.state(), State::Connected);
        while conn.poll_event().is_some() {}
        let shared = Arc::new(Shared::new(conn));
        let runtime: Arc<dyn super::DynRuntime> = Arc::new(FixedClock(now));
        Client { inner: Arc::new(Handle { options, shared: Arc::clone(&shared), runtime }), shared }
    }

    #[test]
    fn inboxes_are_unique_and_use_the_prefix() {
        let client = connected_client();
        let inboxes: std::collections::HashSet<String> = (0..1000).map(|_| client.new_inbox()).collect();
        assert_eq!(inboxes.len(), 1000);
        for inbox in &inboxes {
            let token = inbox.strip_prefix("_INBOX.").expect("the default prefix");
            assert_eq!(token.len(), 22);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{inbox}");
        }
    }

    #[test]
    fn a_request_with_headers_is_published_at_once() {
        let client = connected_client();
        let mut headers = nats_proto::HeaderMap::new();
        headers.insert(
            nats_proto::HeaderName::new("Nats-Msg-Id").unwrap(),
            nats_proto::HeaderValue::new("1").unwrap(),
        );
        let replies = client
            .request_many_with(
                "svc",
                Some(&headers),
                "x".into(),
                nats_proto::Expected::Count(1),
                Duration::from_secs(5),
            )
            .expect("published");
        let mut out = Vec::new();
        while let Some(chunk) = client.shared.lock().conn.take_outbound(usize::MAX) {
            out.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("HPUB svc _INBOX."), "{text}");
        assert!(text.contains("Nats-Msg-Id: 1"), "{text}");
        drop(replies);
    }

    #[test]
    fn a_cancelled_flush_leaves_no_slot() {
        let client = connected_client();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            let mut flush = pin!(client.flush_timeout(Duration::from_secs(60)));
            assert!(flush.as_mut().poll(&mut cx).is_pending(), "no PONG yet");
        }
        assert_eq!(client.shared.lock().flushes.len(), 0, "flush slots of dropped flushes remain");
    }
}
