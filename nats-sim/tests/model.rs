//! The simulated servers' behaviours as the client sees them, one scenario each on a fixed
//! seed: token and nkey authorization (the nonce), max payload, lame duck, a stale connection, a slow
//! consumer cut off. (The fault-free workloads are also compared with a real nats-server
//! in the integration tests' `simulation` module; the authorization error here too.)

use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{ClientEvent, ConnectOptions, PublishError, ServerErrorKind};
use nats_sim::{Cluster, Host, Net, NetConfig, ServerConfig, Side, Sim};

/// Runs `scenario` with a cluster of `config`; its output.
fn run<T: Send + 'static, F: std::future::Future<Output = T> + Send + 'static>(
    config: ServerConfig,
    scenario: impl FnOnce(Sim, Net, Cluster) -> F,
) -> T {
    let sim = Sim::new(5);
    let net = Net::new(sim.clone(), NetConfig::default());
    let cluster = Cluster::new(&net, config);
    sim.block_on(scenario(sim.clone(), net, cluster), Duration::from_secs(120)).expect("the run ends")
}

/// The events of `client` until `until` returns true for one; all of them.
async fn events_until(
    events: &mut nats_client::Events,
    until: impl Fn(&ClientEvent) -> bool,
) -> Vec<ClientEvent> {
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        let done = until(&event);
        seen.push(event);
        if done {
            break;
        }
    }
    seen
}

#[test]
fn a_wrong_token_is_an_authorization_violation_and_the_right_one_connects() {
    let config = ServerConfig { token: Some("s3cret".into()), ..ServerConfig::default() };
    let (wrong, right) = run(config, |_, net, cluster| async move {
        let host = Host::new(&net, 1);
        let wrong = nats_client::connect_with_runtime(
            host.clone(),
            &cluster.urls(),
            ConnectOptions::new().token("nope"),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
        let right =
            nats_client::connect_with_runtime(host, &cluster.urls(), ConnectOptions::new().token("s3cret"))
                .await
                .map(|c| c.is_connected());
        (wrong, right.map_err(|e| e.to_string()))
    });
    let wrong = wrong.expect_err("refused");
    assert!(wrong.contains("Authorization Violation"), "{wrong}");
    assert_eq!(right, Ok(true));
}

/// A user key from fixed bytes, so the run stays the same for its seed.
fn user(byte: u8) -> nkeys::KeyPair {
    nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::User, [byte; 32]).unwrap()
}

#[test]
fn an_nkey_user_signs_each_connections_nonce_and_an_unknown_key_is_refused() {
    let (alice, mallory) = (user(1), user(2));
    let config = ServerConfig { nkeys: vec![alice.public_key()], ..ServerConfig::default() };
    let alice_seed = alice.seed().unwrap();
    let mallory_seed = mallory.seed().unwrap();
    run(config, |_, net, cluster| async move {
        let (host, urls) = (Host::new(&net, 1), cluster.urls());
        let connect = |options| nats_client::connect_with_runtime(host.clone(), &urls, options);
        for refused in [ConnectOptions::new().nkey(mallory_seed), ConnectOptions::new()] {
            let error = connect(refused).await.map(|_| ()).expect_err("refused").to_string();
            assert!(error.contains("Authorization Violation"), "{error}");
        }
        let options = ConnectOptions::new().nkey(alice_seed).reconnect_time_wait(Duration::from_millis(10));
        let client = connect(options).await.expect("alice connects");
        let mut sub = client.subscribe("auth").await.unwrap();
        let mut events = client.events();
        // The restarted server sends a new nonce and accepts only its signature.
        cluster.stop(0);
        cluster.start(0);
        let seen =
            events_until(&mut events, |e| matches!(e, ClientEvent::Reconnected(_) | ClientEvent::Closed(_)))
                .await;
        assert!(matches!(seen.last(), Some(ClientEvent::Reconnected(_))), "{seen:?}");
        client.publish("auth", "signed".into()).await.unwrap();
        assert_eq!(sub.next().await.map(|m| m.payload), Some("signed".into()));
    });
}

#[test]
fn an_oversized_publish_is_refused_before_it_is_sent_and_the_connection_stays() {
    let config = ServerConfig { max_payload: 1024, ..ServerConfig::default() };
    run(config, |_, net, cluster| async move {
        let client =
            nats_client::connect_with_runtime(Host::new(&net, 1), &cluster.urls(), ConnectOptions::new())
                .await
                .unwrap();
        assert_eq!(client.max_payload(), Some(1024), "from INFO");
        let refused = client.publish("big", vec![0u8; 1025].into()).await;
        assert!(
            matches!(refused, Err(PublishError::MaxPayloadExceeded { size: 1025, max_payload: 1024 })),
            "{refused:?}"
        );
        let mut sub = client.subscribe("small").await.unwrap();
        client.publish("small", vec![1u8; 1024].into()).await.unwrap();
        assert_eq!(sub.next().await.map(|m| m.payload.len()), Some(1024));
    });
}

