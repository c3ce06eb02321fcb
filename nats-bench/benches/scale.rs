//! Costs per message and per connection: allocations, bytes retained, resident memory,
//! fan-out and many subscriptions, and (with valgrind) instructions per message, for this
//! project's client on tokio, smol and async-std and for async-nats, in one run against one
//! local `nats-server`.
//!
//! ```text
//! cargo bench -p nats-bench --features compare --bench scale
//! BENCH_INSTRUCTIONS=1 cargo bench -p nats-bench --features compare --bench scale
//! ```
//!
//! Each measurement runs in a fresh child process (this binary again, with
//! `NATS_BENCH_CHILD` set), so resident memory starts from the same point for every client
//! and one client's freed memory does not hide another's. With `BENCH_INSTRUCTIONS=1` each
//! per-message scenario also runs under `valgrind --tool=callgrind` at two message counts;
//! the difference divided by the extra messages is the instruction cost of one message,
//! with connection setup and teardown cancelled out (the server is not instrumented: it is
//! a separate process). `perf stat` cannot count instructions on machines without a PMU
//! (virtual machines, as here), and callgrind counts the same on a busy or an idle machine.
//! `BENCH_SCALE=0.1` shrinks every count; `BENCH_ONLY=request` (or memory, scale,
//! instructions, or a scenario's name, comma-separated) runs only those sections.

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use nats_bench::clients::{timeout, BenchClient};
use nats_bench::{rss_bytes, scale, voluntary_context_switches, AllocStats, CountingAlloc, NatsServer};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CLIENTS: [&str; 4] = ["async-nats", "nats-tokio", "nats-smol", "nats-async-std"];

#[allow(clippy::cast_precision_loss)]
fn per(total: f64, count: usize) -> f64 {
    total / count as f64
}

// ----- the child: one scenario, one client --------------------------------------------------

/// A scenario's figures, printed by the child as `key=value` pairs on one line.
#[derive(Debug, Default, Clone)]
struct Figures(Vec<(String, f64)>);

impl Figures {
    #[allow(clippy::cast_precision_loss)]
    fn push(&mut self, key: &str, value: impl Into<f64>) {
        self.0.push((key.to_owned(), value.into()));
    }

    fn get(&self, key: &str) -> f64 {
        self.0.iter().find(|(k, _)| k == key).map_or(f64::NAN, |(_, v)| *v)
    }

    fn print(&self) {
        let line: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("FIGURES {}", line.join(" "));
    }

    fn parse(stdout: &str) -> Self {
        let line = stdout.lines().find_map(|l| l.strip_prefix("FIGURES ")).unwrap_or_default();
        Self(
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
                .collect(),
        )
    }
}

#[allow(clippy::cast_precision_loss)]
fn live_bytes() -> f64 {
    let s = AllocStats::now();
    s.allocated as f64 - s.freed as f64
}

#[allow(clippy::cast_precision_loss)]
fn rss() -> f64 {
    rss_bytes().unwrap_or(0) as f64
}

