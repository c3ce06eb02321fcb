//! JetStream under faults: a producer publishing with message ids and the client's retry,
//! an ordered consumer, a durable pull consumer acknowledging what it fetches, and a
//! key-value writer and watcher, on five clients.
//!
//! Invariants:
//! - every acknowledged publish can be read back at its sequence, with its payload;
//! - the stream holds each message id at most once (the retries of a publish carry its
//!   id, and the de-duplication window covers the run);
//! - a publish that failed with an error saying it was not stored
//!   (`!PublishError::may_be_stored`) is not in the stream;
//! - the ordered consumer delivers every stored message once, in stream order, with no
//!   gap, whatever it had to recreate;
//! - the pull consumer gets every stored message at least once;
//! - the key-value watch delivers each update of its key once, in order (revisions only
//!   grow), and ends up at the value a read returns after the faults;
//! - once the faults are healed, every client reconnects and drains.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_client::{Client, ConnectOptions, Runtime};
use nats_jetstream::proto::{ConsumerConfig, PublishRetry, PullOptions, StreamConfig};
use nats_jetstream::{OrderedConfig, Publish};
use nats_stores::KeyValueExt;

use super::core::Faults;
use super::{pause, reconnected, Violations};

/// Clients: a producer, an ordered consumer, a pull consumer, a key-value writer and a
/// key-value watcher.
pub const CLIENTS: usize = 5;
/// Key-value updates.
const UPDATES: u64 = 20;

/// How much the workload does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Messages published.
    pub messages: u64,
    /// Pause between publishes.
    pub gap: Duration,
    /// How long one publish may retry.
    pub publish_deadline: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Self { messages: 60, gap: Duration::from_millis(100), publish_deadline: Duration::from_secs(5) }
    }
}

/// What the clients saw: equal for the simulation and a real server without faults.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Each publish's outcome, in order: its sequence, or the error.
    pub publishes: Vec<String>,
    /// The stream's message ids, in sequence order.
    pub stored: Vec<String>,
    /// What the ordered consumer delivered: stream sequences.
    pub ordered: Vec<u64>,
    /// Stream sequences the pull consumer received (and acknowledged), each once.
    pub pulled: BTreeSet<u64>,
    /// The key-value updates the watch delivered: revision and value.
    pub watched: Vec<(u64, String)>,
    /// Whether every client drained.
    pub drained: bool,
}

/// Counts for the run's summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Publishes acknowledged.
    pub acked: u64,
    /// Publishes whose outcome is unknown (they may be stored).
    pub unknown: u64,
    /// Publishes that failed with a definite error.
    pub failed: u64,
    /// Pull deliveries, redeliveries included.
    pub pulled: u64,
    /// Key-value puts acknowledged.
    pub puts: u64,
}

#[derive(Default)]
struct Log {
    publishes: Vec<String>,
    acked: BTreeMap<u64, String>,
    failed: BTreeMap<String, String>,
    ordered: Vec<u64>,
    pulled: BTreeSet<u64>,
    watched: Vec<(u64, String)>,
    counts: Counts,
    violations: Violations,
}

type Shared = Arc<Mutex<Log>>;

fn lock(log: &Shared) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn flag() -> Arc<Mutex<bool>> {
    Arc::new(Mutex::new(false))
}

