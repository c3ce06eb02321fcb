//! A model of JetStream, enough for the client's logic: streams with limits and a
//! de-duplication window, publish acknowledgements and expectation headers, message get
//! and direct get, pull (and plain push) consumers with acknowledgements, redeliveries,
//! idle heartbeats and the pull statuses, and leader elections during which the API and
//! the streams answer `503`.
//!
//! The wire follows nats-server 2.15: the API's JSON (`type`, `error` with `code`,
//! `err_code` and `description` from the server's `errors.json`), the publish ack
//! `{"stream":"S","seq":N}`, the ack subject
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`,
//! and the statuses a pull request's inbox receives: `404 No Messages`,
//! `408 Request Timeout` (with `Nats-Pending-Messages` / `Nats-Pending-Bytes`),
//! `409 Consumer Deleted`, `409 Message Size Exceeds MaxBytes`, `100 Idle Heartbeat`
//! (with `Nats-Last-Consumer` / `Nats-Last-Stream`).
//!
//! Two paths, as in the server: `JetStream::handle` answers what comes in (API
//! requests, publishes, acks) at once; a ticker task ([`spawn_ticker`]) does what a
//! consumer's own loop does in the server: deliveries to waiting pull requests and push
//! subjects, redeliveries after `ack_wait`, request expiry and heartbeats, and the
//! removal of expired messages and de-duplication ids. It routes each delivery to the
//! pull request's inbox with the stored message's subject on the `MSG` line, as the
//! server does.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{subject, Cluster, ClusterState, Publish};
use crate::executor::{lock, Sim, Sleep};
use crate::net::Net;

/// Unix time at virtual time zero (2026-01-01T00:00:00Z), as the hosts' clocks have it.
const EPOCH_OFFSET: Duration = Duration::from_secs(1_767_225_600);
const API_PREFIX: &str = "$JS.API.";
const ACK_PREFIX: &str = "$JS.ACK.";
const RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.";
/// The server's defaults (`jetstream_api.go`, `stream.go`, `consumer.go`).
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_WAITING: i64 = 512;
const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
const DEFAULT_INACTIVE_THRESHOLD: Duration = Duration::from_secs(5);
/// Page sizes of the listings.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;
/// The server named as leader of every stream and consumer.
const LEADER: &str = "s0";
/// Go's zero `time.Time`, as the server writes it for a missing timestamp.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A message the model sends (a publish acknowledgement, an API answer, a delivery).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The subject it is routed on.
    pub(crate) subject: String,
    pub(crate) reply: Option<String>,
    pub(crate) headers: Option<Vec<u8>>,
    pub(crate) payload: Vec<u8>,
    /// The subject the `MSG` line shows when it is not the one routed on: a consumer's
    /// delivery is routed to the pull request's inbox (or the push deliver subject) but
    /// carries the stored message's subject, as nats-server's `pa.deliver`.
    pub(crate) shown_as: Option<String>,
}

impl Answer {
    fn new(subject: &str, headers: Option<Vec<u8>>, payload: Vec<u8>) -> Self {
        Self { subject: subject.to_owned(), reply: None, headers, payload, shown_as: None }
    }

    /// A headers-only status message (`NATS/1.0 <code> <text>` and extra headers).
    fn status(to: &str, status: &str, extra: &[(&str, String)]) -> Self {
        let mut block = format!("NATS/1.0 {status}\r\n");
        for (name, value) in extra {
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str("\r\n");
        Self::new(to, Some(block.into_bytes()), Vec::new())
    }

    fn json(to: &str, body: &Value) -> Self {
        Self::new(to, None, body.to_string().into_bytes())
    }
}

/// What the model did with a message.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    /// Whether JetStream took the message (an API request or a stream's subject).
    pub(crate) handled: bool,
    /// What it sends back.
    pub(crate) replies: Vec<Answer>,
}

impl Answers {
    fn handled(replies: Vec<Answer>) -> Self {
        Self { handled: true, replies }
    }
}

/// How the API answers during a leader election ([`JetStream::elect_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElectionAnswer {
    /// A `NATS/1.0 503` status: nobody serves the subject (a stream without a leader has
    /// no subscription on its subjects).
    NoResponders,
    /// The API's error JSON `503` / `10008` "JetStream system temporarily unavailable",
    /// what the meta leader's followers answer while it is elected. Publishes to a stream
    /// still get the `503` status.
    Unavailable,
}

/// The JetStream state of a cluster; kept across server restarts (file storage).
#[derive(Debug, Default)]
pub struct JetStream {
    streams: BTreeMap<String, Stream>,
    /// Until when, in virtual time, a leader is being elected, and how the API answers.
    election: Option<(Duration, ElectionAnswer)>,
    api_total: u64,
    api_errors: u64,
    ticker: TickerState,
    /// Something changed that the ticker must look at: a stored message, a pull request,
    /// an acknowledgement.
    dirty: bool,
}

#[derive(Debug, Default)]
struct TickerState {
    running: bool,
    waker: Option<Waker>,
    /// When the ticker wakes next, if it has a deadline.
    at: Option<Duration>,
}

/// An API error: the HTTP-like code, the JetStream code and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ApiError {
    code: u16,
    err_code: u32,
    description: String,
}

impl ApiError {
    fn new(code: u16, err_code: u32, description: impl Into<String>) -> Self {
        Self { code, err_code, description: description.into() }
    }

    fn to_json(&self) -> Value {
        json!({"code": self.code, "err_code": self.err_code, "description": self.description})
    }

    fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }

    fn consumer_not_found() -> Self {
        Self::new(404, 10014, "consumer not found")
    }

    fn no_message() -> Self {
        Self::new(404, 10037, "no message found")
    }

    fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }

    fn invalid_json(error: &serde_json::Error) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {error}"))
    }

    fn invalid_stream_config(text: &str) -> Self {
        Self::new(500, 10052, text)
    }

    fn unavailable() -> Self {
        Self::new(503, 10008, "JetStream system temporarily unavailable")
    }
}

/// One stream.
#[derive(Debug)]
struct Stream {
    name: String,
    /// The configuration as given, with the server's defaults filled in.
    config: Map<String, Value>,
    limits: Limits,
    created: Duration,
    messages: BTreeMap<u64, Stored>,
    first_seq: u64,
    last_seq: u64,
    last_time: Duration,
    bytes: u64,
    /// The `Nats-Msg-Id` of the last message stored.
    last_msg_id: Option<String>,
    /// `Nats-Msg-Id`s within the duplicate window: their sequence and when stored.
    ids: BTreeMap<String, (u64, Duration)>,
    consumers: BTreeMap<String, Consumer>,
}

/// What a stream's configuration means to the model.
#[derive(Debug, Clone, Default)]
struct Limits {
    subjects: Vec<String>,
    max_msgs: i64,
    max_bytes: i64,
    max_age: Duration,
    max_msgs_per_subject: i64,
    max_msg_size: i64,
    max_consumers: i64,
    discard_new: bool,
    discard_new_per_subject: bool,
    duplicate_window: Duration,
    allow_direct: bool,
    allow_msg_ttl: bool,
    sealed: bool,
    no_ack: bool,
    deny_delete: bool,
    deny_purge: bool,
    memory: bool,
}

/// A stored message.
#[derive(Debug, Clone)]
struct Stored {
    subject: String,
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
    time: Duration,
    /// When its `Nats-TTL` removes it.
    expires: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckPolicy {
    None,
    All,
    Explicit,
}

/// One consumer.
#[derive(Debug)]
struct Consumer {
    name: String,
    stream: String,
    config: Map<String, Value>,
    created: Duration,
    filters: Vec<String>,
    ack: AckPolicy,
    ack_wait: Duration,
    backoff: Vec<Duration>,
    max_deliver: i64,
    max_ack_pending: i64,
    max_waiting: i64,
    max_batch: i64,
    max_expires: Duration,
    max_request_bytes: i64,
    inactive_threshold: Duration,
    /// A push consumer's deliver subject.
    deliver_subject: Option<String>,
    /// A push consumer's idle heartbeat.
    idle_heartbeat: Duration,
    /// The next stream sequence to consider.
    next_seq: u64,
    /// Deliver policy `last_per_subject`: the sequences still to deliver before `next_seq`.
    skip: VecDeque<u64>,
    /// The last consumer sequence delivered.
    dseq: u64,
    /// The highest stream sequence delivered.
    delivered_sseq: u64,
    /// Delivered, not acknowledged, by stream sequence.
    pending: BTreeMap<u64, Pending>,
    /// Stream sequences to deliver again, in order.
    redeliver: VecDeque<u64>,
    waiting: VecDeque<Waiting>,
    /// The last activity (a pull request, an ack, push interest) for `inactive_threshold`.
    last_active: Duration,
    /// A push consumer's next idle heartbeat.
    push_heartbeat_at: Duration,
}

#[derive(Debug, Clone)]
struct Pending {
    dseq: u64,
    deliveries: u64,
    /// When it is redelivered without an ack.
    deadline: Duration,
    /// In the redelivery queue already.
    queued: bool,
}

/// A waiting pull request.
#[derive(Debug, Clone)]
struct Waiting {
    reply: String,
    /// Messages still wanted.
    left: u64,
    /// Bytes still wanted (`max_bytes`), 0 without a limit.
    bytes: u64,
    max_bytes: bool,
    delivered: u64,
    no_wait: bool,
    expires: Option<Duration>,
    heartbeat: Duration,
    heartbeat_at: Duration,
}

impl Waiting {
    fn pending_headers(&self) -> [(&'static str, String); 2] {
        [("Nats-Pending-Messages", self.left.to_string()), ("Nats-Pending-Bytes", self.bytes.to_string())]
    }
}

/// Where the next message of a consumer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Redelivery,
    Skip,
    New,
}

/// The next message of a consumer: its stream sequence, its delivery count with this
/// delivery, and where it comes from.
#[derive(Debug, Clone, Copy)]
struct Next {
    seq: u64,
    deliveries: u64,
    source: Source,
}

/// Why a consumer has nothing to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nothing {
    /// The end of the stream.
    Eos,
    /// `max_ack_pending` reached.
    AckPending,
}

impl JetStream {
    /// Handles a message published on the cluster.
    pub(crate) fn handle(&mut self, sim: &Sim, msg: &Publish<'_>) -> Answers {
        let now = sim.elapsed();
        if self.election.is_some_and(|(until, _)| now >= until) {
            self.election = None;
        }
        let answers = if let Some(op) = msg.subject.strip_prefix(API_PREFIX) {
            self.api(sim, op, msg)
        } else if let Some(ack) = msg.subject.strip_prefix(ACK_PREFIX) {
            self.ack(now, ack, msg)
        } else {
            self.publish(now, msg)
        };
        if answers.handled {
            self.wake_ticker(now);
        }
        answers
    }

