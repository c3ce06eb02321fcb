//! Running one scenario on every runtime, and runtime-neutral waiting with timeouts.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use futures_util::{FutureExt, Stream, StreamExt};
use nats_client::{
    connect_with_runtime, Client, ClientEvent, ConnectError, ConnectOptions, Events, Message, Runtime,
};

/// The default bound of every wait in the scenarios.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A whole scenario's bound: a hang fails the test instead of stalling CI.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// A future did not complete in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `future` for at most `timeout`, on any runtime: a select against the runtime's own
/// timer.
///
/// # Errors
/// [`Elapsed`] when the timeout passed first.
pub async fn with_timeout<R: Runtime, F: Future>(
    rt: &R,
    timeout: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    let future = pin!(future);
    let sleep = pin!(rt.sleep_until(Instant::now() + timeout));
    match select(future, sleep).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), _)) => Err(Elapsed),
    }
}

/// [`with_timeout`] with [`TIMEOUT`], panicking with `what` on timeout.
///
/// # Panics
/// On timeout.
pub async fn within<R: Runtime, F: Future>(rt: &R, what: &str, future: F) -> F::Output {
    with_timeout(rt, TIMEOUT, future).await.unwrap_or_else(|Elapsed| panic!("timed out: {what}"))
}

/// Connects to `url` with default options.
///
/// # Panics
/// When connecting fails or hangs.
pub async fn connect<R: Runtime>(rt: &R, url: &str) -> Client {
    connect_with(rt, url, ConnectOptions::new()).await
}

/// Connects to `url` with `options`.
///
/// # Panics
/// When connecting fails or hangs.
pub async fn connect_with<R: Runtime>(rt: &R, url: &str, options: ConnectOptions) -> Client {
    try_connect(rt, url, options).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Connects to `url` with `options`, returning the error.
///
/// # Panics
/// When connecting hangs.
pub async fn try_connect<R: Runtime>(
    rt: &R,
    url: &str,
    options: ConnectOptions,
) -> Result<Client, ConnectError> {
    within(rt, "connect", connect_with_runtime(rt.clone(), url, options)).await
}

/// The next message of a subscriber.
///
/// # Panics
/// When the stream ends or nothing comes in time.
pub async fn next_message<R: Runtime, S: Stream<Item = Message> + Unpin>(
    rt: &R,
    subscriber: &mut S,
) -> Message {
    within(rt, "next message", subscriber.next()).await.expect("the subscription ended early")
}

/// Replies to every request on `subject` with its payload, on a task of the runtime; returns
/// once the server has the subscription.
///
/// # Panics
/// When subscribing or flushing fails.
pub async fn echo<R: Runtime>(rt: &R, client: &Client, subject: &str) {
    let mut sub = client.subscribe(subject).await.unwrap();
    let replier = client.clone();
    rt.spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = replier.publish(reply.as_str(), msg.payload).await;
            }
        }
    });
    within(rt, "flush", client.flush()).await.unwrap();
}

/// The next connection event.
///
/// # Panics
/// When the stream ends or nothing comes in time.
pub async fn next_event<R: Runtime>(rt: &R, events: &mut Events) -> ClientEvent {
    within(rt, "next event", events.next()).await.expect("the event stream ended")
}

/// Waits for the first event matching `wanted`; returns it and the events skipped before it.
///
/// # Panics
/// When the stream ends or no such event comes in time.
pub async fn wait_for_event<R: Runtime>(
    rt: &R,
    events: &mut Events,
    what: &str,
    wanted: impl FnMut(&ClientEvent) -> bool,
) -> (ClientEvent, Vec<ClientEvent>) {
    wait_for_event_for(rt, TIMEOUT, events, what, wanted).await
}

