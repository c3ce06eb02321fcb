//! Faults against a real server, each on tokio, smol and async-std: the server killed and
//! restarted on the same port, a frozen server (stale connection), `max_payload`, slow
//! consumers, `max_connections`, permission errors the server reports with `-ERR`, and a
//! fatal `-ERR` filling a whole read followed by the end of the stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use nats_client::{
    ClientEvent, ConnectError, ConnectOptions, ConnectionError, FlushError, HeaderMap, HeaderName,
    HeaderValue, PermissionOperation, PublishError, RequestError, Runtime, ServerErrorKind, State,
};
use nats_integration_tests::{
    collect_now, connect, connect_with, fast_reconnect, next_message, runtime_tests, try_connect,
    wait_for_event, wait_for_event_for, with_timeout, within, NatsServer, ServerConfig,
};

runtime_tests!(
    server_restart,
    stale_connection,
    max_payload,
    slow_consumer,
    max_connections,
    permissions_violation,
    fatal_error_then_end_of_stream,
    backpressure_while_draining,
);

fn text(payload: &[u8]) -> &str {
    std::str::from_utf8(payload).expect("UTF-8 payload")
}

async fn server_restart<R: Runtime>(rt: R) {
    const BUFFER: usize = 64 * 1024;
    let mut server = NatsServer::plain();
    let port = server.port();
    let client = connect_with(&rt, &server.url(), fast_reconnect().reconnect_buffer_size(BUFFER)).await;
    let mut events = client.events();
    let mut all = client.subscribe("r.>").await.unwrap();
    let mut limited = client.subscribe("r.limited").await.unwrap();
    limited.unsubscribe_after(5).await.unwrap();
    let mut queue = client.queue_subscribe("r.q", "group").await.unwrap();
    let mut gone = client.subscribe("x.gone").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    for subject in ["r.before", "r.limited", "r.limited"] {
        client.publish(subject, subject.to_owned().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(collect_now(&mut all).0.len(), 3);
    assert_eq!(collect_now(&mut limited).0.len(), 2, "3 of the 5 are left");

    server.stop();
    let (event, _) =
        wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    assert!(matches!(event, ClientEvent::Disconnected(ConnectionError::Transport(_))), "{event:?}");
    assert!(!client.is_connected());
    assert_eq!(client.connection_state(), State::Reconnecting);
    assert_eq!(client.connected_url(), None);
    assert!(matches!(client.last_error(), Some(ConnectionError::Transport(_))));
    assert_eq!(within(&rt, "flush while down", client.flush()).await, Err(FlushError::Disconnected));

    // Subscriptions made while disconnected are made on reconnect; those ended while
    // disconnected are not made again.
    let mut made_while_down = client.subscribe("r.new").await.unwrap();
    gone.unsubscribe().await.unwrap();
    let mut gone_before = client.subscribe("r.gone.before").await.unwrap();
    gone_before.unsubscribe().await.unwrap();
    assert_eq!(within(&rt, "end", gone_before.next()).await, None);

    // Publishes made while disconnected are kept, up to the reconnect buffer's size:
    // with reply subjects and headers too.
    client.publish("r.new", "new".into()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.append(HeaderName::new("X-Down").unwrap(), HeaderValue::new("1").unwrap());
    headers.append(HeaderName::new("X-Down").unwrap(), HeaderValue::new("2").unwrap());
    client
        .publish_message("r.new", Some("r.reply.to"), Some(&headers), Bytes::from("with headers"))
        .await
        .unwrap();
    client.publish_with_reply("r.new", "r.reply.to", "with reply".into()).await.unwrap();
    for i in 0..4 {
        client.publish("r.limited", format!("late {i}").into()).await.unwrap();
    }
    client.publish("r.q", "queued".into()).await.unwrap();
    let payload = Bytes::from(vec![b'x'; 1000]);
    let mut accepted = 0;
    loop {
        match client.publish(format!("r.down.{accepted}"), payload.clone()).await {
            Ok(()) => accepted += 1,
            Err(PublishError::ReconnectBufferFull { limit }) => {
                assert_eq!(limit, BUFFER);
                break;
            }
            Err(e) => panic!("unexpected publish error: {e}"),
        }
        assert!(accepted < 1000, "the reconnect buffer has no limit");
    }
    assert!(accepted > 50, "only {accepted} publishes fit in {BUFFER} bytes");

    server.restart();
    assert_eq!(server.port(), port);
    let (event, skipped) =
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    let ClientEvent::Reconnected(addr) = event else { unreachable!() };
    assert_eq!(addr.port(), port);
    assert!(skipped.is_empty(), "failed attempts are no events: {skipped:?}");
    assert!(client.is_connected());
    assert_eq!(client.connected_url().map(|u| u.port()), Some(port));
    assert_eq!(client.statistics().reconnects, 1);

    // Subscriptions are back, and every buffered publish went out after them.
    within(&rt, "flush", client.flush()).await.unwrap();
    let (msgs, ended) = collect_now(&mut all);
    assert!(!ended);
    let subjects: Vec<String> = msgs.iter().map(|m| m.subject.to_string()).collect();
    let mut expected: Vec<String> = vec!["r.new".into(); 3];
    expected.extend(vec!["r.limited".to_owned(); 4]);
    expected.push("r.q".into());
    expected.extend((0..accepted).map(|i| format!("r.down.{i}")));
    assert_eq!(subjects, expected, "nothing lost, in order");
    let (msgs, ended) = collect_now(&mut limited);
    let texts: Vec<&str> = msgs.iter().map(|m| text(&m.payload)).collect();
    assert_eq!(texts, ["late 0", "late 1", "late 2"], "the remaining count survives the reconnect");
    assert!(ended, "then the auto-unsubscribe ends it");
    assert_eq!(text(&next_message(&rt, &mut queue).await.payload), "queued");

    assert_eq!(text(&next_message(&rt, &mut made_while_down).await.payload), "new");
    let msg = next_message(&rt, &mut made_while_down).await;
    assert_eq!(text(&msg.payload), "with headers");
    assert_eq!(msg.reply.as_ref().map(|r| r.as_str()), Some("r.reply.to"));
    assert_eq!(msg.headers.as_deref(), Some(&headers));
    let msg = next_message(&rt, &mut made_while_down).await;
    assert_eq!(
        (text(&msg.payload), msg.reply.as_ref().map(|r| r.as_str())),
        ("with reply", Some("r.reply.to"))
    );
    assert_eq!(within(&rt, "end", gone.next()).await, None);
    // Nobody listens on x.gone at the server: the unsubscribed one was not made again.
    let result = within(&rt, "request", client.request("x.gone", "anyone?".into())).await;
    assert_eq!(result.unwrap_err(), RequestError::NoResponders);

    client.publish("r.after", "after".into()).await.unwrap();
    assert_eq!(next_message(&rt, &mut all).await.subject.as_str(), "r.after");
    within(&rt, "close", client.close()).await;
}

async fn stale_connection<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // Stale 4 to 6 s after the server stops answering (two PINGs outstanding at the third
    // interval); a flush times out long before.
    let options = fast_reconnect().ping_interval(Duration::from_secs(2)).max_pings_outstanding(2);
    let client = connect_with(&rt, &server.url(), options).await;
    let mut events = client.events();
    let mut sub = client.subscribe("stale").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    // A frozen server answers no PING: the client notices on its own.
    server.pause();
    let flushed = within(&rt, "flush", client.flush_timeout(Duration::from_millis(50))).await;
    assert_eq!(flushed, Err(FlushError::Timeout));
    assert!(client.is_connected(), "not stale yet");
    let (event, _) = wait_for_event_for(&rt, Duration::from_secs(30), &mut events, "Disconnected", |e| {
        matches!(e, ClientEvent::Disconnected(_))
    })
    .await;
    assert_eq!(event, ClientEvent::Disconnected(ConnectionError::StaleConnection));
    client.publish("stale", "buffered".into()).await.unwrap();
    server.resume();
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "buffered");
    within(&rt, "flush", client.flush()).await.unwrap();
    within(&rt, "close", client.close()).await;
}

async fn max_payload<R: Runtime>(rt: R) {
    let server = NatsServer::start(ServerConfig::new().max_payload(1024));
    let client = connect(&rt, &server.url()).await;
    let mut events = client.events();
    assert_eq!(client.max_payload(), Some(1024));
    let mut sub = client.subscribe("mp").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    let error = client.publish("mp", vec![0u8; 2000].into()).await.unwrap_err();
    assert_eq!(error, PublishError::MaxPayloadExceeded { size: 2000, max_payload: 1024 });
    // Headers count towards the limit.
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("X-Pad").unwrap(), HeaderValue::new("p".repeat(100)).unwrap());
    let error = client.publish_with_headers("mp", &headers, vec![0u8; 1000].into()).await.unwrap_err();
    assert!(
        matches!(error, PublishError::MaxPayloadExceeded { size, max_payload: 1024 } if size > 1100),
        "{error:?}"
    );
    let error = within(&rt, "request", client.request("mp", vec![0u8; 1025].into())).await.unwrap_err();
    assert!(matches!(error, RequestError::Publish(PublishError::MaxPayloadExceeded { .. })), "{error:?}");

    // The connection is still usable, and exactly the limit passes.
    client.publish("mp", vec![7u8; 1024].into()).await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let msg = next_message(&rt, &mut sub).await;
    assert_eq!(msg.payload.len(), 1024);
    assert!(client.is_connected());
    assert_eq!(client.last_error(), None);
    let (seen, _) = collect_now(&mut events);
    assert!(seen.is_empty(), "no disconnect or error: {seen:?}");
    within(&rt, "close", client.close()).await;
}