    /// Starts a leader election lasting until virtual time `until`: every `$JS.API.>`
    /// request and every publish to a stream's subject gets a `NATS/1.0 503` status
    /// (requests without a reply get nothing), nothing is stored or changed; waiting pull
    /// requests stay, acknowledgements are processed.
    pub fn elect(&mut self, until: Duration) {
        self.elect_with(until, ElectionAnswer::NoResponders);
    }

    /// [`elect`](Self::elect), the API answering as `api` says.
    pub fn elect_with(&mut self, until: Duration, api: ElectionAnswer) {
        self.election = Some((until, api));
    }

    /// The names of the streams.
    pub fn stream_names(&self) -> Vec<String> {
        self.streams.keys().cloned().collect()
    }

    /// How many messages stream `name` holds (`None`: no such stream).
    pub fn message_count(&self, name: &str) -> Option<usize> {
        self.streams.get(name).map(|s| s.messages.len())
    }

    /// The last sequence of stream `name` (`None`: no such stream).
    pub fn last_sequence(&self, name: &str) -> Option<u64> {
        self.streams.get(name).map(|s| s.last_seq)
    }

    /// The names of stream `stream`'s consumers.
    pub fn consumer_names(&self, stream: &str) -> Vec<String> {
        self.streams.get(stream).map(|s| s.consumers.keys().cloned().collect()).unwrap_or_default()
    }

    /// The pull requests waiting on a consumer.
    pub fn waiting_requests(&self, stream: &str, consumer: &str) -> usize {
        self.streams.get(stream).and_then(|s| s.consumers.get(consumer)).map_or(0, |c| c.waiting.len())
    }

    /// The messages a consumer delivered and has not had acknowledged.
    pub fn ack_pending(&self, stream: &str, consumer: &str) -> usize {
        self.streams.get(stream).and_then(|s| s.consumers.get(consumer)).map_or(0, |c| c.pending.len())
    }

    /// Wakes the ticker when it has something to do sooner than it planned.
    fn wake_ticker(&mut self, now: Duration) {
        let next = self.next_deadline(now);
        let sooner = match (next, self.ticker.at) {
            (Some(next), Some(at)) => next < at,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if sooner {
            if let Some(waker) = &self.ticker.waker {
                waker.wake_by_ref();
            }
        }
    }

    /// When something is next due (`now` when work is waiting), `None` for nothing.
    pub(crate) fn next_deadline(&self, now: Duration) -> Option<Duration> {
        if self.dirty {
            return Some(now);
        }
        let mut next: Option<Duration> = None;
        let mut consider = |at: Duration| next = Some(next.map_or(at, |n| n.min(at)));
        for stream in self.streams.values() {
            let window = stream.limits.duplicate_window;
            if let Some(at) = stream.ids.values().map(|&(_, t)| t + window).min() {
                consider(at);
            }
            if !stream.limits.max_age.is_zero() {
                if let Some(first) = stream.messages.values().next() {
                    consider(first.time + stream.limits.max_age);
                }
            }
            if let Some(at) = stream.messages.values().filter_map(|m| m.expires).min() {
                consider(at);
            }
            for c in stream.consumers.values() {
                c.pending.values().filter(|p| !p.queued).for_each(|p| consider(p.deadline));
                for w in &c.waiting {
                    if let Some(at) = w.expires {
                        consider(at);
                    }
                    if !w.heartbeat.is_zero() {
                        consider(w.heartbeat_at);
                    }
                }
                if c.deliver_subject.is_some() && !c.idle_heartbeat.is_zero() {
                    consider(c.push_heartbeat_at);
                }
                if !c.inactive_threshold.is_zero() && c.waiting.is_empty() {
                    consider(c.last_active + c.inactive_threshold);
                }
            }
        }
        next
    }

    /// Does what is due at the current virtual time: removes expired messages and
    /// de-duplication ids, queues unacknowledged messages for redelivery, drops pull
    /// requests nobody listens to any more (`interest` says whether a subject has a
    /// subscriber), delivers, expires requests, sends heartbeats and removes inactive
    /// consumers. Returns the messages to route, in order.
    pub(crate) fn tick(&mut self, sim: &Sim, interest: &dyn Fn(&str) -> bool) -> Vec<Answer> {
        let now = sim.elapsed();
        self.dirty = false;
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            stream.expire(now);
            let Stream { name, messages, consumers, .. } = stream;
            let mut inactive = Vec::new();
            for consumer in consumers.values_mut() {
                if consumer.tick(now, name, messages, interest, &mut out) {
                    inactive.push(consumer.name.clone());
                }
            }
            for gone in inactive {
                consumers.remove(&gone);
                sim.trace(&[40], || format!("JetStream removes inactive consumer {name}.{gone}"));
            }
        }
        out
    }

    fn api(&mut self, sim: &Sim, op: &str, msg: &Publish<'_>) -> Answers {
        let now = sim.elapsed();
        let tokens: Vec<&str> = op.split('.').collect();
        let kind = response_type(&tokens);
        if let Some((_, answer)) = self.election {
            let Some(reply) = msg.reply else { return Answers::handled(Vec::new()) };
            let refusal = match (answer, kind) {
                (ElectionAnswer::Unavailable, Some(kind)) => {
                    Answer::json(reply, &json!({"type": kind, "error": ApiError::unavailable().to_json()}))
                }
                _ => Answer::status(reply, "503", &[]),
            };
            return Answers::handled(vec![refusal]);
        }
        // Subjects the server serves without an API response type.
        match tokens.as_slice() {
            ["DIRECT", "GET", stream, rest @ ..] => return self.direct_get(stream, rest, msg),
            ["CONSUMER", "MSG", "NEXT", stream, consumer] => {
                return self.next_request(now, stream, consumer, msg.reply, msg.payload)
            }
            _ => {}
        }
        let Some(kind) = kind else { return Answers::default() };
        self.api_total += 1;
        let result = self.api_request(sim, &tokens, msg.payload);
        let (body, extra) = match result {
            Ok((mut body, extra)) => {
                if let Some(map) = body.as_object_mut() {
                    map.insert("type".into(), Value::from(kind));
                }
                (body, extra)
            }
            Err(error) => {
                self.api_errors += 1;
                (json!({"type": kind, "error": error.to_json()}), Vec::new())
            }
        };
        let mut replies = extra;
        if let Some(reply) = msg.reply {
            replies.insert(0, Answer::json(reply, &body));
        }
        Answers::handled(replies)
    }

    /// An API request with a JSON answer: the answer and other messages it causes (409s
    /// to the pull requests of a deleted consumer).
    fn api_request(
        &mut self,
        sim: &Sim,
        tokens: &[&str],
        payload: &[u8],
    ) -> Result<(Value, Vec<Answer>), ApiError> {
        let now = sim.elapsed();
        let body = || parse_body(payload);
        let plain = |value: Value| Ok((value, Vec::new()));
        match tokens {
            ["INFO"] => plain(self.account_info()),
            ["STREAM", "CREATE", name] => plain(self.create_stream(now, name, &body()?)?),
            ["STREAM", "UPDATE", name] => plain(self.update_stream(name, &body()?)?),
            ["STREAM", "INFO", name] => {
                let stream = self.streams.get(*name).ok_or_else(ApiError::stream_not_found)?;
                plain(stream.info(now, &body()?))
            }
            ["STREAM", "DELETE", name] => {
                let stream = self.streams.remove(*name).ok_or_else(ApiError::stream_not_found)?;
                let deleted = stream.consumers.values().flat_map(Consumer::deleted).collect();
                Ok((json!({"success": true}), deleted))
            }
            ["STREAM", "PURGE", name] => {
                let stream = self.streams.get_mut(*name).ok_or_else(ApiError::stream_not_found)?;
                plain(stream.purge(&body()?)?)
            }
            ["STREAM", "NAMES"] => plain(self.stream_listing(now, &body()?, true)),
            ["STREAM", "LIST"] => plain(self.stream_listing(now, &body()?, false)),
            ["STREAM", "MSG", "GET", name] => {
                let stream = self.streams.get(*name).ok_or_else(ApiError::stream_not_found)?;
                plain(stream.message_get(&body()?)?)
            }
            ["STREAM", "MSG", "DELETE", name] => {
                let stream = self.streams.get_mut(*name).ok_or_else(ApiError::stream_not_found)?;
                plain(stream.message_delete(&body()?)?)
            }
            ["CONSUMER", "CREATE", stream, rest @ ..] => {
                let (name, filter) = match rest {
                    [] => (None, None),
                    [name] => (Some(*name), None),
                    [name, filter @ ..] => (Some(*name), Some(filter.join("."))),
                };
                plain(self.create_consumer(sim, stream, name, filter.as_deref(), false, &body()?)?)
            }
            ["CONSUMER", "DURABLE", "CREATE", stream, name] => {
                plain(self.create_consumer(sim, stream, Some(name), None, true, &body()?)?)
            }
            ["CONSUMER", "INFO", stream, name] => {
                let stream = self.streams.get(*stream).ok_or_else(ApiError::stream_not_found)?;
                let consumer = stream.consumers.get(*name).ok_or_else(ApiError::consumer_not_found)?;
                plain(consumer.info(now, &stream.messages))
            }
            ["CONSUMER", "DELETE", stream, name] => {
                let stream = self.streams.get_mut(*stream).ok_or_else(ApiError::stream_not_found)?;
                let consumer = stream.consumers.remove(*name).ok_or_else(ApiError::consumer_not_found)?;
                Ok((json!({"success": true}), consumer.deleted()))
            }
            ["CONSUMER", "NAMES", stream] | ["CONSUMER", "LIST", stream] => {
                let stream = self.streams.get(*stream).ok_or_else(ApiError::stream_not_found)?;
                let offset = offset_of(&body()?);
                let names = tokens[1] == "NAMES";
                let limit = if names { NAMES_PAGE } else { LIST_PAGE };
                let page: Vec<Value> = stream
                    .consumers
                    .values()
                    .skip(offset)
                    .take(limit)
                    .map(|c| if names { Value::from(c.name.clone()) } else { c.info(now, &stream.messages) })
                    .collect();
                let total = stream.consumers.len();
                plain(json!({"total": total, "offset": offset, "limit": limit, "consumers": page}))
            }
            _ => Err(ApiError::bad_request()),
        }
    }

    fn account_info(&self) -> Value {
        let (mut memory, mut storage, mut consumers) = (0, 0, 0);
        for stream in self.streams.values() {
            if stream.limits.memory {
                memory += stream.bytes;
            } else {
                storage += stream.bytes;
            }
            consumers += stream.consumers.len();
        }
        json!({
            "memory": memory,
            "storage": storage,
            "reserved_memory": 0,
            "reserved_storage": 0,
            "streams": self.streams.len(),
            "consumers": consumers,
            "limits": {
                "max_memory": -1, "max_storage": -1, "max_streams": -1, "max_consumers": -1,
                "max_ack_pending": -1, "memory_max_stream_bytes": -1, "storage_max_stream_bytes": -1,
                "max_bytes_required": false,
            },
            "api": {"total": self.api_total, "errors": self.api_errors},
        })
    }

