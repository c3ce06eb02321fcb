//! Core NATS under faults: publishers, plain, wildcard and queue-group subscribers, a
//! responder and a requester, on seven clients.
//!
//! Invariants, checked as messages arrive and at the end:
//! - no subscription gets a message twice or out of order (per publisher);
//! - no queue-group message reaches two members;
//! - a publish the publisher flushed on one unbroken connection reaches every matching
//!   subscription whose client kept one unbroken connection from before the publish to
//!   the end (for a queue group: exactly one member, when neither member ever lost a
//!   connection: a server that has not yet found a member's abandoned connection dead
//!   may route the group's message to it);
//! - every request ends once, with its own reply or a typed error, and never later than
//!   its timeout (on the virtual clock);
//! - once the faults are healed, every client is connected again within 30 s;
//! - then everything published is delivered, every request answered, a request to a
//!   subject nobody serves ends with no responders, an oversized publish is refused with
//!   the connection kept, and every client drains.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_client::{Client, ClientEvent, ConnectOptions, RequestError, Runtime};

use super::{epoch, pause, reconnected, Violations};

/// Clients: two publishers, three subscribers, a responder and a requester.
pub const CLIENTS: usize = 7;
const PUBLISHERS: [usize; 2] = [0, 1];
const SUB_A: usize = 2; // "sim.>"
const SUB_B: usize = 3; // "sim.*.x", and queue group "g" on "sim.q.*"
const SUB_C: usize = 4; // queue group "g" on "sim.q.*"
const RESPONDER: usize = 5;
const REQUESTER: usize = 6;

/// How much the workload does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Publishing rounds while faults may happen.
    pub rounds: u64,
    /// Messages per publisher per round, of each kind.
    pub per_round: u64,
    /// Requests per round.
    pub requests: u64,
    /// Pause between rounds.
    pub gap: Duration,
    /// The requests' timeout.
    pub request_timeout: Duration,
    /// Whether to check timing on the virtual clock (requests end by their deadline).
    pub exact_time: bool,
    /// Subscribers pause this long after every 50 messages (slow readers; their
    /// subscriptions may reach their pending limits).
    pub reader_pause: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            rounds: 10,
            per_round: 10,
            requests: 3,
            gap: Duration::from_millis(200),
            request_timeout: Duration::from_millis(250),
            exact_time: true,
            reader_pause: Duration::ZERO,
        }
    }
}

/// What the clients saw: equal for the simulation and a real server without faults.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// What `sim.>` received, in order, per publisher and kind (their interleaving is
    /// the servers' and the scheduler's).
    pub wildcard: BTreeMap<String, Vec<String>>,
    /// What `sim.*.x` received, in order, per publisher.
    pub single_token: BTreeMap<String, Vec<String>>,
    /// What the queue group received, sorted.
    pub queue_group: Vec<String>,
    /// The requests' outcomes, in order.
    pub requests: Vec<String>,
    /// A request to a subject nobody serves.
    pub unserved: String,
    /// An oversized publish, and a request after it.
    pub oversized: String,
    /// Whether every client drained.
    pub drained: bool,
}

/// Counts for the run's summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Messages delivered to subscriptions.
    pub delivered: u64,
    /// Messages that had to arrive (flushed, subscriber connected throughout) and did.
    pub required: u64,
    /// Requests answered.
    pub answered: u64,
    /// Requests that ended with an error (during faults).
    pub failed_requests: u64,
}

/// One publish, as its publisher saw it.
struct Sent {
    tag: String,
    queue: bool,
    /// Flushed on the connection it was published on.
    clean: bool,
    /// Epochs of the subscriber clients A, B, C when it was published.
    epochs: [u64; 3],
}

