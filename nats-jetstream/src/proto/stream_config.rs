//! A stream's configuration, every field of the current server's (2.12 and later), and the
//! parts it is built from: placement, mirror and sources, subject transforms, republish,
//! consumer limits. Each struct keeps the fields it does not name in `other_fields`, so a
//! configuration read from a newer server or written by another client goes back in an
//! update as it came.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{Compression, DiscardPolicy, PersistMode, RetentionPolicy, StorageType};
use super::wire::{is_default, is_false, is_zero_duration, is_zero_i64, is_zero_u64, nanos, null_as_empty};

/// Fields of the server's JSON a struct does not name, kept as received.
pub type OtherFields = serde_json::Map<String, serde_json::Value>;

/// A stream's configuration. Zero, empty and `false` fields are left out of requests so the
/// server applies its defaults; `-1` limits mean unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// The name.
    pub name: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The subjects it captures (wildcards allowed).
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub subjects: Vec<String>,
    /// Retention.
    pub retention: RetentionPolicy,
    /// Maximum consumers (`-1` or 0: unlimited).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_consumers: i64,
    /// Maximum messages (`-1` or 0: unlimited).
    #[serde(rename = "max_msgs", skip_serializing_if = "is_zero_i64")]
    pub max_messages: i64,
    /// Maximum bytes (`-1` or 0: unlimited).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Maximum age of a message (zero: unlimited).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub max_age: Duration,
    /// Maximum messages per subject (`-1` or 0: unlimited).
    #[serde(rename = "max_msgs_per_subject", skip_serializing_if = "is_zero_i64")]
    pub max_messages_per_subject: i64,
    /// Maximum size of one message (`-1` or 0: unlimited).
    #[serde(rename = "max_msg_size", skip_serializing_if = "is_zero_i64")]
    pub max_message_size: i64,
    /// What to do when full.
    pub discard: DiscardPolicy,
    /// With [`DiscardPolicy::New`], apply `max_messages_per_subject` per subject: a subject
    /// that is full refuses new messages.
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    /// Storage.
    pub storage: StorageType,
    /// Replicas (0: the server's default, 1).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub num_replicas: i64,
    /// Publishes are not acknowledged.
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// The window in which `Nats-Msg-Id` de-duplicates (zero: the server's 2 minutes).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub duplicate_window: Duration,
    /// Where the stream's replicas are placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The stream this one mirrors (a mirror has no subjects of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Source>,
    /// The streams this one sources messages from.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub sources: Vec<Source>,
    /// On-disk compression (servers since 2.10).
    #[serde(skip_serializing_if = "is_default")]
    pub compression: Compression,
    /// The first sequence of a new stream.
    #[serde(rename = "first_seq", skip_serializing_if = "is_zero_u64")]
    pub first_sequence: u64,
    /// A transform applied to every incoming message's subject before it is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// Republish each stored message to another subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<Republish>,
    /// Allow direct get (any replica answers reads).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_direct: bool,
    /// Mirrors of this stream answer its direct gets too.
    #[serde(skip_serializing_if = "is_false")]
    pub mirror_direct: bool,
    /// Sealed: no more messages, deletions or purges (set by an update, never cleared).
    #[serde(skip_serializing_if = "is_false")]
    pub sealed: bool,
    /// Refuse message deletion.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_delete: bool,
    /// Refuse purges.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_purge: bool,
    /// Allow the `Nats-Rollup` header to purge a subject or the stream.
    #[serde(rename = "allow_rollup_hdrs", skip_serializing_if = "is_false")]
    pub allow_rollup: bool,
    /// Defaults for the consumers of this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_limits: Option<ConsumerLimits>,
    /// Honour the per-message `Nats-TTL` header (servers since 2.11).
    #[serde(rename = "allow_msg_ttl", skip_serializing_if = "is_false")]
    pub allow_message_ttl: bool,
    /// Leave a delete marker with this TTL where the age limit removes a subject's last
    /// message (servers since 2.11; zero: no markers).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub subject_delete_marker_ttl: Duration,
    /// The stream holds counters (`Nats-Incr`; servers since 2.12).
    #[serde(rename = "allow_msg_counter", skip_serializing_if = "is_false")]
    pub allow_message_counter: bool,
    /// Allow atomic batch publishes (servers since 2.12).
    #[serde(rename = "allow_atomic", skip_serializing_if = "is_false")]
    pub allow_atomic_publish: bool,
    /// Allow scheduled messages (`Nats-Schedule`; servers since 2.12).
    #[serde(rename = "allow_msg_schedules", skip_serializing_if = "is_false")]
    pub allow_message_schedules: bool,
    /// When writes reach the disk (servers since 2.12).
    #[serde(skip_serializing_if = "is_default")]
    pub persist_mode: PersistMode,
    /// Allow fast (non-atomic) batch publishes.
    #[serde(rename = "allow_batched", skip_serializing_if = "is_false")]
    pub allow_batch_publish: bool,
    /// Free-form metadata (the server adds `_nats.*` keys of its own).
    #[serde(skip_serializing_if = "HashMap::is_empty", deserialize_with = "super::wire::null_as_default")]
    pub metadata: HashMap<String, String>,
    /// The fields of the server's configuration this model does not name, as received: a
    /// configuration read from the server and sent back in an update keeps them, whichever
    /// client or server version wrote them.
    #[serde(flatten)]
    pub other_fields: OtherFields,
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

    /// With a mirror of another stream.
    #[must_use]
    pub fn mirror(mut self, source: Source) -> Self {
        self.mirror = Some(source);
        self
    }

    /// With one more source.
    #[must_use]
    pub fn source(mut self, source: Source) -> Self {
        self.sources.push(source);
        self
    }

    /// With a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Where a stream's replicas are placed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// The cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Servers with all these tags.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    /// The server preferred as leader (servers since 2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
    /// Fields this model does not name, as received.
    #[serde(flatten)]
    pub other_fields: OtherFields,
}