    fn create_stream(&mut self, now: Duration, name: &str, body: &Value) -> Result<Value, ApiError> {
        let config = stream_config(name, body)?;
        let limits = Limits::from_config(&config);
        if let Some(existing) = self.streams.get(name) {
            if existing.config != config {
                return Err(ApiError::new(
                    400,
                    10058,
                    "stream name already in use with a different configuration",
                ));
            }
            return Ok(existing.info(now, &Value::Null));
        }
        self.check_overlap(name, &limits.subjects)?;
        let stream = Stream {
            name: name.to_owned(),
            config,
            limits,
            created: now,
            messages: BTreeMap::new(),
            first_seq: 0,
            last_seq: 0,
            last_time: Duration::ZERO,
            bytes: 0,
            last_msg_id: None,
            ids: BTreeMap::new(),
            consumers: BTreeMap::new(),
        };
        let mut info = stream.info(now, &Value::Null);
        info["did_create"] = Value::Bool(true);
        self.streams.insert(name.to_owned(), stream);
        Ok(info)
    }

    fn update_stream(&mut self, name: &str, body: &Value) -> Result<Value, ApiError> {
        let config = stream_config(name, body)?;
        let limits = Limits::from_config(&config);
        if !self.streams.contains_key(name) {
            return Err(ApiError::stream_not_found());
        }
        self.check_overlap(name, &limits.subjects)?;
        let stream = self.streams.get_mut(name).ok_or_else(ApiError::stream_not_found)?;
        for fixed in ["storage", "retention"] {
            if stream.config.get(fixed) != config.get(fixed) {
                return Err(ApiError::new(
                    500,
                    10052,
                    format!("stream configuration update can not change {fixed}"),
                ));
            }
        }
        stream.config = config;
        stream.limits = limits;
        stream.enforce_limits();
        Ok(stream.info(Duration::ZERO, &Value::Null))
    }

    /// Fails when `subjects` overlap another stream's.
    fn check_overlap(&self, name: &str, subjects: &[String]) -> Result<(), ApiError> {
        let overlap = self.streams.values().filter(|s| s.name != name).any(|other| {
            other.limits.subjects.iter().any(|a| subjects.iter().any(|b| subjects_collide(a, b)))
        });
        if overlap {
            return Err(ApiError::new(400, 10065, "subjects overlap with an existing stream"));
        }
        Ok(())
    }

    fn stream_listing(&self, now: Duration, body: &Value, names: bool) -> Value {
        let offset = offset_of(body);
        let filter = body.get("subject").and_then(Value::as_str).filter(|s| !s.is_empty());
        let matching: Vec<&Stream> = self
            .streams
            .values()
            .filter(|s| filter.is_none_or(|f| s.limits.subjects.iter().any(|subj| subjects_collide(subj, f))))
            .collect();
        let limit = if names { NAMES_PAGE } else { LIST_PAGE };
        let page = matching.iter().skip(offset).take(limit);
        let streams: Vec<Value> = if names {
            page.map(|s| Value::from(s.name.clone())).collect()
        } else {
            page.map(|s| s.info(now, &Value::Null)).collect()
        };
        let streams = if streams.is_empty() && names { Value::Null } else { Value::from(streams) };
        json!({"total": matching.len(), "offset": offset, "limit": limit, "streams": streams})
    }

    fn create_consumer(
        &mut self,
        sim: &Sim,
        stream_name: &str,
        subject_name: Option<&str>,
        subject_filter: Option<&str>,
        legacy_durable: bool,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let now = sim.elapsed();
        let stream = self.streams.get_mut(stream_name).ok_or_else(ApiError::stream_not_found)?;
        if let Some(given) = body.get("stream_name").and_then(Value::as_str) {
            if given != stream_name {
                return Err(ApiError::new(400, 10056, "stream name in subject does not match request"));
            }
        }
        let Some(config) = body.get("config").and_then(Value::as_object) else {
            return Err(ApiError::new(400, 10078, "consumer config required"));
        };
        let action = body.get("action").and_then(Value::as_str).unwrap_or("");
        let durable = config.get("durable_name").and_then(Value::as_str).filter(|d| !d.is_empty());
        let named = config.get("name").and_then(Value::as_str).filter(|d| !d.is_empty());
        if let (Some(d), Some(n)) = (durable, named) {
            if d != n {
                return Err(ApiError::new(
                    400,
                    10132,
                    "Consumer Durable and Name have to be equal if both are provided",
                ));
            }
        }
        let name = match subject_name {
            None if durable.is_some() => {
                return Err(ApiError::new(
                    400,
                    10020,
                    "consumer expected to be ephemeral but a durable name was set in request",
                ))
            }
            None => named.map_or_else(|| ephemeral_name(sim), str::to_owned),
            Some(name) => {
                if legacy_durable && durable != Some(name) {
                    return Err(ApiError::new(
                        400,
                        10017,
                        "consumer name in subject does not match durable name in request",
                    ));
                }
                if named.or(durable).is_some_and(|n| n != name) {
                    return Err(ApiError::new(
                        400,
                        10017,
                        "consumer name in subject does not match durable name in request",
                    ));
                }
                name.to_owned()
            }
        };
        if let Some(filter) = subject_filter {
            let configured = config.get("filter_subject").and_then(Value::as_str).unwrap_or("");
            if configured != filter {
                return Err(ApiError::new(
                    400,
                    10131,
                    "Consumer create request did not match filtered subject from create subject",
                ));
            }
        }
        let config = consumer_config(&name, durable.is_some(), config)?;
        let filters = filters_of(&config);
        for filter in &filters {
            if !stream.limits.subjects.iter().any(|s| subjects_collide(s, filter)) {
                return Err(ApiError::new(
                    400,
                    10093,
                    "consumer filter subject is not a valid subset of the interest subjects",
                ));
            }
        }
        if let Some(existing) = stream.consumers.get_mut(&name) {
            if existing.config == config {
                return Ok(existing.info(now, &stream.messages));
            }
            if action == "create" {
                return Err(ApiError::new(400, 10148, "consumer already exists"));
            }
            for fixed in ["deliver_policy", "opt_start_seq", "opt_start_time", "deliver_subject"] {
                if existing.config.get(fixed) != config.get(fixed) {
                    return Err(ApiError::new(
                        500,
                        10012,
                        format!("{} can not be updated", fixed.replace('_', " ")),
                    ));
                }
            }
            existing.apply(config);
            existing.filters = filters;
            return Ok(existing.info(now, &stream.messages));
        }
        if action == "update" {
            return Err(ApiError::new(400, 10149, "consumer does not exist"));
        }
        let max = stream.limits.max_consumers;
        if max > 0 && stream.consumers.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
            return Err(ApiError::new(400, 10026, "maximum consumers limit reached"));
        }
        let consumer = Consumer::new(now, stream, &name, config, filters)?;
        let info = consumer.info(now, &stream.messages);
        stream.consumers.insert(name.clone(), consumer);
        sim.trace(&[41], || format!("JetStream creates consumer {stream_name}.{name}"));
        Ok(info)
    }

    /// `CONSUMER.MSG.NEXT`: a pull request. Not handled (no responders) without the
    /// consumer, as the server has no subscription then.
    fn next_request(
        &mut self,
        now: Duration,
        stream: &str,
        consumer: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Answers {
        let Some(stream) = self.streams.get_mut(stream) else { return Answers::default() };
        let Some(consumer) = stream.consumers.get_mut(consumer) else { return Answers::default() };
        let Some(reply) = reply else { return Answers::handled(Vec::new()) };
        match consumer.request(now, reply, payload, &stream.messages) {
            Ok(()) => {
                self.dirty = true;
                Answers::handled(Vec::new())
            }
            Err(status) => Answers::handled(vec![status]),
        }
    }

    /// `DIRECT.GET.<stream>` (JSON) or `DIRECT.GET.<stream>.<subject>` (the last message on
    /// the subject). Only streams with `allow_direct` serve it.
    fn direct_get(&self, stream: &str, rest: &[&str], msg: &Publish<'_>) -> Answers {
        let Some(stream) = self.streams.get(stream).filter(|s| s.limits.allow_direct) else {
            return Answers::default();
        };
        let Some(reply) = msg.reply else { return Answers::handled(Vec::new()) };
        let replies = if rest.is_empty() {
            stream.direct_json(reply, msg.payload)
        } else if !msg.payload.is_empty() {
            vec![Answer::status(reply, "408 Bad Request", &[])]
        } else {
            let subject = rest.join(".");
            match stream.last_on(&subject) {
                Some(seq) => vec![stream.direct_message(reply, seq, &[])],
                None => vec![Answer::status(reply, "404 Message Not Found", &[])],
            }
        };
        Answers::handled(replies)
    }

    /// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`. Not handled
    /// without the consumer (no responders).
    fn ack(&mut self, now: Duration, ack: &str, msg: &Publish<'_>) -> Answers {
        let tokens: Vec<&str> = ack.split('.').collect();
        let [stream, consumer, _, sseq, ..] = tokens.as_slice() else { return Answers::default() };
        let Some(stream) = self.streams.get_mut(*stream) else { return Answers::default() };
        let Some(consumer) = stream.consumers.get_mut(*consumer) else { return Answers::default() };
        let Ok(sseq) = sseq.parse::<u64>() else { return Answers::handled(Vec::new()) };
        consumer.last_active = now;
        let body = msg.payload;
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut replies = Vec::new();
        let mut reply_to_ack = true;
        if text.is_empty() || text == "+ACK" || text == "+OK" {
            consumer.acknowledge(sseq);
        } else if let Some(rest) = text.strip_prefix("+NXT") {
            consumer.acknowledge(sseq);
            reply_to_ack = false;
            if let Some(reply) = msg.reply {
                if let Err(status) = consumer.request(now, reply, rest.trim().as_bytes(), &stream.messages) {
                    replies.push(status);
                }
            }
        } else if let Some(rest) = text.strip_prefix("-NAK") {
            let delay = serde_json::from_str::<Value>(rest.trim())
                .ok()
                .and_then(|v| v.get("delay").and_then(Value::as_i64))
                .or_else(|| {
                    parse_go_duration(rest.trim()).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                })
                .map_or(Duration::ZERO, |ns| Duration::from_nanos(u64::try_from(ns).unwrap_or(0)));
            if let Some(p) = consumer.pending.get_mut(&sseq) {
                p.deadline = now + delay;
                p.queued = false;
            }
        } else if text == "+WPI" {
            let wait = consumer.ack_wait_for(consumer.pending.get(&sseq).map_or(1, |p| p.deliveries));
            if let Some(p) = consumer.pending.get_mut(&sseq) {
                if !p.queued {
                    p.deadline = now + wait;
                }
            }
        } else if text.starts_with("+TERM") {
            consumer.pending.remove(&sseq);
        }
        if reply_to_ack {
            if let Some(reply) = msg.reply {
                replies.push(Answer::new(reply, None, Vec::new()));
            }
        }
        self.dirty = true;
        Answers::handled(replies)
    }

    /// A publish: stored when a stream captures its subject.
    fn publish(&mut self, now: Duration, msg: &Publish<'_>) -> Answers {
        let Some(stream) = self.streams.values_mut().find(|s| s.captures(msg.subject)) else {
            return Answers::default();
        };
        if self.election.is_some() {
            let replies = msg.reply.map(|r| Answer::status(r, "503", &[])).into_iter().collect();
            return Answers::handled(replies);
        }
        let result = stream.store(now, msg);
        if result.as_ref().is_ok_and(|ack| ack.get("duplicate").is_none()) && !stream.consumers.is_empty() {
            self.dirty = true;
        }
        let Some(reply) = msg.reply else { return Answers::handled(Vec::new()) };
        if stream.limits.no_ack {
            return Answers::handled(Vec::new());
        }
        let body = match result {
            Ok(ack) => ack,
            Err(error) => json!({"error": error.to_json(), "stream": stream.name, "seq": 0}),
        };
        Answers::handled(vec![Answer::json(reply, &body)])
    }
}

