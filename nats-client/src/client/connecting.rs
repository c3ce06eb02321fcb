//! Connecting: [`connect_with_runtime`], the runtime handle behind every [`Client`] (its
//! timers, clock, wall clock and tasks, object-safe so that `Client` is not generic), and
//! the wait for the first connection.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use nats_proto::State;

use super::{register, Client, Handle};
use crate::driver::Driver;
use crate::error::ConnectError;
use crate::events::Events;
use crate::options::ConnectOptions;
use crate::runtime::Runtime;
use crate::shared::Shared;
use crate::time::{Instant, SystemTime};

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
    let handle = Handle { options, shared: Arc::clone(&shared), runtime, tokens: Default::default() };
    let client = Client { inner: Arc::new(handle), shared };
    if !client.inner.options.proto.retry_on_initial_connect {
        client.wait_for_first_connection().await?;
    }
    Ok(client)
}

/// A task on the runtime, boxed.
pub(super) type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The connection's runtime, object-safe: its timers, clock and tasks, so that `Client`
/// stays non-generic and the layers above (services, JetStream) need no runtime of their
/// own.
pub(super) trait DynRuntime: Send + Sync {
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
}
