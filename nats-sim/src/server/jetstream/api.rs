//! The JetStream API (`$JS.API.>`): the request handlers, their errors and the parsing of
//! request subjects and bodies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::config::{consumer_config, ephemeral_name, filters_of, stream_config, subjects_collide};
use super::consumer::Consumer;
use super::stream::{Limits, Stream};
use super::{Answer, Answers, ElectionAnswer, JetStream};
use crate::executor::Sim;
use crate::server::Publish;

const RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.";
/// Page sizes of the listings.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;

/// An API error: the HTTP-like code, the JetStream code and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    code: u16,
    err_code: u32,
    description: String,
}

impl ApiError {
    pub(super) fn new(code: u16, err_code: u32, description: impl Into<String>) -> Self {
        Self { code, err_code, description: description.into() }
    }

    pub(super) fn to_json(&self) -> Value {
        json!({"code": self.code, "err_code": self.err_code, "description": self.description})
    }

    fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }

    fn consumer_not_found() -> Self {
        Self::new(404, 10014, "consumer not found")
    }

    pub(super) fn no_message() -> Self {
        Self::new(404, 10037, "no message found")
    }

    pub(super) fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }

    fn invalid_json(error: &serde_json::Error) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {error}"))
    }

    pub(super) fn invalid_stream_config(text: &str) -> Self {
        Self::new(500, 10052, text)
    }

    fn unavailable() -> Self {
        Self::new(503, 10008, "JetStream system temporarily unavailable")
    }
}

impl JetStream {
    pub(super) fn api(&mut self, sim: &Sim, op: &str, msg: &Publish<'_>) -> Answers {
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

pub(super) fn offset_of(body: &Value) -> usize {
    body.get("offset").and_then(Value::as_u64).map_or(0, |o| usize::try_from(o).unwrap_or(usize::MAX))
}