impl Stream {
    fn captures(&self, subject: &str) -> bool {
        self.limits.subjects.iter().any(|filter| subject::matches(filter, subject))
    }

    fn size_of(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        let hdr = headers.map_or(0, <[u8]>::len);
        let size = if self.limits.memory {
            // memStoreMsgSize
            subject.len() + hdr + payload.len() + 16
        } else if hdr == 0 {
            // fileStoreMsgSize: record length, sequence, time, subject length, hash.
            22 + subject.len() + payload.len() + 8
        } else {
            22 + subject.len() + 4 + hdr + payload.len() + 8
        };
        size as u64
    }

    /// Stores a publish, checking its expectation headers and the limits; the ack's JSON.
    fn store(&mut self, now: Duration, msg: &Publish<'_>) -> Result<Value, ApiError> {
        let headers = msg.headers.unwrap_or_default();
        let header = |name: &str| header_value(headers, name);
        if self.limits.sealed {
            return Err(ApiError::new(400, 10109, "invalid operation on sealed stream"));
        }
        if let Some(expected) = header("Nats-Expected-Stream") {
            if expected != self.name {
                return Err(ApiError::new(400, 10060, "expected stream does not match"));
            }
        }
        let msg_id = header("Nats-Msg-Id").filter(|id| !id.is_empty());
        if let Some(id) = &msg_id {
            if let Some(&(seq, at)) = self.ids.get(id) {
                if now < at + self.limits.duplicate_window {
                    return Ok(json!({"stream": self.name, "seq": seq, "duplicate": true}));
                }
            }
        }
        if let Some(expected) = header("Nats-Expected-Last-Sequence") {
            let expected: u64 = expected.trim().parse().map_err(|_| ApiError::bad_request())?;
            if expected != self.last_seq {
                return Err(ApiError::new(400, 10071, format!("wrong last sequence: {}", self.last_seq)));
            }
        }
        if let Some(expected) = header("Nats-Expected-Last-Msg-Id") {
            let last = self.last_msg_id.clone().unwrap_or_default();
            if expected != last {
                return Err(ApiError::new(400, 10070, format!("wrong last msg ID: {last}")));
            }
        }
        if let Some(expected) = header("Nats-Expected-Last-Subject-Sequence") {
            let expected: u64 = expected.trim().parse().map_err(|_| ApiError::bad_request())?;
            let filter = header("Nats-Expected-Last-Subject-Sequence-Subject")
                .unwrap_or_else(|| msg.subject.to_owned());
            let last = self.last_on(&filter).unwrap_or(0);
            if expected != last {
                return Err(ApiError::new(400, 10071, format!("wrong last sequence: {last}")));
            }
        }
        let expires = match header("Nats-TTL") {
            None => None,
            Some(_) if !self.limits.allow_msg_ttl => {
                return Err(ApiError::new(400, 10166, "per-message TTL is disabled"))
            }
            Some(ttl) if ttl.trim() == "never" => None,
            Some(ttl) => {
                let ttl = ttl.trim();
                let parsed =
                    ttl.parse::<u64>().ok().map(Duration::from_secs).or_else(|| parse_go_duration(ttl));
                match parsed {
                    Some(d) if d >= Duration::from_secs(1) => Some(now + d),
                    _ => return Err(ApiError::new(400, 10165, "invalid per-message TTL")),
                }
            }
        };
        let payload_len = headers.len() + msg.payload.len();
        if self.limits.max_msg_size > 0 && payload_len as u64 > self.limits.max_msg_size.unsigned_abs() {
            return Err(ApiError::new(400, 10054, "message size exceeds maximum allowed"));
        }
        let size = self.size_of(msg.subject, msg.headers, msg.payload);
        if self.limits.discard_new {
            if self.limits.max_msgs > 0 && self.messages.len() as u64 >= self.limits.max_msgs.unsigned_abs() {
                return Err(ApiError::new(503, 10077, "maximum messages exceeded"));
            }
            if self.limits.max_bytes > 0 && self.bytes + size > self.limits.max_bytes.unsigned_abs() {
                return Err(ApiError::new(503, 10077, "maximum bytes exceeded"));
            }
            if self.limits.discard_new_per_subject && self.limits.max_msgs_per_subject > 0 {
                let on_subject = self.messages.values().filter(|m| m.subject == msg.subject).count() as u64;
                if on_subject >= self.limits.max_msgs_per_subject.unsigned_abs() {
                    return Err(ApiError::new(503, 10077, "maximum messages per subject exceeded"));
                }
            }
        }
        self.last_seq += 1;
        let seq = self.last_seq;
        if self.messages.is_empty() {
            self.first_seq = seq;
        }
        self.messages.insert(
            seq,
            Stored {
                subject: msg.subject.to_owned(),
                headers: msg.headers.filter(|h| !h.is_empty()).map(<[u8]>::to_vec),
                payload: msg.payload.to_vec(),
                time: now,
                expires,
            },
        );
        self.bytes += size;
        self.last_time = now;
        self.last_msg_id.clone_from(&msg_id);
        if let Some(id) = msg_id {
            self.ids.insert(id, (seq, now));
        }
        self.enforce_limits();
        Ok(json!({"stream": self.name, "seq": seq}))
    }

    /// Removes the oldest messages past the limits (discard old).
    fn enforce_limits(&mut self) {
        let over = |s: &Self| {
            (s.limits.max_msgs > 0 && s.messages.len() as u64 > s.limits.max_msgs.unsigned_abs())
                || (s.limits.max_bytes > 0 && s.bytes > s.limits.max_bytes.unsigned_abs())
        };
        while over(self) {
            let Some(&first) = self.messages.keys().next() else { break };
            self.remove(first);
        }
        if self.limits.max_msgs_per_subject > 0 {
            let limit = usize::try_from(self.limits.max_msgs_per_subject).unwrap_or(usize::MAX);
            let mut per_subject: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
            for (&seq, m) in &self.messages {
                per_subject.entry(m.subject.as_str()).or_default().push(seq);
            }
            let gone: Vec<u64> = per_subject
                .into_values()
                .flat_map(|seqs| {
                    let extra = seqs.len().saturating_sub(limit);
                    seqs.into_iter().take(extra)
                })
                .collect();
            for seq in gone {
                self.remove(seq);
            }
        }
    }

    fn remove(&mut self, seq: u64) -> bool {
        let Some(m) = self.messages.remove(&seq) else { return false };
        self.bytes = self.bytes.saturating_sub(self.size_of(&m.subject, m.headers.as_deref(), &m.payload));
        self.first_seq = self.messages.keys().next().copied().unwrap_or(self.last_seq + 1);
        true
    }

    /// Removes messages past `max_age` or their TTL, and ids past the duplicate window.
    fn expire(&mut self, now: Duration) {
        let max_age = self.limits.max_age;
        let gone: Vec<u64> = self
            .messages
            .iter()
            .filter(|(_, m)| {
                (!max_age.is_zero() && m.time + max_age <= now) || m.expires.is_some_and(|at| at <= now)
            })
            .map(|(&seq, _)| seq)
            .collect();
        for seq in gone {
            self.remove(seq);
        }
        let window = self.limits.duplicate_window;
        self.ids.retain(|_, &mut (_, at)| at + window > now);
    }

    /// The last sequence on `filter` (wildcards allowed).
    fn last_on(&self, filter: &str) -> Option<u64> {
        self.messages.iter().rev().find(|(_, m)| subject::matches(filter, &m.subject)).map(|(&seq, _)| seq)
    }

    fn info(&self, now: Duration, request: &Value) -> Value {
        let subjects: BTreeSet<&str> = self.messages.values().map(|m| m.subject.as_str()).collect();
        let mut state = json!({
            "messages": self.messages.len(),
            "bytes": self.bytes,
            "first_seq": if self.last_seq == 0 { 0 } else { self.first_seq },
            "first_ts": self.messages.values().next().map_or_else(|| ZERO_TIME.to_owned(), |m| rfc3339(m.time)),
            "last_seq": self.last_seq,
            "last_ts": if self.last_seq == 0 { ZERO_TIME.to_owned() } else { rfc3339(self.last_time) },
            "num_subjects": subjects.len(),
            "consumer_count": self.consumers.len(),
        });
        let span = if self.messages.is_empty() { 0 } else { self.last_seq + 1 - self.first_seq };
        let deleted = span - self.messages.len() as u64;
        if deleted > 0 {
            state["num_deleted"] = Value::from(deleted);
        }
        if request.get("deleted_details").and_then(Value::as_bool) == Some(true) && deleted > 0 {
            let gaps: Vec<u64> =
                (self.first_seq..=self.last_seq).filter(|s| !self.messages.contains_key(s)).collect();
            state["deleted"] = Value::from(gaps);
        }
        let mut total = 0;
        if let Some(filter) = request.get("subjects_filter").and_then(Value::as_str) {
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for m in self.messages.values().filter(|m| subject::matches(filter, &m.subject)) {
                *counts.entry(m.subject.as_str()).or_default() += 1;
            }
            total = counts.len();
            let offset = offset_of(request);
            let page: Map<String, Value> =
                counts.into_iter().skip(offset).map(|(s, n)| (s.to_owned(), Value::from(n))).collect();
            state["subjects"] = Value::Object(page);
        }
        json!({
            "config": self.config,
            "created": rfc3339(self.created),
            "state": state,
            "cluster": {"name": "sim", "leader": LEADER},
            "ts": rfc3339(now),
            "total": total,
            "offset": 0,
            "limit": 0,
        })
    }