/// A stream a mirror or source reads from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    /// The stream's name.
    pub name: String,
    /// Start at this stream sequence (0: from the start).
    #[serde(rename = "opt_start_seq", skip_serializing_if = "is_zero_u64")]
    pub start_sequence: u64,
    /// Start at this time (RFC 3339).
    #[serde(rename = "opt_start_time", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Only messages on this subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// Filters with transforms (servers since 2.10; instead of `filter_subject`).
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Where the stream lives when it is in another account or JetStream domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Fields this model does not name (the server's `consumer`), as received.
    #[serde(flatten)]
    pub other_fields: OtherFields,
}

impl Source {
    /// The stream `name` in this account and domain.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// The stream `name` in JetStream domain `domain` (its API is `$JS.<domain>.API`).
    pub fn in_domain(name: impl Into<String>, domain: &str) -> Self {
        Self {
            external: Some(External { api_prefix: format!("$JS.{domain}.API"), delivery_prefix: None }),
            ..Self::new(name)
        }
    }

    /// Only messages on `subject`.
    #[must_use]
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }
}

/// A stream in another account or domain: the prefix of its JetStream API there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct External {
    /// The API prefix (`$JS.<domain>.API`, or an imported prefix).
    #[serde(rename = "api")]
    pub api_prefix: String,
    /// The prefix messages are delivered under (older servers need it across accounts).
    #[serde(rename = "deliver", skip_serializing_if = "Option::is_none")]
    pub delivery_prefix: Option<String>,
}

/// A subject transform: messages on `source` are stored or copied as `destination`
/// (mapping tokens with `{{wildcard(1)}}`, `$1`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectTransform {
    /// The subjects transformed.
    #[serde(rename = "src")]
    pub source: String,
    /// What they become.
    #[serde(rename = "dest")]
    pub destination: String,
}

