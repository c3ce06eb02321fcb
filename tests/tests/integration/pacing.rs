//! Publish pacing: a connection subscribed to what it publishes gets every copy back, however
//! many subscriptions multiply it. nats-server cuts off a client whose pending output passes
//! `max_pending` (64 MB by default) and cannot slow down a publisher that is its own
//! consumer, so the client paces its publishes by what the server has answered (see
//! `nats_proto::Options::publish_pacing`).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};

use futures_util::StreamExt;
use nats_client::{ClientEvent, ConnectOptions, Runtime};
use nats_integration_tests::{connect_with, runtime_tests, within, NatsServer, ServerConfig};

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
        within(rt, "publish", client.publish("pace.fan", message.into())).await.unwrap();
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
/// of copies get through.
///
/// The control shows that this does overflow the server: a connection that does not read
/// while the same 20 MB are published to its subscriptions is cut off. (A client that
/// reads while it publishes unpaced may or may not be cut off: that depends on whether it
/// reads faster than the server writes, which is the machine's speed, not a verdict.)
async fn pacing_follows_its_budget<R: Runtime>(rt: R) {
    const FAN: usize = 100;
    const COUNT: usize = 200;
    let server =
        NatsServer::start(ServerConfig { extra: "max_pending: 2MB\n".to_owned(), ..ServerConfig::new() });
    let options = ConnectOptions::new().publish_pacing(Some(256 * 1024));
    publish_to_self(&rt, &server.url(), options, FAN, COUNT).await;

    let publisher = connect_with(&rt, &server.url(), ConnectOptions::new()).await;
    // nats-server 2.9 stalls the publisher for a subscriber past its `max_pending` rather
    // than cutting the subscriber off (seen with 2.9.10: the publisher's flush times out;
    // 2.15.1 cuts it off): there is no control to show on it.
    if publisher.server_info().expect("connected").version.starts_with("2.9.") {
        return;
    }
    let mut silent = SilentSubscriber::connect(server.port(), "pace.fan", FAN);
    for _ in 0..COUNT {
        within(&rt, "publish", publisher.publish("pace.fan", vec![b'x'; 1024].into())).await.unwrap();
    }
    // The server has handled every publish, and queued (or refused) every copy, once the
    // publisher's flush comes back.
    within(&rt, "flush", publisher.flush()).await.unwrap();
    let copies = silent.read_until_closed();
    assert!(copies < FAN * COUNT, "the silent subscriber was not cut off: got all {copies} copies");
    within(&rt, "close", publisher.close()).await;
}

/// A raw connection with `fan` subscriptions to one subject that reads nothing until asked.
struct SilentSubscriber {
    stream: std::net::TcpStream,
}

impl SilentSubscriber {
    /// Connects, subscribes and waits for the server to confirm (a PONG).
    fn connect(port: u16, subject: &str, fan: usize) -> Self {
        let mut stream = connect_with_small_receive_buffer(port);
        stream.set_read_timeout(Some(nats_integration_tests::TIMEOUT)).unwrap();
        let mut wire = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n".to_vec();
        for sid in 1..=fan {
            wire.extend_from_slice(format!("SUB {subject} {sid}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"PING\r\n");
        stream.write_all(&wire).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "the server closed the raw connection");
            if line.starts_with("PONG") {
                break;
            }
            assert!(line.starts_with("INFO") || line.starts_with("PING"), "{line:?}");
        }
        Self { stream }
    }

    /// Reads until the server closes the connection and returns how many copies came; a
    /// PONG to a PING sent here means the server did not close it, and ends the count too.
    fn read_until_closed(&mut self) -> usize {
        // The connection may already be gone: then the PING cannot be written.
        let _ = self.stream.write_all(b"PING\r\n");
        let mut reader = BufReader::new(&self.stream);
        let mut copies = 0;
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("the server neither closed the connection nor answered its PING")
                }
                Ok(0) | Err(_) => return copies,
                Ok(_) if line.starts_with(b"PONG") => return copies,
                Ok(_) if line.starts_with(b"MSG ") => {
                    let size: usize = std::str::from_utf8(&line)
                        .ok()
                        .and_then(|l| l.split_whitespace().last()?.parse().ok())
                        .expect("a MSG line with a size");
                    let mut payload = vec![0; size + 2];
                    match reader.read_exact(&mut payload) {
                        Ok(()) => copies += 1,
                        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                            panic!("the server stopped in the middle of a message")
                        }
                        Err(_) => return copies,
                    }
                }
                Ok(_) => {}
            }
        }
    }
}

/// A TCP connection to 127.0.0.1:`port` whose receive buffer is fixed at its smallest: the
/// kernel's autotuning (up to `tcp_rmem`'s maximum, 32 MB on some machines) would otherwise
/// let it absorb much of what the server sends it, and how much depends on the machine.
fn connect_with_small_receive_buffer(port: u16) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let size: libc::c_int = 4096;
    let addr = libc::sockaddr_in {
        sin_family: libc::sa_family_t::try_from(libc::AF_INET).unwrap(),
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: plain socket calls on a descriptor created here, with valid pointers to
    // values that live across each call and their true sizes; the descriptor is handed to
    // the `TcpStream`, which owns and closes it, only once it is a connected socket (it is
    // closed here on every failure before that).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let set = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const size).cast(),
            libc::socklen_t::try_from(size_of_val(&size)).unwrap(),
        );
        let connected = set == 0
            && libc::connect(
                fd,
                (&raw const addr).cast(),
                libc::socklen_t::try_from(size_of_val(&addr)).unwrap(),
            ) == 0;
        if !connected {
            let error = std::io::Error::last_os_error();
            libc::close(fd);
            panic!("a raw connection with a small receive buffer: {error}");
        }
        std::net::TcpStream::from_raw_fd(fd)
    }
}
