//! The server pool under the application's control (ADR-40) on the virtual clock: the pool
//! with each server's history, replacing it while connected, and a callback that picks the
//! server to reconnect to and when.

use crate::harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{info, info_with, options, Harness};
use nats_proto::{ReconnectToServer, ServerAddr, ServerAddrError, ServerPoolError};

fn addr(url: &str) -> ServerAddr {
    url.parse().unwrap()
}

fn ports(h: &Harness) -> Vec<u16> {
    h.conn.server_pool().iter().map(|s| s.addr.port()).collect()
}

#[test]
fn the_pool_shows_each_servers_history() {
    let mut h = Harness::new(
        options("nats://127.0.0.1:4001,nats://127.0.0.1:4002").with_reconnect_wait(Duration::ZERO),
    );
    let refused = h.refuse();
    assert_eq!(refused.port(), 4001);
    let (server, _) = h.advance_to_connect();
    assert_eq!(server.port(), 4002);
    h.handshake_with(server, info_with(|i| i.connect_urls = vec!["127.0.0.1:4003".to_owned()]));
    let pool = h.conn.server_pool();
    assert_eq!(pool.len(), 3);
    let find = |port| pool.iter().find(|s| s.addr.port() == port).unwrap();
    assert_eq!(
        (find(4001).failed_attempts, find(4001).did_connect, find(4001).is_discovered),
        (1, false, false)
    );
    assert_eq!(
        (find(4002).failed_attempts, find(4002).did_connect, find(4002).is_discovered),
        (0, true, false)
    );
    assert_eq!(
        (find(4003).failed_attempts, find(4003).did_connect, find(4003).is_discovered),
        (0, false, true)
    );
}

#[test]
fn a_new_pool_is_used_from_the_next_reconnect_and_keeps_known_histories() {
    let mut h = Harness::new(
        options("nats://127.0.0.1:4001,nats://127.0.0.1:4002")
            .with_reconnect_wait(Duration::from_secs(1))
            .with_reconnect_jitter(Duration::ZERO),
    );
    h.refuse();
    let (server, _) = h.advance_to_connect();
    assert_eq!(server.port(), 4002);
    h.handshake_with(server, info());

    h.conn.set_server_pool(vec![addr("nats://127.0.0.1:4005"), addr("nats://127.0.0.1:4001")]).unwrap();
    assert_eq!(ports(&h), [4005, 4001]);
    assert_eq!(h.conn.server_pool()[1].failed_attempts, 1, "a known server keeps its history");
    assert!(h.conn.connected_server().is_some_and(|s| s.port() == 4002), "the connection stays");
    assert!(h.actions().is_empty(), "nothing happens to the connection");

    h.drop_transport();
    let (server, waited) = h.advance_to_connect();
    assert_eq!((server.port(), waited), (4005, Duration::ZERO), "the new server, never tried: at once");
    h.refuse_current();
    let (server, _) = h.advance_to_connect();
    assert_eq!(server.port(), 4001);
}

#[test]
fn an_invalid_pool_is_refused_and_changes_nothing() {
    let mut h = Harness::new(options("nats://127.0.0.1:4001"));
    h.connect(info());
    let invalid = |e| Err(ServerPoolError::Invalid(e));
    assert_eq!(h.conn.set_server_pool(Vec::new()), invalid(ServerAddrError::Empty));
    assert_eq!(
        h.conn.set_server_pool(vec![addr("ws://127.0.0.1:8080")]),
        invalid(ServerAddrError::MixedSchemes),
        "a NATS connection cannot move to WebSocket servers"
    );
    assert_eq!(
        h.conn.set_server_pool(vec![addr("nats://127.0.0.1:1"), addr("wss://127.0.0.1:2")]),
        invalid(ServerAddrError::MixedSchemes)
    );
    assert_eq!(ports(&h), [4001]);
    h.conn.close();
    assert_eq!(h.conn.set_server_pool(vec![addr("nats://127.0.0.1:4002")]), Err(ServerPoolError::Closed));
}

#[test]
fn the_reconnect_callback_picks_the_server_and_the_wait() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let callback = ReconnectToServer::new(move |servers, info| {
        record.lock().unwrap().push((servers.to_vec(), info.map(|i| i.server_id.clone())));
        // The last server of the pool, three seconds from now; none for a pool of one.
        (servers.len() > 1).then(|| (servers.last().unwrap().addr.clone(), Duration::from_secs(3)))
    });
    let mut h = Harness::new(
        options("nats://127.0.0.1:4001,nats://127.0.0.1:4002,nats://127.0.0.1:4003")
            .with_reconnect_to_server_callback(Some(callback)),
    );
    let (first, waited) = h.advance_to_connect();
    assert_eq!((first.port(), waited), (4001, Duration::ZERO), "the first connection follows the pool");
    h.handshake_with(first, info_with(|i| i.server_id = "S1".to_owned()));
    assert!(seen.lock().unwrap().is_empty());

    h.drop_transport();
    let (server, waited) = h.advance_to_connect();
    // After an attempt a server goes to the back: 4001 is last, so the callback picks it,
    // and the wait is its own, not the backoff.
    assert_eq!((server.port(), waited), (4001, Duration::from_secs(3)));
    {
        let calls = seen.lock().unwrap();
        let (servers, info) = calls.last().unwrap();
        assert_eq!(info.as_deref(), Some("S1"), "the last INFO");
        assert!(servers.iter().any(|s| s.addr.port() == 4001 && s.did_connect));
    }
    h.refuse_current();
    let (server, waited) = h.advance_to_connect();
    assert_eq!((server.port(), waited), (4001, Duration::from_secs(3)), "asked before every attempt");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn a_callback_that_picks_nothing_or_a_stranger_leaves_the_choice_to_the_pool() {
    let stranger = ReconnectToServer::new(|_, _| Some((addr("nats://10.9.9.9:1"), Duration::from_secs(60))));
    let nothing = ReconnectToServer::new(|_, _| None);
    for callback in [stranger, nothing] {
        let mut h = Harness::new(
            options("nats://127.0.0.1:4001,nats://127.0.0.1:4002")
                .with_reconnect_to_server_callback(Some(callback)),
        );
        h.connect(info());
        h.drop_transport();
        let (server, waited) = h.advance_to_connect();
        assert_eq!(server.port(), 4002, "the pool's next server");
        assert!(waited < Duration::from_secs(60));
    }
}
