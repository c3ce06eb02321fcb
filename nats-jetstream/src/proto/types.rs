//! Request and response bodies of the JetStream API (JSON, ADR-1 / the server's
//! `jetstream_api.go`). Durations travel as nanoseconds; times as RFC 3339 strings, kept as
//! text here. Unknown fields are ignored and absent ones take their defaults, so newer and
//! older servers both parse.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Durations as integer nanoseconds, the JetStream wire form: a Go `time.Duration`, an
/// `i64`.
pub(crate) mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// `d` as a Go `time.Duration`: nanoseconds, saturating at `i64::MAX` (about 292
    /// years), the longest duration the server can read. A longer one (up to
    /// `Duration::MAX`) neither wraps nor fails the request: it means "as long as can be".
    pub(crate) fn to_go(d: Duration) -> i64 {
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_go(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        // The server writes -1 or 0 for "unset" in a few places.
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
    }
}

fn is_zero_duration(d: &Duration) -> bool {
    d.is_zero()
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a stream retains messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionPolicy {
    /// Up to the limits (messages, bytes, age).
    #[default]
    Limits,
    /// While some consumer is interested.
    Interest,
    /// Until one consumer acknowledges (work queue).
    #[serde(rename = "workqueue")]
    WorkQueue,
}

/// What happens when a stream is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardPolicy {
    /// Old messages are removed.
    #[default]
    Old,
    /// New messages are refused.
    New,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// On disk.
    #[default]
    File,
    /// In memory.
    Memory,
}

/// A stream's configuration. Zero / empty fields are left out of requests so the server
/// applies its defaults; `-1` limits mean unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// The name.
    pub name: String,
    /// The subjects it captures (wildcards allowed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retention.
    pub retention: RetentionPolicy,
    /// Maximum consumers (`-1` or 0: unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_consumers: i64,
    /// Maximum messages (`-1` or 0: unlimited).
    #[serde(rename = "max_msgs", skip_serializing_if = "is_zero")]
    pub max_messages: i64,
    /// Maximum bytes (`-1` or 0: unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    /// Maximum age of a message (zero: unlimited).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub max_age: Duration,
    /// Maximum messages per subject (`-1` or 0: unlimited).
    #[serde(rename = "max_msgs_per_subject", skip_serializing_if = "is_zero")]
    pub max_messages_per_subject: i64,
    /// Maximum size of one message (`-1` or 0: unlimited).
    #[serde(rename = "max_msg_size", skip_serializing_if = "is_zero")]
    pub max_message_size: i64,
    /// What to do when full.
    pub discard: DiscardPolicy,
    /// Storage.
    pub storage: StorageType,
    /// Replicas (0: the server's default, 1).
    #[serde(skip_serializing_if = "is_zero")]
    pub num_replicas: i64,
    /// The window in which `Nats-Msg-Id` de-duplicates (zero: the server's 2 minutes).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub duplicate_window: Duration,
    /// Allow direct get.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_direct: bool,
    /// Refuse message deletion.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_delete: bool,
    /// Refuse purges.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_purge: bool,
    /// Allow `Nats-Rollup`.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_rollup_hdrs: bool,
    /// Sealed: no more messages, deletions or purges (set by an update, never cleared).
    #[serde(skip_serializing_if = "is_false")]
    pub sealed: bool,
    /// The fields of the server's configuration this model does not name (metadata,
    /// compression, republish, sources, ...), as received: a configuration read from the
    /// server and sent back in an update keeps them, whichever client or server version
    /// wrote them.
    #[serde(flatten)]
    pub other_fields: serde_json::Map<String, serde_json::Value>,
}

