//! A 3-node cluster, each scenario on tokio, smol and async-std: the client is given ONE
//! server, learns the others from the cluster (`connect_urls`), and moves to one of them
//! when its server dies or enters lame duck mode.

use nats_client::{Client, ClientEvent, ConnectionError, Events, Runtime};
use nats_integration_tests::{
    connect, connect_with, fast_reconnect, next_message, runtime_tests, wait_for_event, within, NatsCluster,
    NatsServer, ServerAuth, ServerConfig,
};

runtime_tests!(
    failover_with_discovery,
    failover_inherits_url_credentials,
    lame_duck,
    lame_duck_without_alternatives
);

/// Waits until the client knows the two other nodes.
async fn wait_for_discovery<R: Runtime>(rt: &R, client: &Client, events: &mut Events, cluster: &NatsCluster) {
    // The first INFO may already list them; later INFOs add nodes as their routes come up.
    while client.discovered_servers().len() < 2 {
        wait_for_event(rt, events, "DiscoveredServers", |e| matches!(e, ClientEvent::DiscoveredServers(_)))
            .await;
    }
    let mut ports: Vec<u16> = client.discovered_servers().iter().map(|s| s.port()).collect();
    ports.sort_unstable();
    let connected = client.connected_url().expect("connected").port();
    let mut others: Vec<u16> = cluster.nodes.iter().map(|n| n.port()).filter(|&p| p != connected).collect();
    others.sort_unstable();
    assert_eq!(ports, others, "the discovered servers are the other nodes");
    assert_eq!(client.servers().len(), 3);
}

/// A message goes round trip on the client's current server.
async fn assert_usable<R: Runtime>(rt: &R, client: &Client, subject: &str) {
    let mut sub = client.subscribe(subject).await.unwrap();
    within(rt, "flush", client.flush()).await.unwrap();
    client.publish(subject, "ping".into()).await.unwrap();
    assert_eq!(&next_message(rt, &mut sub).await.payload[..], b"ping");
}

async fn failover_with_discovery<R: Runtime>(rt: R) {
    let mut cluster = NatsCluster::start(3, &ServerConfig::new());
    let first = 1;
    let client = connect_with(&rt, &cluster.nodes[first].url(), fast_reconnect()).await;
    let mut events = client.events();
    assert_eq!(client.connected_url().map(|u| u.port()), Some(cluster.nodes[first].port()));
    wait_for_discovery(&rt, &client, &mut events, &cluster).await;

    let mut sub = client.subscribe("fo.>").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    cluster.nodes[first].stop();
    let (event, _) =
        wait_for_event(&rt, &mut events, "Disconnected", |e| matches!(e, ClientEvent::Disconnected(_))).await;
    assert!(matches!(event, ClientEvent::Disconnected(ConnectionError::Transport(_))), "{event:?}");
    client.publish("fo.while.down", "buffered".into()).await.unwrap();
    let (event, _) =
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    let ClientEvent::Reconnected(addr) = event else { unreachable!() };
    let node = cluster.node_by_port(addr.port()).expect("one of the cluster's nodes");
    assert_ne!(node, first, "moved to another node");
    assert_eq!(client.connected_url().map(|u| u.port()), Some(addr.port()));

    // The subscription was resumed there, and the publish made while down delivered.
    within(&rt, "flush", client.flush()).await.unwrap();
    let msg = next_message(&rt, &mut sub).await;
    assert_eq!((msg.subject.as_str(), &msg.payload[..]), ("fo.while.down", &b"buffered"[..]));
    client.publish("fo.after", "after".into()).await.unwrap();
    assert_eq!(next_message(&rt, &mut sub).await.subject.as_str(), "fo.after");
    assert_usable(&rt, &client, "fo.check").await;
    assert_eq!(client.statistics().reconnects, 1);
    within(&rt, "close", client.close()).await;
}

