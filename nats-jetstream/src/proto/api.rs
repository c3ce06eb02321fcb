//! Request and response bodies of the JetStream API other than configurations and
//! information (ADR-1, the server's `jetstream_api.go`): consumer creation, publish acks,
//! purges, paged listings, message get and delete, and the response envelope.

use serde::{Deserialize, Serialize};

use super::consumer_config::ConsumerConfig;
use super::error::ApiError;
use super::info::{ConsumerInfo, StreamInfo};
use super::wire::{is_false, null_as_empty};

/// `CONSUMER.CREATE` request body.
#[derive(Debug, Serialize)]
pub struct CreateConsumerRequest<'a> {
    /// The stream.
    pub stream_name: &'a str,
    /// The configuration.
    pub config: &'a ConsumerConfig,
    /// Create, update or either (servers since 2.10; older ones ignore it and create or
    /// update).
    #[serde(skip_serializing_if = "ConsumerAction::is_create_or_update")]
    pub action: ConsumerAction,
}

/// What a consumer create request may do (ADR-37).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum ConsumerAction {
    /// Create it, or update it if it exists with another configuration.
    #[default]
    #[serde(rename = "")]
    CreateOrUpdate,
    /// Create it; fail with [`ErrorCode::CONSUMER_ALREADY_EXISTS`](super::ErrorCode) if it
    /// exists with another configuration (an identical one succeeds).
    #[serde(rename = "create")]
    Create,
    /// Update it; fail with [`ErrorCode::CONSUMER_DOES_NOT_EXIST`](super::ErrorCode) if
    /// there is none.
    #[serde(rename = "update")]
    Update,
}

impl ConsumerAction {
    fn is_create_or_update(&self) -> bool {
        *self == Self::CreateOrUpdate
    }
}

/// `STREAM.INFO` request body: which details to include.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamInfoRequest {
    /// Where the page of subjects starts.
    #[serde(skip_serializing_if = "super::wire::is_zero_u64")]
    pub offset: u64,
    /// List the deleted sequences in [`StreamState::deleted`](super::StreamState).
    #[serde(skip_serializing_if = "is_false")]
    pub deleted_details: bool,
    /// Count messages per subject matching this filter in
    /// [`StreamState::subjects`](super::StreamState) (paged: the response says the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects_filter: Option<String>,
}

/// `CONSUMER.PAUSE` request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PauseRequest {
    /// Paused until this time (RFC 3339); `None` resumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
}

/// `CONSUMER.PAUSE` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PauseResponse {
    /// Whether it is paused now.
    pub paused: bool,
    /// Until when (RFC 3339).
    pub pause_until: Option<String>,
    /// How long it stays paused.
    #[serde(with = "super::wire::nanos")]
    pub pause_remaining: std::time::Duration,
}

/// The server's acknowledgement of a published message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PubAck {
    /// The stream that stored it.
    pub stream: String,
    /// Its stream sequence.
    #[serde(rename = "seq")]
    pub sequence: u64,
    /// The JetStream domain.
    pub domain: Option<String>,
    /// A duplicate of an earlier message with the same `Nats-Msg-Id` (not stored again).
    pub duplicate: bool,
    /// The committed batch's id (atomic batch publishes).
    #[serde(rename = "batch")]
    pub batch_id: Option<String>,
    /// How many messages the committed batch stored.
    #[serde(rename = "count")]
    pub batch_size: u64,
    /// A counter's value after the increment (streams with counters).
    #[serde(rename = "val")]
    pub value: Option<String>,
}

/// `STREAM.PURGE` request body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeRequest {
    /// Only messages on this subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Purge up to (not including) this sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Keep this many of the newest messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<u64>,
}

/// `STREAM.PURGE` response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PurgeResponse {
    /// Whether it worked.
    pub success: bool,
    /// Messages removed.
    pub purged: u64,
}

/// A `success` response (deletes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SuccessResponse {
    /// Whether it worked.
    pub success: bool,
}

/// A paged list request (`offset` into the list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PagedRequest {
    /// Where the page starts.
    pub offset: u64,
    /// Only streams capturing this subject (stream names / list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// A page of stream names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StreamNamesPage {
    /// Total in the list.
    pub total: u64,
    /// Where this page starts.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
    /// The names (the server sends `null` for none).
    #[serde(deserialize_with = "null_as_empty")]
    pub streams: Vec<String>,
}

/// A page of stream infos.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StreamListPage {
    /// Total in the list.
    pub total: u64,
    /// Where this page starts.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
    /// The streams.
    #[serde(deserialize_with = "null_as_empty")]
    pub streams: Vec<StreamInfo>,
}

/// A page of consumer names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConsumerNamesPage {
    /// Total in the list.
    pub total: u64,
    /// Where this page starts.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
    /// The names.
    #[serde(deserialize_with = "null_as_empty")]
    pub consumers: Vec<String>,
}

/// A page of consumer infos.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConsumerListPage {
    /// Total in the list.
    pub total: u64,
    /// Where this page starts.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
    /// The consumers.
    #[serde(deserialize_with = "null_as_empty")]
    pub consumers: Vec<ConsumerInfo>,
}

/// Whether a paged listing has more after `page` (`offset + items < total`).
pub fn has_more(offset: u64, items: usize, total: u64) -> bool {
    items > 0 && offset + (items as u64) < total
}

