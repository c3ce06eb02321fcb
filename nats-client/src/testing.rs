//! A runtime for unit tests: a virtual clock the test advances, timers on it, a
//! single-threaded executor the test runs until idle, and in-memory transports whose far
//! end the test scripts as the server. No sockets, no threads, no real time.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::runtime::Runtime;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Locks, ignoring poisoning (a failed test already reports the first panic).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The test runtime; clones share the clock, tasks and connections.
#[derive(Clone)]
pub(crate) struct TestRuntime(Arc<Inner>);

struct Inner {
    base: Instant,
    offset: Mutex<Duration>,
    /// Timers not yet due, with the waker of their task.
    timers: Mutex<Vec<(Instant, Waker)>>,
    /// Spawned tasks, each with its "woken" flag; taken out while they are polled.
    tasks: Mutex<Vec<(Arc<Flag>, Task)>>,
    /// Server ends of the connections the client opened, oldest first.
    accepted: Mutex<VecDeque<ServerEnd>>,
    /// Whether `connect` never completes (a server that does not answer).
    hang_connects: AtomicBool,
}

/// A task's waker: sets its flag.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TestRuntime {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Inner {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            timers: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            accepted: Mutex::new(VecDeque::new()),
            hang_connects: AtomicBool::new(false),
        }))
    }

    /// From now on, connection attempts never complete.
    pub(crate) fn hang_connects(&self) {
        self.0.hang_connects.store(true, Ordering::SeqCst);
    }

    /// Time elapsed on the virtual clock.
    pub(crate) fn elapsed(&self) -> Duration {
        *lock(&self.0.offset)
    }

    /// Moves the virtual clock forward, fires the timers now due, runs until idle.
    pub(crate) fn advance(&self, by: Duration) {
        *lock(&self.0.offset) += by;
        let now = self.now();
        let due: Vec<Waker> = {
            let mut timers = lock(&self.0.timers);
            let (due, later) = timers.drain(..).partition(|(at, _)| *at <= now);
            *timers = later;
            due.into_iter().map(|(_, waker)| waker).collect()
        };
        due.into_iter().for_each(Waker::wake);
        self.run_until_idle();
    }

    /// Polls woken tasks until none is woken; returns how many tasks remain.
    pub(crate) fn run_until_idle(&self) -> usize {
        for _ in 0..10_000 {
            let mut tasks = std::mem::take(&mut *lock(&self.0.tasks));
            let mut polled = false;
            tasks.retain_mut(|(flag, task)| {
                if !flag.0.swap(false, Ordering::SeqCst) {
                    return true;
                }
                polled = true;
                let waker = Waker::from(Arc::clone(flag));
                task.as_mut().poll(&mut Context::from_waker(&waker)).is_pending()
            });
            let mut queued = lock(&self.0.tasks);
            tasks.append(&mut queued);
            *queued = tasks;
            if !polled {
                return queued.len();
            }
        }
        panic!("the tasks never went idle");
    }

    /// Spawns `future` and returns a slot that holds its output once it completes.
    pub(crate) fn start<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Arc<Mutex<Option<T>>> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        self.spawn(async move {
            let value = future.await;
            *lock(&out) = Some(value);
        });
        slot
    }

    /// The server end of the oldest connection not yet taken.
    pub(crate) fn accept(&self) -> Option<ServerEnd> {
        lock(&self.0.accepted).pop_front()
    }
}

/// Takes the output out of a [`TestRuntime::start`] slot.
/// A transport id, from a core asked to connect (ids are made only there): for the tests
/// of the reader and the writer, which run without a core.
pub(crate) fn transport_id() -> nats_proto::TransportId {
    let options = nats_proto::Options::new("nats://127.0.0.1:4222").expect("valid");
    let mut conn = nats_proto::Connection::new(options, Instant::now()).expect("valid options");
    match conn.poll_action() {
        Some(nats_proto::Action::Connect(id, _)) => id,
        other => panic!("expected Connect, got {other:?}"),
    }
}

pub(crate) fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    lock(slot).take()
}

/// A timer on the virtual clock.
pub(crate) struct Sleep {
    runtime: TestRuntime,
    deadline: Instant,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.runtime.now() >= self.deadline {
            return Poll::Ready(());
        }
        lock(&self.runtime.0.timers).push((self.deadline, cx.waker().clone()));
        Poll::Pending
    }
}

impl Runtime for TestRuntime {
    type Transport = ClientEnd;
    type Sleep = Sleep;