#[derive(Default)]
struct Log {
    received: BTreeMap<&'static str, Vec<String>>,
    last: BTreeMap<(&'static str, String), u64>,
    sent: Vec<Sent>,
    requests: Vec<String>,
    /// Clients whose subscriptions dropped messages at their pending limits.
    slow: [bool; CLIENTS],
    violations: Violations,
    counts: Counts,
}

type Shared = Arc<Mutex<Log>>;

fn lock(log: &Shared) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A payload: the tag, the publisher's epoch, and padding to a size that depends on the
/// sequence only.
fn payload(tag: &str, epoch: u64, seq: u64) -> Bytes {
    let pad = if seq % 7 == 3 { 4096 } else { (seq % 5) as usize * 10 };
    Bytes::from(format!("{tag}|{epoch}|{}", "x".repeat(pad)))
}

/// Splits a tag `<kind><publisher>:<seq>` into its stream and sequence.
fn stream_and_seq(tag: &str) -> (&str, u64) {
    let (stream, seq) = tag.split_once(':').unwrap_or((tag, "0"));
    (stream, seq.parse().unwrap_or(0))
}

/// Records a delivery to subscription `name`; checks duplicates, and the order of what
/// one publisher sent on one connection. (Across the publisher's reconnects, bytes it
/// wrote to a connection it then abandoned may still reach that server after newer
/// messages went through another: only flushed messages are ordered against later ones,
/// which [`check_required`] checks.)
fn record(log: &Shared, name: &'static str, payload: &[u8]) {
    let text = String::from_utf8_lossy(payload);
    let mut parts = text.split('|');
    let tag = parts.next().unwrap_or_default().to_owned();
    let epoch = parts.next().unwrap_or_default().to_owned();
    let mut log = lock(log);
    log.counts.delivered += 1;
    if log.received.get(name).is_some_and(|r| r.contains(&tag)) {
        log.violations.push(format!("{name} got {tag} twice"));
    }
    let (stream, seq) = stream_and_seq(&tag);
    let key = (name, format!("{stream}@{epoch}"));
    if let Some(&last) = log.last.get(&key) {
        if seq <= last {
            log.violations
                .push(format!("{name} got {tag} after {stream}:{last}, sent before it on one connection"));
        }
    }
    log.last.insert(key, seq);
    log.received.entry(name).or_default().push(tag);
}

/// The faults around a workload: started once its clients are set up, awaited before
/// its quiet phase.
pub struct Faults {
    /// Starts the faults.
    pub start: Box<dyn FnOnce() + Send>,
    /// Completes when every fault is healed and what they did to connections has been
    /// noticed.
    pub healed: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Faults {
    /// No faults (a run against a real server, or a fault-free simulation).
    pub fn none() -> Self {
        Self { start: Box::new(|| {}), healed: Box::pin(std::future::ready(())) }
    }
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
    let mut clients = Vec::new();
    for (i, runtime) in runtimes.iter().enumerate() {
        let options = options(i).request_timeout(plan.request_timeout).name(format!("client-{i}"));
        match nats_client::connect_with_runtime(runtime.clone(), &urls, options).await {
            Ok(client) => clients.push(client),
            Err(err) => {
                let mut violations = Violations::default();
                violations.push(format!("client {i} could not connect: {err}"));
                return (Report::default(), Counts::default(), violations);
            }
        }
    }
    let rt = runtimes[0].clone();

    // Subscribers and the responder, confirmed by a flush before anything is published.
    let subscriptions: [(usize, &'static str, &str, Option<&str>); 4] = [
        (SUB_A, "a", "sim.>", None),
        (SUB_B, "b.x", "sim.*.x", None),
        (SUB_B, "g.b", "sim.q.*", Some("g")),
        (SUB_C, "g.c", "sim.q.*", Some("g")),
    ];
    let mut readers = Vec::new();
    for (client, name, subject, queue) in subscriptions {
        let c = &clients[client];
        let sub = match queue {
            Some(queue) => c.queue_subscribe(subject, queue).await,
            None => c.subscribe(subject).await,
        };
        let Ok(mut sub) = sub else {
            lock(&log).violations.push(format!("subscribe {name} failed"));
            continue;
        };
        let (log, done) = (Arc::clone(&log), Arc::new(Mutex::new(false)));
        readers.push(Arc::clone(&done));
        let (rt, pause_for) = (runtimes[client].clone(), plan.reader_pause);
        runtimes[client].spawn(async move {
            let mut n = 0u64;
            while let Some(msg) = sub.next().await {
                record(&log, name, &msg.payload);
                n += 1;
                if n.is_multiple_of(50) && !pause_for.is_zero() {
                    pause(&rt, pause_for).await;
                }
            }
            *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        });
    }
    for client in [SUB_A, SUB_B, SUB_C] {
        let (mut events, log) = (clients[client].events(), Arc::clone(&log));
        runtimes[client].spawn(async move {
            while let Some(event) = events.next().await {
                if matches!(event, ClientEvent::SlowConsumer { .. }) {
                    lock(&log).slow[client] = true;
                }
            }
        });
    }
    if let Ok(mut service) = clients[RESPONDER].subscribe("svc.echo").await {
        let responder = clients[RESPONDER].clone();
        runtimes[RESPONDER].spawn(async move {
            while let Some(msg) = service.next().await {
                if let Some(reply) = msg.reply {
                    let _ = responder.publish(reply.as_str(), msg.payload).await;
                }
            }
        });
    }
    for client in &clients[SUB_A..=RESPONDER] {
        if let Err(err) = client.flush().await {
            lock(&log).violations.push(format!("first flush failed: {err}"));
        }
    }

    // Rounds, while faults may happen.
    (faults.start)();
    let subscribers = [clients[SUB_A].clone(), clients[SUB_B].clone(), clients[SUB_C].clone()];
    let mut publishers = Vec::new();
    for p in PUBLISHERS {
        let done = Arc::new(Mutex::new(false));
        publishers.push(Arc::clone(&done));
        let (client, subscribers, log, plan, rt) =
            (clients[p].clone(), subscribers.clone(), Arc::clone(&log), plan.clone(), runtimes[p].clone());
        runtimes[p].spawn(async move {
            let mut seq = 0;
            for _ in 0..plan.rounds {
                publish_round(&client, p, &mut seq, plan.per_round, &subscribers, &log).await;
                pause(&rt, plan.gap).await;
            }
            *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        });
    }
    for round in 0..plan.rounds {
        for n in 0..plan.requests {
            request(&rt, &clients[REQUESTER], &format!("r{round}.{n}"), &plan, &log, false).await;
        }
        pause(&rt, plan.gap).await;
    }
    while !publishers.iter().all(|done| *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner)) {
        pause(&rt, Duration::from_millis(10)).await;
    }

    // The quiet phase: faults healed, every client back, then everything must work.
    faults.healed.await;
    for late in reconnected(&rt, &clients, Duration::from_secs(30)).await {
        lock(&log).violations.push(late);
    }
    for client in &clients[SUB_A..=RESPONDER] {
        if let Err(err) = client.flush().await {
            lock(&log).violations.push(format!("flush after the faults failed: {err}"));
        }
    }
    let first_final = lock(&log).sent.len();
    for p in PUBLISHERS {
        let mut seq = 1_000_000;
        publish_round(&clients[p], p, &mut seq, plan.per_round, &subscribers, &log).await;
    }
    for n in 0..plan.requests {
        request(&rt, &clients[REQUESTER], &format!("q{n}"), &plan, &log, true).await;
    }
    let unserved = match clients[REQUESTER].request("svc.none", Bytes::from_static(b"?")).await {
        Err(err) => format!("{err:?}"),
        Ok(msg) => format!("reply {:?}", msg.payload),
    };
    let oversized = {
        let max = clients[REQUESTER].max_payload().unwrap_or(1024 * 1024);
        let big = Bytes::from(vec![b'x'; usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1)]);
        let refused = clients[REQUESTER].publish("svc.big", big).await;
        let after = clients[REQUESTER].request("svc.echo", Bytes::from_static(b"after")).await;
        format!("{:?} then {:?}", refused.map_err(|e| format!("{e:?}")), after.map(|m| m.payload))
    };

