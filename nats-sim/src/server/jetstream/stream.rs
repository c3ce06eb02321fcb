//! A stream: its limits, its stored messages, and what it answers (stream info, purge,
//! message get and delete, direct get).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::api::{offset_of, ApiError};
use super::consumer::Consumer;
use super::wire::{base64, header_value, nanos_of, parse_go_duration, rfc3339, ZERO_TIME};
use super::{Answer, LEADER};
use crate::server::{subject, Publish};

/// One stream.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) name: String,
    /// The configuration as given, with the server's defaults filled in.
    pub(super) config: Map<String, Value>,
    pub(super) limits: Limits,
    pub(super) created: Duration,
    pub(super) messages: BTreeMap<u64, Stored>,
    pub(super) first_seq: u64,
    pub(super) last_seq: u64,
    pub(super) last_time: Duration,
    pub(super) bytes: u64,
    /// The `Nats-Msg-Id` of the last message stored.
    pub(super) last_msg_id: Option<String>,
    /// `Nats-Msg-Id`s within the duplicate window: their sequence and when stored.
    pub(super) ids: BTreeMap<String, (u64, Duration)>,
    pub(super) consumers: BTreeMap<String, Consumer>,
}

/// What a stream's configuration means to the model.
#[derive(Debug, Clone, Default)]
pub(super) struct Limits {
    pub(super) subjects: Vec<String>,
    max_msgs: i64,
    max_bytes: i64,
    pub(super) max_age: Duration,
    max_msgs_per_subject: i64,
    max_msg_size: i64,
    pub(super) max_consumers: i64,
    discard_new: bool,
    discard_new_per_subject: bool,
    pub(super) duplicate_window: Duration,
    pub(super) allow_direct: bool,
    allow_msg_ttl: bool,
    sealed: bool,
    pub(super) no_ack: bool,
    deny_delete: bool,
    deny_purge: bool,
    pub(super) memory: bool,
}

/// A stored message.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub(super) subject: String,
    pub(super) headers: Option<Vec<u8>>,
    pub(super) payload: Vec<u8>,
    pub(super) time: Duration,
    /// When its `Nats-TTL` removes it.
    pub(super) expires: Option<Duration>,
}

impl Stream {
    pub(super) fn captures(&self, subject: &str) -> bool {
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
    pub(super) fn store(&mut self, now: Duration, msg: &Publish<'_>) -> Result<Value, ApiError> {
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
    pub(super) fn enforce_limits(&mut self) {
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
    pub(super) fn expire(&mut self, now: Duration) {
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
    pub(super) fn last_on(&self, filter: &str) -> Option<u64> {
        self.messages.iter().rev().find(|(_, m)| subject::matches(filter, &m.subject)).map(|(&seq, _)| seq)
    }

    pub(super) fn info(&self, now: Duration, request: &Value) -> Value {
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

    pub(super) fn purge(&mut self, request: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn message_get(&self, request: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn message_delete(&mut self, request: &Value) -> Result<Value, ApiError> {
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
    pub(super) fn direct_message(&self, reply: &str, seq: u64, extra: &[(&str, String)]) -> Answer {
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
    pub(super) fn direct_json(&self, reply: &str, payload: &[u8]) -> Vec<Answer> {
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
    pub(super) fn from_config(config: &Map<String, Value>) -> Self {
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
