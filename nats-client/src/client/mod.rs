//! `Client`: the cheap, cloneable handle applications use. Its parts: connecting and the
//! runtime handle ([`connecting`]), requests and their reply streams ([`requests`]),
//! inboxes and tokens ([`inbox`]); publishing, subscribing, flushing, draining and the
//! connection's state here.

mod connecting;
mod inbox;
mod requests;

use self::connecting::DynRuntime;
pub use self::connecting::{connect_with_runtime, Sleep};
pub use self::requests::Replies;

use std::borrow::Borrow;
use std::future::{poll_fn, ready, Future, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use nats_proto::{
    ConnectionError, FlushId, HeaderMap, QueueGroup, Server, ServerAddr, ServerInfo, ServerPoolError,
    ServerVersion, State, Statistics, Subject,
};

use crate::deadline;
use crate::error::{DrainError, ReconnectError, SubscribeError};
use crate::events::Events;
use crate::options::ConnectOptions;
use crate::read_through::ReadThrough;
use crate::reader::Wait;
use crate::shared::{FlushSlot, Guard, Shared, SubSlot, HIGH_WATER};
use crate::subscriber::Subscriber;
use crate::writer::Pumped;
use nats_proto::{FlushError, PublishError};

/// Closes the connection when the last handle goes.
struct Handle {
    options: ConnectOptions,
    shared: Arc<Shared>,
    runtime: Arc<dyn DynRuntime>,
    /// Tokens made so far ([`Client::new_token`]).
    tokens: std::sync::atomic::AtomicU64,
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

    /// How many messages and payload bytes each subscription holds for its reader before
    /// it drops what comes next ([`ConnectOptions::subscription_capacity`]): what a
    /// consumer asking the server for a batch should not ask beyond.
    ///
    /// ```no_run
    /// # fn example(client: nats_client::Client) {
    /// let (messages, bytes) = client.subscription_capacity();
    /// println!("at most {messages} messages and {bytes} bytes pending per subscription");
    /// # }
    /// ```
    pub fn subscription_capacity(&self) -> (u64, u64) {
        let limits = self.inner.options.pending_limits;
        (limits.messages, limits.bytes)
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

/// Adds the task's waker to `waiters` unless it is already there: a future polled again
/// and again (in a `select` loop, say) must not grow the list.
fn register(waiters: &mut Vec<std::task::Waker>, cx: &Context<'_>) {
    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
        waiters.push(cx.waker().clone());
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
        fn sleep_until(&self, _: Instant) -> super::connecting::BoxTask {
            Box::pin(std::future::ready(()))
        }

        fn now(&self) -> Instant {
            self.0
        }

        fn system_time(&self) -> crate::SystemTime {
            crate::UNIX_EPOCH
        }

        fn spawn(&self, _: super::connecting::BoxTask) {}
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
        Client {
            inner: Arc::new(Handle {
                options,
                shared: Arc::clone(&shared),
                runtime,
                tokens: Default::default(),
            }),
            shared,
        }
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
