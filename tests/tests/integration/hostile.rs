//! What another client can make the server relay must not cost our connection. A raw TCP
//! publisher sends what no well-behaved client would (a subject that is not UTF-8, a
//! reply subject that is not UTF-8, malformed header blocks, a strange status line, a
//! payload at the server's limit) between valid messages; a subscriber of ours on `>`
//! gets every valid message, in order, without a reconnect.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use nats_client::{ClientEvent, Runtime};
use nats_integration_tests::{
    collect_now, connect, next_message, runtime_tests, wait_for_event, within, NatsServer,
};

runtime_tests!(relayed_input_from_a_hostile_publisher);

/// A publisher speaking raw protocol, with headers enabled.
struct RawPublisher {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawPublisher {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("a raw connection");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut info = String::new();
        reader.read_line(&mut info).unwrap();
        assert!(info.starts_with("INFO "), "{info}");
        let mut publisher = Self { stream, reader };
        publisher.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n");
        publisher.sync();
        publisher
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// PING, and wait for the PONG: the server has processed everything before it.
    fn sync(&mut self) {
        self.send(b"PING\r\n");
        loop {
            let mut line = Vec::new();
            self.reader.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "the server closed the raw publisher");
            if line.starts_with(b"PONG") {
                return;
            }
            assert!(
                line.starts_with(b"PING") || line.starts_with(b"INFO"),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }
}

fn hpub(wire: &mut Vec<u8>, subject: &str, headers: &[u8], payload: &[u8]) {
    let total = headers.len() + payload.len();
    wire.extend_from_slice(format!("HPUB {subject} {} {total}\r\n", headers.len()).as_bytes());
    wire.extend_from_slice(headers);
    wire.extend_from_slice(payload);
    wire.extend_from_slice(b"\r\n");
}

async fn relayed_input_from_a_hostile_publisher<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut events = client.events();
    let mut all = client.subscribe(">").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let max_payload = usize::try_from(client.max_payload().unwrap()).unwrap();

    let mut raw = RawPublisher::connect(server.port());
    let big = vec![b'z'; max_payload];
    let mut wire = Vec::new();
    wire.extend_from_slice(b"PUB ok.1 1\r\n1\r\n");
    wire.extend_from_slice(b"PUB bad.\xff\xfe 1\r\nx\r\n");
    wire.extend_from_slice(b"PUB ok.2 1\r\n2\r\n");
    wire.extend_from_slice(b"PUB ok.3 bad.reply.\xc3 1\r\n3\r\n");
    // A header block that is not one: delivered, with the header error.
    hpub(&mut wire, "ok.4", b"GARBAGE\x00\x01\r\n\r\n", b"4");
    // A status line no server sends.
    hpub(&mut wire, "ok.5", b"NATS/1.0 9999 what\r\n\r\n", b"5");
    // A header value that is not UTF-8.
    hpub(&mut wire, "ok.6", b"NATS/1.0\r\nA: \xff\r\n\r\n", b"6");
    wire.extend_from_slice(format!("PUB ok.7 {max_payload}\r\n").as_bytes());
    wire.extend_from_slice(&big);
    wire.extend_from_slice(b"\r\n");
    for i in 0..20 {
        wire.extend_from_slice(format!("PUB bad.{i}.").as_bytes());
        wire.extend_from_slice(b"\x80 1\r\nx\r\n");
        wire.extend_from_slice(format!("PUB ok.8.{i} 1\r\n8\r\n").as_bytes());
    }
    raw.send(&wire);
    raw.sync();

    let mut subjects = Vec::new();
    for _ in 0..(6 + 20) {
        let msg = next_message(&rt, &mut all).await;
        match msg.subject.as_str() {
            "ok.4" | "ok.6" => assert!(msg.header_error.is_some(), "{msg:?}"),
            "ok.7" => assert_eq!(msg.payload.len(), max_payload),
            _ => {}
        }
        subjects.push(msg.subject.to_string());
    }
    // ok.3 has a reply subject that is not UTF-8: dropped like the bad subjects.
    let mut expected: Vec<String> = [1, 2, 4, 5, 6, 7].iter().map(|i| format!("ok.{i}")).collect();
    expected.extend((0..20).map(|i| format!("ok.8.{i}")));
    assert_eq!(subjects, expected, "every valid message, in order");

    // The subject and the reply subject that are not UTF-8: 22 messages dropped, each
    // reported once, none costing the connection.
    let (first, _) =
        wait_for_event(&rt, &mut events, "Undeliverable", |e| matches!(e, ClientEvent::Undeliverable(_)))
            .await;
    let ClientEvent::Undeliverable(first) = first else { unreachable!() };
    assert_eq!(&first.subject[..], b"bad.\xff\xfe");
    within(&rt, "flush", client.flush()).await.unwrap();
    let (rest, _) = collect_now(&mut events);
    assert!(
        rest.iter().all(|e| matches!(e, ClientEvent::Undeliverable(_))),
        "no disconnect, no error: {rest:?}"
    );
    assert_eq!(rest.len(), 21);
    let stats = client.statistics();
    assert_eq!((stats.undeliverable_msgs, stats.reconnects), (22, 0));
    assert!(client.is_connected());
    assert!(client.last_error().is_none());
    client.close().await;
}
