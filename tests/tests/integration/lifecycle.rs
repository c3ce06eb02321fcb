//! The connection's life against a real server, each on tokio, smol and async-std: a
//! refused first connection, retrying the first connection, closing while reconnecting,
//! giving up after the last attempt, callbacks, requests across a reconnect, closing while
//! a TCP connect hangs.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use futures_util::future::join;
use futures_util::StreamExt;
use nats_client::{
    ClientEvent, ConnectError, ConnectOptions, ConnectionError, PublishError, Runtime, State,
    TransportErrorKind,
};
use nats_integration_tests::{
    collect_now, connect_with, fast_reconnect, next_event, next_message, runtime_tests, try_connect,
    wait_for_event, within, NatsServer,
};

runtime_tests!(
    connection_refused,
    retry_on_initial_connect,
    close_while_reconnecting,
    reconnect_gives_up,
    callbacks,
    request_across_reconnect,
    close_while_connect_hangs,
    force_reconnect,
    server_pool_replaced_at_run_time,
    reconnect_to_server_callback,
    local_address,
);

/// A port where nothing listens: a server's, after it stopped.
fn stopped_server() -> NatsServer {
    let mut server = NatsServer::plain();
    server.stop();
    server
}

async fn connection_refused<R: Runtime>(rt: R) {
    let server = stopped_server();
    let error = try_connect(&rt, &server.url(), ConnectOptions::new()).await.expect_err("nothing listens");
    let ConnectError::NoServers { last: Some(ConnectionError::Transport(transport)) } = &error else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!(transport.kind(), TransportErrorKind::Connect);
    assert_eq!(transport.io_kind(), Some(io::ErrorKind::ConnectionRefused), "the IO error's kind is kept");
    let source: &dyn std::error::Error = transport;
    assert!(source.to_string().contains("connect"), "{source}");
    assert!(!error.is_auth_error());

    // Several servers: every one is tried once, then the same verdict.
    let other = stopped_server();
    let urls = format!("{},{}", server.url(), other.url());
    let error = try_connect(&rt, &urls, ConnectOptions::new()).await.expect_err("nothing listens");
    assert!(
        matches!(error, ConnectError::NoServers { last: Some(ConnectionError::Transport(_)) }),
        "{error:?}"
    );

    // Bad URLs fail before any attempt.
    let error = try_connect(&rt, "nats://127.0.0.1:notaport", ConnectOptions::new()).await.unwrap_err();
    assert!(matches!(error, ConnectError::Options(_)), "{error:?}");
}

async fn retry_on_initial_connect<R: Runtime>(rt: R) {
    let mut server = stopped_server();
    let options = fast_reconnect().retry_on_initial_connect();
    let client = connect_with(&rt, &server.url(), options).await;
    let mut events = client.events();
    assert!(!client.is_connected(), "connect returns at once");
    assert_eq!(client.connection_state(), State::Connecting);
    // Publishes wait in the reconnect buffer; subscriptions are made on connect.
    let mut sub = client.subscribe("early").await.unwrap();
    client.publish("early", "before the server".into()).await.unwrap();

    server.restart();
    let (event, _) =
        wait_for_event(&rt, &mut events, "Connected", |e| matches!(e, ClientEvent::Connected(_))).await;
    assert_eq!(
        event,
        ClientEvent::Connected(nats_client::ServerAddr::new("127.0.0.1", server.port(), false))
    );
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"before the server");
    assert_eq!(client.statistics().reconnects, 0, "a first connection is no reconnect");
    within(&rt, "close", client.close()).await;
}

async fn close_while_reconnecting<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("x").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    server.stop();
    wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    client.publish("x", "never sent".into()).await.unwrap();

    within(&rt, "close while reconnecting", client.close()).await;
    let (event, _) =
        wait_for_event(&rt, &mut events, "Closed", |e| matches!(e, ClientEvent::Closed(_))).await;
    assert_eq!(event, ClientEvent::Closed(None));
    assert_eq!(client.connection_state(), State::Closed);
    assert_eq!(client.publish("x", "y".into()).await, Err(PublishError::Closed));
    assert_eq!(within(&rt, "end", sub.next()).await, None);
    assert_eq!(within(&rt, "events end", events.next()).await, None);
}

async fn reconnect_gives_up<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let options = fast_reconnect().max_reconnect_attempts(Some(3));
    let client = connect_with(&rt, &server.url(), options).await;
    let mut events = client.events();
    server.stop();
    let (event, skipped) =
        wait_for_event(&rt, &mut events, "Closed", |e| matches!(e, ClientEvent::Closed(_))).await;
    assert_eq!(event, ClientEvent::Closed(Some(ConnectionError::NoServers)));
    assert!(matches!(skipped.as_slice(), [ClientEvent::Disconnected(_)]), "{skipped:?}");
    assert!(
        matches!(client.last_error(), Some(ConnectionError::Transport(e)) if e.kind() == TransportErrorKind::Connect),
        "the cause stays the last attempt's error: {:?}",
        client.last_error()
    );
    assert_eq!(client.connection_state(), State::Closed);
    assert_eq!(client.publish("x", "y".into()).await, Err(PublishError::Closed));
}