    fn purge(&mut self, request: &Value) -> Result<Value, ApiError> {
        if self.limits.deny_purge {
            return Err(ApiError::new(500, 10110, "stream purge not permitted"));
        }
        let filter = request.get("filter").and_then(Value::as_str).filter(|f| !f.is_empty());
        let up_to = request.get("seq").and_then(Value::as_u64).filter(|&s| s > 0);
        let keep = request.get("keep").and_then(Value::as_u64).filter(|&k| k > 0);
        if up_to.is_some() && keep.is_some() {
            return Err(ApiError::bad_request());
        }
        let mut candidates: Vec<u64> = self
            .messages
            .iter()
            .filter(|(&seq, m)| {
                filter.is_none_or(|f| subject::matches(f, &m.subject)) && up_to.is_none_or(|u| seq < u)
            })
            .map(|(&seq, _)| seq)
            .collect();
        if let Some(keep) = keep {
            let keep = usize::try_from(keep).unwrap_or(usize::MAX);
            candidates.truncate(candidates.len().saturating_sub(keep));
        }
        let purged = candidates.into_iter().filter(|&seq| self.remove(seq)).count();
        let first = self.first_seq;
        for consumer in self.consumers.values_mut() {
            consumer.next_seq = consumer.next_seq.max(first);
        }
        Ok(json!({"success": true, "purged": purged}))
    }

    fn message_get(&self, request: &Value) -> Result<Value, ApiError> {
        let seq = request.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let last = request.get("last_by_subj").and_then(Value::as_str).filter(|s| !s.is_empty());
        let next = request.get("next_by_subj").and_then(Value::as_str).filter(|s| !s.is_empty());
        let found = match (seq, last, next) {
            (0, None, None) | (_, Some(_), Some(_)) => return Err(ApiError::bad_request()),
            (_, Some(_), None) if seq > 0 => return Err(ApiError::bad_request()),
            (_, Some(subject), None) => self.last_on(subject),
            (seq, None, Some(subject)) => self
                .messages
                .range(seq.max(1)..)
                .find(|(_, m)| subject::matches(subject, &m.subject))
                .map(|(&s, _)| s),
            (seq, None, None) => self.messages.contains_key(&seq).then_some(seq),
        };
        let seq = found.ok_or_else(ApiError::no_message)?;
        let m = self.messages.get(&seq).ok_or_else(ApiError::no_message)?;
        let mut message = json!({"subject": m.subject, "seq": seq, "time": rfc3339(m.time)});
        if let Some(h) = &m.headers {
            message["hdrs"] = Value::from(base64(h));
        }
        if !m.payload.is_empty() {
            message["data"] = Value::from(base64(&m.payload));
        }
        Ok(json!({"message": message}))
    }

    fn message_delete(&mut self, request: &Value) -> Result<Value, ApiError> {
        if self.limits.deny_delete {
            return Err(ApiError::new(400, 10057, "message delete not permitted"));
        }
        let seq = request.get("seq").and_then(Value::as_u64).ok_or_else(ApiError::bad_request)?;
        if !self.remove(seq) {
            return Err(ApiError::new(500, 10057, "no message found"));
        }
        Ok(json!({"success": true}))
    }

    /// A direct get message: the stored headers plus the direct get's own.
    fn direct_message(&self, reply: &str, seq: u64, extra: &[(&str, String)]) -> Answer {
        let Some(m) = self.messages.get(&seq) else {
            return Answer::status(reply, "404 Message Not Found", &[]);
        };
        let mut block = String::from("NATS/1.0\r\n");
        if let Some(h) = &m.headers {
            let text = String::from_utf8_lossy(h);
            for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
                block.push_str(line);
                block.push_str("\r\n");
            }
        }
        let own = [
            ("Nats-Stream", self.name.clone()),
            ("Nats-Subject", m.subject.clone()),
            ("Nats-Sequence", seq.to_string()),
            ("Nats-Time-Stamp", rfc3339(m.time)),
        ];
        for (name, value) in own.iter().chain(extra) {
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str("\r\n");
        Answer::new(reply, Some(block.into_bytes()), m.payload.clone())
    }

    /// A direct get with a JSON request: one message, or a batch ending in `204 EOB`.
    fn direct_json(&self, reply: &str, payload: &[u8]) -> Vec<Answer> {
        if payload.is_empty() {
            return vec![Answer::status(reply, "408 Empty Request", &[])];
        }
        let Ok(request) = serde_json::from_slice::<Value>(payload) else {
            return vec![Answer::status(reply, "408 Bad Request", &[])];
        };
        let seq = request.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let last = request.get("last_by_subj").and_then(Value::as_str);
        let next = request.get("next_by_subj").and_then(Value::as_str);
        let batch = request.get("batch").and_then(Value::as_u64).unwrap_or(0);
        let multi: Vec<&str> = request
            .get("multi_last")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let not_found = || vec![Answer::status(reply, "404 Message Not Found", &[])];
        if !multi.is_empty() {
            let mut lasts: BTreeMap<&str, u64> = BTreeMap::new();
            for (&s, m) in &self.messages {
                if multi.iter().any(|f| subject::matches(f, &m.subject)) {
                    lasts.insert(m.subject.as_str(), s);
                }
            }
            let seqs: BTreeSet<u64> = lasts.into_values().collect();
            return self.direct_batch(reply, seqs.into_iter().collect(), 0);
        }
        if batch > 0 {
            let filter = next.unwrap_or(">");
            let matching: Vec<u64> = self
                .messages
                .range(seq.max(1)..)
                .filter(|(_, m)| subject::matches(filter, &m.subject))
                .map(|(&s, _)| s)
                .collect();
            let take = usize::try_from(batch).unwrap_or(usize::MAX).min(matching.len());
            let rest = (matching.len() - take) as u64;
            return self.direct_batch(reply, matching[..take].to_vec(), rest);
        }
        let found = match (last, next) {
            (Some(subject), None) => self.last_on(subject),
            (None, Some(subject)) => self
                .messages
                .range(seq.max(1)..)
                .find(|(_, m)| subject::matches(subject, &m.subject))
                .map(|(&s, _)| s),
            (None, None) if seq > 0 => self.messages.contains_key(&seq).then_some(seq),
            _ => return vec![Answer::status(reply, "408 Bad Request", &[])],
        };
        match found {
            Some(seq) => vec![self.direct_message(reply, seq, &[])],
            None => not_found(),
        }
    }

    /// The messages of a batch direct get, then `204 EOB`; `404` when none matched.
    fn direct_batch(&self, reply: &str, seqs: Vec<u64>, rest: u64) -> Vec<Answer> {
        if seqs.is_empty() {
            return vec![Answer::status(reply, "404 Message Not Found", &[])];
        }
        let mut out = Vec::new();
        let mut previous = 0;
        let count = seqs.len() as u64;
        for (i, &seq) in seqs.iter().enumerate() {
            let after = count - 1 - i as u64 + rest;
            let extra =
                [("Nats-Num-Pending", after.to_string()), ("Nats-Last-Sequence", previous.to_string())];
            out.push(self.direct_message(reply, seq, &extra));
            previous = seq;
        }
        let end = [("Nats-Num-Pending", rest.to_string()), ("Nats-Last-Sequence", previous.to_string())];
        out.push(Answer::status(reply, "204 EOB", &end));
        out
    }
}

impl Limits {
    fn from_config(config: &Map<String, Value>) -> Self {
        let int = |name: &str| config.get(name).and_then(Value::as_i64).unwrap_or(-1);
        let flag = |name: &str| config.get(name).and_then(Value::as_bool).unwrap_or(false);
        let nanos = |name: &str| nanos_of(config.get(name));
        Self {
            subjects: config
                .get("subjects")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            max_msgs: int("max_msgs"),
            max_bytes: int("max_bytes"),
            max_age: nanos("max_age"),
            max_msgs_per_subject: int("max_msgs_per_subject"),
            max_msg_size: int("max_msg_size"),
            max_consumers: int("max_consumers"),
            discard_new: config.get("discard").and_then(Value::as_str) == Some("new"),
            discard_new_per_subject: flag("discard_new_per_subject"),
            duplicate_window: nanos("duplicate_window"),
            allow_direct: flag("allow_direct"),
            allow_msg_ttl: flag("allow_msg_ttl"),
            sealed: flag("sealed"),
            no_ack: flag("no_ack"),
            deny_delete: flag("deny_delete"),
            deny_purge: flag("deny_purge"),
            memory: config.get("storage").and_then(Value::as_str) == Some("memory"),
        }
    }
}

impl Consumer {
    fn new(
        now: Duration,
        stream: &Stream,
        name: &str,
        config: Map<String, Value>,
        filters: Vec<String>,
    ) -> Result<Self, ApiError> {
        let matches =
            |m: &Stored| filters.is_empty() || filters.iter().any(|f| subject::matches(f, &m.subject));
        let policy = config.get("deliver_policy").and_then(Value::as_str).unwrap_or("all");
        let mut skip = VecDeque::new();
        let next_seq = match policy {
            "all" => stream.first_seq.max(1),
            "new" => stream.last_seq + 1,
            "last" => stream.messages.iter().rev().find(|(_, m)| matches(m)).map_or(stream.last_seq + 1, |(&s, _)| s),
            "by_start_sequence" => match config.get("opt_start_seq").and_then(Value::as_u64) {
                Some(seq) if seq > 0 => seq,
                _ => {
                    return Err(ApiError::new(
                        400,
                        10094,
                        "consumer delivery policy is deliver by start sequence, but optional start sequence is not set",
                    ))
                }
            },
            "by_start_time" => {
                let at = config.get("opt_start_time").and_then(Value::as_str).and_then(parse_rfc3339);
                let Some(at) = at else {
                    return Err(ApiError::new(
                        400,
                        10094,
                        "consumer delivery policy is deliver by start time, but optional start time is not set",
                    ));
                };
                stream.messages.iter().find(|(_, m)| m.time >= at).map_or(stream.last_seq + 1, |(&s, _)| s)
            }
            "last_per_subject" => {
                let mut lasts: BTreeMap<&str, u64> = BTreeMap::new();
                for (&seq, m) in stream.messages.iter().filter(|(_, m)| matches(m)) {
                    lasts.insert(m.subject.as_str(), seq);
                }
                let seqs: BTreeSet<u64> = lasts.into_values().collect();
                skip.extend(seqs);
                stream.last_seq + 1
            }
            other => return Err(ApiError::new(400, 10094, format!("invalid deliver policy {other}"))),
        };
        let mut consumer = Self {
            name: name.to_owned(),
            stream: stream.name.clone(),
            config: Map::new(),
            created: now,
            filters,
            ack: AckPolicy::Explicit,
            ack_wait: DEFAULT_ACK_WAIT,
            backoff: Vec::new(),
            max_deliver: -1,
            max_ack_pending: DEFAULT_MAX_ACK_PENDING,
            max_waiting: DEFAULT_MAX_WAITING,
            max_batch: 0,
            max_expires: Duration::ZERO,
            max_request_bytes: 0,
            inactive_threshold: Duration::ZERO,
            deliver_subject: None,
            idle_heartbeat: Duration::ZERO,
            next_seq,
            skip,
            dseq: 0,
            delivered_sseq: next_seq.saturating_sub(1),
            pending: BTreeMap::new(),
            redeliver: VecDeque::new(),
            waiting: VecDeque::new(),
            last_active: now,
            push_heartbeat_at: now,
        };
        consumer.apply(config);
        consumer.push_heartbeat_at = now + consumer.idle_heartbeat;
        Ok(consumer)
    }