    fn connect(
        &self,
        _host: String,
        _port: u16,
    ) -> impl Future<Output = io::Result<ClientEnd>> + Send + 'static {
        let runtime = self.clone();
        async move {
            if runtime.0.hang_connects.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let pipe = Arc::new(Mutex::new(Pipe { accept: usize::MAX, ..Pipe::default() }));
            lock(&runtime.0.accepted).push_back(ServerEnd(Arc::clone(&pipe)));
            Ok(ClientEnd(pipe))
        }
    }

    fn now(&self) -> Instant {
        self.0.base + self.elapsed()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep { runtime: self.clone(), deadline }
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        lock(&self.0.tasks).push((Arc::new(Flag(AtomicBool::new(true))), Box::pin(future)));
    }
}

/// Both directions of an in-memory connection.
#[derive(Default)]
struct Pipe {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// Bytes the transport still accepts from the client (backpressure when 0).
    accept: usize,
    /// The server closed the connection.
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// A connected pair of in-memory ends, outside any runtime.
pub(crate) fn duplex() -> (ClientEnd, ServerEnd) {
    let pipe = Arc::new(Mutex::new(Pipe { accept: usize::MAX, ..Pipe::default() }));
    (ClientEnd(Arc::clone(&pipe)), ServerEnd(pipe))
}

/// The client's end: what the driver reads and writes.
pub(crate) struct ClientEnd(Arc<Mutex<Pipe>>);

impl AsyncRead for ClientEnd {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.0);
        if pipe.to_client.is_empty() && !pipe.closed {
            pipe.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(pipe.to_client.len());
        buf[..n].copy_from_slice(&pipe.to_client[..n]);
        pipe.to_client.drain(..n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for ClientEnd {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.0);
        if pipe.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if pipe.accept == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(pipe.accept);
        pipe.accept -= n;
        pipe.to_server.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Wakes the task waiting in `waker`, if any.
fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// The server's end, scripted by the test.
pub(crate) struct ServerEnd(Arc<Mutex<Pipe>>);

impl ServerEnd {
    /// Sends `text` to the client.
    pub(crate) fn send(&self, text: &str) {
        let mut pipe = lock(&self.0);
        pipe.to_client.extend_from_slice(text.as_bytes());
        wake(&mut pipe.reader);
    }

    /// Sends `bytes` to the client.
    pub(crate) fn send_bytes(&self, bytes: &[u8]) {
        let mut pipe = lock(&self.0);
        pipe.to_client.extend_from_slice(bytes);
        wake(&mut pipe.reader);
    }

    /// Takes the bytes the client wrote so far.
    pub(crate) fn received_bytes(&self) -> Vec<u8> {
        std::mem::take(&mut lock(&self.0).to_server)
    }

    /// Takes what the client wrote so far.
    pub(crate) fn received(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut lock(&self.0).to_server)).into_owned()
    }

    /// Sets how many more bytes the transport accepts from the client.
    pub(crate) fn set_accept(&self, bytes: usize) {
        let mut pipe = lock(&self.0);
        pipe.accept = bytes;
        wake(&mut pipe.writer);
    }

    /// Closes the connection (the client reads its end).
    pub(crate) fn close(&self) {
        let mut pipe = lock(&self.0);
        pipe.closed = true;
        wake(&mut pipe.reader);
        wake(&mut pipe.writer);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use nats_proto::{FlushError, State};

    use super::{lock, take, ServerEnd, TestRuntime};
    use crate::client::{connect_with_runtime, Client};
    use crate::deadline::CLAIM_LEASE;
    use crate::error::{DrainError, ReconnectError, RequestError};
    use crate::event::ClientEvent;
    use crate::options::ConnectOptions;
    use crate::runtime::Runtime;
    use crate::shared::HIGH_WATER;
    use futures_util::StreamExt;
    use std::future::Future;

    const INFO: &str =
        "INFO {\"server_id\":\"x\",\"version\":\"2.10.0\",\"max_payload\":1048576,\"headers\":true}\r\n";

    /// Plays the server's side of the handshake on the next connection.
    fn handshake(rt: &TestRuntime) -> ServerEnd {
        let server = rt.accept().expect("the client opened a connection");
        serve(rt, &server);
        server
    }

    /// Answers the client's CONNECT and PING on `server`.
    fn serve(rt: &TestRuntime, server: &ServerEnd) {
        server.send(INFO);
        rt.run_until_idle();
        let hello = server.received();
        assert!(hello.starts_with("CONNECT ") && hello.ends_with("PING\r\n"), "{hello}");
        server.send("PONG\r\n");
        rt.run_until_idle();
    }

    fn connected(options: ConnectOptions) -> (TestRuntime, Client, ServerEnd) {
        let rt = TestRuntime::new();
        let connecting = rt.start(connect_with_runtime(rt.clone(), "nats://test:4222", options));
        rt.run_until_idle();
        let server = handshake(&rt);
        let client = take(&connecting).expect("connect returned").expect("connected");
        (rt, client, server)
    }

    #[test]
    fn a_request_times_out_exactly_at_its_deadline() {
        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let reply =
            rt.start(async move { c.request_with("svc", None, "x".into(), Duration::from_secs(2)).await });
        rt.run_until_idle();
        assert!(server.received().contains("PUB svc _INBOX."), "the request was published");
        rt.advance(Duration::from_millis(1999));
        assert!(take(&reply).is_none(), "no timeout before the deadline");
        rt.advance(Duration::from_millis(1));
        assert!(matches!(take(&reply), Some(Err(RequestError::Timeout))));
    }

    #[test]
    fn a_request_reads_its_own_reply_and_gives_the_reads_back() {
        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let reply =
            rt.start(async move { c.request_with("svc", None, "x".into(), Duration::from_secs(2)).await });
        rt.run_until_idle();
        // SUB <inbox prefix>.* <sid>, then PUB svc <inbox> 1.
        let sent = server.received();
        let words: Vec<&str> = sent.split_whitespace().collect();
        let sid = words[words.iter().position(|w| *w == "SUB").expect("the inbox subscription") + 2];
        let inbox = words[words.iter().position(|w| *w == "PUB").expect("the request") + 2];
        server.send(&format!("MSG {inbox} {sid} 2\r\nok\r\n"));
        rt.run_until_idle();
        assert_eq!(take(&reply).expect("replied").expect("a reply").payload, "ok");
        // The driver reads again: a subscription's message arrives.
        let c = client.clone();
        let msg = rt.start(async move { c.subscribe("s").await.expect("subscribed").next().await });
        rt.run_until_idle();
        let sub = server.received();
        let sid = sub.trim_end().rsplit(' ').next().expect("SUB s <sid>");
        server.send(&format!("MSG s {sid} 2\r\nhi\r\n"));
        rt.run_until_idle();
        assert_eq!(take(&msg).expect("received").expect("a message").payload, "hi");
    }

    #[test]
    fn a_request_kept_but_not_polled_holds_up_other_readers_for_one_lease_at_most() {
        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let msg = rt.start(async move { c.subscribe("s").await.expect("subscribed").next().await });
        rt.run_until_idle();
        // Polled once (it claims the reads), then kept and never polled again.
        let mut request = Box::pin(client.request_with("svc", None, "x".into(), Duration::from_secs(60)));
        let noop = std::task::Waker::noop();
        assert!(request.as_mut().poll(&mut std::task::Context::from_waker(noop)).is_pending());
        rt.run_until_idle();
        server.send("MSG s 1 2\r\nhi\r\n");
        rt.run_until_idle();
        assert!(take(&msg).is_none(), "the bytes woke the request's task, which did not read");
        rt.advance(CLAIM_LEASE);
        assert_eq!(take(&msg).expect("received").expect("a message").payload, "hi");
        drop(request);
    }

    #[test]
    fn a_drain_reports_its_timeout_and_a_finished_drain_is_ok() {
        let (rt, client, server) = connected(ConnectOptions::new().drain_timeout(Duration::from_secs(5)));
        let c = client.clone();
        let drained = rt.start(async move { c.drain().await });
        rt.run_until_idle();
        assert!(server.received().contains("PING\r\n"), "the drain asks the server to confirm");
        rt.advance(Duration::from_millis(4999));
        assert!(take(&drained).is_none(), "no timeout before the drain deadline");
        rt.advance(Duration::from_millis(1));
        rt.run_until_idle();
        assert_eq!(take(&drained), Some(Err(DrainError::Timeout)));

        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let drained = rt.start(async move { c.drain().await });
        rt.run_until_idle();
        // One PING confirms the unsubscribes, one the publishes.
        for _ in 0..2 {
            assert!(server.received().contains("PING\r\n"));
            server.send("PONG\r\n");
            rt.run_until_idle();
        }
        assert_eq!(take(&drained), Some(Ok(())));
    }

    #[test]
    fn force_reconnect_says_why_it_did_nothing() {
        let (rt, client, _server) = connected(ConnectOptions::new().allow_reconnect(false));
        assert_eq!(client.force_reconnect().into_inner(), Err(ReconnectError::Disabled));

        let (rt2, client2, _server2) = connected(ConnectOptions::new());
        assert_eq!(client2.force_reconnect().into_inner(), Ok(()));
        rt2.run_until_idle();
        assert_eq!(
            client2.force_reconnect().into_inner(),
            Err(ReconnectError::NotConnected),
            "the new connection is not up yet"
        );
        let c = client2.clone();
        let drained = rt2.start(async move { c.drain().await });
        rt2.run_until_idle();
        assert_eq!(take(&drained), Some(Ok(())), "not connected: the drain closes at once");
        assert_eq!(client2.force_reconnect().into_inner(), Err(ReconnectError::Closed));

        let c = client.clone();
        let _draining = rt.start(async move { c.drain().await });
        rt.run_until_idle();
        assert_eq!(client.force_reconnect().into_inner(), Err(ReconnectError::Draining));
    }

    #[test]
    fn a_flush_times_out_at_its_deadline_and_a_pong_in_time_completes_it() {
        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let flush = rt.start(async move { c.flush_timeout(Duration::from_secs(1)).await });
        rt.run_until_idle();
        assert_eq!(server.received(), "PING\r\n");
        rt.advance(Duration::from_millis(999));
        assert!(take(&flush).is_none(), "no timeout before the deadline");
        rt.advance(Duration::from_millis(1));
        assert_eq!(take(&flush), Some(Err(FlushError::Timeout)));

        let c = client.clone();
        let flush = rt.start(async move { c.flush_timeout(Duration::from_secs(1)).await });
        rt.run_until_idle();
        assert_eq!(server.received(), "PING\r\n");
        rt.advance(Duration::from_millis(500));
        // The first flush's PONG comes late; the core matches PONGs to PINGs in order.
        server.send("PONG\r\nPONG\r\n");
        rt.run_until_idle();
        assert_eq!(take(&flush), Some(Ok(())));
    }

    #[test]
    fn callbacks_run_in_the_order_of_the_events() {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (events, d, r, c) = (Arc::clone(&log), Arc::clone(&log), Arc::clone(&log), Arc::clone(&log));
        let options = ConnectOptions::new()
            .event_callback(move |event| {
                let kind = match event {
                    ClientEvent::Connected(_) => "event: connected",
                    ClientEvent::Disconnected(_) => "event: disconnected",
                    ClientEvent::Reconnected(_) => "event: reconnected",
                    ClientEvent::Closed(_) => "event: closed",
                    _ => "event: other",
                };
                lock(&events).push(kind.to_owned());
                async {}
            })
            .disconnected_callback(move || {
                lock(&d).push("disconnected".to_owned());
                async {}
            })
            .reconnected_callback(move |_| {
                lock(&r).push("reconnected".to_owned());
                async {}
            })
            .closed_callback(move || {
                lock(&c).push("closed".to_owned());
                async {}
            });
        let (rt, client, server) = connected(options);
        server.close();
        rt.run_until_idle();
        assert_eq!(client.connection_state(), State::Reconnecting);
        // The reconnect wait runs on the virtual clock: advance until the client dials again.
        let mut waited = Duration::ZERO;
        let server = loop {
            if let Some(server) = rt.accept() {
                break server;
            }
            assert!(waited < Duration::from_secs(10), "no reconnect attempt");
            rt.advance(Duration::from_millis(100));
            waited += Duration::from_millis(100);
        };
        serve(&rt, &server);
        assert_eq!(client.connection_state(), State::Connected);
        let c = client.clone();
        let closed = rt.start(async move { c.close().await });
        rt.run_until_idle();
        assert!(take(&closed).is_some());
        let log = lock(&log).clone();
        let events: Vec<_> = log.iter().filter(|e| e.starts_with("event: ")).cloned().collect();
        let callbacks: Vec<_> = log.iter().filter(|e| !e.starts_with("event: ")).cloned().collect();
        assert_eq!(
            events,
            ["event: connected", "event: disconnected", "event: reconnected", "event: closed"]
        );
        assert_eq!(callbacks, ["disconnected", "reconnected", "closed"]);
    }

    #[test]
    fn a_subscription_gives_back_the_room_of_a_burst_once_caught_up() {
        let (rt, client, server) = connected(ConnectOptions::new());
        let c = client.clone();
        let subscribed = rt.start(async move { c.subscribe("s").await.expect("subscribed") });
        rt.run_until_idle();
        let mut sub = take(&subscribed).expect("subscribed");
        let sid = server.received().trim_end().rsplit(' ').next().expect("SUB s <sid>").to_owned();
        let burst: String = (0..5_000).map(|i| format!("MSG s {sid} 1\r\n{}\r\n", i % 10)).collect();
        server.send(&burst);
        rt.run_until_idle();
        let noop = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(noop);
        let mut received = 0;
        while let std::task::Poll::Ready(Some(_)) = sub.poll_next_unpin(&mut cx) {
            received += 1;
        }
        assert_eq!(received, 5_000);
        assert!(sub.batch_capacity() <= 256, "kept {} after catching up", sub.batch_capacity());
        let inner = client.shared.lock();
        let slot = inner.subs.values().next().expect("the subscription's slot");
        assert!(slot.queue.capacity() <= 256, "kept {}", slot.queue.capacity());
    }

    #[test]
    fn a_publish_waits_above_the_high_water_mark_until_the_transport_accepts() {
        let (rt, client, server) = connected(ConnectOptions::new());
        server.set_accept(0);
        let published = Arc::new(Mutex::new(0usize));
        let (c, count) = (client.clone(), Arc::clone(&published));
        let payload = vec![b'x'; 1_000_000];
        let total = HIGH_WATER / payload.len() + 4;
        let done = rt.start(async move {
            for _ in 0..total {
                c.publish("big", payload.clone().into()).await.expect("published");
                *lock(&count) += 1;
            }
        });
        rt.run_until_idle();
        let stalled = *lock(&published);
        assert!(stalled < total, "the publisher waits ({stalled} of {total} published)");
        assert!(client.shared.lock().conn.outbound().len() >= HIGH_WATER);
        rt.run_until_idle();
        assert_eq!(*lock(&published), stalled, "still waiting while the transport accepts nothing");
        server.set_accept(usize::MAX);
        rt.run_until_idle();
        assert!(take(&done).is_some(), "the publisher proceeded");
        assert_eq!(server.received().matches("PUB big ").count(), total);
    }

    #[test]
    fn paced_publishes_wait_for_answers_read_by_the_driver_or_by_a_request() {
        // A 64 KiB budget starts with the smallest window (1 KiB): a mark after each publish.
        let (rt, client, server) = connected(ConnectOptions::new().publish_pacing(Some(64 * 1024)));
        let c = client.clone();
        let subscribed = rt.start(async move { c.subscribe("s").await.expect("subscribed") });
        rt.run_until_idle();
        // Kept: a connection without subscriptions gets nothing back and is not paced.
        let _sub = take(&subscribed).expect("subscribed");
        assert!(server.received().starts_with("SUB s "));
        let c = client.clone();
        let published = rt.start(async move {
            for i in 0..8 {
                c.publish("p", format!("{i}").repeat(1024).into()).await.expect("published");
            }
        });
        rt.run_until_idle();
        assert!(take(&published).is_some(), "publishing does not wait below the high-water mark");
        let sent = server.received();
        assert_eq!((sent.matches("PUB p ").count(), sent.matches("PING").count()), (4, 4), "four windows");

        // The driver reads an answer: one more window goes.
        server.send("PONG\r\n");
        rt.run_until_idle();
        let sent = server.received();
        assert!(sent.starts_with("PUB p 1024\r\n4444") && sent.ends_with("PING\r\n"), "{sent}");
        assert_eq!(sent.matches("PUB p ").count(), 1);

        // A request waits behind the paced publishes, and reads the answers itself: each
        // one it reads lets the driver write the next window, and then the request.
        let c = client.clone();
        let reply =
            rt.start(async move { c.request_with("svc", None, "x".into(), Duration::from_secs(60)).await });
        rt.run_until_idle();
        assert_eq!(server.received(), "", "the request is behind the paced publishes");
        // Unanswered: the marks after 1111 to 4444 (written), 5555 to 7777 (queued).
        let mut sent = String::new();
        for _ in 0..4 {
            server.send("PONG\r\n");
            rt.run_until_idle();
            sent.push_str(&server.received());
        }
        assert_eq!(sent.matches("PUB p ").count(), 3, "{sent}");
        let request = sent.find("PUB svc _INBOX.").expect("the request went last");
        assert!(sent.rfind("PUB p ").is_some_and(|last| last < request), "in order: {sent}");
        let words: Vec<&str> = sent.split_whitespace().collect();
        let sid = words[words.iter().position(|w| *w == "SUB").expect("the inbox subscription") + 2];
        let inbox = words[words.iter().position(|w| *w == "svc").expect("the request") + 1];
        server.send(&format!("MSG {inbox} {sid} 2\r\nok\r\n"));
        rt.run_until_idle();
        assert_eq!(take(&reply).expect("replied").expect("a reply").payload, "ok");
    }

    /// Waits on the virtual clock for the client's next connection; returns its server end.
    fn next_connection(rt: &TestRuntime) -> ServerEnd {
        let mut waited = Duration::ZERO;
        loop {
            if let Some(server) = rt.accept() {
                return server;
            }
            assert!(waited < Duration::from_secs(30), "no reconnect attempt");
            rt.advance(Duration::from_millis(100));
            waited += Duration::from_millis(100);
        }
    }

    #[test]
    fn the_auth_callback_gives_fresh_credentials_for_each_connect_and_its_errors_fail_only_that_attempt() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use nats_proto::Credentials;

        let calls = Arc::new(AtomicUsize::new(0));
        let nonces = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let (counter, seen) = (Arc::clone(&calls), Arc::clone(&nonces));
        let options = ConnectOptions::new().auth_callback(move |nonce| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            lock(&seen).push(nonce);
            async move {
                // The second call fails: that attempt fails, the next one asks again.
                if n == 2 {
                    return Err("secret store unavailable".to_owned());
                }
                Ok(Credentials::new().with_token(format!("token-{n}")))
            }
        });
        let rt = TestRuntime::new();
        let connecting = rt.start(connect_with_runtime(rt.clone(), "nats://test:4222", options));
        rt.run_until_idle();
        let server = rt.accept().expect("a connection");
        server.send(
            "INFO {\"server_id\":\"x\",\"version\":\"2.10.0\",\"max_payload\":1048576,\"headers\":true,\"nonce\":\"n0nce\"}\r\n",
        );
        rt.run_until_idle();
        let hello = server.received();
        assert!(hello.contains("\"auth_token\":\"token-1\""), "{hello}");
        server.send("PONG\r\n");
        rt.run_until_idle();
        let client = take(&connecting).expect("connect returned").expect("connected");
        assert_eq!(lock(&nonces).as_slice(), [b"n0nce".to_vec()]);

        // Lost: the next attempt asks the callback again, which fails...
        server.close();
        rt.run_until_idle();
        let server = next_connection(&rt);
        server.send(INFO);
        rt.run_until_idle();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(!server.received().contains("CONNECT"), "no CONNECT without credentials");
        let error = client.shared.lock().conn.last_error().cloned();
        assert_eq!(
            error,
            Some(nats_proto::ConnectionError::Auth(nats_proto::AuthError::Callback(
                "secret store unavailable".to_owned()
            )))
        );
        assert_eq!(client.connection_state(), State::Reconnecting);
        // ...and the one after that connects with a fresh token.
        let server = next_connection(&rt);
        server.send(INFO);
        rt.run_until_idle();
        let hello = server.received();
        assert!(hello.contains("\"auth_token\":\"token-3\""), "{hello}");
        assert_eq!(lock(&nonces).last().map(Vec::len), Some(0), "no nonce: empty");
        server.send("PONG\r\n");
        rt.run_until_idle();
        assert_eq!(client.connection_state(), State::Connected);
    }

