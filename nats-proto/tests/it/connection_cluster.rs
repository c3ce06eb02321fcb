//! Cluster scenarios: servers discovered from INFO `connect_urls` (with the scheme and
//! credentials of the current server), fail-over to them, and lame duck mode.

use crate::harness;

use harness::{info, info_op, info_with, options, Harness};
use nats_proto::{Action, ClientOp, ConnectionError, Event, ServerAddr, ServerOp, State};

fn urls(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn endpoints(servers: &[ServerAddr]) -> Vec<String> {
    servers.iter().map(ToString::to_string).collect()
}

#[test]
fn async_info_connect_urls_are_merged_and_reported() {
    let mut h = Harness::new(options("nats://alice:pw@10.0.0.1:4222"));
    h.connect(info_with(|i| i.connect_urls = urls(&["10.0.0.1:4222"])));
    assert!(h.conn.discovered_servers().is_empty(), "only the current server so far");

    let update = info_with(|i| {
        i.connect_urls =
            urls(&["10.0.0.1:4222", "10.0.0.2:4222", "10.0.0.3:4223", "10.0.0.2:4222", "bad url:x"])
    });
    h.send(&[info_op(update.clone())]);
    let events = h.events();
    let [Event::ServerInfo(got), Event::DiscoveredServers { servers }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(**got, update);
    assert_eq!(endpoints(servers), ["nats://10.0.0.2:4222", "nats://10.0.0.3:4223"], "duplicates ignored");
    for server in servers {
        assert_eq!(server.user(), Some("alice"), "credentials of the current server");
        assert_eq!(server.pass().map(|p| p.expose()), Some("pw"));
        assert!(!server.tls());
    }
    assert_eq!(endpoints(&h.conn.discovered_servers()), ["nats://10.0.0.2:4222", "nats://10.0.0.3:4223"]);
    assert_eq!(h.conn.servers().len(), 3);

    // The same list again (or a subset, or the current server in another case) adds
    // nothing and reports nothing new.
    h.send(&[info_op(info_with(|i| i.connect_urls = urls(&["10.0.0.3:4223", "10.0.0.2:4222"])))]);
    assert!(matches!(h.events().as_slice(), [Event::ServerInfo(_)]));
    assert_eq!(h.conn.servers().len(), 3);
    assert_eq!(h.conn.state(), State::Connected);
}

#[test]
fn the_account_from_the_info_after_the_first_pong_outlives_later_updates() {
    let mut h = Harness::new(options("10.0.0.1:4222"));
    h.connect(info());
    assert_eq!(h.conn.server_info().and_then(|i| i.remote_account.clone()), None);
    // nats-server 2.12+: after the first PONG, an INFO with the bound account.
    h.send(&[info_op(info_with(|i| {
        i.connect_info = true;
        i.remote_account = Some("APP".into());
        i.is_system_account = true;
    }))]);
    let events = h.events();
    let [Event::ServerInfo(got)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((got.remote_account.as_deref(), got.is_system_account), (Some("APP"), true));
    // A cluster update does not repeat it; the account stays known, and is reported so.
    h.send(&[info_op(info_with(|i| i.connect_urls = urls(&["10.0.0.2:4222"])))]);
    let events = h.events();
    let [Event::ServerInfo(got), Event::DiscoveredServers { .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (got.remote_account.as_deref(), got.is_system_account, got.connect_info),
        (Some("APP"), true, false)
    );
    let kept = h.conn.server_info().expect("an INFO");
    assert_eq!((kept.remote_account.as_deref(), kept.is_system_account), (Some("APP"), true));
    // A new connection starts without it until its own INFO says.
    h.drop_transport();
    h.reconnect(info());
    assert_eq!(h.conn.server_info().and_then(|i| i.remote_account.clone()), None);
}

#[test]
fn discovered_servers_get_the_scheme_and_token_of_the_current_server() {
    let mut h = Harness::new(options("tls://s3cret-token@nats.example.com:4443"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[info_op(info_with(|i| i.tls_required = true))]);
    assert!(matches!(h.actions().as_slice(), [Action::StartTls { .. }]));
    h.tls_established();
    h.client_ops();
    h.send(&[ServerOp::Pong]);
    h.events();
    h.send(&[info_op(info_with(|i| {
        i.tls_required = true;
        i.connect_urls = urls(&["nats2.example.com:4443", "[2001:db8::7]:4443"]);
    }))]);
    let discovered = h.conn.discovered_servers();
    assert_eq!(endpoints(&discovered), ["tls://nats2.example.com:4443", "tls://[2001:db8::7]:4443"]);
    for server in &discovered {
        assert!(server.tls());
        assert_eq!(server.token().map(|t| t.expose()), Some("s3cret-token"));
    }
}

#[test]
fn connect_urls_in_the_handshake_info_are_known_without_an_event() {
    let mut h = Harness::new(options("10.0.0.1:4222"));
    h.handshake(info_with(|i| i.connect_urls = urls(&["10.0.0.1:4222", "10.0.0.2:4222"])));
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
    assert_eq!(endpoints(&h.conn.discovered_servers()), ["nats://10.0.0.2:4222"]);
}

#[test]
fn fail_over_to_a_discovered_server_when_the_current_one_dies() {
    let mut h = Harness::new(options("nats://bob:pw@10.0.0.1:4222"));
    h.connect(info());
    h.send(&[info_op(info_with(|i| i.connect_urls = urls(&["10.0.0.1:4222", "10.0.0.2:4222"])))]);
    h.events();
    let sid = h.conn.subscribe(harness::subject("orders.>"), None).unwrap();
    h.client_ops();
    h.drop_transport();
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    let next = match h.actions().as_slice() {
        [Action::Connect(_, next)] => next.clone(),
        other => panic!("the discovered server, never tried, is tried at once: {other:?}"),
    };
    assert_eq!(next.to_string(), "nats://10.0.0.2:4222");
    let connect = h.handshake_with(next.clone(), info());
    assert_eq!(connect.user.as_deref(), Some("bob"), "inherited credentials are sent");
    assert_eq!(connect.pass.as_ref().map(|p| p.expose()), Some("pw"));
    assert_eq!(h.events(), [Event::Reconnected { server: next }]);
    assert_eq!(
        h.client_ops(),
        [ClientOp::Sub { sid, subject: harness::subject("orders.>"), queue_group: None }]
    );
    assert_eq!(h.conn.connected_server().unwrap().port(), 4222);
    assert_eq!(h.conn.connected_server().unwrap().host(), "10.0.0.2");
}

#[test]
fn lame_duck_moves_to_another_known_server() {
    let mut h = Harness::new(options("10.0.0.1:4222"));
    h.connect(info_with(|i| i.connect_urls = urls(&["10.0.0.1:4222", "10.0.0.2:4222"])));
    let sid = h.conn.subscribe(harness::subject("work"), None).unwrap();
    h.conn.publish(&harness::subject("unsent"), None, None, &bytes::Bytes::from_static(b"p")).unwrap();

    let ldm = info_with(|i| {
        i.ldm = true;
        i.connect_urls = urls(&["10.0.0.2:4222"]);
    });
    h.send(&[info_op(ldm)]);
    let current = ServerAddr::new("10.0.0.1", 4222, false);
    let events = h.events();
    match events.as_slice() {
        [Event::ServerInfo(info), Event::LameDuck { server }, Event::Disconnected { error: ConnectionError::LameDuck }] =>
        {
            assert!(info.ldm);
            assert!(server.same_endpoint(&current));
        }
        other => panic!("{other:?}"),
    }
    let next = match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, next)] => next.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(next.to_string(), "nats://10.0.0.2:4222");
    h.handshake_with(next.clone(), info());
    assert_eq!(h.events(), [Event::Reconnected { server: next }]);
    assert_eq!(
        h.client_ops(),
        [
            ClientOp::Sub { sid, subject: harness::subject("work"), queue_group: None },
            harness::pub_op("unsent", b"p"),
        ],
        "subscriptions and the unwritten publish move along"
    );
}

#[test]
fn lame_duck_with_the_other_server_announced_in_the_same_info() {
    let mut h = Harness::new(options("10.0.0.1:4222"));
    h.connect(info());
    h.send(&[info_op(info_with(|i| {
        i.ldm = true;
        i.connect_urls = urls(&["10.0.0.3:4222"]);
    }))]);
    let events = h.events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::ServerInfo(_),
                Event::DiscoveredServers { .. },
                Event::LameDuck { .. },
                Event::Disconnected { .. }
            ]
        ),
        "{events:?}"
    );
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, s)] if s.host() == "10.0.0.3")
    );
}