async fn slow_consumer<R: Runtime>(rt: R) {
    const LIMIT: u64 = 10;
    let server = NatsServer::plain();
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().subscription_capacity(LIMIT, 1024 * 1024))
            .await;
    let mut events = client.events();
    let mut sub = client.subscribe("slow").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    let slow_events = |events: &mut nats_client::Events| -> Vec<(u64, Option<String>, u64)> {
        let (seen, _) = collect_now(events);
        seen.into_iter()
            .map(|e| match e {
                ClientEvent::SlowConsumer { sid, subject, dropped } => {
                    (sid.get(), subject.map(|s| s.to_string()), dropped)
                }
                other => panic!("unexpected event {other:?}"),
            })
            .collect()
    };
    // Nobody reads while 1000 messages come in.
    for i in 0..1000 {
        client.publish("slow", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(
        slow_events(&mut events),
        [(sub.sid().get(), Some("slow".to_owned()), 1)],
        "one event for the episode, at its first drop"
    );
    let (msgs, ended) = collect_now(&mut sub);
    assert!(!ended);
    let texts: Vec<&str> = msgs.iter().map(|m| text(&m.payload)).collect();
    assert_eq!(texts, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], "at most the limit was kept");

    // Caught up: later messages are delivered again.
    for i in 1000..1005 {
        client.publish("slow", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();
    let (msgs, _) = collect_now(&mut sub);
    let texts: Vec<&str> = msgs.iter().map(|m| text(&m.payload)).collect();
    assert_eq!(texts, ["1000", "1001", "1002", "1003", "1004"]);
    assert!(slow_events(&mut events).is_empty(), "no new episode");

    // A second episode is reported once more, with the running total.
    for i in 0..1000 {
        client.publish("slow", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(slow_events(&mut events), [(sub.sid().get(), Some("slow".to_owned()), 991)]);
    assert_eq!(collect_now(&mut sub).0.len(), 10);
    assert!(client.is_connected(), "a slow consumer does not break the connection");
    within(&rt, "close", client.close()).await;
}

async fn max_connections<R: Runtime>(rt: R) {
    let server = NatsServer::start(ServerConfig::new().max_connections(1));
    let first = connect(&rt, &server.url()).await;
    let error =
        try_connect(&rt, &server.url(), ConnectOptions::new()).await.expect_err("one connection only");
    let ConnectError::NoServers { last: Some(ConnectionError::Server(server_error)) } = &error else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!(server_error.kind(), &ServerErrorKind::MaxConnectionsExceeded);
    assert!(!error.is_auth_error());
    within(&rt, "flush", first.flush()).await.unwrap();
    assert!(first.is_connected());
    within(&rt, "close", first.close()).await;
}

async fn permissions_violation<R: Runtime>(rt: R) {
    let config = ServerConfig {
        extra: r#"authorization { users = [ { user: "limited", password: "pw", permissions: {
            publish: { deny: ["forbidden.>"] }, subscribe: { deny: ["secret.>"] } } } ] }"#
            .to_owned(),
        ..ServerConfig::new()
    };
    let server = NatsServer::start(config);
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().user_and_password("limited", "pw")).await;
    let mut events = client.events();

    client.publish("forbidden.x", "no".into()).await.unwrap();
    let (event, _) =
        wait_for_event(&rt, &mut events, "ServerError", |e| matches!(e, ClientEvent::ServerError(_))).await;
    let ClientEvent::ServerError(error) = event else { unreachable!() };
    assert_eq!(
        error.kind(),
        &ServerErrorKind::PermissionsViolation {
            operation: PermissionOperation::Publish,
            subject: "forbidden.x".into(),
            queue: None
        }
    );
    assert!(!error.closes_connection());
    assert_eq!(client.last_error(), Some(ConnectionError::Server(error)));

    let mut secret = client.subscribe("secret.plans").await.unwrap();
    let (event, _) =
        wait_for_event(&rt, &mut events, "ServerError", |e| matches!(e, ClientEvent::ServerError(_))).await;
    let ClientEvent::ServerError(error) = event else { unreachable!() };
    assert!(
        matches!(error.kind(), ServerErrorKind::PermissionsViolation { operation: PermissionOperation::Subscribe, subject, .. } if subject == "secret.plans"),
        "{error:?}"
    );

    // The connection stays up and usable.
    let mut sub = client.subscribe("allowed").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    client.publish("allowed", "yes".into()).await.unwrap();
    client.publish("secret.plans", "not delivered".into()).await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut sub).await.payload), "yes");
    assert!(collect_now(&mut secret).0.is_empty());
    assert!(client.is_connected());
    let (seen, _) = collect_now(&mut events);
    assert!(seen.iter().all(|e| !matches!(e, ClientEvent::Disconnected(_))), "{seen:?}");
    within(&rt, "close", client.close()).await;
}

