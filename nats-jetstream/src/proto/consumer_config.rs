//! A consumer's configuration, every field of the current server's (2.12 and later), with
//! its deliver policy as one enum (the wire splits it over `deliver_policy`,
//! `opt_start_seq` and `opt_start_time`). Fields it does not name are kept in
//! `other_fields` and sent back in an update.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{AckPolicy, PriorityPolicy, ReplayPolicy};
use super::stream_config::OtherFields;
use super::wire::{is_default, is_false, is_zero_duration, is_zero_i64, is_zero_u64, nanos, null_as_empty};

/// Where a consumer starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// From the first message stored at or after a time.
    ByStartTime {
        /// The time (RFC 3339, as the server writes it).
        start_time: String,
    },
    /// The last message of each subject.
    LastPerSubject,
    /// A policy this version does not know, as the server wrote it (its start sequence or
    /// time, if any, stay in the configuration's `other_fields`).
    Other(String),
}

impl DeliverPolicy {
    /// The policy's wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::All => "all",
            Self::Last => "last",
            Self::New => "new",
            Self::ByStartSequence { .. } => "by_start_sequence",
            Self::ByStartTime { .. } => "by_start_time",
            Self::LastPerSubject => "last_per_subject",
            Self::Other(name) => name,
        }
    }
}

/// A consumer's configuration: pull (no `deliver_subject`) or push. Zero, empty and `false`
/// fields are left out of requests so the server applies its defaults.
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
    /// Redelivery delays, one per delivery (the last repeats); overrides `ack_wait` for
    /// redeliveries.
    pub backoff: Vec<Duration>,
    /// Only messages on this subject (filter).
    pub filter_subject: Option<String>,
    /// Only messages on these subjects (servers since 2.10; instead of `filter_subject`).
    pub filter_subjects: Vec<String>,
    /// Replay pace.
    pub replay_policy: ReplayPolicy,
    /// Maximum delivery rate of a push consumer, in bits per second (0: unlimited).
    pub rate_limit: u64,
    /// The share of acknowledgements sampled as advisories (`"100%"`, `"50"`).
    pub sample_frequency: Option<String>,
    /// Maximum outstanding pull requests (0: server default 512).
    pub max_waiting: i64,
    /// Maximum unacknowledged messages (0: server default 1000).
    pub max_ack_pending: i64,
    /// Push consumers: the server sends flow-control requests the client answers.
    pub flow_control: bool,
    /// Deliver headers only (with `Nats-Msg-Size`).
    pub headers_only: bool,
    /// Pull consumers: the largest batch one request may ask for (0: unlimited).
    pub max_batch: i64,
    /// Pull consumers: the longest expiry one request may ask for (zero: unlimited).
    pub max_expires: Duration,
    /// Pull consumers: the largest `max_bytes` one request may ask for (0: unlimited).
    pub max_bytes: i64,
    /// Push consumers: where messages are delivered.
    pub deliver_subject: Option<String>,
    /// Push consumers: the queue group whose members share the deliveries.
    pub deliver_group: Option<String>,
    /// Push consumers: an idle heartbeat (status 100) when nothing was delivered for this
    /// long.
    pub idle_heartbeat: Duration,
    /// Remove the consumer after this long without interest (zero: server default).
    pub inactive_threshold: Duration,
    /// Replicas (0: as the stream).
    pub num_replicas: i64,
    /// Keep the consumer's state in memory.
    pub memory_storage: bool,
    /// Free-form metadata (the server adds `_nats.*` keys of its own).
    pub metadata: HashMap<String, String>,
    /// Paused until this time (RFC 3339; servers since 2.11).
    pub pause_until: Option<String>,
    /// The priority groups pull requests name (servers since 2.11).
    pub priority_groups: Vec<String>,
    /// How the priority groups share messages.
    pub priority_policy: PriorityPolicy,
    /// [`PriorityPolicy::PinnedClient`]: how long a pinned client may stop pulling before
    /// another is pinned.
    pub priority_timeout: Duration,
    /// The fields of the server's configuration this model does not name, as received: an
    /// update sends them back.
    pub other_fields: OtherFields,
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

    /// The consumer's name as the server will know it: `name`, else `durable_name`.
    pub fn consumer_name(&self) -> Option<&str> {
        self.name.as_deref().or(self.durable_name.as_deref())
    }

    /// Whether it is a push consumer (it has a deliver subject).
    pub fn is_push(&self) -> bool {
        self.deliver_subject.is_some()
    }
}

