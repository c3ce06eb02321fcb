//! Direct get (servers since 2.9, streams with `allow_direct`): any replica, or a mirror
//! with `mirror_direct`, answers a read, not only the stream leader. The request is JSON
//! on `DIRECT.GET.<stream>` (or nothing on `DIRECT.GET.<stream>.<subject>` for the last
//! message on a subject); the reply is the stored message itself, its headers extended
//! with `Nats-Stream`, `Nats-Subject`, `Nats-Sequence` and `Nats-Time-Stamp`, or a status
//! (404 not found, 408 bad request, 413 too many results, 429 too many requests). A batch
//! ends with `204 EOB`.

use bytes::Bytes;
use nats_proto::{HeaderMap, StatusCode};
use serde::Serialize;

use super::wire::{is_false, is_zero_u64};

/// `Nats-Stream`: the stream that answered a direct get.
pub const STREAM: &str = "Nats-Stream";
/// `Nats-Subject`: the message's subject.
pub const SUBJECT: &str = "Nats-Subject";
/// `Nats-Sequence`: the message's stream sequence.
pub const SEQUENCE: &str = "Nats-Sequence";
/// `Nats-Time-Stamp`: when it was stored (RFC 3339).
pub const TIME_STAMP: &str = "Nats-Time-Stamp";
/// `Nats-Num-Pending`: in a batch, messages matching after this one.
pub const NUM_PENDING: &str = "Nats-Num-Pending";
/// `Nats-Last-Sequence`: in a batch, the sequence of the message before this one.
pub const LAST_SEQUENCE: &str = "Nats-Last-Sequence";
/// `Nats-UpTo-Sequence`: in a multi-last batch's end, the sequence it read up to.
pub const UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";

/// A direct get request. Set one of `seq`, `last_by_subject`, `next_by_subject` or
/// `multi_last` (the server refuses other combinations with 408).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectGetRequest {
    /// The message with this sequence; with `next_by_subject` or `batch`, the first
    /// sequence considered.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    /// The last message on this subject.
    #[serde(rename = "last_by_subj", skip_serializing_if = "Option::is_none")]
    pub last_by_subject: Option<String>,
    /// The first message at or after `seq` on this subject (wildcards allowed).
    #[serde(rename = "next_by_subj", skip_serializing_if = "Option::is_none")]
    pub next_by_subject: Option<String>,
    /// Up to this many messages, then `204 EOB` (servers since 2.11).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub batch: u64,
    /// A batch stops before this many bytes.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max_bytes: u64,
    /// The first message stored at or after this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// The last message of each subject matching these filters (servers since 2.11).
    #[serde(rename = "multi_last", skip_serializing_if = "Vec::is_empty")]
    pub multi_last: Vec<String>,
    /// With `multi_last`: as of this sequence.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub up_to_seq: u64,
    /// With `multi_last`: as of this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_time: Option<String>,
    /// Payloads only, without the stored headers.
    #[serde(rename = "no_hdr", skip_serializing_if = "is_false")]
    pub no_headers: bool,
}

impl DirectGetRequest {
    /// The message with stream sequence `seq`.
    pub fn sequence(seq: u64) -> Self {
        Self { seq, ..Self::default() }
    }

    /// The last message on `subject`.
    pub fn last_by_subject(subject: impl Into<String>) -> Self {
        Self { last_by_subject: Some(subject.into()), ..Self::default() }
    }

    /// The first message at or after `seq` on `subject` (wildcards allowed).
    pub fn next_by_subject(subject: impl Into<String>, seq: u64) -> Self {
        Self { seq, next_by_subject: Some(subject.into()), ..Self::default() }
    }

    /// The last message of each subject matching `filters`.
    pub fn multi_last<I: IntoIterator<Item = S>, S: Into<String>>(filters: I) -> Self {
        Self { multi_last: filters.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// Up to `batch` messages.
    #[must_use]
    pub fn batch(mut self, batch: u64) -> Self {
        self.batch = batch;
        self
    }

    /// Whether the reply is a batch ending in `204 EOB`.
    pub fn is_batch(&self) -> bool {
        self.batch > 0 || !self.multi_last.is_empty()
    }
}

/// A message as a direct get returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectMessage {
    /// The stream that answered.
    pub stream: String,
    /// The subject.
    pub subject: String,
    /// The stream sequence.
    pub sequence: u64,
    /// When stored (RFC 3339).
    pub time: String,
    /// The headers it was stored with (without the direct get's own), if any.
    pub headers: Option<HeaderMap>,
    /// The payload.
    pub payload: Bytes,
    /// In a batch: matching messages after this one.
    pub num_pending: Option<u64>,
    /// In a batch: the sequence of the message before this one (0 for the first).
    pub last_sequence: Option<u64>,
}

/// One reply to a direct get.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectReply {
    /// A message.
    Message(DirectMessage),
    /// The end of a batch (`204 EOB`).
    EndOfBatch {
        /// Matching messages left after the batch.
        num_pending: u64,
        /// The last sequence the batch delivered.
        last_sequence: u64,
    },
}

/// Why a direct get reply is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectGetError {
    /// No such message (404).
    #[error("message not found")]
    NotFound,
    /// The server refused the request (408 bad or empty request, 412, 413 too many
    /// results, 429 too many requests, 500...).
    #[error("direct get refused: {code} {description}")]
    Refused {
        /// The status code.
        code: u16,
        /// Its description.
        description: String,
    },
    /// The reply lacks the headers of a direct get message.
    #[error("invalid direct get reply: {0}")]
    Invalid(&'static str),
}

