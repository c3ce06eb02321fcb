//! The workload and the nemesis: concurrent publishers (synchronous with retries, and the
//! async publisher with a window of outstanding acks) to an R3 stream, a durable pull
//! consumer acking, an ordered consumer replaying from the start, while a nemesis kills,
//! pauses or lame-ducks the stream leader, another node, or two nodes one after the other,
//! and brings them back. Every client records what it saw; [`run`] returns the
//! [`History`] for the [`checker`](super::checker).
//!
//! The publishers, consumers and their connections run as tasks on the runtime; the
//! nemesis runs on the caller's task (starting a node blocks it briefly, which delays only
//! the nemesis).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nats_client::{Client, Runtime};
use nats_jetstream::proto::{ApiRetry, ConsumerConfig, PublishRetry, PullOptions, StreamConfig};
use nats_jetstream::{Context, OrderedConfig, Publish, PublishError, Stream};

use super::checker::{Attempt, Delivery, Fault, History, Outcome};
use super::cluster::{wait_for_leader, JetStreamCluster, StreamPlacement, ELECTION_DEADLINE};
use crate::rt::{connect_with, with_timeout};

/// The stream under test.
pub const STREAM: &str = "CHAOS";
/// Its subjects.
const SUBJECT: &str = "chaos.msgs";

/// How a run is shaped.
#[derive(Debug, Clone)]
pub struct Workload {
    /// How long the publishers publish while the nemesis works.
    pub duration: Duration,
    /// Publishers awaiting each ack, with retries.
    pub sync_publishers: usize,
    /// Async publishers.
    pub async_publishers: usize,
    /// The async publishers' window of outstanding acks.
    pub window: usize,
    /// Time between the end of one fault's recovery and the next fault.
    pub fault_interval: Duration,
    /// How long a node stays down or paused.
    pub downtime: Duration,
    /// How long the replicas may take to catch up after the run before the final read
    /// goes to the leader without them.
    pub final_settle: Duration,
    /// The fewest faults a run injects: the nemesis goes on past `duration` until it has
    /// (slow elections on a loaded machine leave fewer rounds in the duration).
    pub min_faults: usize,
    /// The synchronous publishers' retry policy.
    pub publish_retry: PublishRetry,
}

impl Workload {
    /// The short run: 30 s, two synchronous and one async publisher, a fault every 3 s.
    pub fn short() -> Self {
        Self {
            duration: Duration::from_secs(30),
            sync_publishers: 2,
            async_publishers: 1,
            window: 32,
            fault_interval: Duration::from_secs(3),
            downtime: Duration::from_secs(2),
            final_settle: Duration::from_secs(20),
            min_faults: 3,
            publish_retry: PublishRetry::default(),
        }
    }
}

/// The synchronous publishers' deadline per message (retries included).
const PUBLISH_DEADLINE: Duration = Duration::from_secs(15);
/// The API and ack timeout of every context.
const JS_TIMEOUT: Duration = Duration::from_secs(2);

fn since(start: Instant) -> Duration {
    start.elapsed()
}

fn outcome_of(error: &PublishError) -> Outcome {
    // No answer: stored or not, nobody can say. Every other error claims "not stored",
    // which the checker holds the stream to.
    if error.may_be_stored() {
        Outcome::Unknown(error.to_string())
    } else {
        Outcome::Failed(error.to_string())
    }
}

/// Shared recordings of the consumers.
#[derive(Default)]
struct Recorded {
    consumer: Vec<Delivery>,
    ordered: Vec<Delivery>,
    consumer_restarts: u64,
    ordered_errors: Vec<String>,
    /// The ordered consumer's resets and the time of its last delivery (diagnostics).
    ordered_resets: u64,
    ordered_last_at: Duration,
}

async fn context<R: Runtime>(rt: &R, urls: &str) -> (Client, Context) {
    let client = connect_with(rt, urls, super::cluster::client_options()).await;
    let mut js = nats_jetstream::new(client.clone());
    js.set_timeout(JS_TIMEOUT);
    // Stream and consumer info and creation ride through elections as long as they last.
    js.set_api_retry(ApiRetry::new(ELECTION_DEADLINE, Duration::from_millis(100), Duration::from_secs(1)));
    (client, js)
}