#[test]
fn a_lame_duck_server_sends_its_clients_to_another_one() {
    let config =
        ServerConfig { servers: 2, lame_duck_grace: Duration::from_secs(1), ..ServerConfig::default() };
    run(config, |sim, net, cluster| async move {
        let options = ConnectOptions::new().dont_randomize().reconnect_time_wait(Duration::from_millis(10));
        let client =
            nats_client::connect_with_runtime(Host::new(&net, 1), "nats://s0:4222", options).await.unwrap();
        assert_eq!(client.discovered_servers().len(), 1, "s1 from connect_urls");
        let mut sub = client.subscribe("work").await.unwrap();
        let mut events = client.events();
        cluster.lame_duck(0);
        let seen = events_until(&mut events, |e| matches!(e, ClientEvent::Reconnected(_))).await;
        assert!(matches!(seen.first(), Some(ClientEvent::LameDuck(_))), "{seen:?}");
        assert!(sim.elapsed() < Duration::from_secs(1), "moved before the server closed its clients");
        assert_eq!(client.connected_url().map(|u| u.to_string()), Some("nats://s1:4222".to_owned()));
        client.publish("work", "after".into()).await.unwrap();
        assert_eq!(sub.next().await.map(|m| m.payload), Some("after".into()), "the subscription moved too");
    });
}

#[test]
fn a_client_whose_pongs_do_not_arrive_is_cut_off_as_stale() {
    let config =
        ServerConfig { ping_interval: Duration::from_millis(200), ping_max: 2, ..ServerConfig::default() };
    run(config, |sim, net, cluster| async move {
        // The client's own keepalive is slower than the server's: the server notices first.
        let options = ConnectOptions::new().ping_interval(Duration::from_secs(60));
        let client =
            nats_client::connect_with_runtime(Host::new(&net, 1), &cluster.urls(), options).await.unwrap();
        let mut events = client.events();
        let link = net.links()[0].id;
        net.stall(link, Side::Client, sim.elapsed() + Duration::from_secs(30));
        let seen = events_until(&mut events, |e| matches!(e, ClientEvent::Disconnected(_))).await;
        assert!(
            seen.iter().any(|e| matches!(e, ClientEvent::Disconnected(nats_client::ConnectionError::Server(s)) if *s.kind() == ServerErrorKind::StaleConnection)),
            "{seen:?}"
        );
        let seen = events_until(&mut events, |e| matches!(e, ClientEvent::Reconnected(_))).await;
        assert!(matches!(seen.last(), Some(ClientEvent::Reconnected(_))));
    });
}

#[test]
fn a_client_that_stops_reading_is_cut_off_as_a_slow_consumer_and_comes_back() {
    let config = ServerConfig { max_pending: 16 * 1024, ..ServerConfig::default() };
    run(config, |sim, net, cluster| async move {
        let options = ConnectOptions::new().reconnect_time_wait(Duration::from_millis(10));
        let reader =
            nats_client::connect_with_runtime(Host::new(&net, 1), &cluster.urls(), options).await.unwrap();
        let mut sub = reader.subscribe("firehose").await.unwrap();
        reader.flush().await.unwrap();
        let mut events = reader.events();
        let writer =
            nats_client::connect_with_runtime(Host::new(&net, 2), &cluster.urls(), ConnectOptions::new())
                .await
                .unwrap();
        let link = net.links().into_iter().find(|l| l.host == 1).expect("the reader's link").id;
        net.stall(link, Side::Server, sim.elapsed() + Duration::from_secs(1));
        for _ in 0..64 {
            writer.publish("firehose", vec![7u8; 1024].into()).await.unwrap();
        }
        writer.flush().await.unwrap();
        let seen = events_until(&mut events, |e| matches!(e, ClientEvent::Reconnected(_))).await;
        assert!(seen.iter().any(|e| matches!(e, ClientEvent::Disconnected(_))), "cut off: {seen:?}");
        writer.publish("firehose", "again".into()).await.unwrap();
        // What arrived before the cut-off, then the new message on the new connection.
        while let Some(msg) = sub.next().await {
            if msg.payload == "again" {
                break;
            }
        }
    });
}