async fn scenario<C: BenchClient, F, Fut>(connect: F, name: &str, count: usize) -> Figures
where
    F: Fn() -> Fut,
    Fut: Future<Output = C>,
{
    let mut figures = Figures::default();
    let small = Bytes::from(vec![b'x'; 16]);
    let large = Bytes::from(vec![b'x'; 1024]);
    match name {
        // Memory of one idle connection, then of the same with 10,000 subscriptions.
        "memory" => {
            let (rss0, live0) = (rss(), live_bytes());
            let client = connect().await;
            client.flush().await;
            let (rss1, live1) = (rss(), live_bytes());
            figures.push("idle_rss", rss1 - rss0);
            figures.push("idle_live", live1 - live0);
            let mut subs = Vec::with_capacity(10_000);
            for i in 0..10_000 {
                subs.push(client.subscribe(format!("many.{i}")).await);
            }
            client.flush().await;
            figures.push("subs_rss", rss() - rss1);
            figures.push("subs_live", live_bytes() - live1);
            drop(subs);
        }
        // `count` publishes of 16 B or 1 KiB after a warm-up: allocations, time, retained.
        // `publish1k-subscribed`: the connection also has a subscription (on another subject),
        // so its publishes are paced (nats_proto::Options::publish_pacing).
        "publish16" | "publish1k" | "publish1k-subscribed" => {
            let payload = if name == "publish16" { small } else { large };
            let client = connect().await;
            let _other = if name == "publish1k-subscribed" {
                Some(client.subscribe("bench.other".to_owned()).await)
            } else {
                None
            };
            for _ in 0..10_000 {
                client.publish("bench.pub", payload.clone()).await;
            }
            client.flush().await;
            let (before, live0) = (AllocStats::now(), live_bytes());
            let start = Instant::now();
            for _ in 0..count {
                client.publish("bench.pub", payload.clone()).await;
            }
            client.flush().await;
            let elapsed = start.elapsed();
            let delta = AllocStats::now().since(&before);
            #[allow(clippy::cast_precision_loss)]
            figures.push("allocs_per_msg", per(delta.allocations as f64, count));
            figures.push("rate", per(count as f64 * 1.0, 1) / elapsed.as_secs_f64());
            figures.push("retained", live_bytes() - live0);
        }
        // `count` messages of 16 B from one connection to a subscriber on another.
        "pubsub" => {
            let publisher = connect().await;
            let subscriber = connect().await;
            let mut sub = subscriber.subscribe("bench.pubsub".to_owned()).await;
            // Warm-up, so the figures are steady state.
            for _ in 0..1000 {
                publisher.publish("bench.pubsub", small.clone()).await;
            }
            publisher.flush().await;
            // A loaded machine may stall a process for a while: be patient here only.
            let warm = count_quiet(&mut sub, 1000, Duration::from_secs(20)).await;
            assert_eq!(warm, 1000, "warm-up lost messages");
            let (before, live0) = (AllocStats::now(), live_bytes());
            let start = Instant::now();
            let sending = async {
                for _ in 0..count {
                    publisher.publish("bench.pubsub", small.clone()).await;
                }
                publisher.flush().await;
            };
            let (received, ()) = futures_util::future::join(count_merged(&mut sub, count), sending).await;
            let elapsed = start.elapsed();
            let delta = AllocStats::now().since(&before);
            #[allow(clippy::cast_precision_loss)]
            {
                figures.push("received", received as f64);
                figures.push("allocs_per_msg", per(delta.allocations as f64, count));
                figures.push("rate", received as f64 / elapsed.as_secs_f64());
            }
            figures.push("retained", live_bytes() - live0);
        }
        // One publisher, `fan` subscribers of one subject, on one or on separate connections.
        "fanout1" | "fanout10" | "fanout100" | "fanout1-sep" | "fanout10-sep" | "fanout100-sep" => {
            let fan: usize =
                name.trim_start_matches("fanout").trim_end_matches("-sep").parse().expect("a count");
            let separate = name.ends_with("-sep");
            let publisher = connect().await;
            let mut connections = Vec::new();
            let mut streams = Vec::new();
            for _ in 0..fan {
                let client = if separate { connect().await } else { publisher.clone() };
                streams.push(client.subscribe("bench.fan".to_owned()).await);
                connections.push(client);
            }
            let mut merged = stream::select_all(streams);
            let start = Instant::now();
            let sending = async {
                for _ in 0..count {
                    publisher.publish("bench.fan", small.clone()).await;
                }
                publisher.flush().await;
            };
            let (received, ()) =
                futures_util::future::join(count_merged(&mut merged, count * fan), sending).await;
            #[allow(clippy::cast_precision_loss)]
            {
                figures.push("received", received as f64);
                figures.push("expected", (count * fan) as f64);
                figures.push("rate", received as f64 / start.elapsed().as_secs_f64());
            }
        }
        // 10,000 subjects with a subscription each, published to round-robin.
        "subjects10k" => {
            let publisher = connect().await;
            let subscriber = connect().await;
            let mut streams = Vec::with_capacity(10_000);
            for i in 0..10_000 {
                streams.push(subscriber.subscribe(format!("many.{i}")).await);
            }
            let subjects: Vec<String> = (0..10_000).map(|i| format!("many.{i}")).collect();
            let mut merged = stream::select_all(streams);
            let start = Instant::now();
            let sending = async {
                for i in 0..count {
                    publisher.publish(&subjects[i % subjects.len()], small.clone()).await;
                }
                publisher.flush().await;
            };
            let (received, ()) = futures_util::future::join(count_merged(&mut merged, count), sending).await;
            #[allow(clippy::cast_precision_loss)]
            {
                figures.push("received", received as f64);
                figures.push("rate", received as f64 / start.elapsed().as_secs_f64());
            }
        }
        // `count` sequential requests to a responder in another process (the parent).
        "request" => {
            let client = connect().await;
            for _ in 0..100 {
                client.request("bench.req", small.clone()).await;
            }
            let (before, switches) = (AllocStats::now(), voluntary_context_switches().unwrap_or(0));
            let mut latencies = Vec::with_capacity(count);
            for _ in 0..count {
                let start = Instant::now();
                client.request("bench.req", small.clone()).await;
                latencies.push(start.elapsed());
            }
            let switches = voluntary_context_switches().unwrap_or(0) - switches;
            let delta = AllocStats::now().since(&before);
            latencies.sort_unstable();
            #[allow(clippy::cast_precision_loss)]
            {
                figures.push("allocs_per_msg", per(delta.allocations as f64, count));
                figures.push("switches_per_msg", per(switches as f64, count));
                figures.push("p50_us", latencies[count / 2].as_secs_f64() * 1e6);
            }
        }
        other => panic!("unknown scenario {other}"),
    }
    figures
}