/// A synchronous publisher: each message awaited, retried within its deadline.
async fn sync_publisher(
    js: Context,
    name: String,
    retry: PublishRetry,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let id = format!("{name}-{i}");
        let at = since(start);
        let publish = Publish::new().payload(id.clone().into()).message_id(id.clone());
        let result = js.send_publish_with_retry(SUBJECT, publish, retry, PUBLISH_DEADLINE).await;
        let outcome = match result {
            Ok(ack) => Outcome::Acked { seq: ack.sequence, at: since(start) },
            Err(e) => outcome_of(&e),
        };
        attempts.push(Attempt { publisher: name.clone(), id, at, outcome });
        // Pacing, not synchronisation: keeps the stream (and the final read) a sensible size.
        js.client().sleep_until(Instant::now() + Duration::from_millis(5)).await;
    }
    attempts
}

/// An async publisher: a window of acks outstanding; every ack and failure reported.
async fn async_publisher(
    js: Context,
    name: String,
    window: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Attempt> {
    let mut publisher = js.publisher(window);
    publisher.keep_acks(true);
    let mut sent: HashMap<u64, (String, Duration)> = HashMap::new();
    let mut attempts = Vec::new();
    let record = |attempts: &mut Vec<Attempt>,
                  sent: &mut HashMap<u64, (String, Duration)>,
                  acks,
                  failures| {
        let acks: Vec<(u64, nats_jetstream::proto::PubAck)> = acks;
        let failures: Vec<nats_jetstream::PublishFailure> = failures;
        let now = since(start);
        for (pid, ack) in acks {
            let (id, at) = sent.remove(&pid).expect("an ack of a message sent");
            attempts.push(Attempt {
                publisher: name.clone(),
                id,
                at,
                outcome: Outcome::Acked { seq: ack.sequence, at: now },
            });
        }
        for failure in failures {
            let (id, at) = sent.remove(&failure.id).expect("a failure of a message sent");
            attempts.push(Attempt { publisher: name.clone(), id, at, outcome: outcome_of(&failure.error) });
        }
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let id = format!("{name}-{i}");
        let at = since(start);
        match publisher.send(SUBJECT, Publish::new().payload(id.clone().into()).message_id(id.clone())).await
        {
            Ok(pid) => {
                sent.insert(pid, (id, at));
            }
            Err(e) => attempts.push(Attempt { publisher: name.clone(), id, at, outcome: outcome_of(&e) }),
        }
        if i.is_multiple_of(10) {
            let (acks, failures) = (publisher.take_acks(), publisher.take_failures());
            record(&mut attempts, &mut sent, acks, failures);
            js.client().sleep_until(Instant::now() + Duration::from_millis(20)).await;
        }
    }
    let (acks, failures) = (publisher.take_acks(), publisher.take_failures());
    record(&mut attempts, &mut sent, acks, failures);
    let report = publisher.finish().await;
    record(&mut attempts, &mut sent, report.acks, report.failures);
    assert!(sent.is_empty(), "the async publisher left {} messages unreported", sent.len());
    attempts
}

fn delivery(message: &nats_jetstream::Message) -> Option<Delivery> {
    let info = message.info().ok()?;
    Some(Delivery {
        id: String::from_utf8_lossy(&message.payload).into_owned(),
        stream_seq: info.stream_sequence,
        delivered: info.delivered,
    })
}

/// The durable consumer: pulls continuously, records and acks; after an error item (the
/// consumer leader gone, no responders) it pulls again.
async fn durable_consumer(
    client: Client,
    stream: Stream,
    recorded: Arc<Mutex<Recorded>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let consumer = match stream.get_consumer("worker").await {
            Ok(c) => c,
            Err(_) => {
                client.sleep_until(Instant::now() + Duration::from_millis(200)).await;
                continue;
            }
        };
        let options = PullOptions::default()
            .batch(200)
            .expires(Duration::from_secs(5))
            .heartbeat(Duration::from_secs(1));
        let Ok(mut messages) = consumer.messages_with(options).await else {
            client.sleep_until(Instant::now() + Duration::from_millis(200)).await;
            continue;
        };
        while let Some(item) = messages.next().await {
            match item {
                Ok(message) => {
                    if let Some(d) = delivery(&message) {
                        recorded.lock().unwrap().consumer.push(d);
                    }
                    // A lost ack means a redelivery, which the checker allows.
                    let _ = message.ack().await;
                }
                Err(nats_jetstream::FetchError::Closed) => return,
                Err(_) => break,
            }
        }
        recorded.lock().unwrap().consumer_restarts += 1;
    }
}

/// The ordered consumer: replays from the start, records each message.
async fn ordered_consumer(stream: Stream, recorded: Arc<Mutex<Recorded>>, start: Instant) {
    let config = OrderedConfig::default().heartbeat(Duration::from_secs(1));
    let mut messages = stream.ordered_consumer(config).messages();
    while let Some(item) = messages.next().await {
        match item {
            Ok(message) => {
                let mut r = recorded.lock().unwrap();
                if let Some(d) = delivery(&message) {
                    r.ordered.push(d);
                }
                r.ordered_resets = messages.resets();
                r.ordered_last_at = since(start);
            }
            Err(e) => {
                recorded.lock().unwrap().ordered_errors.push(e.to_string());
                return;
            }
        }
    }
}