#[test]
fn lame_duck_with_no_other_server_stays() {
    let mut h = Harness::new(options("10.0.0.1:4222"));
    h.connect(info());
    h.send(&[info_op(info_with(|i| i.ldm = true))]);
    let events = h.events();
    assert!(matches!(events.as_slice(), [Event::ServerInfo(_), Event::LameDuck { .. }]), "{events:?}");
    assert!(h.actions().is_empty(), "nowhere to go");
    assert_eq!(h.conn.state(), State::Connected);
    h.conn.publish(&harness::subject("still"), None, None, &bytes::Bytes::from_static(b"ok")).unwrap();
    assert_eq!(h.client_ops(), [harness::pub_op("still", b"ok")]);
}

#[test]
fn ignore_discovered_servers_adds_nothing_and_reports_nothing() {
    let mut h = Harness::new(options("10.0.0.1:4222").with_ignore_discovered_servers(true));
    h.connect(info_with(|i| i.connect_urls = urls(&["10.0.0.1:4222", "10.0.0.9:4222"])));
    assert!(h.conn.discovered_servers().is_empty(), "handshake INFO adds nothing");
    h.send(&[info_op(info_with(|i| i.connect_urls = urls(&["10.0.0.2:4222", "10.0.0.3:4223"])))]);
    assert!(matches!(h.events().as_slice(), [Event::ServerInfo(_)]), "no DiscoveredServers event");
    assert!(h.conn.discovered_servers().is_empty());
    assert_eq!(endpoints(&h.conn.servers()), ["nats://10.0.0.1:4222"]);
    // After a loss, only the configured server is tried.
    h.drop_transport();
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    let (next, _) = h.advance_to_connect();
    assert_eq!(next.to_string(), "nats://10.0.0.1:4222");
}