/// Replies "ok" to every request on `bench.req`, on a thread of the parent (so that the
/// children measured do not pay for it).
fn spawn_responder(url: &str) {
    let url = url.to_owned();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tokio_runtime().block_on(async move {
            let client = nats_tokio::connect(&url).await.expect("responder connects");
            let mut sub = client.subscribe("bench.req").await.expect("responder subscribes");
            client.flush().await.expect("responder flushes");
            ready_tx.send(()).expect("the parent waits");
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    let _ = client.publish(reply.as_str(), "ok".into()).await;
                }
            }
        });
    });
    ready_rx.recv().expect("the responder is ready");
}

/// Counts items until `expected` or nothing for 2 s; one timeout for the whole wait on a
/// quiet stream, not one per item (that would spawn a timer thread per message).
async fn count_merged<S: futures_util::Stream<Item = ()> + Unpin>(stream: &mut S, expected: usize) -> usize {
    count_quiet(stream, expected, Duration::from_secs(2)).await
}

/// [`count_merged`] with another quiet period.
async fn count_quiet<S: futures_util::Stream<Item = ()> + Unpin>(
    stream: &mut S,
    expected: usize,
    quiet: Duration,
) -> usize {
    let mut received = 0;
    while received < expected {
        // Take what is ready without a timer; wait with one only when nothing is.
        match futures_util::FutureExt::now_or_never(stream.next()) {
            Some(Some(())) => received += 1,
            Some(None) => break,
            None => match timeout(quiet, stream.next()).await {
                Some(Some(())) => received += 1,
                _ => break,
            },
        }
    }
    received
}