/// Runs `future` as a task on the runtime; its output comes back through the receiver.
fn spawn<R: Runtime, T: Send + 'static>(
    rt: &R,
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> smol::channel::Receiver<T> {
    let (tx, rx) = smol::channel::bounded(1);
    rt.spawn(async move {
        let _ = tx.send(future.await).await;
    });
    rx
}

/// Waits for the stream to have a leader with every replica current.
async fn settled(client: &Client) -> Option<StreamPlacement> {
    settle_within(client, ELECTION_DEADLINE).await
}

async fn settle_within(client: &Client, timeout: Duration) -> Option<StreamPlacement> {
    wait_for_leader(client, STREAM, timeout, |p| {
        p.replicas.len() == 2 && p.replicas.iter().all(|(_, current)| *current)
    })
    .await
}

/// The nemesis: one fault after another until `until` and at least `workload.min_faults`
/// of them, each healed before the next.
async fn nemesis(
    cluster: &mut JetStreamCluster,
    client: &Client,
    workload: &Workload,
    start: Instant,
    until: Instant,
) -> Vec<Fault> {
    let mut faults = Vec::new();
    let wait = |d: Duration| client.sleep_until(Instant::now() + d);
    let mut round = 0usize;
    loop {
        wait(workload.fault_interval).await;
        let more_needed = round < workload.min_faults;
        if !more_needed && Instant::now() + workload.downtime >= until {
            break;
        }
        let left = until.saturating_duration_since(Instant::now());
        let settle = if more_needed { ELECTION_DEADLINE } else { left.min(ELECTION_DEADLINE) };
        let Some(placement) = settle_within(client, settle).await else {
            if more_needed && Instant::now() >= until {
                // Not settled within an election deadline: the run's report says too few
                // faults, and the log why.
                eprintln!("nemesis: the stream did not settle within {settle:?}; stopping");
                break;
            }
            eprintln!("nemesis: the stream did not settle; no fault this round");
            continue;
        };
        let leader = cluster.node_by_name(&placement.leader).expect("leader names are node names");
        let other = (leader + 1 + round % 2) % cluster.nodes.len();
        let third = 3 - leader - other;
        let mut record = |what: String, leader: bool| {
            eprintln!("nemesis: {what} at {:?}", since(start));
            faults.push(Fault { at: since(start), what, leader });
        };
        match round % 5 {
            0 => {
                record(format!("kill -9 leader node-{leader}"), true);
                cluster.kill(leader);
                wait(workload.downtime).await;
                cluster.restart(leader);
            }
            1 => {
                record(format!("pause leader node-{leader}"), true);
                cluster.pause(leader);
                wait(workload.downtime).await;
                cluster.resume(leader);
            }
            2 => {
                record(format!("kill -9 node-{other} (not the leader)"), false);
                cluster.kill(other);
                wait(workload.downtime).await;
                cluster.restart(other);
            }
            3 => {
                record(format!("kill -9 leader node-{leader}, then node-{third}"), true);
                cluster.kill(leader);
                wait(workload.downtime / 2).await;
                record(format!("kill -9 node-{third} (no quorum)"), false);
                cluster.kill(third);
                wait(workload.downtime).await;
                cluster.restart(leader);
                cluster.restart(third);
            }
            _ => {
                record(format!("lame duck leader node-{leader}, then restart"), true);
                cluster.lame_duck(leader);
                wait(workload.downtime).await;
                cluster.restart(leader);
            }
        }
        round += 1;
    }
    faults
}

