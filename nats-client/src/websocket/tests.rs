//! The WebSocket byte stream over an in-memory connection whose far end the tests play
//! as the server, byte by byte: the upgrade, frames cut anywhere, control frames, and
//! bad input.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use futures_io::{AsyncRead, AsyncWrite};
use nats_proto::{TransportError, TransportErrorKind};

use super::{error_kind, upgrade, upgrade_with_limit, WebSocket};
use crate::testing::{duplex, ClientEnd, ServerEnd};

const BINARY: u8 = 2;
const TEXT: u8 = 1;
const CONTINUATION: u8 = 0;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// A frame as a server sends it (unmasked).
fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
    match payload.len() {
        n if n < 126 => out.push(u8::try_from(n).unwrap()),
        n if n <= 0xFFFF => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

fn binary(payload: &[u8]) -> Vec<u8> {
    frame(BINARY, true, payload)
}

/// The frames a client sent: (fin, opcode, unmasked payload); every one must be masked.
fn client_frames(mut bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let fin = bytes[0] & 0x80 != 0;
        let opcode = bytes[0] & 0x0F;
        assert!(bytes[1] & 0x80 != 0, "client frames are masked");
        let (len, mut at) = match bytes[1] & 0x7F {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (usize::try_from(u64::from_be_bytes(bytes[2..10].try_into().unwrap())).unwrap(), 10),
            n => (usize::from(n), 2),
        };
        let mask: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        at += 4;
        let payload = bytes[at..at + len].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        frames.push((fin, opcode, payload));
        bytes = &bytes[at + len..];
    }
    frames
}

/// Plays the server's side of the upgrade: checks the request, answers 101 followed by
/// `then` (bytes the server sends right after, in the same write).
fn answer_upgrade(server: &ServerEnd, then: &[u8]) -> String {
    let request = String::from_utf8(server.received_bytes()).unwrap();
    let key = request
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ").or_else(|| l.strip_prefix("sec-websocket-key: ")))
        .expect("a key");
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.trim().as_bytes())
    )
    .into_bytes();
    response.extend_from_slice(then);
    server.send_bytes(&response);
    request
}

/// Runs the upgrade against `respond` (the server's side); returns its outcome.
fn try_open(
    url: &str,
    max_message: usize,
    respond: impl FnOnce(&ServerEnd),
) -> (Result<WebSocket<ClientEnd>, TransportError>, ServerEnd) {
    let (client, server) = duplex();
    let mut upgrade = pin!(upgrade_with_limit(client, url, max_message));
    assert!(upgrade.as_mut().poll(&mut cx()).is_pending(), "waits for the answer");
    respond(&server);
    match upgrade.as_mut().poll(&mut cx()) {
        Poll::Ready(result) => (result, server),
        Poll::Pending => panic!("the upgrade still waits after the answer"),
    }
}

fn open(then: &[u8]) -> (WebSocket<ClientEnd>, ServerEnd) {
    let (result, server) = try_open("ws://127.0.0.1:8080/", super::MAX_MESSAGE, |s| {
        answer_upgrade(s, then);
    });
    (result.expect("the upgrade succeeds"), server)
}

/// Reads once with a buffer of `size`.
fn read(ws: &mut WebSocket<ClientEnd>, size: usize) -> Poll<io::Result<Vec<u8>>> {
    let mut buf = vec![0; size];
    Pin::new(ws).poll_read(&mut cx(), &mut buf).map_ok(|n| buf[..n].to_vec())
}