/// Whether the first connection's next read returns an injected fatal `-ERR`, and the
/// waker of its pending read.
#[derive(Default)]
struct Injection {
    armed: bool,
    waker: Option<Waker>,
}

/// A runtime whose first connection can be made to read a fatal `-ERR` that fills the
/// whole read buffer, then the end of the stream: a server sending an error at the end of a
/// burst and closing.
#[derive(Clone)]
struct Injecting<R> {
    rt: R,
    injection: Arc<Mutex<Injection>>,
    tapped: Arc<AtomicBool>,
}

struct Tapped<T> {
    inner: T,
    injection: Option<Arc<Mutex<Injection>>>,
    ended: bool,
}

impl<R: Runtime> Runtime for Injecting<R> {
    type Transport = Tapped<R::Transport>;
    type Sleep = R::Sleep;

    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        let injection = (!self.tapped.swap(true, Ordering::SeqCst)).then(|| Arc::clone(&self.injection));
        let connect = self.rt.connect(host, port);
        async move { Ok(Tapped { inner: connect.await?, injection, ended: false }) }
    }

    fn sleep_until(&self, deadline: Instant) -> R::Sleep {
        self.rt.sleep_until(deadline)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.rt.spawn(future);
    }
}

impl<T: futures_util::AsyncRead + Unpin> futures_util::AsyncRead for Tapped<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(Ok(0));
        }
        if let Some(injection) = &this.injection {
            let mut injection = injection.lock().unwrap();
            if injection.armed {
                injection.armed = false;
                let line = b"-ERR 'Authorization Violation'\r\n";
                buf[..line.len()].copy_from_slice(line);
                buf[line.len()..].fill(b' ');
                this.ended = true;
                return Poll::Ready(Ok(buf.len()));
            }
            injection.waker = Some(cx.waker().clone());
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: futures_util::AsyncWrite + Unpin> futures_util::AsyncWrite for Tapped<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

async fn fatal_error_then_end_of_stream<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let injection = Arc::new(Mutex::new(Injection::default()));
    let injecting = Injecting { rt: rt.clone(), injection: Arc::clone(&injection), tapped: Arc::default() };
    // One failed attempt per server ends the connection: a spurious one shows.
    let options = fast_reconnect().max_reconnect_attempts(Some(1));
    let client = connect_with(&injecting, &server.url(), options).await;
    let mut events = client.events();
    // Connected long enough ago that the reconnect attempt starts at once.
    rt.sleep_until(Instant::now() + Duration::from_millis(200)).await;
    {
        let mut injection = injection.lock().unwrap();
        injection.armed = true;
        if let Some(waker) = injection.waker.take() {
            waker.wake();
        }
    }
    let (event, _) =
        wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    assert!(matches!(event, ClientEvent::Disconnected(ConnectionError::Server(_))), "{event:?}");
    // The end of the stream that was dropped is no failure of the new attempt.
    let (event, skipped) = wait_for_event(&rt, &mut events, "Reconnected", |e| {
        matches!(e, ClientEvent::Reconnected(_) | ClientEvent::Closed(_))
    })
    .await;
    assert!(matches!(event, ClientEvent::Reconnected(_)), "{event:?} after {skipped:?}");
    within(&rt, "flush", client.flush()).await.unwrap();
    within(&rt, "close", client.close()).await;
}

async fn backpressure_while_draining<R: Runtime>(rt: R) {
    const TOTAL: usize = 128 * 1024 * 1024;
    let server = NatsServer::plain();
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().drain_timeout(Duration::from_secs(5))).await;
    within(&rt, "flush", client.flush()).await.unwrap();
    // A frozen server: the drain stays in its first stage, where publishing is allowed.
    server.pause();
    assert!(client.drain().now_or_never().is_none(), "the drain waits for the server");
    assert_eq!(client.connection_state(), State::Draining);
    let payload = Bytes::from(vec![0u8; 64 * 1024]);
    let mut accepted = 0;
    while accepted < TOTAL {
        match with_timeout(&rt, Duration::from_millis(200), client.publish("bp", payload.clone())).await {
            Ok(result) => {
                result.unwrap();
                accepted += payload.len();
            }
            Err(_) => break,
        }
    }
    assert!(accepted < TOTAL / 2, "{accepted} bytes queued without waiting for a frozen server");
    server.resume();
    within(&rt, "drain", client.drain()).await.unwrap();
}
