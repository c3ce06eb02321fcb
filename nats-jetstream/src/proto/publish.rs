//! Publishing to a stream: expectation headers and acknowledgement parsing.

use nats_proto::{HeaderMap, HeaderName, HeaderValue};

use super::api::{parse_response, PubAck, ResponseError};
use super::error::{ApiError, ErrorCode};

/// `Nats-Msg-Id`: de-duplication id.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// `Nats-Expected-Stream`.
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// `Nats-Expected-Last-Sequence`.
pub const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
/// `Nats-Expected-Last-Subject-Sequence`.
pub const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
/// `Nats-Expected-Last-Msg-Id`.
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `Nats-Expected-Last-Subject-Sequence-Subject`: the subject (wildcards allowed) whose
/// last sequence `Nats-Expected-Last-Subject-Sequence` checks (servers since 2.11).
pub const EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
/// `Nats-TTL`: how long the stream keeps this message (servers since 2.11, streams with
/// `allow_msg_ttl`).
pub const MESSAGE_TTL: &str = "Nats-TTL";

/// How long a stream keeps one message (`Nats-TTL`), whatever its age limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageTtl {
    /// Removed this long after it is stored. The server counts whole seconds, at least
    /// one: a fraction is rounded up (and a duration past `i64::MAX` seconds saturates).
    After(std::time::Duration),
    /// Never removed by age (the stream's `max_age` does not apply to it).
    Never,
}

impl MessageTtl {
    /// The header's value: whole seconds, or `never`.
    pub fn header_value(&self) -> String {
        match self {
            Self::After(d) => {
                // The server reads an `int64` of seconds.
                let seconds = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
                seconds.clamp(1, i64::MAX as u64).to_string()
            }
            Self::Never => "never".to_owned(),
        }
    }
}

/// What a publish asks the stream to check, its de-duplication id and its TTL: the
/// headers it adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishExpectations {
    /// `Nats-Msg-Id`.
    pub message_id: Option<String>,
    /// `Nats-Expected-Stream`.
    pub expected_stream: Option<String>,
    /// `Nats-Expected-Last-Sequence`.
    pub expected_last_sequence: Option<u64>,
    /// `Nats-Expected-Last-Subject-Sequence`.
    pub expected_last_subject_sequence: Option<u64>,
    /// `Nats-Expected-Last-Msg-Id`.
    pub expected_last_message_id: Option<String>,
    /// `Nats-Expected-Last-Subject-Sequence-Subject`.
    pub expected_last_subject_sequence_subject: Option<String>,
    /// `Nats-TTL`.
    pub ttl: Option<MessageTtl>,
}

/// A header value that cannot be sent (CR or LF in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for header {name}: {value:?}")]
pub struct InvalidHeader {
    /// The header.
    pub name: &'static str,
    /// The value.
    pub value: String,
}

impl PublishExpectations {
    /// Whether no header is needed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Adds the headers to `headers` (replacing any with the same names).
    ///
    /// # Errors
    /// [`InvalidHeader`] for an id or stream name with CR or LF.
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<(), InvalidHeader> {
        let mut set = |name: &'static str, value: String| -> Result<(), InvalidHeader> {
            let v =
                HeaderValue::new(value.as_str()).map_err(|_| InvalidHeader { name, value: value.clone() })?;
            headers.insert(HeaderName::new(name).expect("constant header names are valid"), v);
            Ok(())
        };
        if let Some(id) = &self.message_id {
            set(MSG_ID, id.clone())?;
        }
        if let Some(stream) = &self.expected_stream {
            set(EXPECTED_STREAM, stream.clone())?;
        }
        if let Some(seq) = self.expected_last_sequence {
            set(EXPECTED_LAST_SEQUENCE, seq.to_string())?;
        }
        if let Some(seq) = self.expected_last_subject_sequence {
            set(EXPECTED_LAST_SUBJECT_SEQUENCE, seq.to_string())?;
        }
        if let Some(id) = &self.expected_last_message_id {
            set(EXPECTED_LAST_MSG_ID, id.clone())?;
        }
        if let Some(subject) = &self.expected_last_subject_sequence_subject {
            set(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, subject.clone())?;
        }
        if let Some(ttl) = &self.ttl {
            set(MESSAGE_TTL, ttl.header_value())?;
        }
        Ok(())
    }
}

/// Why a publish acknowledgement is not a success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PubAckError {
    /// `Nats-Expected-Stream` named another stream.
    #[error("wrong stream: {0}")]
    WrongStream(ApiError),
    /// An expected last sequence (stream or subject) or message id did not match.
    #[error("wrong last sequence or message id: {0}")]
    WrongLastSequence(ApiError),
    /// A limit refused the message (size, count, bytes with `discard: new`, account).
    #[error("limit exceeded: {0}")]
    Limits(ApiError),
    /// JetStream is not enabled.
    #[error("JetStream not enabled: {0}")]
    NotEnabled(ApiError),
    /// Any other JetStream error.
    #[error(transparent)]
    Api(ApiError),
    /// Not a publish acknowledgement at all.
    #[error("invalid publish acknowledgement: {0}")]
    Decode(String),
}