/// The wire form of [`ConsumerConfig`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Wire {
    #[serde(skip_serializing_if = "Option::is_none")]
    durable_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    deliver_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    opt_start_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opt_start_time: Option<String>,
    ack_policy: AckPolicy,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    ack_wait: Duration,
    #[serde(skip_serializing_if = "is_zero_i64")]
    max_deliver: i64,
    #[serde(with = "nanos::list", skip_serializing_if = "Vec::is_empty")]
    backoff: Vec<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_subject: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    filter_subjects: Vec<String>,
    replay_policy: ReplayPolicy,
    #[serde(rename = "rate_limit_bps", skip_serializing_if = "is_zero_u64")]
    rate_limit: u64,
    #[serde(rename = "sample_freq", skip_serializing_if = "Option::is_none")]
    sample_frequency: Option<String>,
    #[serde(skip_serializing_if = "is_zero_i64")]
    max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    headers_only: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    max_batch: i64,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    max_expires: Duration,
    #[serde(skip_serializing_if = "is_zero_i64")]
    max_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliver_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliver_group: Option<String>,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    idle_heartbeat: Duration,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    inactive_threshold: Duration,
    #[serde(skip_serializing_if = "is_zero_i64")]
    num_replicas: i64,
    #[serde(rename = "mem_storage", skip_serializing_if = "is_false")]
    memory_storage: bool,
    #[serde(skip_serializing_if = "HashMap::is_empty", deserialize_with = "super::wire::null_as_default")]
    metadata: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    priority_groups: Vec<String>,
    #[serde(skip_serializing_if = "is_default")]
    priority_policy: PriorityPolicy,
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    priority_timeout: Duration,
    #[serde(flatten)]
    other_fields: OtherFields,
}

/// Field-by-field moves between the model and its wire form, except the deliver policy.
macro_rules! move_fields {
    ($from:ident => $to:ident { $($field:ident),* $(,)? }) => {
        $( $to.$field = $from.$field; )*
    };
}