async fn callbacks<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let (sender, receiver) = smol::channel::unbounded::<String>();
    let named = |name: &'static str| {
        let sender = sender.clone();
        move || {
            let sender = sender.clone();
            async move {
                let _ = sender.send(name.to_owned()).await;
            }
        }
    };
    let all = sender.clone();
    let reconnected = sender.clone();
    let options = fast_reconnect()
        .disconnected_callback(named("disconnected"))
        .reconnected_callback(move |server| {
            let reconnected = reconnected.clone();
            async move {
                let _ = reconnected.send(format!("reconnected to {}", server.port())).await;
            }
        })
        .closed_callback(named("closed"))
        .error_callback(move |event| {
            let all = all.clone();
            async move {
                let _ = all.send(format!("error: {}", matches!(event, ClientEvent::Disconnected(_)))).await;
            }
        });
    let client = connect_with(&rt, &server.url(), options).await;
    let next = || async { within(&rt, "callback", receiver.recv()).await.expect("callbacks alive") };

    server.restart();
    // Each callback runs on a task of its own: their relative order is free.
    let mut got = vec![next().await, next().await, next().await];
    got.sort();
    let reconnected = format!("reconnected to {}", server.port());
    assert_eq!(got, ["disconnected", "error: true", reconnected.as_str()]);
    within(&rt, "close", client.close()).await;
    assert_eq!(next().await, "closed");
    assert!(receiver.try_recv().is_err(), "nothing else");
}

async fn request_across_reconnect<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let mut service = client.subscribe("svc").await.unwrap();
    // The shared request inbox exists before the loss.
    let reply = within(
        &rt,
        "request",
        join(client.request("svc", "one".into()), async {
            let msg = next_message(&rt, &mut service).await;
            client.publish(msg.reply.unwrap().as_str(), "first".into()).await.unwrap();
        }),
    )
    .await
    .0;
    assert_eq!(&reply.unwrap().payload[..], b"first");

    server.stop();
    wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    // A request made while disconnected goes out after the reconnect; its reply comes back
    // on the re-established inbox.
    // Its timeout is far past the wait's bound: the reply ends it, never the clock.
    let request = client.request_with("svc", None, "two".into(), Duration::from_secs(600));
    let answer = async {
        server.restart();
        let msg = next_message(&rt, &mut service).await;
        assert_eq!(&msg.payload[..], b"two");
        client.publish(msg.reply.unwrap().as_str(), "second".into()).await.unwrap();
    };
    let (reply, ()) = within(&rt, "request across a reconnect", join(request, answer)).await;
    assert_eq!(&reply.unwrap().payload[..], b"second");
    let (seen, _) = collect_now(&mut events);
    assert!(seen.iter().any(|e| matches!(e, ClientEvent::Reconnected(_))), "{seen:?}");
    within(&rt, "close", client.close()).await;
}

async fn force_reconnect<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // The default reconnect wait: a forced reconnect does not wait it.
    let client = connect_with(&rt, &server.url(), ConnectOptions::new()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("forced").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    assert_eq!(client.statistics().reconnects, 0);

    client.force_reconnect().await.unwrap();
    let (event, _) =
        wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    assert_eq!(event, ClientEvent::Disconnected(ConnectionError::ForcedReconnect));
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    assert_eq!(client.statistics().reconnects, 1);
    assert!(client.is_connected());

    // The subscription was made again on the new connection.
    client.publish("forced", "after".into()).await.unwrap();
    let msg = next_message(&rt, &mut sub).await;
    assert_eq!(&msg.payload[..], b"after");
    within(&rt, "close", client.close()).await;
    assert_eq!(
        client.force_reconnect().await,
        Err(nats_client::ReconnectError::Closed),
        "closed: nothing to do"
    );
}

/// A runtime whose TCP connects never complete, like connects to a host that drops SYNs.
#[derive(Clone)]
struct Unreachable<R>(R);

impl<R: Runtime> Runtime for Unreachable<R> {
    type Transport = R::Transport;
    type Sleep = R::Sleep;

    fn connect(
        &self,
        _host: String,
        _port: u16,
    ) -> impl Future<Output = io::Result<R::Transport>> + Send + 'static {
        std::future::pending()
    }

    fn sleep_until(&self, deadline: Instant) -> R::Sleep {
        self.0.sleep_until(deadline)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.0.spawn(future);
    }
}