impl StreamConfig {
    /// A configuration with a name and the server's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// With the subjects the stream captures.
    #[must_use]
    pub fn subjects<I: IntoIterator<Item = S>, S: Into<String>>(mut self, subjects: I) -> Self {
        self.subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// With a storage type.
    #[must_use]
    pub fn storage(mut self, storage: StorageType) -> Self {
        self.storage = storage;
        self
    }

    /// With a maximum number of messages.
    #[must_use]
    pub fn max_messages(mut self, max: i64) -> Self {
        self.max_messages = max;
        self
    }

    /// With a discard policy.
    #[must_use]
    pub fn discard(mut self, discard: DiscardPolicy) -> Self {
        self.discard = discard;
        self
    }

    /// With a retention policy.
    #[must_use]
    pub fn retention(mut self, retention: RetentionPolicy) -> Self {
        self.retention = retention;
        self
    }

    /// With a maximum message size.
    #[must_use]
    pub fn max_message_size(mut self, max: i64) -> Self {
        self.max_message_size = max;
        self
    }

    /// With a de-duplication window.
    #[must_use]
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }
}

/// The state of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// First sequence.
    pub first_seq: u64,
    /// Last sequence.
    pub last_seq: u64,
    /// Consumers.
    pub consumer_count: u64,
    /// Deleted messages inside the range.
    pub num_deleted: u64,
    /// Distinct subjects.
    pub num_subjects: u64,
}

/// A stream's information.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The configuration.
    pub config: StreamConfig,
    /// When created (RFC 3339).
    pub created: String,
    /// The state.
    pub state: StreamState,
}

/// Where a consumer starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeliverPolicy {
    /// From the first message.
    #[default]
    All,
    /// From the last message.
    Last,
    /// Only new messages.
    New,
    /// From a stream sequence.
    ByStartSequence {
        /// The first stream sequence delivered.
        start_sequence: u64,
    },
    /// The last message of each subject.
    LastPerSubject,
}

/// How a consumer expects acknowledgements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    /// Each message is acknowledged.
    #[default]
    Explicit,
    /// Nothing is acknowledged.
    None,
    /// Acknowledging one acknowledges all before it.
    All,
}

/// How fast a consumer replays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayPolicy {
    /// As fast as possible.
    #[default]
    Instant,
    /// At the original pace.
    Original,
}

/// A (pull) consumer's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerConfig {
    /// A durable name: the consumer survives without clients.
    pub durable_name: Option<String>,
    /// A name (for ephemeral consumers; the server picks one when unset).
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Where it starts.
    pub deliver_policy: DeliverPolicy,
    /// Acknowledgements.
    pub ack_policy: AckPolicy,
    /// How long the server waits for an ack before redelivering (zero: server default 30 s).
    pub ack_wait: Duration,
    /// Maximum deliveries of a message (0: unlimited).
    pub max_deliver: i64,
    /// Only messages on this subject (filter).
    pub filter_subject: Option<String>,
    /// Replay pace.
    pub replay_policy: ReplayPolicy,
    /// Maximum outstanding pull requests (0: server default 512).
    pub max_waiting: i64,
    /// Maximum unacknowledged messages (0: server default 1000).
    pub max_ack_pending: i64,
    /// Deliver headers only.
    pub headers_only: bool,
    /// Remove the consumer after this long without interest (zero: server default).
    pub inactive_threshold: Duration,
    /// Replicas (0: as the stream).
    pub num_replicas: i64,
    /// Keep the consumer's state in memory.
    pub memory_storage: bool,
}

impl ConsumerConfig {
    /// A durable pull consumer with explicit acks.
    pub fn durable(name: impl Into<String>) -> Self {
        Self { durable_name: Some(name.into()), ..Self::default() }
    }

    /// An ephemeral pull consumer with explicit acks.
    pub fn ephemeral() -> Self {
        Self::default()
    }
}