/// A server whose lame duck mode closes no connection for a minute (the default grace
/// period is 10 s): what the client does on its own comes first, however slow the machine.
fn long_lame_duck_grace() -> ServerConfig {
    ServerConfig { extra: "lame_duck_grace_period: \"60s\"\n".to_owned(), ..ServerConfig::new() }
}

async fn lame_duck<R: Runtime>(rt: R) {
    let cluster = NatsCluster::start(3, &long_lame_duck_grace());
    let first = 2;
    let client = connect_with(&rt, &cluster.nodes[first].url(), fast_reconnect()).await;
    let mut events = client.events();
    wait_for_discovery(&rt, &client, &mut events, &cluster).await;
    let mut sub = client.subscribe("ldm.>").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    cluster.nodes[first].enter_lame_duck_mode();
    let (event, _) =
        wait_for_event(&rt, &mut events, "LameDuck", |e| matches!(e, ClientEvent::LameDuck(_))).await;
    assert_eq!(event, ClientEvent::LameDuck(client_addr_of(&cluster, first)));
    let (event, skipped) =
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    assert!(
        skipped.contains(&ClientEvent::Disconnected(ConnectionError::LameDuck)),
        "the client left on its own: {skipped:?}"
    );
    let ClientEvent::Reconnected(addr) = event else { unreachable!() };
    let node = cluster.node_by_port(addr.port()).expect("one of the cluster's nodes");
    assert_ne!(node, first, "moved away from the lame duck");
    cluster.nodes[first].wait_for_log("Entering lame duck mode", std::time::Duration::from_secs(5));

    client.publish("ldm.after", "after".into()).await.unwrap();
    assert_eq!(next_message(&rt, &mut sub).await.subject.as_str(), "ldm.after");
    assert_usable(&rt, &client, "ldm.check").await;
    within(&rt, "close", client.close()).await;
}

fn client_addr_of(cluster: &NatsCluster, node: usize) -> nats_client::ServerAddr {
    nats_client::ServerAddr::new("127.0.0.1", cluster.nodes[node].port(), false)
}

async fn failover_inherits_url_credentials<R: Runtime>(rt: R) {
    let auth = ServerAuth::UserPassword { user: "bob".into(), password: "pw".into() };
    let mut cluster = NatsCluster::start(3, &ServerConfig::new().auth(auth));
    let first = 0;
    let client =
        connect_with(&rt, &cluster.nodes[first].url_with_credentials("bob:pw"), fast_reconnect()).await;
    let mut events = client.events();
    wait_for_discovery(&rt, &client, &mut events, &cluster).await;
    assert!(
        client.discovered_servers().iter().all(|s| s.user() == Some("bob")),
        "discovered servers inherit the URL's user"
    );
    cluster.nodes[first].stop();
    let (event, skipped) =
        wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    let ClientEvent::Reconnected(addr) = event else { unreachable!() };
    assert_ne!(cluster.node_by_port(addr.port()), Some(first));
    assert!(
        skipped.iter().all(|e| !matches!(e, ClientEvent::Disconnected(ConnectionError::Server(_)))),
        "no authorization failure on the way: {skipped:?}"
    );
    assert_usable(&rt, &client, "creds.check").await;
    within(&rt, "close", client.close()).await;
}

async fn lame_duck_without_alternatives<R: Runtime>(rt: R) {
    let server = NatsServer::start(long_lame_duck_grace());
    let client = connect(&rt, &server.url()).await;
    let mut events = client.events();
    server.enter_lame_duck_mode();
    let (event, skipped) =
        wait_for_event(&rt, &mut events, "LameDuck", |e| matches!(e, ClientEvent::LameDuck(_))).await;
    assert_eq!(event, ClientEvent::LameDuck(nats_client::ServerAddr::new("127.0.0.1", server.port(), false)));
    assert!(skipped.is_empty(), "{skipped:?}");
    // Nowhere to go: it stays until the server closes the connection (after its grace period).
    assert!(client.is_connected());
    assert_usable(&rt, &client, "ldm.stay").await;
    within(&rt, "close", client.close()).await;
}