/// Runs the workload under the nemesis on a fresh three-node cluster and returns what
/// every client saw and the final read of the stream.
///
/// # Panics
/// When the cluster cannot be set up, or a wait bounded by an election timeout passes.
pub async fn run<R: Runtime>(rt: &R, workload: &Workload) -> History {
    let mut cluster = JetStreamCluster::start(3);
    let urls = cluster.urls();
    let (admin, js) = context(rt, &urls).await;
    let mut config = StreamConfig::new(STREAM).subjects([SUBJECT]).duplicate_window(Duration::from_secs(300));
    config.num_replicas = 3;
    let deadline = Instant::now() + ELECTION_DEADLINE;
    let stream = loop {
        match js.create_stream(config.clone()).await {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                eprintln!("create stream: {e}; again");
                admin.sleep_until(Instant::now() + Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create stream: {e}"),
        }
    };
    let mut durable = ConsumerConfig::durable("worker");
    durable.ack_wait = Duration::from_secs(3);
    stream.create_consumer(durable).await.expect("create the durable consumer");
    settled(&admin).await.expect("the stream settles");

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let mut clients = vec![admin.clone()];
    let mut publishers = Vec::new();
    for p in 0..workload.sync_publishers + workload.async_publishers {
        let (client, js) = context(rt, &urls).await;
        clients.push(client);
        let stop = Arc::clone(&stop);
        publishers.push(if p < workload.sync_publishers {
            spawn(rt, sync_publisher(js, format!("sync{p}"), workload.publish_retry, start, stop))
        } else {
            spawn(rt, async_publisher(js, format!("async{p}"), workload.window, start, stop))
        });
    }
    let consumers_stop = Arc::new(AtomicBool::new(false));
    for ordered in [false, true] {
        let (client, js) = context(rt, &urls).await;
        clients.push(client.clone());
        let stream = js.get_stream(STREAM).await.expect("the stream");
        let recorded = Arc::clone(&recorded);
        if ordered {
            drop(spawn(rt, ordered_consumer(stream, recorded, start)));
        } else {
            drop(spawn(rt, durable_consumer(client, stream, recorded, Arc::clone(&consumers_stop))));
        }
    }

    let until = start + workload.duration;
    let faults = nemesis(&mut cluster, &admin, workload, start, until).await;
    let left = until.saturating_duration_since(Instant::now());
    admin.sleep_until(Instant::now() + left).await;
    stop.store(true, Ordering::Relaxed);
    cluster.heal();
    let mut attempts = Vec::new();
    for rx in publishers {
        let done = with_timeout(rt, PUBLISH_DEADLINE * 2, rx.recv()).await;
        attempts.extend(done.expect("a publisher finishes").expect("a publisher reports"));
    }

    // The final read, from the leader once every replica is current.
    // A restarted replica may need long to catch up after a long run; the leader's copy is
    // the one read either way.
    let placement = match settle_within(&admin, workload.final_settle).await {
        Some(placement) => placement,
        None => {
            eprintln!(
                "the replicas are not all current after {:?}; reading from the leader",
                workload.final_settle
            );
            wait_for_leader(&admin, STREAM, ELECTION_DEADLINE, |_| true)
                .await
                .expect("a leader after the run")
        }
    };
    let last = placement.last_seq;
    let read = stream.clone();
    let stored: Vec<(u64, String)> = futures_util::stream::iter(1..=last)
        .map(|seq| {
            let read = read.clone();
            let client = admin.clone();
            async move {
                // Each get is retried on 503s and timeouts within an election's bound (the
                // context's API retry); what is left is retried until the same bound.
                let deadline = Instant::now() + ELECTION_DEADLINE;
                loop {
                    match read.get_raw_message(seq).await {
                        Ok(m) => return Some((seq, String::from_utf8_lossy(&m.payload).into_owned())),
                        Err(nats_jetstream::StreamError::MessageNotFound(_)) => return None,
                        Err(e) if Instant::now() >= deadline => panic!("cannot read message {seq}: {e}"),
                        Err(_) => client.sleep_until(Instant::now() + Duration::from_millis(200)).await,
                    }
                }
            }
        })
        .buffer_unordered(32)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let stream_map: std::collections::BTreeMap<u64, String> = stored.into_iter().collect();

    // Let the consumers catch up (bounded): every stored sequence seen by each.
    let caught_up = || {
        let r = recorded.lock().unwrap();
        let durable: std::collections::HashSet<u64> = r.consumer.iter().map(|d| d.stream_seq).collect();
        let ordered_last = r.ordered.last().map_or(0, |d| d.stream_seq);
        stream_map.keys().all(|s| durable.contains(s)) && ordered_last >= last || !r.ordered_errors.is_empty()
    };
    let deadline = Instant::now() + ELECTION_DEADLINE;
    while !caught_up() && Instant::now() < deadline {
        admin.sleep_until(Instant::now() + Duration::from_millis(100)).await;
    }
    consumers_stop.store(true, Ordering::Relaxed);
    let (consumer, ordered) = {
        let r = recorded.lock().unwrap();
        eprintln!(
            "durable consumer pulls restarted {} times; ordered consumer: {} resets, last delivery at {:?}, errors {:?}",
            r.consumer_restarts, r.ordered_resets, r.ordered_last_at, r.ordered_errors
        );
        (r.consumer.clone(), r.ordered.clone())
    };
    for client in clients {
        client.close().await;
    }
    History { attempts, consumer, ordered, stream: stream_map, faults }
}
