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

mod api;
mod config;
mod consumer;
mod stream;
mod ticker;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::Publish;
use crate::executor::Sim;
use stream::Stream;
use ticker::TickerState;
use wire::parse_go_duration;

pub use ticker::spawn_ticker;

const API_PREFIX: &str = "$JS.API.";
const ACK_PREFIX: &str = "$JS.ACK.";
/// The server named as leader of every stream and consumer.
const LEADER: &str = "s0";

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

#[cfg(test)]
mod tests {
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
