//! A consumer: its pull requests, deliveries, acknowledgements and redeliveries, and its
//! share of the ticker's work.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::api::ApiError;
use super::config::{DEFAULT_ACK_WAIT, DEFAULT_MAX_ACK_PENDING, DEFAULT_MAX_WAITING};
use super::stream::{Stored, Stream};
use super::wire::{go_duration, nanos, nanos_of, parse_rfc3339, rfc3339, EPOCH_OFFSET};
use super::{Answer, ACK_PREFIX, LEADER};
use crate::server::subject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckPolicy {
    None,
    All,
    Explicit,
}

/// One consumer.
#[derive(Debug)]
pub(super) struct Consumer {
    pub(super) name: String,
    stream: String,
    pub(super) config: Map<String, Value>,
    created: Duration,
    pub(super) filters: Vec<String>,
    ack: AckPolicy,
    ack_wait: Duration,
    backoff: Vec<Duration>,
    max_deliver: i64,
    max_ack_pending: i64,
    max_waiting: i64,
    max_batch: i64,
    max_expires: Duration,
    max_request_bytes: i64,
    pub(super) inactive_threshold: Duration,
    /// A push consumer's deliver subject.
    pub(super) deliver_subject: Option<String>,
    /// A push consumer's idle heartbeat.
    pub(super) idle_heartbeat: Duration,
    /// The next stream sequence to consider.
    pub(super) next_seq: u64,
    /// Deliver policy `last_per_subject`: the sequences still to deliver before `next_seq`.
    skip: VecDeque<u64>,
    /// The last consumer sequence delivered.
    dseq: u64,
    /// The highest stream sequence delivered.
    delivered_sseq: u64,
    /// Delivered, not acknowledged, by stream sequence.
    pub(super) pending: BTreeMap<u64, Pending>,
    /// Stream sequences to deliver again, in order.
    redeliver: VecDeque<u64>,
    pub(super) waiting: VecDeque<Waiting>,
    /// The last activity (a pull request, an ack, push interest) for `inactive_threshold`.
    pub(super) last_active: Duration,
    /// A push consumer's next idle heartbeat.
    pub(super) push_heartbeat_at: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct Pending {
    dseq: u64,
    pub(super) deliveries: u64,
    /// When it is redelivered without an ack.
    pub(super) deadline: Duration,
    /// In the redelivery queue already.
    pub(super) queued: bool,
}

/// A waiting pull request.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    reply: String,
    /// Messages still wanted.
    left: u64,
    /// Bytes still wanted (`max_bytes`), 0 without a limit.
    bytes: u64,
    max_bytes: bool,
    delivered: u64,
    no_wait: bool,
    pub(super) expires: Option<Duration>,
    pub(super) heartbeat: Duration,
    pub(super) heartbeat_at: Duration,
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

impl Consumer {
    pub(super) fn new(
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
    pub(super) fn apply(&mut self, config: Map<String, Value>) {
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
    pub(super) fn ack_wait_for(&self, deliveries: u64) -> Duration {
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
    pub(super) fn request(
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
    pub(super) fn acknowledge(&mut self, sseq: u64) {
        match self.ack {
            AckPolicy::None => {}
            AckPolicy::Explicit => {
                self.pending.remove(&sseq);
            }
            AckPolicy::All => self.pending.retain(|&s, _| s > sseq),
        }
    }

    /// The `409 Consumer Deleted` statuses to the waiting pull requests.
    pub(super) fn deleted(&self) -> Vec<Answer> {
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

    /// The consumer's share of [`JetStream::tick`](super::JetStream::tick). Returns whether
    /// it is to be removed as inactive.
    pub(super) fn tick(
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

    pub(super) fn info(&self, now: Duration, messages: &BTreeMap<u64, Stored>) -> Value {
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