    /// Takes the settings of a (new or updated) configuration.
    fn apply(&mut self, config: Map<String, Value>) {
        let int = |name: &str| config.get(name).and_then(Value::as_i64).unwrap_or(0);
        self.ack = match config.get("ack_policy").and_then(Value::as_str) {
            Some("explicit") => AckPolicy::Explicit,
            Some("all") => AckPolicy::All,
            _ => AckPolicy::None,
        };
        self.ack_wait = nanos_of(config.get("ack_wait"));
        self.backoff = config
            .get("backoff")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| nanos_of(Some(v))).collect())
            .unwrap_or_default();
        self.max_deliver = int("max_deliver");
        self.max_ack_pending = int("max_ack_pending");
        self.max_waiting = int("max_waiting");
        self.max_batch = int("max_batch");
        self.max_expires = nanos_of(config.get("max_expires"));
        self.max_request_bytes = int("max_bytes");
        self.inactive_threshold = nanos_of(config.get("inactive_threshold"));
        self.deliver_subject = config.get("deliver_subject").and_then(Value::as_str).map(str::to_owned);
        self.idle_heartbeat = nanos_of(config.get("idle_heartbeat"));
        self.config = config;
    }

    /// The ack wait before redelivering a message delivered `deliveries` times.
    fn ack_wait_for(&self, deliveries: u64) -> Duration {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        let i =
            usize::try_from(deliveries.saturating_sub(1)).unwrap_or(usize::MAX).min(self.backoff.len() - 1);
        self.backoff[i]
    }

    fn matches(&self, subject: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| subject::matches(f, subject))
    }

    /// Messages not yet delivered.
    fn num_pending(&self, messages: &BTreeMap<u64, Stored>) -> u64 {
        let later = messages.range(self.next_seq..).filter(|(_, m)| self.matches(&m.subject)).count();
        (self.skip.len() + later) as u64
    }

    /// A pull request (`CONSUMER.MSG.NEXT` or `+NXT`): queued, or refused with a status.
    fn request(
        &mut self,
        now: Duration,
        reply: &str,
        payload: &[u8],
        messages: &BTreeMap<u64, Stored>,
    ) -> Result<(), Answer> {
        let refuse = |status: String| Answer::status(reply, &status, &[]);
        if self.deliver_subject.is_some() {
            return Err(refuse("409 Consumer is push based".into()));
        }
        let text = String::from_utf8_lossy(payload);
        let text = text.trim();
        let (mut batch, mut expires, mut no_wait, mut heartbeat, mut max_bytes) = (1, 0, false, 0, 0);
        if let Ok(n) = text.parse::<i64>() {
            batch = n;
        } else if !text.is_empty() {
            let request: Value =
                serde_json::from_str(text).map_err(|e| refuse(format!("400 Bad Request - {e}")))?;
            let int = |name: &str| request.get(name).and_then(Value::as_i64).unwrap_or(0);
            batch = int("batch");
            expires = int("expires");
            heartbeat = int("idle_heartbeat");
            max_bytes = int("max_bytes");
            no_wait = request.get("no_wait").and_then(Value::as_bool).unwrap_or(false);
        }
        let batch = u64::try_from(batch).ok().filter(|&b| b > 0).unwrap_or(1);
        let expires = u64::try_from(expires).ok().filter(|&e| e > 0).map(Duration::from_nanos);
        let heartbeat = Duration::from_nanos(u64::try_from(heartbeat).unwrap_or(0));
        let max_bytes = u64::try_from(max_bytes).unwrap_or(0);
        if let Some(expires) = expires {
            if !heartbeat.is_zero() && heartbeat * 2 > expires {
                return Err(refuse("400 Bad Request - heartbeat value too large".into()));
            }
        }
        if self.max_batch > 0 && batch > self.max_batch.unsigned_abs() {
            return Err(refuse(format!("409 Exceeded MaxRequestBatch of {}", self.max_batch)));
        }
        if let Some(expires) = expires {
            if !self.max_expires.is_zero() && expires > self.max_expires {
                return Err(refuse(format!(
                    "409 Exceeded MaxRequestExpires of {}",
                    go_duration(self.max_expires)
                )));
            }
        }
        if max_bytes > 0 && self.max_request_bytes > 0 && max_bytes > self.max_request_bytes.unsigned_abs() {
            return Err(refuse(format!("409 Exceeded MaxRequestMaxBytes of {}", self.max_request_bytes)));
        }
        self.last_active = now;
        if no_wait {
            let available = self.num_pending(messages) + self.redeliver.len() as u64;
            if available == 0 && expires.is_none() {
                return Err(refuse("404 No Messages".into()));
            }
            let wanted: u64 = self.waiting.iter().map(|w| w.left).sum();
            if available > 0 && available < wanted {
                return Err(refuse("408 Requests Pending".into()));
            }
        }
        if self.max_waiting > 0 && self.waiting.len() as u64 >= self.max_waiting.unsigned_abs() {
            return Err(refuse("409 Exceeded MaxWaiting".into()));
        }
        self.waiting.push_back(Waiting {
            reply: reply.to_owned(),
            left: batch,
            bytes: max_bytes,
            max_bytes: max_bytes > 0,
            delivered: 0,
            no_wait,
            expires: expires.map(|e| now + e),
            heartbeat,
            heartbeat_at: now + heartbeat,
        });
        Ok(())
    }

    /// An acknowledgement of stream sequence `sseq` (and, for `ack_policy: all`, of those
    /// before it).
    fn acknowledge(&mut self, sseq: u64) {
        match self.ack {
            AckPolicy::None => {}
            AckPolicy::Explicit => {
                self.pending.remove(&sseq);
            }
            AckPolicy::All => self.pending.retain(|&s, _| s > sseq),
        }
    }

    /// The `409 Consumer Deleted` statuses to the waiting pull requests.
    fn deleted(&self) -> Vec<Answer> {
        self.waiting.iter().map(|w| Answer::status(&w.reply, "409 Consumer Deleted", &[])).collect()
    }

    /// The next message to deliver, without taking it.
    fn peek(&self, messages: &BTreeMap<u64, Stored>) -> Result<Next, Nothing> {
        if let Some(&seq) = self.redeliver.front() {
            let deliveries = self.pending.get(&seq).map_or(1, |p| p.deliveries);
            return Ok(Next { seq, deliveries: deliveries + 1, source: Source::Redelivery });
        }
        if self.ack != AckPolicy::None
            && self.max_ack_pending > 0
            && self.pending.len() as u64 >= self.max_ack_pending.unsigned_abs()
        {
            return Err(Nothing::AckPending);
        }
        if let Some(&seq) = self.skip.front() {
            return Ok(Next { seq, deliveries: 1, source: Source::Skip });
        }
        messages
            .range(self.next_seq..)
            .find(|(_, m)| self.matches(&m.subject))
            .map(|(&seq, _)| Next { seq, deliveries: 1, source: Source::New })
            .ok_or(Nothing::Eos)
    }

    /// The ack subject of the delivery of `next`: the delivery count, the stream and
    /// consumer sequences, the stored time in nanoseconds, and what is still pending after it.
    fn ack_subject(&self, stream: &str, next: Next, m: &Stored, messages: &BTreeMap<u64, Stored>) -> String {
        let after = self.num_pending(messages) - u64::from(next.source != Source::Redelivery);
        let Next { seq, deliveries, .. } = next;
        let (name, dseq, ts) = (&self.name, self.dseq + 1, nanos(EPOCH_OFFSET + m.time));
        format!("{ACK_PREFIX}{stream}.{name}.{deliveries}.{seq}.{dseq}.{ts}.{after}")
    }

    /// Takes the message [`peek`](Self::peek) gave and records its delivery.
    fn take(&mut self, now: Duration, next: Next) {
        let Next { seq, deliveries, source } = next;
        match source {
            Source::Redelivery => {
                self.redeliver.pop_front();
            }
            Source::Skip => {
                self.skip.pop_front();
            }
            Source::New => self.next_seq = seq + 1,
        }
        self.dseq += 1;
        self.delivered_sseq = self.delivered_sseq.max(seq);
        if self.ack != AckPolicy::None {
            let deadline = now + self.ack_wait_for(deliveries);
            self.pending.insert(seq, Pending { dseq: self.dseq, deliveries, deadline, queued: false });
        }
    }

    /// The consumer's share of [`JetStream::tick`]. Returns whether it is to be removed
    /// as inactive.
    fn tick(
        &mut self,
        now: Duration,
        stream: &str,
        messages: &BTreeMap<u64, Stored>,
        interest: &dyn Fn(&str) -> bool,
        out: &mut Vec<Answer>,
    ) -> bool {
        // Unacknowledged past their deadline: redelivered, unless delivered enough.
        let max_deliver = u64::try_from(self.max_deliver).ok().filter(|&m| m > 0);
        let mut exhausted = Vec::new();
        for (&seq, p) in &mut self.pending {
            if p.queued || p.deadline > now {
                continue;
            }
            if max_deliver.is_some_and(|m| p.deliveries >= m) || !messages.contains_key(&seq) {
                exhausted.push(seq);
            } else {
                p.queued = true;
                self.redeliver.push_back(seq);
            }
        }
        for seq in &exhausted {
            self.pending.remove(seq);
        }
        let pending = &self.pending;
        self.redeliver.retain(|s| pending.contains_key(s) && messages.contains_key(s));
        self.skip.retain(|s| messages.contains_key(s));

        if let Some(subject) = self.deliver_subject.clone() {
            return self.tick_push(now, stream, &subject, messages, interest, out);
        }
        // Requests expired or without a listener any more.
        let mut kept = VecDeque::new();
        for w in self.waiting.drain(..) {
            if w.expires.is_some_and(|at| at <= now) {
                out.push(Answer::status(&w.reply, "408 Request Timeout", &w.pending_headers()));
            } else if interest(&w.reply) {
                kept.push_back(w);
            }
        }
        self.waiting = kept;
        // Deliveries, to the oldest request first.
        let mut why = Nothing::Eos;
        while !self.waiting.is_empty() {
            let next = match self.peek(messages) {
                Ok(next) => next,
                Err(nothing) => {
                    why = nothing;
                    break;
                }
            };
            let Some(m) = messages.get(&next.seq) else { break };
            let ack = self.ack_subject(stream, next, m, messages);
            let size =
                (m.subject.len() + ack.len() + m.headers.as_ref().map_or(0, Vec::len) + m.payload.len())
                    as u64;
            let Some(w) = self.waiting.front() else { break };
            if w.max_bytes && size > w.bytes {
                out.push(Answer::status(&w.reply, "409 Message Size Exceeds MaxBytes", &[]));
                self.waiting.pop_front();
                continue;
            }
            let reply = w.reply.clone();
            self.take(now, next);
            out.push(Answer {
                subject: reply,
                reply: Some(ack),
                headers: m.headers.clone(),
                payload: m.payload.clone(),
                shown_as: Some(m.subject.clone()),
            });
            let Some(w) = self.waiting.front_mut() else { break };
            w.left -= 1;
            w.delivered += 1;
            w.bytes = w.bytes.saturating_sub(size);
            w.heartbeat_at = now + w.heartbeat;
            if w.left == 0 || (w.max_bytes && w.bytes == 0) {
                self.waiting.pop_front();
            }
        }
        // One-shot (no-wait) requests end at the end of the stream.
        if why == Nothing::Eos {
            let mut kept = VecDeque::new();
            for w in self.waiting.drain(..) {
                if w.no_wait && w.delivered > 0 {
                    out.push(Answer::status(&w.reply, "408 Request Timeout", &w.pending_headers()));
                } else {
                    kept.push_back(w);
                }
            }
            self.waiting = kept;
        }
        // Heartbeats to requests still waiting.
        let last = [
            ("Nats-Last-Consumer", self.dseq.to_string()),
            ("Nats-Last-Stream", self.delivered_sseq.to_string()),
        ];
        for w in &mut self.waiting {
            if !w.heartbeat.is_zero() && w.heartbeat_at <= now {
                out.push(Answer::status(&w.reply, "100 Idle Heartbeat", &last));
                w.heartbeat_at = now + w.heartbeat;
            }
        }
        if !self.waiting.is_empty() {
            self.last_active = now;
        }
        !self.inactive_threshold.is_zero()
            && self.waiting.is_empty()
            && now >= self.last_active + self.inactive_threshold
    }

    /// A push consumer's tick: delivers what it can while its deliver subject has a
    /// subscriber, with idle heartbeats.
    fn tick_push(
        &mut self,
        now: Duration,
        stream: &str,
        subject: &str,
        messages: &BTreeMap<u64, Stored>,
        interest: &dyn Fn(&str) -> bool,
        out: &mut Vec<Answer>,
    ) -> bool {
        if !interest(subject) {
            // No subscriber, no heartbeats: the next is due an interval after one appears.
            self.push_heartbeat_at = now + self.idle_heartbeat;
            return !self.inactive_threshold.is_zero() && now >= self.last_active + self.inactive_threshold;
        }
        self.last_active = now;
        while let Ok(next) = self.peek(messages) {
            let Some(m) = messages.get(&next.seq) else { break };
            let ack = self.ack_subject(stream, next, m, messages);
            self.take(now, next);
            out.push(Answer {
                subject: subject.to_owned(),
                reply: Some(ack),
                headers: m.headers.clone(),
                payload: m.payload.clone(),
                shown_as: Some(m.subject.clone()),
            });
            self.push_heartbeat_at = now + self.idle_heartbeat;
        }
        if !self.idle_heartbeat.is_zero() && self.push_heartbeat_at <= now {
            let last = [
                ("Nats-Last-Consumer", self.dseq.to_string()),
                ("Nats-Last-Stream", self.delivered_sseq.to_string()),
            ];
            out.push(Answer::status(subject, "100 Idle Heartbeat", &last));
            self.push_heartbeat_at = now + self.idle_heartbeat;
        }
        false
    }

    fn info(&self, now: Duration, messages: &BTreeMap<u64, Stored>) -> Value {
        let (floor_c, floor_s) = match (self.ack, self.pending.iter().next()) {
            (AckPolicy::None, _) | (_, None) => (self.dseq, self.delivered_sseq),
            (_, Some((&sseq, p))) => (p.dseq - 1, sseq - 1),
        };
        json!({
            "stream_name": self.stream,
            "name": self.name,
            "created": rfc3339(self.created),
            "config": self.config,
            "delivered": {"consumer_seq": self.dseq, "stream_seq": self.delivered_sseq},
            "ack_floor": {"consumer_seq": floor_c, "stream_seq": floor_s},
            "num_ack_pending": self.pending.len(),
            "num_redelivered": self.pending.values().filter(|p| p.deliveries > 1).count(),
            "num_waiting": self.waiting.len(),
            "num_pending": self.num_pending(messages),
            "cluster": {"name": "sim", "leader": LEADER},
            "push_bound": self.deliver_subject.is_some(),
            "ts": rfc3339(now),
        })
    }
}