impl From<ApiError> for PubAckError {
    fn from(e: ApiError) -> Self {
        match e.err_code {
            ErrorCode::STREAM_NOT_MATCH => Self::WrongStream(e),
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE | ErrorCode::STREAM_WRONG_LAST_MSG_ID => {
                Self::WrongLastSequence(e)
            }
            _ if e.is_limit() => Self::Limits(e),
            _ if e.is_not_enabled() => Self::NotEnabled(e),
            _ => Self::Api(e),
        }
    }
}

/// Parses the reply to a publish.
///
/// # Errors
/// A [`PubAckError`] for a JetStream error or a body that is not an ack (an ack must name
/// its stream).
pub fn parse_pub_ack(body: &[u8]) -> Result<PubAck, PubAckError> {
    match parse_response::<PubAck>(body) {
        Ok(ack) if ack.stream.is_empty() => Err(PubAckError::Decode("no stream in the ack".into())),
        Ok(ack) => Ok(ack),
        Err(ResponseError::Api(e)) => Err(e.into()),
        Err(ResponseError::Decode(e)) => Err(PubAckError::Decode(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectation_headers() {
        let mut headers = HeaderMap::new();
        PublishExpectations {
            message_id: Some("id-1".into()),
            expected_stream: Some("S".into()),
            expected_last_sequence: Some(4),
            expected_last_subject_sequence: Some(0),
            expected_last_message_id: Some("id-0".into()),
            expected_last_subject_sequence_subject: Some("orders.*".into()),
            ttl: Some(MessageTtl::After(std::time::Duration::from_secs(90))),
        }
        .apply(&mut headers)
        .unwrap();
        assert_eq!(headers.get(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT).unwrap().as_str(), "orders.*");
        assert_eq!(headers.get(MESSAGE_TTL).unwrap().as_str(), "90");
        assert_eq!(headers.get(MSG_ID).unwrap().as_str(), "id-1");
        assert_eq!(headers.get(EXPECTED_STREAM).unwrap().as_str(), "S");
        assert_eq!(headers.get(EXPECTED_LAST_SEQUENCE).unwrap().as_str(), "4");
        assert_eq!(headers.get(EXPECTED_LAST_SUBJECT_SEQUENCE).unwrap().as_str(), "0");
        assert_eq!(headers.get(EXPECTED_LAST_MSG_ID).unwrap().as_str(), "id-0");
        assert!(PublishExpectations::default().is_empty());
        let bad = PublishExpectations { message_id: Some("a\r\nb".into()), ..Default::default() };
        assert!(bad.apply(&mut HeaderMap::new()).is_err());
    }

    #[test]
    fn ttls_are_whole_seconds_rounded_up_at_least_one() {
        use std::time::Duration;
        let value = |d| MessageTtl::After(d).header_value();
        assert_eq!(value(Duration::from_secs(5)), "5");
        assert_eq!(value(Duration::from_millis(5001)), "6", "rounded up: never removed early");
        assert_eq!(value(Duration::from_millis(10)), "1", "the server's least TTL");
        assert_eq!(value(Duration::ZERO), "1");
        assert_eq!(value(Duration::MAX), i64::MAX.to_string(), "saturated, as the server reads it");
        assert_eq!(MessageTtl::Never.header_value(), "never");
    }

    #[test]
    fn acks_and_their_errors() {
        let ack = parse_pub_ack(br#"{"stream":"S","seq":7}"#).unwrap();
        assert_eq!((ack.stream.as_str(), ack.sequence, ack.duplicate), ("S", 7, false));
        let ack = parse_pub_ack(br#"{"stream":"S","seq":7,"duplicate":true,"domain":"hub"}"#).unwrap();
        assert!(ack.duplicate);
        assert_eq!(ack.domain.as_deref(), Some("hub"));
        let err = |code: u64| {
            parse_pub_ack(
                format!(r#"{{"error":{{"code":400,"err_code":{code},"description":"d"}}}}"#).as_bytes(),
            )
            .unwrap_err()
        };
        assert!(matches!(err(10060), PubAckError::WrongStream(_)));
        assert!(matches!(err(10071), PubAckError::WrongLastSequence(_)));
        assert!(matches!(err(10070), PubAckError::WrongLastSequence(_)));
        assert!(matches!(err(10054), PubAckError::Limits(_)));
        assert!(matches!(err(10077), PubAckError::Limits(_)));
        assert!(matches!(err(10076), PubAckError::NotEnabled(_)));
        assert!(matches!(err(1), PubAckError::Api(_)));
        assert!(matches!(parse_pub_ack(b""), Err(PubAckError::Decode(_))));
        assert!(matches!(parse_pub_ack(b"{}"), Err(PubAckError::Decode(_))));
    }
}