fn is_set(flag: &Mutex<bool>) -> bool {
    *flag.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn set(flag: &Mutex<bool>) {
    *flag.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
}

/// Runs the workload on `runtimes` (one per client) against `urls`.
pub async fn workload<R: Runtime>(
    runtimes: Vec<R>,
    urls: String,
    options: impl Fn(usize) -> ConnectOptions,
    faults: Faults,
    plan: Plan,
) -> (Report, Counts, Violations) {
    let log: Shared = Arc::default();
    let rt = runtimes[0].clone();
    let mut clients: Vec<Client> = Vec::new();
    for (i, runtime) in runtimes.iter().enumerate() {
        match nats_client::connect_with_runtime(runtime.clone(), &urls, options(i).name(format!("js-{i}")))
            .await
        {
            Ok(client) => clients.push(client),
            Err(err) => return fail(format!("client {i} could not connect: {err}")),
        }
    }
    let js: Vec<_> = clients.iter().map(|c| nats_jetstream::new(c.clone())).collect();
    let stream = match js[0].create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"])).await {
        Ok(stream) => stream,
        Err(err) => return fail(format!("the stream could not be created: {err}")),
    };
    let mut worker = ConsumerConfig::durable("worker");
    worker.ack_wait = Duration::from_secs(2);
    let consumer = match js[2].get_stream("ORDERS").await {
        Ok(s) => match s.create_consumer(worker).await {
            Ok(consumer) => consumer,
            Err(err) => return fail(format!("the consumer could not be created: {err}")),
        },
        Err(err) => return fail(format!("the stream could not be looked up: {err}")),
    };
    let ordered_stream = match js[1].get_stream("ORDERS").await {
        Ok(s) => s,
        Err(err) => return fail(format!("the stream could not be looked up: {err}")),
    };
    let kv_config = nats_stores::kv::proto::Config::new("cfg");
    let kv = match js[3].create_key_value(kv_config).await {
        Ok(kv) => kv,
        Err(err) => return fail(format!("the bucket could not be created: {err}")),
    };
    let watch = match js[4].get_key_value("cfg").await {
        Ok(watcher) => watcher.watch("k").await,
        Err(err) => return fail(format!("the bucket could not be opened: {err}")),
    };
    let mut watch = match watch {
        Ok(watch) => watch,
        Err(err) => return fail(format!("the watch could not start: {err}")),
    };
    (faults.start)();

    // The key-value writer and watcher.
    let written = flag();
    {
        let (kv, log, rt, written, gap) =
            (kv.clone(), Arc::clone(&log), runtimes[3].clone(), Arc::clone(&written), plan.gap);
        runtimes[3].spawn(async move {
            for n in 0..UPDATES {
                if kv.put("k", Bytes::from(format!("v{n}"))).await.is_ok() {
                    lock(&log).counts.puts += 1;
                }
                pause(&rt, gap * 3).await;
            }
            set(&written);
        });
    }
    let watch_done = flag();
    {
        let (log, done) = (Arc::clone(&log), Arc::clone(&watch_done));
        runtimes[4].spawn(async move {
            while let Some(item) = watch.next().await {
                let Ok(entry) = item else { continue };
                let mut log = lock(&log);
                if let Some(&(last, _)) = log.watched.last() {
                    if entry.revision <= last {
                        log.violations
                            .push(format!("the watch delivered revision {} after {last}", entry.revision));
                    }
                }
                log.watched.push((entry.revision, String::from_utf8_lossy(&entry.value).into_owned()));
            }
            set(&done);
        });
    }

    // The producer.
    let produced = flag();
    {
        let (js, log, plan, rt, produced) =
            (js[0].clone(), Arc::clone(&log), plan.clone(), rt.clone(), Arc::clone(&produced));
        runtimes[0].spawn(async move {
            for i in 0..plan.messages {
                let id = format!("m{i}");
                let publish = Publish::new().payload(Bytes::from(id.clone())).message_id(id.clone());
                let subject = format!("orders.{}", i % 3);
                let result = js
                    .send_publish_with_retry(subject, publish, PublishRetry::default(), plan.publish_deadline)
                    .await;
                {
                    let mut log = lock(&log);
                    let outcome = match result {
                        Ok(ack) => {
                            log.counts.acked += 1;
                            if let Some(other) = log.acked.insert(ack.sequence, id.clone()) {
                                if other != id {
                                    log.violations.push(format!(
                                        "{id} and {other} were both acknowledged at {}",
                                        ack.sequence
                                    ));
                                }
                            }
                            format!("{id}: {}", ack.sequence)
                        }
                        Err(err) if err.may_be_stored() => {
                            log.counts.unknown += 1;
                            format!("{id}: unknown")
                        }
                        Err(err) => {
                            log.counts.failed += 1;
                            let outcome = format!("{id}: {err:?}");
                            log.failed.insert(id.clone(), outcome.clone());
                            outcome
                        }
                    };
                    log.publishes.push(outcome);
                }
                pause(&rt, plan.gap).await;
            }
            set(&produced);
        });
    }

    // The ordered consumer: every message once, in order, no gap.
    let ordered_done = flag();
    {
        let (log, done) = (Arc::clone(&log), Arc::clone(&ordered_done));
        let mut ordered = ordered_stream.ordered_consumer(OrderedConfig::default()).messages();
        runtimes[1].spawn(async move {
            while let Some(item) = ordered.next().await {
                let Ok(message) = item else { continue };
                let Ok(info) = message.info() else { continue };
                let mut log = lock(&log);
                let expected = log.ordered.last().map_or(1, |last| last + 1);
                if info.stream_sequence != expected {
                    log.violations.push(format!(
                        "the ordered consumer delivered {} where {expected} was next",
                        info.stream_sequence
                    ));
                }
                log.ordered.push(info.stream_sequence);
            }
            set(&done);
        });
    }

    // The pull consumer: fetch, acknowledge, again.
    let pulling = flag();
    let pull_done = flag();
    {
        let (log, rt, stop, done) =
            (Arc::clone(&log), runtimes[2].clone(), Arc::clone(&pulling), Arc::clone(&pull_done));
        runtimes[2].spawn(async move {
            let options =
                PullOptions { batch: 10, expires: Duration::from_millis(500), ..PullOptions::default() };
            while !is_set(&stop) {
                let mut batch = match consumer.fetch(options.clone()).await {
                    Ok(batch) => batch,
                    Err(_) => {
                        pause(&rt, Duration::from_millis(50)).await;
                        continue;
                    }
                };
                while let Some(item) = batch.next().await {
                    let Ok(message) = item else { break };
                    let Ok(info) = message.info() else { continue };
                    {
                        let mut log = lock(&log);
                        log.counts.pulled += 1;
                        log.pulled.insert(info.stream_sequence);
                    }
                    // A lost confirmation is no loss: the server redelivers what it did
                    // not get an ack for, and an ack it got while its answer was lost
                    // leaves nothing to redeliver.
                    let _ = message.double_ack().await;
                }
            }
            set(&done);
        });
    }

    while !(is_set(&produced) && is_set(&written)) {
        pause(&rt, Duration::from_millis(20)).await;
    }
    faults.healed.await;
    for late in reconnected(&rt, &clients, Duration::from_secs(30)).await {
        lock(&log).violations.push(late);
    }

    // What the stream holds.
    let mut stored = Vec::new();
    let mut last = 0;
    for attempt in 0.. {
        match js[0].stream_info("ORDERS").await {
            Ok(info) => {
                last = info.state.last_seq;
                break;
            }
            Err(err) if attempt >= 20 => {
                lock(&log).violations.push(format!("stream info after the faults: {err}"));
                break;
            }
            Err(_) => pause(&rt, Duration::from_millis(250)).await,
        }
    }
    for seq in 1..=last {
        match stream.get_raw_message(seq).await {
            Ok(message) => stored.push(String::from_utf8_lossy(&message.payload).into_owned()),
            Err(err) => {
                lock(&log).violations.push(format!("message {seq} could not be read back: {err}"));
                stored.push(String::new());
            }
        }
    }
    {
        let mut log = lock(&log);
        let mut seen = BTreeSet::new();
        for (i, id) in stored.iter().enumerate() {
            if !seen.insert(id) {
                log.violations.push(format!("{id} is stored twice (again at {})", i + 1));
            }
            if let Some(error) = log.failed.get(id).cloned() {
                log.violations.push(format!(
                    "{error} (an error saying it was not stored) but it is stored at {}",
                    i + 1
                ));
            }
        }
        let mut missing = Vec::new();
        for (&seq, id) in &log.acked {
            if stored.get(usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(1)) != Some(id) {
                missing.push(format!("{id} acknowledged at {seq}"));
            }
        }
        for what in missing {
            log.violations.push(format!("{what} is not there"));
        }
    }

    // The consumers catch up with everything stored.
    let caught_up_by = rt.now() + Duration::from_secs(30);
    loop {
        let (ordered, pulled) = {
            let log = lock(&log);
            (log.ordered.len() as u64, (1..=last).all(|seq| log.pulled.contains(&seq)))
        };
        if ordered >= last && pulled {
            break;
        }
        if rt.now() >= caught_up_by {
            let mut log = lock(&log);
            let unpulled: Vec<u64> = (1..=last).filter(|seq| !log.pulled.contains(seq)).collect();
            log.violations.push(format!(
                "30 s after the faults the ordered consumer had {ordered} of {last} and the pull consumer lacked {unpulled:?}"
            ));
            break;
        }
        pause(&rt, Duration::from_millis(50)).await;
    }
    // The watch ends up where a read after the faults is.
    let mut latest = None;
    for attempt in 0.. {
        match kv.entry("k").await {
            Ok(entry) => {
                latest = entry.map(|e| (e.revision, String::from_utf8_lossy(&e.value).into_owned()));
                break;
            }
            Err(err) if attempt >= 20 => {
                lock(&log).violations.push(format!("reading the key after the faults: {err}"));
                break;
            }
            Err(_) => pause(&rt, Duration::from_millis(250)).await,
        }
    }
    let watched_by = rt.now() + Duration::from_secs(30);
    loop {
        let last = lock(&log).watched.last().cloned();
        if last == latest {
            break;
        }
        if rt.now() >= watched_by {
            lock(&log)
                .violations
                .push(format!("30 s after the faults the watch is at {last:?}, the key at {latest:?}"));
            break;
        }
        pause(&rt, Duration::from_millis(50)).await;
    }
    set(&pulling);
    let mut drained = true;
    for (i, client) in clients.iter().enumerate() {
        if let Err(err) = client.drain().await {
            drained = false;
            lock(&log).violations.push(format!("client {i} did not drain: {err}"));
        }
    }
    let ended_by = rt.now() + Duration::from_secs(10);
    while !(is_set(&ordered_done) && is_set(&pull_done) && is_set(&watch_done)) {
        if rt.now() >= ended_by {
            lock(&log).violations.push("a consumer's task did not end after its client drained");
            break;
        }
        pause(&rt, Duration::from_millis(20)).await;
    }
    let mut log = lock(&log);
    let report = Report {
        publishes: log.publishes.clone(),
        stored,
        ordered: log.ordered.clone(),
        pulled: log.pulled.clone(),
        watched: log.watched.clone(),
        drained,
    };
    (report, log.counts.clone(), std::mem::take(&mut log.violations))
}

fn fail(what: String) -> (Report, Counts, Violations) {
    let mut violations = Violations::default();
    violations.push(what);
    (Report::default(), Counts::default(), violations)
}