    #[test]
    fn a_slow_auth_callback_is_abandoned_at_the_connect_timeout() {
        use nats_proto::Credentials;

        let rt = TestRuntime::new();
        let sleeper = rt.clone();
        let options = ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(1))
            .auth_callback(move |_| {
                let sleep = sleeper.sleep_until(sleeper.now() + Duration::from_secs(5));
                async move {
                    sleep.await;
                    Ok::<_, String>(Credentials::new().with_token("late"))
                }
            });
        let connecting = rt.start(connect_with_runtime(rt.clone(), "nats://test:4222", options));
        rt.run_until_idle();
        let client = take(&connecting).expect("returned at once").expect("a client");
        let server = rt.accept().expect("a connection");
        server.send(INFO);
        rt.run_until_idle();
        rt.advance(Duration::from_secs(1));
        assert_eq!(
            client.shared.lock().conn.last_error().cloned(),
            Some(nats_proto::ConnectionError::Timeout)
        );
        rt.advance(Duration::from_secs(5));
        assert!(!server.received().contains("CONNECT"), "the late answer went nowhere");
    }

    #[test]
    fn close_while_connecting_ends_promptly() {
        let rt = TestRuntime::new();
        rt.hang_connects();
        let connecting = rt.start(connect_with_runtime(
            rt.clone(),
            "nats://test:4222",
            ConnectOptions::new().retry_on_initial_connect(),
        ));
        rt.run_until_idle();
        let client = take(&connecting).expect("returned at once").expect("a client");
        assert_eq!(client.connection_state(), State::Connecting);
        let c = client.clone();
        let closed = rt.start(async move { c.close().await });
        assert_eq!(rt.run_until_idle(), 0, "the driver task ended");
        assert!(take(&closed).is_some(), "close returned without the clock moving");
        assert_eq!(rt.elapsed(), Duration::ZERO);
        assert_eq!(client.connection_state(), State::Closed);
        let c = client.clone();
        let flush = rt.start(async move { c.flush().await });
        rt.run_until_idle();
        assert_eq!(take(&flush), Some(Err(FlushError::Closed)));
    }

    /// Without the `tls` feature, asking for TLS is a typed error at connect time, and a
    /// server that demands it fails the attempt with a TLS transport error: no panic.
    #[cfg(not(feature = "tls"))]
    #[test]
    fn without_tls_asking_for_it_is_a_typed_error() {
        use crate::error::ConnectError;
        use nats_proto::{ConnectionError, TransportErrorKind};

        let rt = TestRuntime::new();
        for (url, options) in [
            ("tls://test:4222", ConnectOptions::new()),
            ("wss://test:443", ConnectOptions::new()),
            ("nats://test:4222", ConnectOptions::new().require_tls(true)),
            ("nats://test:4222", ConnectOptions::new().tls_first()),
        ] {
            let connecting = rt.start(connect_with_runtime(rt.clone(), url, options));
            rt.run_until_idle();
            let result = take(&connecting).expect("returned at once");
            assert!(matches!(result, Err(ConnectError::TlsUnavailable)), "{url}: {result:?}");
        }

        let options = ConnectOptions::new().max_reconnect_attempts(Some(0));
        let connecting = rt.start(connect_with_runtime(rt.clone(), "nats://test:4222", options));
        rt.run_until_idle();
        let server = rt.accept().expect("the client opened a connection");
        server.send(
            "INFO {\"server_id\":\"x\",\"version\":\"2.10.0\",\"max_payload\":1048576,\"tls_required\":true}\r\n",
        );
        rt.run_until_idle();
        let result = take(&connecting).expect("connect returned");
        let Err(ConnectError::NoServers { last: Some(ConnectionError::Transport(error)) }) = result else {
            panic!("expected a TLS transport error, got {result:?}");
        };
        assert_eq!(error.kind(), TransportErrorKind::Tls, "{error}");
    }

    /// A given random seed reaches the inbox names: two connections with different seeds
    /// (two browser tabs, where std's hasher keys are fixed) get different inboxes.
    #[test]
    fn the_random_seed_reaches_inbox_names() {
        let (_rt_a, a, _server_a) = connected(ConnectOptions::new().rng_seed(1));
        let (_rt_b, b, _server_b) = connected(ConnectOptions::new().rng_seed(2));
        let (inbox_a, inbox_b) = (a.new_inbox(), b.new_inbox());
        assert_ne!(inbox_a.rsplit('.').next(), inbox_b.rsplit('.').next());
    }

    /// Tokens (service ids, object names) are NUID-shaped, fresh on every call, and drawn
    /// from the connection's seed like the inboxes; the wall clock is the runtime's.
    #[test]
    fn tokens_and_the_wall_clock_come_from_the_client() {
        let (_rt_a, a, _server_a) = connected(ConnectOptions::new().rng_seed(1));
        let (_rt_b, b, _server_b) = connected(ConnectOptions::new().rng_seed(2));
        let token = a.new_token();
        assert_eq!(token.len(), 22);
        assert!(token.bytes().all(|c| c.is_ascii_alphanumeric()), "{token}");
        assert_ne!(token, a.new_token());
        assert_ne!(a.new_token(), b.new_token());
        let before = crate::SystemTime::now();
        let now = a.system_time();
        assert!(now >= before && now <= crate::SystemTime::now());
    }

    /// With a fixed seed, a connection's tokens and inboxes are the same on every run (a
    /// simulation replays); without one they differ from connection to connection.
    #[test]
    fn a_fixed_seed_replays_the_tokens() {
        let tokens = |options: ConnectOptions| {
            let (_rt, client, _server) = connected(options);
            (client.new_token(), client.new_token(), client.new_inbox())
        };
        let first = tokens(ConnectOptions::new().rng_seed(7));
        assert_eq!(first, tokens(ConnectOptions::new().rng_seed(7)));
        assert_ne!(first.0, first.1);
        assert_ne!(tokens(ConnectOptions::new()), tokens(ConnectOptions::new()));
    }

    /// Every duration the client takes may be `Duration::MAX`, and means never: no panic
    /// when it is added to the clock (in the caller's task or in the driver), and nothing
    /// times out, not even after a decade on the virtual clock.
    #[test]
    fn durations_of_duration_max_mean_never_at_every_entry_point() {
        use crate::request::Request;
        use bytes::Bytes;

        const DECADE: Duration = Duration::from_secs(10 * 365 * 86_400);
        let never = || {
            ConnectOptions::new()
                .connection_timeout(Duration::MAX)
                .ping_interval(Duration::MAX)
                .reconnect_time_wait(Duration::MAX)
                .reconnect_backoff_max(Duration::MAX)
                .reconnect_jitter(Duration::MAX, Duration::MAX)
                .drain_timeout(Duration::MAX)
                .request_timeout(Duration::MAX)
                .flush_timeout(Duration::MAX)
        };
        let (rt, client, server) = connected(never());
        assert_eq!(client.request_timeout(), Duration::MAX);
        assert!(client.deadline(Duration::MAX) > client.now() + DECADE);

        // Requests and flushes, at every entry point.
        let c = client.clone();
        let by_default = rt.start(async move { c.request("svc", Bytes::from_static(b"a")).await });
        let c = client.clone();
        let with_timeout = rt
            .start(async move { c.request_with("svc", None, Bytes::from_static(b"b"), Duration::MAX).await });
        let c = client.clone();
        let on_inbox = rt.start(async move {
            let request = Request::new()
                .payload(Bytes::from_static(b"c"))
                .timeout(Some(Duration::MAX))
                .inbox("replies.c");
            c.send_request("svc", request).await
        });
        let mut many = client
            .request_many("svc", Bytes::from_static(b"d"), nats_proto::Expected::UntilTimeout, Duration::MAX)
            .unwrap();
        let gathered = rt.start(async move {
            let mut n = 0;
            while many.next().await.is_some() {
                n += 1;
            }
            n
        });
        let c = client.clone();
        let flushed = rt.start(async move { c.flush().await });
        let c = client.clone();
        let flushed_with_timeout = rt.start(async move { c.flush_timeout(Duration::MAX).await });
        rt.run_until_idle();
        let sent = server.received();
        assert_eq!((sent.matches("PUB svc ").count(), sent.matches("PING").count()), (4, 2), "{sent}");

        // A decade on: nothing timed out, no keepalive PING was due.
        rt.advance(DECADE);
        assert_eq!(server.received(), "", "no keepalive PING");
        assert!(take(&by_default).is_none() && take(&with_timeout).is_none() && take(&on_inbox).is_none());
        assert!(
            take(&gathered).is_none() && take(&flushed).is_none() && take(&flushed_with_timeout).is_none()
        );
        server.send("PONG\r\nPONG\r\n");
        rt.run_until_idle();
        assert_eq!((take(&flushed), take(&flushed_with_timeout)), (Some(Ok(())), Some(Ok(()))));

        // A drain that never times out: it ends when the server has answered.
        let c = client.clone();
        let drained = rt.start(async move { c.drain().await });
        rt.run_until_idle();
        assert!(server.received().ends_with("PING\r\n"));
        rt.advance(DECADE);
        assert!(take(&drained).is_none(), "the drain has not timed out");
        assert_eq!(client.connection_state(), State::Draining);
        server.send("PONG\r\n");
        // Read by a waiting request's task: the driver writes at its next lease.
        rt.advance(CLAIM_LEASE);
        assert_eq!(server.received(), "PING\r\n", "the publishes are confirmed next");
        server.send("PONG\r\n");
        rt.advance(CLAIM_LEASE);
        assert!(take(&drained).is_some());
        assert_eq!(client.connection_state(), State::Closed);
        for reply in [take(&by_default), take(&with_timeout), take(&on_inbox)] {
            assert!(matches!(reply, Some(Err(RequestError::Closed))), "{reply:?}");
        }
        assert_eq!(take(&gathered), Some(0));

        // A lost connection waits forever for its reconnect.
        let (rt, client, server) = connected(never());
        server.close();
        rt.run_until_idle();
        rt.advance(DECADE);
        assert!(rt.accept().is_none(), "no reconnect attempt within a decade");
        assert_eq!(client.connection_state(), State::Reconnecting);

        // An attempt that never completes never times out.
        let rt = TestRuntime::new();
        rt.hang_connects();
        let connecting = rt.start(connect_with_runtime(
            rt.clone(),
            "nats://test:4222",
            never().retry_on_initial_connect(),
        ));
        rt.run_until_idle();
        let client = take(&connecting).expect("returned at once").expect("a client");
        rt.advance(DECADE);
        assert_eq!(client.connection_state(), State::Connecting);
        assert_eq!(client.shared.lock().conn.last_error(), None);
    }
}