    // Everything published in the quiet phase arrives.
    let final_tags: Vec<(String, bool)> =
        lock(&log).sent[first_final..].iter().map(|s| (s.tag.clone(), s.queue)).collect();
    let all_by = rt.now() + Duration::from_secs(10);
    loop {
        let missing = missing(&lock(&log), &final_tags);
        if missing.is_empty() {
            break;
        }
        if rt.now() >= all_by {
            lock(&log).violations.push(format!("not delivered 10 s after the faults: {missing:?}"));
            break;
        }
        pause(&rt, Duration::from_millis(10)).await;
    }

    // Flushed publishes reached subscribers whose connection held throughout.
    let final_epochs = [epoch(&subscribers[0]), epoch(&subscribers[1]), epoch(&subscribers[2])];
    check_required(&mut lock(&log), final_epochs);

    let mut drained = true;
    for (i, client) in clients.iter().enumerate() {
        if let Err(err) = client.drain().await {
            drained = false;
            lock(&log).violations.push(format!("client {i} did not drain: {err}"));
        }
    }
    let readers_by = rt.now() + Duration::from_secs(10);
    while !readers.iter().all(|done| *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner)) {
        if rt.now() >= readers_by {
            lock(&log).violations.push("a subscription did not end after its client drained");
            break;
        }
        pause(&rt, Duration::from_millis(10)).await;
    }