fn run_child(spec: &str, url: &str) {
    let mut parts = spec.split(':');
    let (client, name, count) = (
        parts.next().expect("client"),
        parts.next().expect("scenario"),
        parts.next().and_then(|c| c.parse().ok()).expect("count"),
    );
    // `<scenario>@task`: on tokio, run in a spawned task (on a worker thread, as in a server
    // application) instead of in `block_on` on the main thread.
    let (name, in_task) = name.strip_suffix("@task").map_or((name, false), |name| (name, true));
    let (url_owned, name_owned) = (url.to_owned(), name.to_owned());
    let figures = match client {
        "async-nats" => on_tokio(in_task, async move {
            let url = url_owned.as_str();
            scenario(|| async { async_nats::connect(url).await.expect("async-nats") }, &name_owned, count)
                .await
        }),
        "nats-tokio" => on_tokio(in_task, async move {
            let url = url_owned.as_str();
            scenario(|| async { nats_tokio::connect(url).await.expect("nats-tokio") }, &name_owned, count)
                .await
        }),
        "nats-smol" => smol::block_on(scenario(
            || async { nats_smol::connect(url).await.expect("nats-smol") },
            name,
            count,
        )),
        "nats-async-std" => async_std::task::block_on(scenario(
            || async { nats_async_std::connect(url).await.expect("nats-async-std") },
            name,
            count,
        )),
        other => panic!("unknown client {other}"),
    };
    figures.print();
}

/// Runs `scenario` on a fresh tokio runtime: in `block_on`, or in a task of its own.
fn on_tokio(in_task: bool, scenario: impl Future<Output = Figures> + Send + 'static) -> Figures {
    let runtime = tokio_runtime();
    if in_task {
        runtime.block_on(runtime.spawn(scenario)).expect("the scenario's task")
    } else {
        runtime.block_on(scenario)
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio")
}

// ----- the parent: runs the children, prints the tables --------------------------------------

fn child(url: &str, client: &str, name: &str, count: usize) -> Figures {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .env("NATS_BENCH_CHILD", format!("{client}:{name}:{count}"))
        .env("NATS_BENCH_URL", url)
        .output()
        .expect("run the child");
    if !out.status.success() {
        // One failed figure should not void the whole run: it shows as NaN in the table.
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{client} {name} failed: {}", stderr.lines().take(3).collect::<Vec<_>>().join(" / "));
        return Figures::default();
    }
    Figures::parse(&String::from_utf8_lossy(&out.stdout))
}

/// Instructions of the child running `name` with `count` messages, counted by callgrind.
fn instructions(url: &str, client: &str, name: &str, count: usize) -> Option<f64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(std::env::current_exe().expect("this binary"))
        .env("NATS_BENCH_CHILD", format!("{client}:{name}:{count}"))
        .env("NATS_BENCH_URL", url)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let collected = stderr.lines().find_map(|l| l.split("Collected :").nth(1))?;
    collected.trim().parse().ok()
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

/// Whether a section or scenario is wanted: all of them, unless `BENCH_ONLY` names some
/// (comma-separated: request, memory, scale, instructions, or a scenario's name).
fn wanted(section: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == section))
}