/// The wire form of [`ConsumerConfig`] (the deliver policy splits into several fields).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ConsumerConfigWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    durable_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    deliver_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    opt_start_seq: Option<u64>,
    ack_policy: AckPolicy,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    ack_wait: Duration,
    #[serde(skip_serializing_if = "is_zero")]
    max_deliver: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_subject: Option<String>,
    replay_policy: ReplayPolicy,
    #[serde(skip_serializing_if = "is_zero")]
    max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero")]
    max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    headers_only: bool,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    inactive_threshold: Duration,
    #[serde(skip_serializing_if = "is_zero")]
    num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    mem_storage: bool,
}

impl Serialize for ConsumerConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (deliver_policy, opt_start_seq) = match self.deliver_policy {
            DeliverPolicy::All => ("all", None),
            DeliverPolicy::Last => ("last", None),
            DeliverPolicy::New => ("new", None),
            DeliverPolicy::ByStartSequence { start_sequence } => ("by_start_sequence", Some(start_sequence)),
            DeliverPolicy::LastPerSubject => ("last_per_subject", None),
        };
        ConsumerConfigWire {
            durable_name: self.durable_name.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            deliver_policy: deliver_policy.to_owned(),
            opt_start_seq,
            ack_policy: self.ack_policy,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subject: self.filter_subject.clone(),
            replay_policy: self.replay_policy,
            max_waiting: self.max_waiting,
            max_ack_pending: self.max_ack_pending,
            headers_only: self.headers_only,
            inactive_threshold: self.inactive_threshold,
            num_replicas: self.num_replicas,
            mem_storage: self.memory_storage,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ConsumerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ConsumerConfigWire::deserialize(d)?;
        let deliver_policy = match w.deliver_policy.as_str() {
            "last" => DeliverPolicy::Last,
            "new" => DeliverPolicy::New,
            "by_start_sequence" => {
                DeliverPolicy::ByStartSequence { start_sequence: w.opt_start_seq.unwrap_or(1) }
            }
            "last_per_subject" => DeliverPolicy::LastPerSubject,
            _ => DeliverPolicy::All,
        };
        Ok(Self {
            durable_name: w.durable_name,
            name: w.name,
            description: w.description,
            deliver_policy,
            ack_policy: w.ack_policy,
            ack_wait: w.ack_wait,
            max_deliver: w.max_deliver,
            filter_subject: w.filter_subject,
            replay_policy: w.replay_policy,
            max_waiting: w.max_waiting,
            max_ack_pending: w.max_ack_pending,
            headers_only: w.headers_only,
            inactive_threshold: w.inactive_threshold,
            num_replicas: w.num_replicas,
            memory_storage: w.mem_storage,
        })
    }
}

/// `CONSUMER.CREATE` request body.
#[derive(Debug, Serialize)]
pub struct CreateConsumerRequest<'a> {
    /// The stream.
    pub stream_name: &'a str,
    /// The configuration.
    pub config: &'a ConsumerConfig,
}

/// Delivered / ack-floor sequences of a consumer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SequenceInfo {
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
}

/// A consumer's information.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConsumerInfo {
    /// The stream.
    pub stream_name: String,
    /// The consumer's name.
    pub name: String,
    /// When created (RFC 3339).
    pub created: String,
    /// The configuration.
    pub config: ConsumerConfig,
    /// Last delivered.
    pub delivered: SequenceInfo,
    /// Acknowledged up to.
    pub ack_floor: SequenceInfo,
    /// Delivered and not yet acknowledged.
    pub num_ack_pending: u64,
    /// Redelivered messages.
    pub num_redelivered: u64,
    /// Waiting pull requests.
    pub num_waiting: u64,
    /// Messages not yet delivered.
    pub num_pending: u64,
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

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
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