impl Serialize for ConsumerConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let config = self.clone();
        let mut wire = Wire { deliver_policy: config.deliver_policy.as_str().to_owned(), ..Wire::default() };
        match config.deliver_policy {
            DeliverPolicy::ByStartSequence { start_sequence } => wire.opt_start_seq = Some(start_sequence),
            DeliverPolicy::ByStartTime { start_time } => wire.opt_start_time = Some(start_time),
            _ => {}
        }
        move_fields!(config => wire {
            durable_name, name, description, ack_policy, ack_wait, max_deliver, backoff, filter_subject,
            filter_subjects, replay_policy, rate_limit, sample_frequency, max_waiting, max_ack_pending,
            flow_control, headers_only, max_batch, max_expires, max_bytes, deliver_subject, deliver_group,
            idle_heartbeat, inactive_threshold, num_replicas, memory_storage, metadata, pause_until,
            priority_groups, priority_policy, priority_timeout, other_fields,
        });
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ConsumerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut wire = Wire::deserialize(d)?;
        let deliver_policy = match wire.deliver_policy.as_str() {
            "" | "all" => DeliverPolicy::All,
            "last" => DeliverPolicy::Last,
            "new" => DeliverPolicy::New,
            "by_start_sequence" => {
                DeliverPolicy::ByStartSequence { start_sequence: wire.opt_start_seq.take().unwrap_or(1) }
            }
            "by_start_time" => match wire.opt_start_time.take() {
                Some(start_time) => DeliverPolicy::ByStartTime { start_time },
                None => DeliverPolicy::Other(wire.deliver_policy.clone()),
            },
            "last_per_subject" => DeliverPolicy::LastPerSubject,
            other => DeliverPolicy::Other(other.to_owned()),
        };
        let mut config = Self { deliver_policy, ..Self::default() };
        // A start the policy does not use stays with the other fields, to go back as read.
        if let Some(seq) = wire.opt_start_seq {
            wire.other_fields.insert("opt_start_seq".into(), seq.into());
        }
        if let Some(time) = wire.opt_start_time {
            wire.other_fields.insert("opt_start_time".into(), time.into());
        }
        move_fields!(wire => config {
            durable_name, name, description, ack_policy, ack_wait, max_deliver, backoff, filter_subject,
            filter_subjects, replay_policy, rate_limit, sample_frequency, max_waiting, max_ack_pending,
            flow_control, headers_only, max_batch, max_expires, max_bytes, deliver_subject, deliver_group,
            idle_heartbeat, inactive_threshold, num_replicas, memory_storage, metadata, pause_until,
            priority_groups, priority_policy, priority_timeout, other_fields,
        });
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::wire::without_defaults;
    use crate::proto::{parse_response, ConsumerInfo};

    /// A pull consumer with every field nats-server 2.15.1 accepts together set, and a push
    /// consumer, as the server answered their create requests.
    const EVERY_PULL_FIELD: &str = include_str!("fixtures/consumer_every_pull_field.json");
    const PUSH: &str = include_str!("fixtures/consumer_push.json");

    #[test]
    fn every_field_of_the_current_server_is_named_and_sent_back_as_received() {
        for fixture in [EVERY_PULL_FIELD, PUSH] {
            let response: serde_json::Value = serde_json::from_str(fixture).unwrap();
            let info: ConsumerInfo = parse_response(fixture.as_bytes()).unwrap();
            assert!(info.config.other_fields.is_empty(), "not named: {:?}", info.config.other_fields);
            let sent = serde_json::to_value(&info.config).unwrap();
            assert_eq!(without_defaults(&sent), without_defaults(&response["config"]));
        }

        let info: ConsumerInfo = parse_response(EVERY_PULL_FIELD.as_bytes()).unwrap();
        let config = &info.config;
        assert_eq!(
            config.deliver_policy,
            DeliverPolicy::ByStartTime { start_time: "2026-01-02T03:04:05.123456789Z".into() }
        );
        assert_eq!(config.backoff, [Duration::from_secs(1), Duration::from_secs(2)]);
        assert_eq!(config.filter_subjects, ["every.a", "every.b"]);
        assert_eq!(config.replay_policy, ReplayPolicy::Original);
        assert_eq!(config.sample_frequency.as_deref(), Some("50%"));
        assert_eq!(
            (config.max_batch, config.max_expires, config.max_bytes),
            (100, Duration::from_secs(60), 1024)
        );
        assert_eq!(config.priority_policy, PriorityPolicy::PinnedClient);
        assert_eq!(config.priority_timeout, Duration::from_secs(90));
        assert_eq!(config.pause_until.as_deref(), Some("2099-01-01T00:00:00Z"));
        assert!(info.paused && info.pause_remaining > Duration::from_secs(3600));
        assert_eq!(info.priority_groups[0].group, "g");
        assert_eq!(info.delivered.stream_seq, 41);

        let push: ConsumerInfo = parse_response(PUSH.as_bytes()).unwrap();
        assert!(push.config.is_push() && push.config.flow_control);
        assert_eq!(push.config.deliver_group.as_deref(), Some("q"));
        assert_eq!(push.config.idle_heartbeat, Duration::from_secs(5));
        assert_eq!(push.config.rate_limit, 1_000_000);
    }

    #[test]
    fn a_deliver_policy_a_newer_server_adds_goes_back_with_its_start() {
        let newer = serde_json::json!({
            "durable_name": "d",
            "deliver_policy": "by_start_epoch",
            "opt_start_seq": 7,
            "ack_policy": "flow",
            "replay_policy": "instant",
            "a_future_field": [1, 2],
        });
        let config: ConsumerConfig = serde_json::from_value(newer.clone()).unwrap();
        assert_eq!(config.deliver_policy, DeliverPolicy::Other("by_start_epoch".into()));
        assert_eq!(config.ack_policy, AckPolicy::Other("flow".into()));
        let sent = serde_json::to_value(&config).unwrap();
        assert_eq!(without_defaults(&sent), without_defaults(&newer));
    }

    #[test]
    fn round_trip_and_defaults_left_out() {
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
    fn durations_saturate_at_go_s_longest() {
        let max = i64::MAX;
        let consumer = ConsumerConfig {
            ack_wait: Duration::MAX,
            inactive_threshold: Duration::MAX,
            backoff: vec![Duration::MAX],
            ..ConsumerConfig::default()
        };
        let json = serde_json::to_value(&consumer).unwrap();
        assert_eq!((json["ack_wait"].as_i64(), json["inactive_threshold"].as_i64()), (Some(max), Some(max)));
        assert_eq!(json["backoff"][0].as_i64(), Some(max));
    }
}