fn main() {
    if let Ok(spec) = std::env::var("NATS_BENCH_CHILD") {
        let url = std::env::var("NATS_BENCH_URL").expect("NATS_BENCH_URL");
        run_child(&spec, &url);
        return;
    }
    let server = NatsServer::plain();
    let url = server.url();
    let n_pub = scale(500_000);
    let n_pubsub = scale(500_000);
    let n_fan = scale(50_000);
    let n_subjects = scale(200_000);
    println!("nats-server at {url}; every figure from a fresh process; same run for all clients\n");
    spawn_responder(&url);

    let n_req = scale(20_000);
    if wanted("request") {
        println!("Requests: {n_req} sequential round trips to a responder in another process");
        println!("{:<16} {:>14} {:>14} {:>10}", "client", "switches/req", "allocs/req", "p50");
        for client in CLIENTS {
            let f = child(&url, client, "request", n_req);
            println!(
                "{client:<16} {:>14.2} {:>14.2} {:>8.1}µs",
                f.get("switches_per_msg"),
                f.get("allocs_per_msg"),
                f.get("p50_us")
            );
        }
        for client in ["async-nats", "nats-tokio"] {
            let f = child(&url, client, "request@task", n_req);
            let label = format!("{client} (task)");
            println!(
                "{label:<16} {:>14.2} {:>14.2} {:>8.1}µs",
                f.get("switches_per_msg"),
                f.get("allocs_per_msg"),
                f.get("p50_us")
            );
        }
        println!(
            "(switches: voluntary context switches of every thread of the client process, per request; \
         load on the machine does not add to them. Each client runs in its runtime's block_on on the \
         main thread; \"(task)\": in a task spawned on tokio's workers instead)\n"
        );
    }

    if wanted("memory") {
        println!("Allocations and memory");
        println!(
            "{:<16} {:>14} {:>14} {:>14} {:>14} {:>13} {:>13} {:>16} {:>16}",
            "client",
            "allocs/pub 16B",
            "allocs/pub 1K",
            "allocs/msg p>s",
            "retained p>s",
            "idle RSS",
            "idle heap",
            "10k subs RSS",
            "10k subs heap"
        );
        for client in CLIENTS {
            let p16 = child(&url, client, "publish16", n_pub);
            let p1k = child(&url, client, "publish1k", n_pub);
            let ps = child(&url, client, "pubsub", n_pubsub);
            let mem = child(&url, client, "memory", 0);
            println!(
                "{client:<16} {:>14.3} {:>14.3} {:>14.3} {:>14} {:>13} {:>13} {:>16} {:>16}",
                p16.get("allocs_per_msg"),
                p1k.get("allocs_per_msg"),
                ps.get("allocs_per_msg"),
                mib(ps.get("retained")),
                mib(mem.get("idle_rss")),
                mib(mem.get("idle_live")),
                mib(mem.get("subs_rss")),
                mib(mem.get("subs_live")),
            );
        }
        println!(
            "(allocs/msg p>s: allocations per message published to a subscriber on a second connection of \
         the same process, both connections counted; heap: bytes allocated and not freed)\n"
        );
    }

    if wanted("scale") {
        println!("Scale: messages delivered per second (fan-out counts every delivery)");
        let scenarios = [
            "fanout1",
            "fanout10",
            "fanout100",
            "fanout1-sep",
            "fanout10-sep",
            "fanout100-sep",
            "subjects10k",
        ];
        print!("{:<16}", "client");
        for s in scenarios {
            print!(" {s:>13}");
        }
        println!();
        for client in CLIENTS {
            print!("{client:<16}");
            for s in scenarios {
                let count = if s == "subjects10k" { n_subjects } else { n_fan };
                let f = child(&url, client, s, count);
                let lost = f.get("expected").max(f.get("received")) - f.get("received");
                let mark = if lost > 0.0 { "!" } else { " " };
                print!(" {:>12.0}{mark}", f.get("rate"));
            }
            println!();
        }
        println!("(! = some deliveries missing: slow consumer at default limits)\n");
        // What publish pacing costs a connection that gets little back: the same 1 KiB
        // publishes without and with a subscription (on another subject) on the connection.
        println!("Publish 1 KiB per second: unpaced (no subscription) / paced (one subscription)");
        for client in CLIENTS {
            let plain = child(&url, client, "publish1k", n_pub);
            let paced = child(&url, client, "publish1k-subscribed", n_pub);
            println!(
                "{client:<16} {:>12.0} {:>12.0} {:>8.2}x",
                plain.get("rate"),
                paced.get("rate"),
                paced.get("rate") / plain.get("rate")
            );
        }
        println!();
    }

    if std::env::var_os("BENCH_INSTRUCTIONS").is_some() {
        let n = scale(20_000);
        println!("Instructions per message (callgrind, ({n} x 2) - {n} messages, client process only)");
        println!(
            "{:<16} {:>14} {:>14} {:>14} {:>14}",
            "client", "publish 16 B", "publish 1 KiB", "pub->sub 16 B", "request"
        );
        for client in CLIENTS {
            print!("{client:<16}");
            for s in ["publish16", "publish1k", "pubsub", "request"] {
                if !wanted(s) && !wanted("instructions") {
                    print!(" {:>14}", "-");
                    continue;
                }
                let cost = instructions(&url, client, s, n)
                    .zip(instructions(&url, client, s, 2 * n))
                    .map(|(one, two)| per(two - one, n));
                match cost {
                    Some(c) => print!(" {c:>14.0}"),
                    None => print!(" {:>14}", "no valgrind"),
                }
            }
            println!();
        }
    }
}