/// Account information (`INFO`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountInfo {
    /// Memory used.
    pub memory: u64,
    /// Storage used.
    pub storage: u64,
    /// Streams.
    pub streams: u64,
    /// Consumers.
    pub consumers: u64,
    /// The domain.
    pub domain: Option<String>,
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
    use crate::proto::ErrorCode;

    #[test]
    fn a_stream_configuration_keeps_the_fields_it_does_not_name_through_an_update() {
        // As nats-server 2.15 returns a stream made by another client.
        let info = serde_json::json!({
            "name": "ORDERS",
            "subjects": ["orders.>"],
            "retention": "limits",
            "max_msgs": 100,
            "discard": "old",
            "storage": "file",
            "num_replicas": 1,
            "metadata": {"owner": "team-a"},
            "compression": "s2",
            "first_seq": 42,
            "republish": {"src": "orders.>", "dest": "copy.orders.>"},
            "subject_transform": {"src": "orders.>", "dest": "o.>"},
            "allow_msg_ttl": true
        });
        let mut config: StreamConfig = serde_json::from_value(info.clone()).unwrap();
        assert_eq!(config.max_messages, 100);
        assert_eq!(config.other_fields["compression"], "s2");
        config.max_messages = 200;
        let update = serde_json::to_value(&config).unwrap();
        for field in
            ["metadata", "compression", "first_seq", "republish", "subject_transform", "allow_msg_ttl"]
        {
            assert_eq!(update[field], info[field], "{field} is sent back as received");
        }
        assert_eq!(update["max_msgs"], 200);
        assert!(StreamConfig::new("S").other_fields.is_empty());
    }

    #[test]
    fn durations_go_to_the_server_as_go_nanoseconds_saturating_at_i64_max() {
        let max = i64::MAX;
        assert_eq!(nanos::to_go(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos::to_go(Duration::from_nanos(max as u64)), max);
        assert_eq!(nanos::to_go(Duration::from_nanos(max as u64 + 1)), max, "not wrapped negative");
        assert_eq!(nanos::to_go(Duration::from_nanos(u64::MAX)), max);
        assert_eq!(nanos::to_go(Duration::MAX), max);

        let mut config = StreamConfig::new("S").duplicate_window(Duration::MAX);
        config.max_age = Duration::MAX;
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!((json["max_age"].as_i64(), json["duplicate_window"].as_i64()), (Some(max), Some(max)));
        let consumer = ConsumerConfig {
            ack_wait: Duration::MAX,
            inactive_threshold: Duration::MAX,
            ..ConsumerConfig::default()
        };
        let json = serde_json::to_value(&consumer).unwrap();
        assert_eq!((json["ack_wait"].as_i64(), json["inactive_threshold"].as_i64()), (Some(max), Some(max)));
        // What the server sends back reads as the same (saturated) durations.
        let back: StreamConfig = serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back.max_age, Duration::from_nanos(max as u64));
    }

    #[test]
    fn stream_config_leaves_defaults_out() {
        let config = StreamConfig::new("S").subjects(["a.>"]);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"S","subjects":["a.>"],"retention":"limits","discard":"old","storage":"file"})
        );
        let config = StreamConfig::new("S")
            .storage(StorageType::Memory)
            .duplicate_window(Duration::from_secs(1))
            .retention(RetentionPolicy::WorkQueue)
            .max_messages(5);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["duplicate_window"], 1_000_000_000u64);
        assert_eq!(json["retention"], "workqueue");
        assert_eq!(json["storage"], "memory");
        assert_eq!(json["max_msgs"], 5);
    }

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
    fn consumer_config_round_trip() {
        let config = ConsumerConfig {
            durable_name: Some("d".into()),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 42 },
            ack_policy: AckPolicy::None,
            ack_wait: Duration::from_secs(2),
            inactive_threshold: Duration::from_secs(5),
            memory_storage: true,
            ..ConsumerConfig::default()
        };
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["deliver_policy"], "by_start_sequence");
        assert_eq!(json["opt_start_seq"], 42);
        assert_eq!(json["ack_policy"], "none");
        assert_eq!(json["ack_wait"], 2_000_000_000u64);
        assert_eq!(json["mem_storage"], true);
        let back: ConsumerConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
        let json = serde_json::to_value(ConsumerConfig::ephemeral()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant"})
        );
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
}