    let mut log = lock(&log);
    let received = |name| log.received.get(name).cloned().unwrap_or_default();
    let by_stream = |tags: Vec<String>| {
        let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for tag in tags {
            streams.entry(stream_and_seq(&tag).0.to_owned()).or_default().push(tag);
        }
        streams
    };
    let mut queue_group = received("g.b");
    queue_group.extend(received("g.c"));
    queue_group.sort();
    let report = Report {
        wildcard: by_stream(received("a")),
        single_token: by_stream(received("b.x")),
        queue_group,
        requests: log.requests.clone(),
        unserved,
        oversized,
        drained,
    };
    (report, log.counts.clone(), std::mem::take(&mut log.violations))
}

/// Publishes `per_round` messages of each kind, flushes, and records them.
async fn publish_round(
    client: &Client,
    p: usize,
    seq: &mut u64,
    per_round: u64,
    subs: &[Client; 3],
    log: &Shared,
) {
    let before = epoch(client);
    let mut batch = Vec::new();
    for _ in 0..per_round {
        for queue in [false, true] {
            *seq += 1;
            let (tag, subject) = if queue {
                (format!("q{p}:{seq}"), format!("sim.q.{p}"))
            } else {
                (format!("x{p}:{seq}"), format!("sim.{p}.x"))
            };
            let epochs = [epoch(&subs[0]), epoch(&subs[1]), epoch(&subs[2])];
            let published = client.publish(subject, payload(&tag, before, *seq)).await.is_ok();
            batch.push((Sent { tag, queue, clean: published, epochs }, epoch(client) == before));
        }
    }
    let flushed = client.flush().await.is_ok() && epoch(client) == before;
    let mut log = lock(log);
    for (mut sent, same) in batch {
        sent.clean &= flushed && same;
        log.sent.push(sent);
    }
}