/// Reads everything available now (until the stream would wait, or ends).
fn read_available(ws: &mut WebSocket<ClientEnd>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Poll::Ready(chunk) = read(ws, 1024) {
        let chunk = chunk.expect("no error");
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    out
}

fn read_error(ws: &mut WebSocket<ClientEnd>) -> io::Error {
    for _ in 0..100 {
        match read(ws, 64 * 1024) {
            Poll::Ready(Err(e)) => return e,
            Poll::Ready(Ok(data)) if data.is_empty() => panic!("the stream ended without an error"),
            Poll::Ready(Ok(_)) => {}
            Poll::Pending => panic!("the read waits instead of failing"),
        }
    }
    panic!("no error")
}

#[test]
fn the_upgrade_asks_for_the_path_with_the_host() {
    let mut request = String::new();
    let (result, _server) = try_open("wss://nats.example.com:8443/nats?x=1", super::MAX_MESSAGE, |s| {
        request = answer_upgrade(s, b"");
    });
    result.expect("upgraded");
    assert!(request.starts_with("GET /nats?x=1 HTTP/1.1\r\n"), "{request}");
    let lower = request.to_ascii_lowercase();
    for header in
        ["host: nats.example.com:8443\r\n", "upgrade: websocket\r\n", "sec-websocket-version: 13\r\n"]
    {
        assert!(lower.contains(header), "{header:?} missing in {request}");
    }
    assert!(!lower.contains("sec-websocket-extensions"), "no compression asked: {request}");
}

#[test]
fn bytes_sent_right_after_the_101_are_read() {
    let (mut ws, _server) = open(&binary(b"INFO {}\r\n"));
    assert_eq!(read_available(&mut ws), b"INFO {}\r\n");
}

#[test]
fn a_frame_arriving_byte_by_byte_is_read_whole() {
    let (mut ws, server) = open(b"");
    let bytes = binary(b"INFO {\"server_id\":\"x\"}\r\n");
    for (i, byte) in bytes.iter().enumerate() {
        assert!(read(&mut ws, 1024).is_pending(), "nothing to read before byte {i}");
        server.send_bytes(&[*byte]);
    }
    assert_eq!(read_available(&mut ws), b"INFO {\"server_id\":\"x\"}\r\n");
}

#[test]
fn several_ops_in_one_frame_and_one_op_across_frames() {
    let (mut ws, server) = open(b"");
    let mut wire = binary(b"PING\r\nPONG\r\nMSG a 1 5\r\nhel");
    wire.extend(binary(b"lo\r\n"));
    // A message in fragments: a first frame and continuations.
    wire.extend(frame(BINARY, false, b"+O"));
    wire.extend(frame(CONTINUATION, false, b"K"));
    wire.extend(frame(CONTINUATION, true, b"\r\n"));
    server.send_bytes(&wire);
    assert_eq!(read_available(&mut ws), b"PING\r\nPONG\r\nMSG a 1 5\r\nhello\r\n+OK\r\n");
}

#[test]
fn text_frames_are_read_too() {
    let (mut ws, server) = open(b"");
    server.send_bytes(&frame(TEXT, true, b"PING\r\n"));
    assert_eq!(read_available(&mut ws), b"PING\r\n");
}

#[test]
fn a_frame_larger_than_the_read_buffer_arrives_intact() {
    let (mut ws, server) = open(b"");
    let payload: Vec<u8> = (0..300 * 1024usize).map(|i| u8::try_from(i % 251).unwrap()).collect();
    server.send_bytes(&binary(&payload));
    let mut got = Vec::new();
    while got.len() < payload.len() {
        match read(&mut ws, 64 * 1024) {
            Poll::Ready(Ok(chunk)) => {
                assert!(!chunk.is_empty() && chunk.len() <= 64 * 1024);
                got.extend_from_slice(&chunk);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, payload);
    assert!(read(&mut ws, 1024).is_pending());
}

#[test]
fn a_ping_is_answered_and_not_read() {
    let (mut ws, server) = open(b"");
    server.send_bytes(&frame(PING, true, b"hb"));
    server.send_bytes(&frame(PONG, true, b""));
    assert!(read(&mut ws, 1024).is_pending());
    assert!(Pin::new(&mut ws).poll_flush(&mut cx()).is_ready());
    let sent = client_frames(&server.received_bytes());
    assert_eq!(sent, [(true, PONG, b"hb".to_vec())]);
}

#[test]
fn a_close_frame_ends_the_stream_after_the_data_before_it() {
    let (mut ws, server) = open(b"");
    let mut wire = binary(b"-ERR 'Stale Connection'\r\n");
    wire.extend(frame(CLOSE, true, &1000u16.to_be_bytes()));
    server.send_bytes(&wire);
    assert_eq!(read_available(&mut ws), b"-ERR 'Stale Connection'\r\n");
    assert!(matches!(read(&mut ws, 1024), Poll::Ready(Ok(ref d)) if d.is_empty()), "end of stream");
    let sent = client_frames(&server.received_bytes());
    assert!(matches!(sent.as_slice(), [(true, CLOSE, _)]), "the close is answered: {sent:?}");
}

#[test]
fn the_connection_ending_without_a_close_frame_ends_the_stream() {
    let (mut ws, server) = open(b"");
    server.send_bytes(&binary(b"PING\r\n"));
    server.close();
    assert_eq!(read_available(&mut ws), b"PING\r\n");
    assert!(matches!(read(&mut ws, 1024), Poll::Ready(Ok(ref d)) if d.is_empty()));
}

#[test]
fn writes_are_masked_binary_messages_and_vectored_writes_one_message() {
    let (mut ws, server) = open(b"");
    let slices = [IoSlice::new(b"PUB a 5\r\n"), IoSlice::new(b"hello"), IoSlice::new(b"\r\n")];
    match Pin::new(&mut ws).poll_write_vectored(&mut cx(), &slices) {
        Poll::Ready(Ok(n)) => assert_eq!(n, 16),
        other => panic!("{other:?}"),
    }
    assert!(matches!(Pin::new(&mut ws).poll_write(&mut cx(), b"PING\r\n"), Poll::Ready(Ok(6))));
    assert!(matches!(Pin::new(&mut ws).poll_flush(&mut cx()), Poll::Ready(Ok(()))));
    let sent = client_frames(&server.received_bytes());
    assert_eq!(
        sent,
        [(true, BINARY, b"PUB a 5\r\nhello\r\n".to_vec()), (true, BINARY, b"PING\r\n".to_vec())]
    );
}

#[test]
fn a_large_write_is_accepted_in_parts() {
    let (mut ws, server) = open(b"");
    let payload = vec![7u8; 600 * 1024];
    let mut written = 0;
    while written < payload.len() {
        match Pin::new(&mut ws).poll_write(&mut cx(), &payload[written..]) {
            Poll::Ready(Ok(n)) => written += n,
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(Pin::new(&mut ws).poll_flush(&mut cx()), Poll::Ready(Ok(()))));
    let sent = client_frames(&server.received_bytes());
    assert_eq!(sent.len(), 3, "messages of at most 256 KiB");
    assert_eq!(sent.iter().map(|(_, _, p)| p.len()).sum::<usize>(), payload.len());
}

#[test]
fn an_oversized_frame_is_an_error_without_reading_it() {
    let (result, server) = try_open("ws://h:1/", 1024, |s| {
        answer_upgrade(s, b"");
    });
    let mut ws = result.unwrap();
    // A header announcing 1 GiB: refused on the header alone.
    let mut header = vec![0x80 | BINARY, 127];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    server.send_bytes(&header);
    let error = read_error(&mut ws);
    assert_eq!(error_kind(&error, TransportErrorKind::Io), TransportErrorKind::WebSocket, "{error}");
    assert!(error.to_string().contains("too long"), "{error}");
}

#[test]
fn a_message_growing_over_the_limit_in_fragments_is_an_error() {
    let (result, server) = try_open("ws://h:1/", 1024, |s| {
        answer_upgrade(s, b"");
    });
    let mut ws = result.unwrap();
    server.send_bytes(&frame(BINARY, false, &[b'x'; 1000]));
    server.send_bytes(&frame(CONTINUATION, false, &[b'x'; 1000]));
    let error = read_error(&mut ws);
    assert_eq!(error_kind(&error, TransportErrorKind::Io), TransportErrorKind::WebSocket, "{error}");
}

#[test]
fn protocol_violations_are_errors() {
    let bad: [(&str, Vec<u8>); 4] = [
        ("a masked frame from the server", vec![0x80 | BINARY, 0x80 | 1, 1, 2, 3, 4, b'x']),
        ("an unknown opcode", frame(3, true, b"x")),
        ("a continuation without a start", frame(CONTINUATION, true, b"x")),
        ("a fragmented ping", frame(PING, false, b"x")),
    ];
    for (what, bytes) in bad {
        let (mut ws, server) = open(b"");
        server.send_bytes(&bytes);
        let error = read_error(&mut ws);
        assert_eq!(
            error_kind(&error, TransportErrorKind::Io),
            TransportErrorKind::WebSocket,
            "{what}: {error}"
        );
    }
}

#[test]
fn a_refused_upgrade_says_the_status() {
    let (result, _) = try_open("ws://127.0.0.1:8080/wrong", super::MAX_MESSAGE, |s| {
        s.received_bytes();
        s.send("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    });
    let error = result.err().expect("refused");
    assert_eq!(error.kind(), TransportErrorKind::WebSocket);
    assert_eq!(error.message(), "upgrade to ws://127.0.0.1:8080/wrong refused: HTTP 404 Not Found");
}

#[test]
fn a_wrong_accept_key_is_refused() {
    let (result, _) = try_open("ws://127.0.0.1:8080/", super::MAX_MESSAGE, |s| {
        s.received_bytes();
        s.send(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        );
    });
    let error = result.err().expect("refused");
    assert_eq!(error.kind(), TransportErrorKind::WebSocket, "{error}");
    assert!(error.message().contains("invalid upgrade response"), "{error}");
}

#[test]
fn a_nats_port_instead_of_a_websocket_one_is_a_clear_error() {
    let (result, _) = try_open("ws://127.0.0.1:4222/", super::MAX_MESSAGE, |s| {
        s.send("INFO {\"server_id\":\"x\",\"version\":\"2.10.0\"}\r\n");
    });
    let error = result.err().expect("not a WebSocket");
    assert_eq!(error.kind(), TransportErrorKind::WebSocket, "{error}");
    assert!(error.message().contains("WebSocket port"), "{error}");
}

#[test]
fn an_endless_upgrade_response_is_cut_off() {
    let (client, server) = duplex();
    let mut upgrade = pin!(upgrade(client, "ws://127.0.0.1:8080/"));
    assert!(upgrade.as_mut().poll(&mut cx()).is_pending());
    server.send("HTTP/1.1 101 Switching Protocols\r\n");
    let header = format!("X-Filler: {}\r\n", "y".repeat(1000));
    for _ in 0..100 {
        server.send(&header);
        if let Poll::Ready(result) = upgrade.as_mut().poll(&mut cx()) {
            let error = result.err().expect("refused");
            assert_eq!(error.kind(), TransportErrorKind::WebSocket, "{error}");
            return;
        }
    }
    panic!("100 KB of headers were read without an error");
}

#[test]
fn the_server_closing_during_the_upgrade_is_a_closed_transport() {
    let (result, _) = try_open("ws://127.0.0.1:8080/", super::MAX_MESSAGE, ServerEnd::close);
    let error = result.err().expect("closed");
    assert_eq!(error.kind(), TransportErrorKind::Closed, "{error}");
}

// ----- through the client and its driver ----------------------------------------------

mod driver {
    use std::future::poll_fn;
    use std::time::Duration;

    use futures_core::Stream;
    use nats_proto::{ConnectionError, TransportErrorKind};

    use super::{answer_upgrade, binary, client_frames, frame, BINARY, CONTINUATION};
    use crate::client::connect_with_runtime;
    use crate::error::ConnectError;
    use crate::options::ConnectOptions;
    use crate::testing::{take, ServerEnd, TestRuntime};

    const INFO: &[u8] = b"INFO {\"server_id\":\"x\",\"version\":\"2.10.0\",\"max_payload\":1048576,\"tls_required\":true,\"headers\":true}\r\n";

    /// The payloads of the binary messages the client sent since the last call.
    fn sent(server: &ServerEnd) -> String {
        client_frames(&server.received_bytes())
            .into_iter()
            .map(|(fin, opcode, payload)| {
                assert!(fin && opcode == BINARY, "binary messages only");
                String::from_utf8(payload).unwrap()
            })
            .collect()
    }

    fn last_error(error: ConnectError) -> ConnectionError {
        match error {
            ConnectError::NoServers { last: Some(last) } => last,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_client_speaks_nats_in_websocket_messages() {
        let rt = TestRuntime::new();
        let connecting =
            rt.start(connect_with_runtime(rt.clone(), "ws://test:8080/nats", ConnectOptions::new()));
        rt.run_until_idle();
        let server = rt.accept().expect("a TCP connection");
        let request = answer_upgrade(&server, &binary(INFO));
        assert!(request.starts_with("GET /nats HTTP/1.1\r\n"), "{request}");
        rt.run_until_idle();
        let hello = sent(&server);
        assert!(hello.starts_with("CONNECT {") && hello.ends_with("PING\r\n"), "{hello}");
        assert!(hello.contains("\"tls_required\":false"), "no TLS over ws://, whatever INFO says: {hello}");
        server.send_bytes(&binary(b"PONG\r\n"));
        rt.run_until_idle();
        let client = take(&connecting).expect("connect returned").expect("connected");

        let c = client.clone();
        let subscribed = rt.start(async move { c.subscribe("greet").await });
        rt.run_until_idle();
        let mut subscriber = take(&subscribed).unwrap().unwrap();
        assert_eq!(sent(&server), "SUB greet 1\r\n");
        // One message split over two WebSocket messages, the second in fragments.
        let mut wire = binary(b"MSG greet 1 5\r\nhel");
        wire.extend(frame(BINARY, false, b"lo"));
        wire.extend(frame(CONTINUATION, true, b"\r\n"));
        server.send_bytes(&wire);
        let received =
            rt.start(async move { poll_fn(|cx| std::pin::Pin::new(&mut subscriber).poll_next(cx)).await });
        rt.run_until_idle();
        let message = take(&received).flatten().expect("the message");
        assert_eq!(&message.payload[..], b"hello");

        let c = client.clone();
        let published = rt.start(async move { c.publish("greet", "hi".into()).await });
        rt.run_until_idle();
        assert!(matches!(take(&published), Some(Ok(()))));
        // (The subscriber ended with the task that read from it.)
        assert_eq!(sent(&server), "UNSUB 1\r\nPUB greet 2\r\nhi\r\n");
    }

    #[test]
    fn a_refused_upgrade_fails_the_connect_with_a_websocket_error() {
        let rt = TestRuntime::new();
        let connecting =
            rt.start(connect_with_runtime(rt.clone(), "ws://test:8080/wrong", ConnectOptions::new()));
        rt.run_until_idle();
        let server = rt.accept().expect("a TCP connection");
        server.received_bytes();
        server.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        rt.run_until_idle();
        let error = take(&connecting).expect("returned").expect_err("refused");
        match last_error(error) {
            ConnectionError::Transport(e) => {
                assert_eq!(e.kind(), TransportErrorKind::WebSocket);
                assert!(e.to_string().contains("HTTP 400 Bad Request"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unanswered_upgrade_times_out_with_the_attempt() {
        let rt = TestRuntime::new();
        let options = ConnectOptions::new().connection_timeout(Duration::from_secs(3));
        let connecting = rt.start(connect_with_runtime(rt.clone(), "ws://test:8080", options));
        rt.run_until_idle();
        let _server = rt.accept().expect("a TCP connection");
        rt.advance(Duration::from_millis(2999));
        assert!(take(&connecting).is_none(), "still upgrading");
        rt.advance(Duration::from_millis(1));
        let error = take(&connecting).expect("returned").expect_err("timed out");
        assert_eq!(last_error(error), ConnectionError::Timeout);
    }
}
