//! Time from the caller: a `Connection` over a `Duration` since the caller's epoch (what a
//! `no_std` caller uses) behaves like one over `std::time::Instant`.

use core::time::Duration;

use bytes::BytesMut;
use nats_proto::{
    Action, ClientDecoder, ClientOp, Connection, Event, OutBuffer, ServerInfo, ServerOp, State,
};

use crate::harness::options;

#[test]
fn a_connection_on_a_duration_since_the_callers_epoch() {
    let epoch = Duration::from_secs(1000);
    let mut conn: Connection<Duration> = Connection::new(options("127.0.0.1:4222"), epoch).unwrap();
    let Some(Action::Connect(transport, _)) = conn.poll_action() else { panic!("no Connect") };
    assert_eq!(conn.poll_timeout(), Some(epoch + Duration::from_secs(2)), "the attempt deadline");
    conn.handle_connected(epoch, transport);
    let mut out = OutBuffer::new();
    out.write_server_op(&ServerOp::Info(Box::new({
        let mut value = ServerInfo::default();
        value.headers = true;
        value
    })));
    out.write_server_op(&ServerOp::Pong);
    conn.handle_input(epoch, transport, &out.to_vec());
    assert_eq!(conn.state(), State::Connected);
    assert!(matches!(conn.poll_event(), Some(Event::Connected { .. })));
    let mut wire = BytesMut::from(&conn.outbound().to_vec()[..]);
    conn.advance_outbound(wire.len());
    let mut server = ClientDecoder::new();
    assert!(matches!(server.decode(&mut wire).unwrap(), Some(ClientOp::Connect(_))));

    // The keepalive timer runs on the caller's clock.
    let ping_at = conn.poll_timeout().unwrap();
    assert_eq!(ping_at, epoch + Duration::from_secs(120));
    conn.handle_timeout(ping_at);
    let mut wire = BytesMut::from(&conn.outbound().to_vec()[..]);
    assert_eq!(server.decode(&mut wire).unwrap(), Some(ClientOp::Ping));
}