/// [`wait_for_event`] bounded by `bound` instead of [`TIMEOUT`]: for events that come on a
/// timer of the client's own of several seconds (a stale connection).
///
/// # Panics
/// When the stream ends or no such event comes in time.
pub async fn wait_for_event_for<R: Runtime>(
    rt: &R,
    bound: Duration,
    events: &mut Events,
    what: &str,
    mut wanted: impl FnMut(&ClientEvent) -> bool,
) -> (ClientEvent, Vec<ClientEvent>) {
    let mut skipped = Vec::new();
    let found = with_timeout(rt, bound, async {
        while let Some(event) = events.next().await {
            if wanted(&event) {
                return Some(event);
            }
            skipped.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => (event, skipped),
        Ok(None) => panic!("the event stream ended before {what}; saw {skipped:?}"),
        Err(Elapsed) => panic!("timed out waiting for {what}; saw {skipped:?}"),
    }
}

/// Every item a stream has ready now, without waiting; the flag says whether it ended.
pub fn collect_now<S: Stream + Unpin>(stream: &mut S) -> (Vec<S::Item>, bool) {
    let mut items = Vec::new();
    loop {
        match stream.next().now_or_never() {
            Some(Some(item)) => items.push(item),
            Some(None) => return (items, true),
            None => return (items, false),
        }
    }
}

/// Runs a scenario on a multi-threaded tokio runtime.
///
/// # Panics
/// When the scenario panics or takes longer than a minute.
pub fn run_tokio<F: Future<Output = ()>>(scenario: impl FnOnce(nats_tokio::Tokio) -> F) {
    run_tokio_for(SCENARIO_TIMEOUT, scenario);
}

/// [`run_tokio`] bounded by `bound` instead of a minute (long chaos runs).
///
/// # Panics
/// When the scenario panics or takes longer than `bound`.
pub fn run_tokio_for<F: Future<Output = ()>>(bound: Duration, scenario: impl FnOnce(nats_tokio::Tokio) -> F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let rt = nats_tokio::Tokio;
    runtime.block_on(Box::pin(bounded(rt, bound, Box::pin(scenario(rt)))));
}

/// Runs a scenario with `smol::block_on` (tasks go to smol's global executor).
///
/// # Panics
/// When the scenario panics or takes longer than a minute.
pub fn run_smol<F: Future<Output = ()>>(scenario: impl FnOnce(nats_smol::Smol) -> F) {
    run_smol_for(SCENARIO_TIMEOUT, scenario);
}

/// [`run_smol`] bounded by `bound`.
///
/// # Panics
/// When the scenario panics or takes longer than `bound`.
pub fn run_smol_for<F: Future<Output = ()>>(bound: Duration, scenario: impl FnOnce(nats_smol::Smol) -> F) {
    let rt = nats_smol::Smol;
    smol::block_on(Box::pin(bounded(rt, bound, Box::pin(scenario(rt)))));
}

/// Runs a scenario with `async_std::task::block_on`.
///
/// # Panics
/// When the scenario panics or takes longer than a minute.
pub fn run_async_std<F: Future<Output = ()>>(scenario: impl FnOnce(nats_async_std::AsyncStd) -> F) {
    run_async_std_for(SCENARIO_TIMEOUT, scenario);
}

/// [`run_async_std`] bounded by `bound`.
///
/// # Panics
/// When the scenario panics or takes longer than `bound`.
pub fn run_async_std_for<F: Future<Output = ()>>(
    bound: Duration,
    scenario: impl FnOnce(nats_async_std::AsyncStd) -> F,
) {
    let rt = nats_async_std::AsyncStd;
    async_std::task::block_on(Box::pin(bounded(rt, bound, Box::pin(scenario(rt)))));
}

/// Runs `scenario` within `bound`. The run_* helpers box the scenario and this future: a
/// scenario's state machine is large in debug builds, and `block_on` on the test thread
/// (2 MiB of stack) would otherwise hold copies of it on the stack.
async fn bounded<R: Runtime, F: Future<Output = ()>>(rt: R, bound: Duration, scenario: F) {
    if with_timeout(&rt, bound, scenario).await.is_err() {
        panic!("the scenario took longer than {bound:?}");
    }
}

/// Generates, for each named scenario `async fn name<R: Runtime>(rt: R)`, a module `name`
/// with the tests `tokio`, `smol` and `async_std`.
#[macro_export]
macro_rules! runtime_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn tokio() {
                $crate::run_tokio(super::$name);
            }

            #[test]
            fn smol() {
                $crate::run_smol(super::$name);
            }

            #[test]
            fn async_std() {
                $crate::run_async_std(super::$name);
            }
        }
    )*};
}

/// Options for reconnect scenarios: quick retries without jitter, no attempt limit, and a
/// connect timeout that a loaded machine does not reach with a live server (scenarios
/// count attempts and callback calls: an attempt timed out while the server answers would
/// be one too many).
pub fn fast_reconnect() -> ConnectOptions {
    ConnectOptions::new()
        .reconnect_time_wait(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(100))
        .reconnect_jitter(Duration::ZERO, Duration::ZERO)
        .max_reconnect_attempts(None)
        .connection_timeout(Duration::from_secs(5))
}