/// Makes one request and checks how it ended.
async fn request<R: Runtime>(
    rt: &R,
    client: &Client,
    tag: &str,
    plan: &Plan,
    log: &Shared,
    must_answer: bool,
) {
    let start = rt.now();
    let result = client.request("svc.echo", Bytes::from(tag.to_owned())).await;
    let took = rt.now().saturating_duration_since(start);
    let mut log = lock(log);
    if plan.exact_time && took > plan.request_timeout + Duration::from_millis(1) {
        log.violations
            .push(format!("request {tag} ended after {took:?}, past its {:?} timeout", plan.request_timeout));
    }
    let outcome = match &result {
        Ok(msg) if msg.payload == tag.as_bytes() => {
            log.counts.answered += 1;
            "ok".to_owned()
        }
        Ok(msg) => {
            log.violations.push(format!("request {tag} got another request's reply {:?}", msg.payload));
            "wrong reply".to_owned()
        }
        Err(RequestError::Timeout | RequestError::NoResponders | RequestError::Publish(_))
            if !must_answer =>
        {
            log.counts.failed_requests += 1;
            "error".to_owned()
        }
        Err(err) => {
            log.violations.push(format!("request {tag} failed: {err:?}"));
            format!("{err:?}")
        }
    };
    log.requests.push(format!("{tag}: {outcome}"));
}

/// Which of `tags` have not reached all their subscriptions yet.
fn missing(log: &Log, tags: &[(String, bool)]) -> Vec<String> {
    // A subscription that dropped messages at its pending limits is excused.
    let client = |name: &str| match name {
        "a" => SUB_A,
        "b.x" | "g.b" => SUB_B,
        _ => SUB_C,
    };
    let has = |name: &str, tag: &String| {
        log.slow[client(name)] || log.received.get(name).is_some_and(|r| r.contains(tag))
    };
    tags.iter()
        .filter(|(tag, queue)| {
            let group = has("g.b", tag) || has("g.c", tag);
            !has("a", tag) || if *queue { !group } else { !has("b.x", tag) }
        })
        .map(|(tag, _)| tag.clone())
        .collect()
}

/// Checks every clean publish against the subscribers whose connection held since.
fn check_required(log: &mut Log, final_epochs: [u64; 3]) {
    let count = |log: &Log, name: &str, tag: &String| {
        log.received.get(name).map_or(0, |r| r.iter().filter(|t| *t == tag).count())
    };
    let mut violations = Vec::new();
    let mut required = 0;
    for sent in &log.sent {
        let held = |i: usize| sent.epochs[i] == final_epochs[i] && !log.slow[[SUB_A, SUB_B, SUB_C][i]];
        let group = count(log, "g.b", &sent.tag) + count(log, "g.c", &sent.tag);
        if sent.queue && group > 1 {
            violations.push(format!("{} reached both queue-group members", sent.tag));
        }
        if !sent.clean {
            continue;
        }
        let mut need = vec![(held(0), count(log, "a", &sent.tag), "sim.>")];
        let detail = format!("epochs at publish {:?}, at the end {final_epochs:?}", sent.epochs);
        if sent.queue {
            // A member that ever lost a connection may have left the server a copy of its
            // queue subscription on a connection the server has not found dead yet (a
            // partition keeps the client's close from reaching it): the server may pick
            // that copy, and the message is lost, as on a real server. Only a group whose
            // members never reconnected must get every message.
            let never_lost = |i: usize| held(i) && sent.epochs[i] == 0;
            need.push((never_lost(1) && never_lost(2), group, "the queue group"));
        } else {
            need.push((held(1), count(log, "b.x", &sent.tag), "sim.*.x"));
        }
        for (held, got, name) in need {
            if held {
                required += 1;
                if got == 0 {
                    violations.push(format!("{} was flushed but never reached {name} ({detail})", sent.tag));
                }
            }
        }
    }
    // A flushed message arrives before anything its publisher sent after it.
    let clean: std::collections::BTreeSet<&String> =
        log.sent.iter().filter(|s| s.clean).map(|s| &s.tag).collect();
    for (name, received) in &log.received {
        let mut highest: BTreeMap<&str, u64> = BTreeMap::new();
        for tag in received {
            let (stream, seq) = stream_and_seq(tag);
            let top = highest.entry(stream).or_default();
            if clean.contains(tag) && *top > seq {
                violations.push(format!("{name} got the flushed {tag} after {stream}:{top}, sent later"));
            }
            *top = (*top).max(seq);
        }
    }
    log.counts.required += required;
    log.violations.0.extend(violations);
}