/// Republish each stored message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Republish {
    /// The subjects republished (empty: all of the stream's).
    #[serde(rename = "src", skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Where they go.
    #[serde(rename = "dest")]
    pub destination: String,
    /// Only headers (with `Nats-Msg-Size`), no payload.
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// Defaults a stream gives its consumers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerLimits {
    /// Remove a consumer after this long without interest (zero: no default).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub inactive_threshold: Duration,
    /// Maximum unacknowledged messages (0: no default).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::wire::without_defaults;
    use crate::proto::{parse_response, StreamInfo};

    /// A stream with every field nats-server 2.15.1 accepts together set, as it answered
    /// the create request.
    const EVERY_FIELD: &str = include_str!("fixtures/stream_every_field.json");

    #[test]
    fn every_field_of_the_current_server_is_named_and_sent_back_as_received() {
        let response: serde_json::Value = serde_json::from_str(EVERY_FIELD).unwrap();
        let info: StreamInfo = parse_response(EVERY_FIELD.as_bytes()).unwrap();
        let config = &info.config;
        assert!(config.other_fields.is_empty(), "fields not named: {:?}", config.other_fields);
        assert_eq!(config.compression, Compression::S2);
        assert_eq!(config.persist_mode, PersistMode::Async);
        assert_eq!(config.first_sequence, 42);
        assert_eq!(config.subject_delete_marker_ttl, Duration::from_secs(5));
        assert!(config.allow_message_ttl && config.allow_rollup && config.allow_batch_publish);
        assert_eq!(config.metadata["owner"], "team-a");
        assert_eq!(config.sources[0].start_sequence, 2);
        assert_eq!(config.sources[0].subject_transforms[0].destination, "every.from.>");
        assert_eq!(config.republish.as_ref().map(|r| r.headers_only), Some(true));
        let limits = config.consumer_limits.clone().unwrap();
        assert_eq!((limits.inactive_threshold, limits.max_ack_pending), (Duration::from_secs(60), 100));
        assert_eq!(config.placement.as_ref().unwrap().tags, ["a"]);

        let sent = serde_json::to_value(config).unwrap();
        assert_eq!(without_defaults(&sent), without_defaults(&response["config"]));
    }

    #[test]
    fn fields_and_values_a_newer_server_adds_go_back_in_an_update() {
        let newer = serde_json::json!({
            "name": "ORDERS",
            "subjects": ["orders.>"],
            "retention": "tiered",
            "discard": "old",
            "storage": "file",
            "compression": "zstd",
            "max_msgs": 100,
            "placement": {"cluster": "east", "affinity": "rack-1"},
            "mirror": {"name": "M", "consumer": {"name": "c", "deliver_subject": "d"}},
            "a_future_limit": {"per": "tenant", "max": 3},
        });
        let mut config: StreamConfig = serde_json::from_value(newer.clone()).unwrap();
        assert_eq!(config.retention, RetentionPolicy::Other("tiered".into()));
        assert_eq!(config.compression, Compression::Other("zstd".into()));
        assert_eq!(config.other_fields["a_future_limit"], newer["a_future_limit"]);
        config.max_messages = 200;
        let mut update = serde_json::to_value(&config).unwrap();
        assert_eq!(update["max_msgs"], 200);
        update["max_msgs"] = 100.into();
        assert_eq!(without_defaults(&update), without_defaults(&newer), "nothing lost or changed");
        assert!(StreamConfig::new("S").other_fields.is_empty());
    }

    #[test]
    fn defaults_are_left_out_of_requests() {
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
            .max_messages(5)
            .metadata("owner", "me")
            .source(Source::in_domain("HUB", "hub").filter_subject("a.>"));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["duplicate_window"], 1_000_000_000u64);
        assert_eq!(json["retention"], "workqueue");
        assert_eq!(json["storage"], "memory");
        assert_eq!(json["max_msgs"], 5);
        assert_eq!(json["metadata"], serde_json::json!({"owner": "me"}));
        assert_eq!(
            json["sources"],
            serde_json::json!([{"name": "HUB", "filter_subject": "a.>", "external": {"api": "$JS.hub.API"}}])
        );
    }

    #[test]
    fn durations_saturate_at_go_s_longest() {
        let max = i64::MAX;
        let mut config = StreamConfig::new("S").duplicate_window(Duration::MAX);
        config.max_age = Duration::MAX;
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!((json["max_age"].as_i64(), json["duplicate_window"].as_i64()), (Some(max), Some(max)));
        // What the server sends back reads as the same (saturated) durations.
        let back: StreamConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.max_age, Duration::from_nanos(max as u64));
    }
}