async fn close_while_connect_hangs<R: Runtime>(rt: R) {
    let unreachable = Unreachable(rt.clone());
    let options =
        ConnectOptions::new().retry_on_initial_connect().connection_timeout(Duration::from_secs(30));
    let client = connect_with(&unreachable, "nats://127.0.0.1:4222", options).await;
    let mut events = client.events();
    assert_eq!(client.connection_state(), State::Connecting);
    // The connect the core no longer wants must not keep the connection's task alive.
    within(&rt, "close while a connect hangs", client.close()).await;
    assert_eq!(next_event(&rt, &mut events).await, ClientEvent::Closed(None));
    assert_eq!(within(&rt, "events end", events.next()).await, None);
}

/// The interop helper itself: the pinned Python client is installed and reaches a server.
#[test]
fn python_client_is_available() {
    let server = NatsServer::plain();
    let out = nats_integration_tests::run_python(
        "import asyncio, sys, nats\n\
         async def main():\n\
         \x20   nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)\n\
         \x20   print(nc.connected_server_version.major)\n\
         \x20   await nc.close()\n\
         asyncio.run(main())\n",
        &[&server.url()],
    );
    assert_eq!(out.stdout.trim(), "2", "server major version from nats-py: {out:?}");
}

/// ADR-40: the pool with its history, and a new pool taking effect at the next reconnect.
async fn server_pool_replaced_at_run_time<R: Runtime>(rt: R) {
    let (a, b) = (NatsServer::plain(), NatsServer::plain());
    let client = connect_with(&rt, &a.url(), ConnectOptions::new()).await;
    let pool = client.server_pool();
    assert_eq!(pool.len(), 1);
    assert!(pool[0].did_connect && pool[0].failed_attempts == 0 && !pool[0].is_discovered);

    assert!(client.set_server_pool("").await.is_err(), "an empty pool is refused");
    assert!(client.set_server_pool("ws://127.0.0.1:1").await.is_err(), "so is one of the other kind");
    client.set_server_pool(&b.url()).await.unwrap();
    assert_eq!(client.server_pool().iter().map(|s| s.addr.port()).collect::<Vec<_>>(), [b.port()]);
    assert_eq!(client.connected_url().map(|u| u.port()), Some(a.port()), "the connection stays");

    let mut events = client.events();
    client.force_reconnect().await.unwrap();
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    assert_eq!(client.connected_url().map(|u| u.port()), Some(b.port()), "the new pool's server");
    assert!(client.server_pool()[0].did_connect);
    within(&rt, "request", client.flush()).await.unwrap();
    within(&rt, "close", client.close()).await;
}

/// ADR-40: the application picks the server of every reconnect.
async fn reconnect_to_server_callback<R: Runtime>(rt: R) {
    let (a, b) = (NatsServer::plain(), NatsServer::plain());
    let b_port = b.port();
    let options =
        ConnectOptions::new().dont_randomize().reconnect_to_server_callback(move |servers, info| {
            assert!(info.is_some(), "asked on reconnects, after an INFO");
            let b = servers.iter().find(|s| s.addr.port() == b_port)?;
            Some((b.addr.clone(), Duration::ZERO))
        });
    let client = connect_with(&rt, &format!("{},{}", a.url(), b.url()), options).await;
    assert_eq!(
        client.connected_url().map(|u| u.port()),
        Some(a.port()),
        "the first connection follows the pool"
    );
    let mut events = client.events();
    for _ in 0..2 {
        client.force_reconnect().await.unwrap();
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
        assert_eq!(client.connected_url().map(|u| u.port()), Some(b_port), "the callback's choice");
    }
    within(&rt, "close", client.close()).await;
}

/// Connections start from the local address given, through every reconnect; one of the
/// other family cannot reach the server, and says so.
async fn local_address<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // A port of our own (below the ephemeral range: no other connection takes it); the
    // connection holds it, so a listener cannot.
    let port = nats_integration_tests::free_port();
    let local: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().local_address(local)).await;
    within(&rt, "flush", client.flush()).await.unwrap();
    let taken = std::net::TcpListener::bind(local).unwrap_err();
    assert_eq!(taken.kind(), io::ErrorKind::AddrInUse, "the connection is bound to {local}");

    // A reconnect starts from it again (the old connection's port may linger: any port).
    within(&rt, "close", client.close()).await;
    let any: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().local_address(any)).await;
    let mut events = client.events();
    client.force_reconnect().await.unwrap();
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    within(&rt, "flush", client.flush()).await.unwrap();
    within(&rt, "close", client.close()).await;

    let v6: std::net::SocketAddr = "[::1]:0".parse().unwrap();
    let error = try_connect(&rt, &server.url(), ConnectOptions::new().local_address(v6)).await.unwrap_err();
    assert!(
        matches!(&error, ConnectError::NoServers { last: Some(ConnectionError::Transport(e)) } if e.kind() == TransportErrorKind::Connect),
        "{error:?}"
    );
}
