//! Time from the caller: a `Connection` over a `Duration` since the caller's epoch (what a
//! `no_std` caller uses) behaves like one over `std::time::Instant`.

use core::time::Duration;

use bytes::BytesMut;
use nats_proto::{ClientDecoder, ClientOp, Event};

use crate::harness::{connect_at_epoch, options};

#[test]
fn a_connection_on_a_duration_since_the_callers_epoch() {
    let epoch = Duration::from_secs(1000);
    let (mut conn, _, attempt_deadline) = connect_at_epoch(options("127.0.0.1:4222"), epoch);
    assert_eq!(attempt_deadline, Some(epoch + Duration::from_secs(2)), "the attempt deadline");
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
