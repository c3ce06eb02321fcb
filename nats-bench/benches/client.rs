//! Client benchmark: this project's client (on tokio, smol and async-std) against the
//! official `async-nats` crate and a raw-socket ceiling, in one run, against one local
//! `nats-server` that the program starts on a free port. Prints a table with ratios.
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench client
//! ```
//!
//! Measurements: publish throughput (16 B x 2,000,000 and 1 KiB x 500,000, ending with a
//! flush; best of three runs), publish to a subscriber on a second connection (1,000,000 x 16 B: received
//! count and rate), and 20,000 sequential request/reply round trips (rate, p50, p99)
//! against a raw blocking responder. Then request p50 again, interleaved: rounds of raw
//! blocking round trips and of each client's in turn (tokio ones also in a spawned task),
//! so that the ratios to raw do not carry the machine's drift between measurements.
//! `BENCH_SCALE=0.1` shrinks every count for a quick run.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nats_bench::clients::{timeout, BenchClient};
use nats_bench::{scale, NatsServer};
use nats_proto::{ServerDecoder, ServerOp};

// ----- a raw connection (ceiling, responder) ---------------------------------------------

struct Raw {
    stream: TcpStream,
    decoder: ServerDecoder,
    buf: BytesMut,
}

impl Raw {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut raw = Self { stream, decoder: ServerDecoder::new(), buf: BytesMut::new() };
        raw.write(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true}\r\nPING\r\n",
        );
        raw.until_pong();
        raw
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next op other than PING (answered); `None` when the server has gone.
    fn try_next_op(&mut self) -> Option<ServerOp> {
        loop {
            if let Some(op) = self.decoder.decode(&mut self.buf).expect("valid protocol") {
                if op == ServerOp::Ping {
                    self.write(b"PONG\r\n");
                    continue;
                }
                return Some(op);
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn next_op(&mut self) -> ServerOp {
        self.try_next_op().expect("the server closed the connection")
    }

    fn until_pong(&mut self) {
        while self.next_op() != ServerOp::Pong {}
    }
}

/// A blocking responder thread answering `bench.req` with `ok`.
fn spawn_responder(port: u16) {
    let mut raw = Raw::connect(port);
    raw.write(b"SUB bench.req 1\r\nPING\r\n");
    raw.until_pong();
    // Ends quietly when the server stops at the end of the run.
    std::thread::spawn(move || {
        while let Some(op) = raw.try_next_op() {
            if let ServerOp::Msg(msg) = op {
                if let Some(reply) = msg.reply {
                    if raw.stream.write_all(format!("PUB {reply} 2\r\nok\r\n").as_bytes()).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// The best of three runs, like the clients' publish figures.
fn raw_publish(port: u16, count: usize, size: usize) -> f64 {
    (0..3).map(|_| raw_publish_once(port, count, size)).fold(0.0, f64::max)
}

fn raw_publish_once(port: u16, count: usize, size: usize) -> f64 {
    let mut raw = Raw::connect(port);
    let frame = [format!("PUB bench.pub {size}\r\n").as_bytes(), &vec![b'x'; size], b"\r\n"].concat();
    let frames: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * count).collect();
    let start = Instant::now();
    for chunk in frames.chunks(256 * 1024) {
        raw.write(chunk);
    }
    raw.write(b"PING\r\n");
    raw.until_pong();
    rate(count, start.elapsed())
}

fn raw_request_latencies(port: u16, count: usize) -> Vec<Duration> {
    let mut raw = Raw::connect(port);
    raw.write(b"SUB bench.inbox.* 1\r\nPING\r\n");
    raw.until_pong();
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let start = Instant::now();
        raw.write(format!("PUB bench.req bench.inbox.{i} 2\r\nhi\r\n").as_bytes());
        while !matches!(raw.next_op(), ServerOp::Msg(_)) {}
        latencies.push(start.elapsed());
    }
    latencies
}

/// Request latencies measured interleaved: rounds of a block of raw blocking round trips
/// then a block from each client (tokio ones in `block_on` and in a spawned task), so that
/// drift in the machine's speed during the run falls on all of them alike. Prints each one's
/// p50 and its ratio to raw's.
fn interleaved_request_latencies(port: u16, url: &str) {
    const ROUNDS: usize = 10;
    let per_round = scale(2_000);
    let tokio_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    let async_nats = tokio_rt.block_on(async { async_nats::connect(url).await.expect("async-nats") });
    let ours_tokio = tokio_rt.block_on(async { nats_tokio::connect(url).await.expect("nats-tokio") });
    let ours_smol = smol::block_on(async { nats_smol::connect(url).await.expect("nats-smol") });
    let ours_async_std =
        async_std::task::block_on(async { nats_async_std::connect(url).await.expect("nats-async-std") });

    async fn block<C: BenchClient>(client: C, count: usize) -> Vec<Duration> {
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            let t = Instant::now();
            client.request("bench.req", Bytes::from_static(b"hi")).await;
            latencies.push(t.elapsed());
        }
        latencies
    }
    let names = [
        "raw blocking",
        "async-nats (block_on)",
        "async-nats (task)",
        "nats-tokio (block_on)",
        "nats-tokio (task)",
        "nats-smol",
        "nats-async-std",
    ];
    let mut all: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for _ in 0..ROUNDS {
        all[0].extend(raw_request_latencies(port, per_round));
        all[1].extend(tokio_rt.block_on(block(async_nats.clone(), per_round)));
        all[2].extend(tokio_rt.block_on(tokio_rt.spawn(block(async_nats.clone(), per_round))).expect("task"));
        all[3].extend(tokio_rt.block_on(block(ours_tokio.clone(), per_round)));
        all[4].extend(tokio_rt.block_on(tokio_rt.spawn(block(ours_tokio.clone(), per_round))).expect("task"));
        all[5].extend(smol::block_on(block(ours_smol.clone(), per_round)));
        all[6].extend(async_std::task::block_on(block(ours_async_std.clone(), per_round)));
    }
    let p50 = |latencies: &mut Vec<Duration>| {
        latencies.sort_unstable();
        latencies[latencies.len() / 2]
    };
    let raw = p50(&mut all[0]);
    println!("\nrequest p50, interleaved ({ROUNDS} rounds of {per_round} round trips each, in turn):");
    for (name, latencies) in names.iter().zip(all.iter_mut()) {
        let p = p50(latencies);
        println!("  {name:<22} {p:>9.1?}  {:.2}x raw", p.as_secs_f64() / raw.as_secs_f64());
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    count / elapsed.as_secs_f64()
}

struct Results {
    publish_16: f64,
    publish_1k: f64,
    pubsub_received: usize,
    pubsub_rate: f64,
    request_rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn run_client<C: BenchClient, F, Fut>(connect: F) -> Results
where
    F: Fn() -> Fut,
    Fut: Future<Output = C>,
{
    let pub_count = scale(2_000_000);
    let big_count = scale(500_000);
    let pubsub_count = scale(1_000_000);
    let request_count = scale(20_000);

    let client = connect().await;
    let small = Bytes::from(vec![b'x'; 16]);
    let large = Bytes::from(vec![b'x'; 1024]);
    // Publishing is quick to measure and noisy on a shared machine: best of three.
    let mut publish_16 = 0.0f64;
    let mut publish_1k = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..pub_count {
            client.publish("bench.pub", small.clone()).await;
        }
        client.flush().await;
        publish_16 = publish_16.max(rate(pub_count, start.elapsed()));

        let start = Instant::now();
        for _ in 0..big_count {
            client.publish("bench.pub", large.clone()).await;
        }
        client.flush().await;
        publish_1k = publish_1k.max(rate(big_count, start.elapsed()));
    }

    let subscriber = connect().await;
    let ready = AtomicBool::new(false);
    let counter = subscriber.count("bench.pubsub", pubsub_count, &ready);
    let publisher = async {
        while !ready.load(Ordering::Acquire) {
            timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
        }
        let start = Instant::now();
        for _ in 0..pubsub_count {
            client.publish("bench.pubsub", small.clone()).await;
        }
        client.flush().await;
        start
    };
    let (received, start) = futures_util::future::join(counter, publisher).await;
    let pubsub_rate = rate(received, start.elapsed());

    let mut latencies = Vec::with_capacity(request_count);
    let start = Instant::now();
    for _ in 0..request_count {
        let t = Instant::now();
        client.request("bench.req", Bytes::from_static(b"hi")).await;
        latencies.push(t.elapsed());
    }
    let request_rate = rate(request_count, start.elapsed());
    latencies.sort_unstable();
    Results {
        publish_16,
        publish_1k,
        pubsub_received: received,
        pubsub_rate,
        request_rate,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

fn print_row(name: &str, r: &Results, base: &Results) {
    let ratio = |a: f64, b: f64| a / b;
    println!(
        "{name:<22} {:>12.0} ({:>4.2}x) {:>12.0} ({:>4.2}x) {:>9} {:>12.0} ({:>4.2}x) {:>9.0} {:>8.1?} {:>8.1?}",
        r.publish_16,
        ratio(r.publish_16, base.publish_16),
        r.publish_1k,
        ratio(r.publish_1k, base.publish_1k),
        r.pubsub_received,
        r.pubsub_rate,
        ratio(r.pubsub_rate, base.pubsub_rate),
        r.request_rate,
        r.p50,
        r.p99,
    );
}

fn main() {
    let server = NatsServer::plain();
    let url = server.url();
    spawn_responder(server.port());

    let tokio_rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    let async_nats =
        tokio_rt.block_on(run_client(|| async { async_nats::connect(&url).await.expect("async-nats") }));
    let ours_tokio =
        tokio_rt.block_on(run_client(|| async { nats_tokio::connect(&url).await.expect("nats-tokio") }));
    let ours_smol =
        smol::block_on(run_client(|| async { nats_smol::connect(&url).await.expect("nats-smol") }));
    let ours_async_std = async_std::task::block_on(run_client(|| async {
        nats_async_std::connect(&url).await.expect("nats-async-std")
    }));

    let raw_16 = raw_publish(server.port(), scale(2_000_000), 16);
    let raw_1k = raw_publish(server.port(), scale(500_000), 1024);
    let mut raw_latencies = raw_request_latencies(server.port(), scale(20_000));
    raw_latencies.sort_unstable();

    println!("nats-server at {url}; ratios are against async-nats in the same run\n");
    println!(
        "{:<22} {:>20} {:>20} {:>9} {:>20} {:>9} {:>8} {:>8}",
        "client",
        "publish 16 B msg/s",
        "publish 1 KiB msg/s",
        "received",
        "pub->sub msg/s",
        "req/s",
        "p50",
        "p99"
    );
    for (name, results) in [
        ("async-nats (tokio)", &async_nats),
        ("nats-tokio", &ours_tokio),
        ("nats-smol", &ours_smol),
        ("nats-async-std", &ours_async_std),
    ] {
        print_row(name, results, &async_nats);
    }
    println!(
        "\nraw socket ceiling: publish 16 B {raw_16:.0} msg/s, 1 KiB {raw_1k:.0} msg/s; \
         blocking request round trip p50 {:.1?}, p99 {:.1?}",
        raw_latencies[raw_latencies.len() / 2],
        raw_latencies[raw_latencies.len() * 99 / 100]
    );
    println!(
        "nats-tokio vs raw ceiling: publish 16 B {:.0}%, 1 KiB {:.0}%; p50 vs raw blocking round trip {:.2}x",
        100.0 * ours_tokio.publish_16 / raw_16,
        100.0 * ours_tokio.publish_1k / raw_1k,
        ours_tokio.p50.as_secs_f64() / raw_latencies[raw_latencies.len() / 2].as_secs_f64()
    );
    println!(
        "smol / tokio: publish 16 B {:.2}, pub->sub {:.2}; async-std / tokio: publish 16 B {:.2}, pub->sub {:.2}",
        ours_smol.publish_16 / ours_tokio.publish_16,
        ours_smol.pubsub_rate / ours_tokio.pubsub_rate,
        ours_async_std.publish_16 / ours_tokio.publish_16,
        ours_async_std.pubsub_rate / ours_tokio.pubsub_rate
    );
    interleaved_request_latencies(server.port(), &url);
}