/// Parses one reply to a direct get: its headers (status included) and payload.
///
/// # Errors
/// [`DirectGetError`] for a status other than `204 EOB`, or a reply without the direct get
/// headers.
pub fn parse_direct_reply(
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<DirectReply, DirectGetError> {
    let headers = headers.ok_or(DirectGetError::Invalid("no headers"))?;
    let number = |name: &str| headers.get(name).and_then(|v| v.as_str().trim().parse::<u64>().ok());
    if let Some(status) = headers.status() {
        let description = headers.description().map(|d| d.as_str().to_owned()).unwrap_or_default();
        return match status {
            StatusCode::NOT_FOUND => Err(DirectGetError::NotFound),
            s if s.as_u16() == 204 => Ok(DirectReply::EndOfBatch {
                num_pending: number(NUM_PENDING).unwrap_or(0),
                last_sequence: number(LAST_SEQUENCE).unwrap_or(0),
            }),
            s => Err(DirectGetError::Refused { code: s.as_u16(), description }),
        };
    }
    let text = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    let stream = text(STREAM).ok_or(DirectGetError::Invalid("no Nats-Stream"))?;
    let subject = text(SUBJECT).ok_or(DirectGetError::Invalid("no Nats-Subject"))?;
    let sequence = number(SEQUENCE).ok_or(DirectGetError::Invalid("no Nats-Sequence"))?;
    let time = text(TIME_STAMP).unwrap_or_default();
    let (num_pending, last_sequence) = (number(NUM_PENDING), number(LAST_SEQUENCE));
    let mut stored = headers.clone();
    for name in [STREAM, SUBJECT, SEQUENCE, TIME_STAMP, NUM_PENDING, LAST_SEQUENCE] {
        stored.remove(name);
    }
    let headers = (!stored.is_empty()).then_some(stored);
    Ok(DirectReply::Message(DirectMessage {
        stream,
        subject,
        sequence,
        time,
        headers,
        payload,
        num_pending,
        last_sequence,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(block: &str) -> HeaderMap {
        HeaderMap::decode(&Bytes::from(block.to_owned())).unwrap()
    }

    #[test]
    fn a_message_with_its_stored_headers() {
        let headers = reply(
            "NATS/1.0\r\nX-Own: 1\r\nNats-Stream: S\r\nNats-Subject: a.b\r\nNats-Sequence: 7\r\nNats-Time-Stamp: 2026-01-01T00:00:00Z\r\n\r\n",
        );
        let DirectReply::Message(m) = parse_direct_reply(Some(&headers), Bytes::from_static(b"hi")).unwrap()
        else {
            panic!("a message")
        };
        assert_eq!((m.stream.as_str(), m.subject.as_str(), m.sequence), ("S", "a.b", 7));
        assert_eq!(m.time, "2026-01-01T00:00:00Z");
        let own = m.headers.unwrap();
        assert_eq!(own.len(), 1, "the direct get's headers are not the message's");
        assert_eq!(own.get("X-Own").unwrap().as_str(), "1");
        assert_eq!(&m.payload[..], b"hi");
        assert_eq!(m.num_pending, None);
    }

    #[test]
    fn batches_count_down_and_end() {
        let headers = reply(
            "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: a\r\nNats-Sequence: 3\r\nNats-Time-Stamp: t\r\nNats-Num-Pending: 2\r\nNats-Last-Sequence: 1\r\n\r\n",
        );
        let DirectReply::Message(m) = parse_direct_reply(Some(&headers), Bytes::new()).unwrap() else {
            panic!("a message")
        };
        assert_eq!((m.num_pending, m.last_sequence, m.headers), (Some(2), Some(1), None));
        let end = reply("NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\nNats-Last-Sequence: 3\r\n\r\n");
        assert_eq!(
            parse_direct_reply(Some(&end), Bytes::new()),
            Ok(DirectReply::EndOfBatch { num_pending: 0, last_sequence: 3 })
        );
    }

    #[test]
    fn statuses_and_malformed_replies_are_typed_errors() {
        let not_found = reply("NATS/1.0 404 Message Not Found\r\n\r\n");
        assert_eq!(parse_direct_reply(Some(&not_found), Bytes::new()), Err(DirectGetError::NotFound));
        let busy = reply("NATS/1.0 429 Too Many Requests\r\n\r\n");
        assert_eq!(
            parse_direct_reply(Some(&busy), Bytes::new()),
            Err(DirectGetError::Refused { code: 429, description: "Too Many Requests".into() })
        );
        assert!(matches!(parse_direct_reply(None, Bytes::new()), Err(DirectGetError::Invalid(_))));
        let partial = reply("NATS/1.0\r\nNats-Stream: S\r\nNats-Sequence: x\r\n\r\n");
        assert!(matches!(parse_direct_reply(Some(&partial), Bytes::new()), Err(DirectGetError::Invalid(_))));
    }

    #[test]
    fn requests_name_only_what_is_set() {
        let json = |r: &DirectGetRequest| serde_json::to_string(r).unwrap();
        assert_eq!(json(&DirectGetRequest::sequence(3)), r#"{"seq":3}"#);
        assert_eq!(json(&DirectGetRequest::last_by_subject("a.b")), r#"{"last_by_subj":"a.b"}"#);
        assert_eq!(
            json(&DirectGetRequest::next_by_subject("a.*", 4).batch(10)),
            r#"{"seq":4,"next_by_subj":"a.*","batch":10}"#
        );
        let multi = DirectGetRequest::multi_last(["a.>", "b.>"]);
        assert_eq!(json(&multi), r#"{"multi_last":["a.>","b.>"]}"#);
        assert!(multi.is_batch() && !DirectGetRequest::sequence(1).is_batch());
    }
}