/// Starts the task that does what the JetStream model has due (`JetStream::tick`) and
/// routes it: deliveries, redeliveries, pull request expiry and heartbeats. It sleeps until
/// the model's next deadline, and the model wakes it when a message, request or ack
/// brings work sooner. Does nothing without JetStream or when the task runs already; the
/// task ends with the run ([`Sim::block_on`] drops it), after which it may be started again.
pub fn spawn_ticker(cluster: &Cluster) {
    {
        let mut state = lock(&cluster.0.state);
        let Some(js) = state.jetstream.as_mut() else { return };
        if js.ticker.running {
            return;
        }
        js.ticker.running = true;
    }
    let sim = cluster.0.net.sim().clone();
    let cluster = cluster.clone();
    sim.clone().spawn(async move {
        let _running = TickerRunning(cluster.clone());
        let mut sleep: Option<(Duration, Sleep)> = None;
        poll_fn(|cx| loop {
            let next = {
                let mut state = lock(&cluster.0.state);
                let now = sim.elapsed();
                let ClusterState { servers, conns, jetstream, .. } = &mut *state;
                let Some(js) = jetstream.as_mut() else { return Poll::Ready(()) };
                let interest = |to: &str| {
                    conns.values().any(|c| {
                        c.connected
                            && servers.get(c.server).is_some_and(|s| s.up)
                            && c.subs.values().any(|s| subject::matches(&s.subject, to))
                    })
                };
                let answers = js.tick(&sim, &interest);
                let next = js.next_deadline(now);
                js.ticker.waker = Some(cx.waker().clone());
                js.ticker.at = next;
                route(&mut state, &cluster.0.net, cluster.0.config.max_pending, &answers);
                next
            };
            let Some(at) = next else {
                sleep = None;
                return Poll::Pending;
            };
            if sleep.as_ref().is_none_or(|(planned, _)| *planned != at) {
                sleep = Some((at, sim.sleep_until(at)));
            }
            let Some((_, timer)) = sleep.as_mut() else { return Poll::Pending };
            if Pin::new(timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            sleep = None;
        })
        .await;
    });
}

/// Marks the ticker stopped when its task is dropped.
struct TickerRunning(Cluster);

impl Drop for TickerRunning {
    fn drop(&mut self) {
        if let Some(js) = lock(&self.0 .0.state).jetstream.as_mut() {
            js.ticker = TickerState::default();
        }
    }
}

/// Routes the model's messages: plain ones as any publish, deliveries to their inbox's
/// subscriptions showing the stored message's subject.
fn route(state: &mut ClusterState, net: &Net, max_pending: usize, answers: &[Answer]) {
    for answer in answers {
        let Some(shown) = &answer.shown_as else {
            let msg = Publish {
                subject: &answer.subject,
                reply: answer.reply.as_deref(),
                headers: answer.headers.as_deref(),
                payload: &answer.payload,
            };
            state.route(net, max_pending, None, &msg);
            continue;
        };
        let mut targets = Vec::new();
        let mut groups: BTreeMap<&str, Vec<(u64, String)>> = BTreeMap::new();
        for (&cid, conn) in &state.conns {
            if !conn.connected || !state.servers.get(conn.server).is_some_and(|s| s.up) {
                continue;
            }
            for (sid, sub) in &conn.subs {
                if subject::matches(&sub.subject, &answer.subject) {
                    match &sub.queue {
                        Some(queue) => groups.entry(queue.as_str()).or_default().push((cid, sid.clone())),
                        None => targets.push((cid, sid.clone())),
                    }
                }
            }
        }
        for members in groups.into_values() {
            let pick = net.sim().with_rng(|rng| rng.below(members.len() as u64));
            if let Some(member) = members.into_iter().nth(usize::try_from(pick).unwrap_or(0)) {
                targets.push(member);
            }
        }
        let msg = Publish {
            subject: shown,
            reply: answer.reply.as_deref(),
            headers: answer.headers.as_deref(),
            payload: &answer.payload,
        };
        for (cid, sid) in targets {
            state.deliver(net, max_pending, cid, &sid, &msg);
        }
    }
}

/// The API response type of a request subject (after `$JS.API.`); `None` for subjects the
/// API does not serve.
fn response_type(tokens: &[&str]) -> Option<String> {
    let kind = match tokens {
        ["INFO"] => "account_info_response",
        ["STREAM", "CREATE", _] => "stream_create_response",
        ["STREAM", "UPDATE", _] => "stream_update_response",
        ["STREAM", "INFO", _] => "stream_info_response",
        ["STREAM", "DELETE", _] => "stream_delete_response",
        ["STREAM", "PURGE", _] => "stream_purge_response",
        ["STREAM", "NAMES"] => "stream_names_response",
        ["STREAM", "LIST"] => "stream_list_response",
        ["STREAM", "MSG", "GET", _] => "stream_msg_get_response",
        ["STREAM", "MSG", "DELETE", _] => "stream_msg_delete_response",
        ["CONSUMER", "CREATE", _, ..] | ["CONSUMER", "DURABLE", "CREATE", _, _] => "consumer_create_response",
        ["CONSUMER", "INFO", _, _] => "consumer_info_response",
        ["CONSUMER", "DELETE", _, _] => "consumer_delete_response",
        ["CONSUMER", "NAMES", _] => "consumer_names_response",
        ["CONSUMER", "LIST", _] => "consumer_list_response",
        _ => return None,
    };
    Some(format!("{RESPONSE_TYPE}{kind}"))
}

/// A request body as JSON; empty is `{}`.
fn parse_body(payload: &[u8]) -> Result<Value, ApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(payload).map_err(|e| ApiError::invalid_json(&e))
}

fn offset_of(body: &Value) -> usize {
    body.get("offset").and_then(Value::as_u64).map_or(0, |o| usize::try_from(o).unwrap_or(usize::MAX))
}