/// `STREAM.MSG.GET` request body: by sequence or the last on a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MessageGetRequest {
    /// By stream sequence.
    Sequence {
        /// The sequence.
        seq: u64,
    },
    /// The last message on a subject.
    LastBySubject {
        /// The subject.
        last_by_subj: String,
    },
}

/// `STREAM.MSG.DELETE` request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MessageDeleteRequest {
    /// The sequence.
    pub seq: u64,
    /// Overwrite the data (slower) instead of just removing it.
    #[serde(skip_serializing_if = "is_false")]
    pub no_erase: bool,
}

/// A stored message as `STREAM.MSG.GET` returns it (headers and data base64-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RawStreamMessage {
    /// The subject.
    pub subject: String,
    /// The sequence.
    pub seq: u64,
    /// Base64 header block.
    pub hdrs: Option<String>,
    /// Base64 payload.
    pub data: Option<String>,
    /// When stored (RFC 3339).
    pub time: String,
}

/// `STREAM.MSG.GET` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MessageGetResponse {
    /// The message.
    pub message: RawStreamMessage,
}

/// Parses an API response: the `error` object when present, else `T`.
///
/// # Errors
/// [`ResponseError::Api`] for a JetStream error, [`ResponseError::Decode`] for a body that is
/// neither.
pub fn parse_response<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ResponseError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<ApiError>,
    }
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| ResponseError::Decode(e.to_string()))?;
    if let Some(error) = envelope.error {
        return Err(ResponseError::Api(error));
    }
    serde_json::from_slice(body).map_err(|e| ResponseError::Decode(e.to_string()))
}

/// Why an API response did not give the expected body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The server answered with a JetStream error.
    #[error(transparent)]
    Api(ApiError),
    /// The body is not valid JSON of the expected shape.
    #[error("cannot decode the JetStream response: {0}")]
    Decode(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::proto::{ErrorCode, StreamConfig};

    #[test]
    fn stream_info_from_a_server_response() {
        let body = br#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"S","subjects":["s.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"allow_msg_ttl":false,"consumer_limits":{}},"created":"2026-01-01T00:00:00.1Z","state":{"messages":3,"bytes":99,"first_seq":1,"first_ts":"x","last_seq":3,"last_ts":"y","consumer_count":0},"ts":"z"}"#;
        let info: StreamInfo = parse_response(body).unwrap();
        assert_eq!(info.config.name, "S");
        assert_eq!(info.config.max_messages, -1);
        assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
        assert_eq!(info.state.messages, 3);
        assert_eq!(info.state.last_seq, 3);
        assert!(!info.config.sealed);
        let sealed = StreamConfig { sealed: true, ..StreamConfig::new("S") };
        assert_eq!(serde_json::to_value(&sealed).unwrap()["sealed"], true);
        assert!(serde_json::to_value(StreamConfig::new("S")).unwrap().get("sealed").is_none());
    }

    #[test]
    fn error_responses_become_api_errors() {
        let body = br#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#;
        match parse_response::<StreamInfo>(body) {
            Err(ResponseError::Api(e)) => {
                assert_eq!(e.code, 404);
                assert_eq!(e.err_code, ErrorCode::STREAM_NOT_FOUND);
                assert_eq!(e.description, "stream not found");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_response::<StreamInfo>(b"not json"), Err(ResponseError::Decode(_))));
        assert!(matches!(parse_response::<PubAck>(b"{\"seq\":\"x\"}"), Err(ResponseError::Decode(_))));
    }

    #[test]
    fn paging_and_null_lists() {
        let page: StreamNamesPage =
            parse_response(br#"{"total":0,"offset":0,"limit":1024,"streams":null}"#).unwrap();
        assert!(page.streams.is_empty());
        assert!(!has_more(0, 0, 5), "an empty page ends the listing even if total says more");
        assert!(has_more(0, 2, 5));
        assert!(!has_more(3, 2, 5));
    }

    #[test]
    fn message_get_requests() {
        assert_eq!(serde_json::to_string(&MessageGetRequest::Sequence { seq: 3 }).unwrap(), r#"{"seq":3}"#);
        assert_eq!(
            serde_json::to_string(&MessageGetRequest::LastBySubject { last_by_subj: "a.b".into() }).unwrap(),
            r#"{"last_by_subj":"a.b"}"#
        );
        assert_eq!(
            serde_json::to_string(&PurgeRequest { filter: Some("a".into()), keep: Some(2), seq: None })
                .unwrap(),
            r#"{"filter":"a","keep":2}"#
        );
    }

    #[test]
    fn consumer_create_requests_name_their_action_when_it_is_not_the_default() {
        let config = ConsumerConfig::durable("d");
        let request = |action| {
            serde_json::to_value(CreateConsumerRequest { stream_name: "S", config: &config, action }).unwrap()
        };
        assert!(request(ConsumerAction::CreateOrUpdate).get("action").is_none(), "as servers before 2.10");
        assert_eq!(request(ConsumerAction::Create)["action"], "create");
        assert_eq!(request(ConsumerAction::Update)["action"], "update");
        assert_eq!(
            serde_json::to_value(StreamInfoRequest {
                subjects_filter: Some(">".into()),
                ..Default::default()
            })
            .unwrap(),
            serde_json::json!({"subjects_filter": ">"})
        );
        assert_eq!(serde_json::to_value(PauseRequest::default()).unwrap(), serde_json::json!({}), "resume");
    }
}
