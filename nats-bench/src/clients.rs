//! The clients a benchmark drives, behind one trait, so every scenario is written once
//! and run for async-nats and for this project's client on each runtime.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// What a client must do for the benchmark.
pub trait BenchClient: Clone + Send + Sync + 'static {
    /// Publishes (panics on failure: a benchmark that loses messages is void).
    fn publish(&self, subject: &str, payload: Bytes) -> impl Future<Output = ()> + Send;
    /// Flushes.
    fn flush(&self) -> impl Future<Output = ()> + Send;
    /// Sends a request and waits for the reply.
    fn request(&self, subject: &'static str, payload: Bytes) -> impl Future<Output = ()> + Send;
    /// Counts messages on `subject` until `expected` arrive or nothing comes for 2 s;
    /// sets `ready` once the subscription is registered on the server.
    fn count(
        &self,
        subject: &'static str,
        expected: usize,
        ready: &AtomicBool,
    ) -> impl Future<Output = usize> + Send;
    /// Subscribes to `subject` (registered on the server when this returns) and yields a
    /// unit per message, so that streams of different clients merge with `select_all`.
    fn subscribe(&self, subject: String) -> impl Future<Output = BoxStream<'static, ()>> + Send;
}

impl BenchClient for nats_client::Client {
    async fn publish(&self, subject: &str, payload: Bytes) {
        nats_client::Client::publish(self, subject, payload).await.expect("publish");
    }
    async fn flush(&self) {
        nats_client::Client::flush(self).await.expect("flush");
    }
    async fn request(&self, subject: &'static str, payload: Bytes) {
        nats_client::Client::request(self, subject, payload).await.expect("request");
    }
    async fn count(&self, subject: &'static str, expected: usize, ready: &AtomicBool) -> usize {
        let mut sub = self.subscribe(subject).await.expect("subscribe");
        nats_client::Client::flush(self).await.expect("flush");
        ready.store(true, Ordering::Release);
        count_stream(&mut sub, expected).await
    }
    async fn subscribe(&self, subject: String) -> BoxStream<'static, ()> {
        let sub = nats_client::Client::subscribe(self, subject).await.expect("subscribe");
        nats_client::Client::flush(self).await.expect("flush");
        sub.map(|_| ()).boxed()
    }
}

impl BenchClient for async_nats::Client {
    async fn publish(&self, subject: &str, payload: Bytes) {
        async_nats::Client::publish(self, subject.to_owned(), payload).await.expect("publish");
    }
    async fn flush(&self) {
        async_nats::Client::flush(self).await.expect("flush");
    }
    async fn request(&self, subject: &'static str, payload: Bytes) {
        async_nats::Client::request(self, subject, payload).await.expect("request");
    }
    async fn count(&self, subject: &'static str, expected: usize, ready: &AtomicBool) -> usize {
        let mut sub = self.subscribe(subject).await.expect("subscribe");
        async_nats::Client::flush(self).await.expect("flush");
        ready.store(true, Ordering::Release);
        count_stream(&mut sub, expected).await
    }
    async fn subscribe(&self, subject: String) -> BoxStream<'static, ()> {
        let sub = async_nats::Client::subscribe(self, subject).await.expect("subscribe");
        async_nats::Client::flush(self).await.expect("flush");
        sub.map(|_| ()).boxed()
    }
}

/// Counts items of `stream` until `expected` arrive or nothing comes for 2 s.
pub async fn count_stream<S: futures_util::Stream + Unpin>(stream: &mut S, expected: usize) -> usize {
    let mut received = 0;
    while received < expected {
        match timeout(Duration::from_secs(2), stream.next()).await {
            Some(Some(_)) => received += 1,
            _ => break,
        }
    }
    received
}

/// `future`'s output, or `None` after `after`. A runtime-neutral timeout built on a thread: good enough for a benchmark's "no
/// progress for 2 s" check, which fires at most once per run.
pub async fn timeout<F: Future>(after: Duration, future: F) -> Option<F::Output> {
    let deadline = Instant::now() + after;
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        if Instant::now() >= deadline {
            return std::task::Poll::Ready(None);
        }
        let waker = cx.waker().clone();
        let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            waker.wake();
        });
        std::task::Poll::Pending
    })
    .await
}