/// A stream configuration with the server's defaults filled in, checked.
fn stream_config(name: &str, body: &Value) -> Result<Map<String, Value>, ApiError> {
    let Some(given) = body.as_object() else {
        return Err(ApiError::new(400, 10025, "invalid JSON: a stream configuration is an object"));
    };
    let mut config = given.clone();
    match config.get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        None | Some("") => drop(config.insert("name".into(), Value::from(name))),
        Some(_) => return Err(ApiError::new(400, 10056, "stream name in subject does not match request")),
    }
    if !valid_name(name) {
        return Err(ApiError::invalid_stream_config("invalid stream name"));
    }
    let mut default = |key: &str, value: Value, zero_too: bool| {
        let missing = match config.get(key) {
            None | Some(Value::Null) => true,
            Some(v) => zero_too && v.as_i64() == Some(0),
        };
        if missing {
            config.insert(key.into(), value);
        }
    };
    default("retention", Value::from("limits"), false);
    for key in ["max_consumers", "max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size"] {
        default(key, Value::from(-1), true);
    }
    default("max_age", Value::from(0), false);
    default("discard", Value::from("old"), false);
    default("storage", Value::from("file"), false);
    default("num_replicas", Value::from(1), true);
    default("compression", Value::from("none"), false);
    for key in [
        "allow_direct",
        "mirror_direct",
        "sealed",
        "deny_delete",
        "deny_purge",
        "allow_rollup_hdrs",
        "allow_msg_ttl",
    ] {
        default(key, Value::Bool(false), false);
    }
    default("consumer_limits", json!({}), false);
    let max_age = nanos_of(config.get("max_age"));
    let window = match nanos_of(config.get("duplicate_window")) {
        w if w.is_zero() && !max_age.is_zero() && max_age < DEFAULT_DUPLICATE_WINDOW => max_age,
        w if w.is_zero() => DEFAULT_DUPLICATE_WINDOW,
        w => w,
    };
    if !max_age.is_zero() && window > max_age {
        return Err(ApiError::invalid_stream_config("duplicates window can not be larger then max age"));
    }
    config.insert("duplicate_window".into(), Value::from(nanos(window)));
    let has_subjects = config.get("subjects").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if !has_subjects && config.get("mirror").is_none_or(Value::is_null) {
        config.insert("subjects".into(), json!([name]));
    }
    if let Some(subjects) = config.get("subjects").and_then(Value::as_array) {
        if !subjects.iter().all(|s| s.as_str().is_some_and(subject::valid_filter)) {
            return Err(ApiError::invalid_stream_config("invalid subject"));
        }
    }
    for key in ["max_msgs", "max_bytes", "max_age", "duplicate_window", "num_replicas"] {
        if config.get(key).is_some_and(|v| !v.is_i64()) {
            return Err(ApiError::new(400, 10025, format!("invalid JSON: {key} is not a number")));
        }
    }
    Ok(config)
}

/// A consumer configuration with the server's defaults filled in, checked.
fn consumer_config(
    name: &str,
    durable: bool,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut config = given.clone();
    config.insert("name".into(), Value::from(name));
    let push = config.get("deliver_subject").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !push {
        config.remove("deliver_subject");
        if nanos_of(config.get("idle_heartbeat")) > Duration::ZERO {
            return Err(ApiError::new(400, 10088, "consumer idle heartbeat requires a push based consumer"));
        }
        if config.get("flow_control").and_then(Value::as_bool) == Some(true) {
            return Err(ApiError::new(400, 10089, "consumer flow control requires a push based consumer"));
        }
    }
    let acked = config.get("ack_policy").and_then(Value::as_str).is_some_and(|a| a != "none");
    let mut default = |key: &str, value: Value, zero_too: bool| {
        let missing = match config.get(key) {
            None | Some(Value::Null) => true,
            Some(v) => zero_too && v.as_i64() == Some(0),
        };
        if missing {
            config.insert(key.into(), value);
        }
    };
    default("deliver_policy", Value::from("all"), false);
    default("ack_policy", Value::from("none"), false);
    default("ack_wait", Value::from(nanos(DEFAULT_ACK_WAIT)), true);
    default("max_deliver", Value::from(-1), true);
    default("replay_policy", Value::from("instant"), false);
    if !push {
        default("max_waiting", Value::from(DEFAULT_MAX_WAITING), true);
    }
    default("num_replicas", Value::from(0), false);
    if acked {
        default("max_ack_pending", Value::from(DEFAULT_MAX_ACK_PENDING), true);
    }
    if !durable {
        default("inactive_threshold", Value::from(nanos(DEFAULT_INACTIVE_THRESHOLD)), true);
    }
    let backoff = config.get("backoff").and_then(Value::as_array).map_or(0, Vec::len) as i64;
    let max_deliver = config.get("max_deliver").and_then(Value::as_i64).unwrap_or(-1);
    if backoff > 0 && max_deliver > 0 && max_deliver <= backoff {
        return Err(ApiError::new(400, 10116, "max deliver is required to be > length of backoff values"));
    }
    Ok(config)
}

fn filters_of(config: &Map<String, Value>) -> Vec<String> {
    let mut filters: Vec<String> = config
        .get("filter_subjects")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(f) = config.get("filter_subject").and_then(Value::as_str).filter(|f| !f.is_empty()) {
        filters.push(f.to_owned());
    }
    filters
}

/// An ephemeral consumer's name: eight characters from the run's random generator (the
/// server's are from a NUID hash).
fn ephemeral_name(sim: &Sim) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    sim.with_rng(|rng| {
        (0..8)
            .map(|_| char::from(ALPHABET[usize::try_from(rng.below(ALPHABET.len() as u64)).unwrap_or(0)]))
            .collect()
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
}

/// Whether two subject filters can match a common subject.
fn subjects_collide(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(&">"), _) | (_, Some(&">")) => return true,
            (Some(x), Some(y)) if *x == "*" || *y == "*" || x == y => {}
            _ => return false,
        }
    }
    true
}

/// The value of header `name` in a header block (`NATS/1.0\r\nName: value\r\n...`).
fn header_value(block: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(block).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// A JSON number of nanoseconds (a Go `time.Duration`) as a duration; negative or absent
/// is zero.
fn nanos_of(value: Option<&Value>) -> Duration {
    value
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A Go duration text such as `1.5s`, `100ms`, `2m` (one unit).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(number * scale).ok()
}

/// A duration as Go prints it, for the few server texts that show one (`30s`, `1.5s`).
fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Virtual time `at` as the server writes a time: RFC 3339 in UTC with the nanoseconds
/// Go's `RFC3339Nano` keeps (trailing zeros dropped).
fn rfc3339(at: Duration) -> String {
    nats_client::rfc3339::format(nats_client::UNIX_EPOCH + EPOCH_OFFSET + at)
}

/// Parses an RFC 3339 time (UTC or with an offset) to virtual time.
fn parse_rfc3339(text: &str) -> Option<Duration> {
    let unix = nats_client::rfc3339::parse(text)?.duration_since(nats_client::UNIX_EPOCH).ok()?;
    unix.checked_sub(EPOCH_OFFSET)
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn publish<'a>(
        subject: &'a str,
        reply: Option<&'a str>,
        headers: Option<&'a [u8]>,
        payload: &'a [u8],
    ) -> Publish<'a> {
        Publish { subject, reply, headers, payload }
    }

    fn body(answer: &Answer) -> Value {
        serde_json::from_slice(&answer.payload).unwrap()
    }

    fn request(js: &mut JetStream, sim: &Sim, subject: &str, payload: &str) -> Value {
        let answers = js.handle(sim, &publish(subject, Some("_INBOX.r"), None, payload.as_bytes()));
        assert!(answers.handled, "{subject}");
        body(&answers.replies[0])
    }

    #[test]
    fn times_and_encodings_as_the_server_writes_them() {
        assert_eq!(rfc3339(Duration::ZERO), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(Duration::from_millis(1500)), "2026-01-01T00:00:01.5Z");
        assert_eq!(rfc3339(Duration::from_secs(59 * 86_400 + 3661)), "2026-03-01T01:01:01Z");
        assert_eq!(parse_rfc3339("2026-03-01T01:01:01Z"), Some(Duration::from_secs(59 * 86_400 + 3661)));
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00.25+01:00"), Some(Duration::from_millis(250)));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert!(
            subjects_collide("a.>", "a.b.c")
                && subjects_collide("a.*", "*.b")
                && !subjects_collide("a.b", "a")
        );
        assert_eq!(
            header_value(b"NATS/1.0\r\nNats-Msg-Id: x1\r\n\r\n", "Nats-Msg-Id").as_deref(),
            Some("x1")
        );
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn jetstream_streams_dedupe_and_errors() {
        let sim = Sim::new(1);
        let mut js = JetStream::default();
        let info = request(&mut js, &sim, "$JS.API.STREAM.CREATE.S", r#"{"name":"S","subjects":["s.>"]}"#);
        assert_eq!(info["config"]["duplicate_window"], 120_000_000_000u64);
        assert_eq!(info["config"]["max_msgs"], -1);
        assert_eq!(info["type"], "io.nats.jetstream.api.v1.stream_create_response");
        let again = request(&mut js, &sim, "$JS.API.STREAM.CREATE.S", r#"{"name":"S","subjects":["s.>"]}"#);
        assert!(again.get("error").is_none(), "the same configuration again is fine");
        let other = request(&mut js, &sim, "$JS.API.STREAM.CREATE.S", r#"{"name":"S","subjects":["t"]}"#);
        assert_eq!(other["error"]["err_code"], 10058);
        let missing = request(&mut js, &sim, "$JS.API.STREAM.INFO.X", "");
        assert_eq!(
            missing["error"],
            json!({"code": 404, "err_code": 10059, "description": "stream not found"})
        );

        let id: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n";
        let ack = |js: &mut JetStream, headers| {
            let answers = js.handle(&sim, &publish("s.1", Some("_INBOX.a"), headers, b"x"));
            body(&answers.replies[0])
        };
        assert_eq!(ack(&mut js, Some(id)), json!({"stream": "S", "seq": 1}));
        assert_eq!(ack(&mut js, None), json!({"stream": "S", "seq": 2}));
        assert_eq!(ack(&mut js, Some(id)), json!({"stream": "S", "seq": 1, "duplicate": true}));
        let wrong: &[u8] = b"NATS/1.0\r\nNats-Expected-Last-Sequence: 1\r\n\r\n";
        let error = ack(&mut js, Some(wrong));
        assert_eq!(error["error"]["err_code"], 10071);
        assert_eq!(error["error"]["description"], "wrong last sequence: 2");
        let got = request(&mut js, &sim, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":2}"#);
        assert_eq!(got["message"]["data"], "eA==");
        let none = request(&mut js, &sim, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":9}"#);
        assert_eq!(none["error"]["err_code"], 10037);
        assert!(!js.handle(&sim, &publish("other", Some("_INBOX.a"), None, b"")).handled);
    }
}
