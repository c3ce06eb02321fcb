//! Publish pacing: a connection subscribed to what it publishes gets every copy back, however
//! many subscriptions multiply it. nats-server cuts off a client whose pending output passes
//! `max_pending` (64 MB by default) and cannot slow down a publisher that is its own
//! consumer, so the client paces its publishes by what the server has answered (see
//! `nats_proto::Options::publish_pacing`).

use futures_util::StreamExt;
use nats_client::{ClientEvent, ConnectOptions, Runtime};
use nats_integration_tests::{connect_with, runtime_tests, wait_for_event, within, NatsServer, ServerConfig};

runtime_tests!(fan_out_to_own_subscriptions, pacing_follows_its_budget);

/// Publishes `count` payloads of 1 KiB to `fan` subscriptions on the same connection, all
/// before reading any (one task), then checks that every subscription got every message in
/// order and that the connection never dropped.
async fn publish_to_self<R: Runtime>(rt: &R, url: &str, options: ConnectOptions, fan: usize, count: usize) {
    let client = connect_with(rt, url, options).await;
    let mut events = client.events();
    let mut subs = Vec::new();
    for _ in 0..fan {
        subs.push(client.subscribe("pace.fan").await.unwrap());
    }
    within(rt, "flush", client.flush()).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    for i in 0..count {
        let mut message = payload.to_vec();
        message[..8].copy_from_slice(&(i as u64).to_be_bytes());
        within(rt, "publish", client.publish("pace.fan", message)).await.unwrap();
    }
    within(rt, "flush", client.flush()).await.unwrap();
    for (n, sub) in subs.iter_mut().enumerate() {
        for i in 0..count {
            let msg = within(rt, "a copy", sub.next()).await.expect("the subscription lives");
            let seq = u64::from_be_bytes(msg.payload[..8].try_into().unwrap());
            assert_eq!(seq, i as u64, "subscription {n}: in order, none lost");
        }
    }
    // Nothing else happened to the connection: no slow consumer, no disconnect.
    while let Some(Some(event)) = futures_util::FutureExt::now_or_never(events.next()) {
        assert!(
            !matches!(
                event,
                ClientEvent::Disconnected(_) | ClientEvent::SlowConsumer { .. } | ClientEvent::ServerError(_)
            ),
            "{event:?}"
        );
    }
    assert_eq!(client.statistics().reconnects, 0);
}

/// 100 subscriptions x 2,000 publishes of 1 KiB: 200 MB of copies, past the server's default
/// `max_pending` of 64 MB, published by one task before it reads anything.
async fn fan_out_to_own_subscriptions<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    publish_to_self(&rt, &server.url(), ConnectOptions::new(), 100, 2_000).await;
}

/// A server with a `max_pending` of 2 MB and a client whose pacing budget is 256 KiB: 20 MB
/// of copies get through. The same without pacing is cut off (so the setup does overflow
/// the server), except by nats-server 2.9.
async fn pacing_follows_its_budget<R: Runtime>(rt: R) {
    const FAN: usize = 100;
    const COUNT: usize = 200;
    let server =
        NatsServer::start(ServerConfig { extra: "max_pending: 2MB\n".to_owned(), ..ServerConfig::new() });
    let options = ConnectOptions::new().publish_pacing(Some(256 * 1024));
    publish_to_self(&rt, &server.url(), options, FAN, COUNT).await;

    let unpaced = connect_with(&rt, &server.url(), ConnectOptions::new().publish_pacing(None)).await;
    // nats-server 2.9 does not cut off a connection for copies of its own publishes (seen
    // with 2.9.10; 2.15.1 does): there is nothing to show on it.
    let version = unpaced.server_info().expect("connected").version;
    if version.starts_with("2.9.") {
        return;
    }
    let mut events = unpaced.events();
    let mut subs = Vec::new();
    for _ in 0..FAN {
        subs.push(unpaced.subscribe("pace.fan").await.unwrap());
    }
    within(&rt, "flush", unpaced.flush()).await.unwrap();
    for _ in 0..COUNT {
        within(&rt, "publish", unpaced.publish("pace.fan", vec![b'x'; 1024])).await.unwrap();
    }
    wait_for_event(&rt, &mut events, "the server cuts the client off", |e| {
        matches!(e, ClientEvent::Disconnected(_))
    })
    .await;
}
