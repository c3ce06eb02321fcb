//! What the server reports about streams, consumers and the account: state, cluster and
//! replicas, mirror and source progress, priority groups. Read-only; fields a newer server
//! adds are ignored, absent ones take their defaults, so newer and older servers both
//! parse. Times are RFC 3339 text as the server wrote them.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::consumer_config::ConsumerConfig;
use super::error::ApiError;
use super::stream_config::{External, StreamConfig, SubjectTransform};
use super::wire::{nanos, null_as_default, null_as_empty};

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
    /// The JetStream domain that answered.
    pub domain: Option<String>,
    /// The stream's cluster: leader and replicas (clustered servers).
    pub cluster: Option<ClusterInfo>,
    /// The mirror's progress, for a mirror.
    pub mirror: Option<SourceInfo>,
    /// Each source's progress.
    #[serde(deserialize_with = "null_as_empty")]
    pub sources: Vec<SourceInfo>,
    /// Mirrors that can answer for this stream (direct get), nearest first.
    #[serde(deserialize_with = "null_as_empty")]
    pub alternates: Vec<StreamAlternate>,
    /// When the server gathered this (RFC 3339; servers since 2.10).
    #[serde(rename = "ts")]
    pub timestamp: Option<String>,
    /// With a subjects filter: how many subjects match, of which
    /// [`StreamState::subjects`] holds one page.
    pub total: u64,
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
    /// When the first message was stored (RFC 3339).
    #[serde(rename = "first_ts")]
    pub first_timestamp: String,
    /// Last sequence.
    pub last_seq: u64,
    /// When the last message was stored (RFC 3339).
    #[serde(rename = "last_ts")]
    pub last_timestamp: String,
    /// Consumers.
    pub consumer_count: u64,
    /// Deleted messages inside the range.
    pub num_deleted: u64,
    /// The deleted sequences (asked for with `deleted_details`).
    #[serde(deserialize_with = "null_as_empty")]
    pub deleted: Vec<u64>,
    /// Distinct subjects.
    pub num_subjects: u64,
    /// Messages per subject (asked for with a subjects filter).
    #[serde(deserialize_with = "null_as_default")]
    pub subjects: HashMap<String, u64>,
    /// Messages the server found lost or damaged in storage.
    pub lost: Option<LostData>,
}

/// Messages a stream lost (damaged storage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LostData {
    /// Their sequences.
    #[serde(rename = "msgs", deserialize_with = "null_as_empty")]
    pub messages: Vec<u64>,
    /// Their size.
    pub bytes: u64,
}

/// A replicated stream's or consumer's cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClusterInfo {
    /// The cluster's name.
    pub name: Option<String>,
    /// The Raft group.
    pub raft_group: Option<String>,
    /// The leader's server name.
    pub leader: Option<String>,
    /// Since when it leads (RFC 3339; servers since 2.11).
    pub leader_since: Option<String>,
    /// The other replicas.
    #[serde(deserialize_with = "null_as_empty")]
    pub replicas: Vec<PeerInfo>,
}

/// A replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PeerInfo {
    /// Its server's name.
    pub name: String,
    /// Caught up and seen recently.
    pub current: bool,
    /// Not seen recently.
    pub offline: bool,
    /// Since it was last active.
    #[serde(with = "nanos")]
    pub active: Duration,
    /// Operations behind the leader.
    pub lag: u64,
    /// Its peer id.
    pub peer: String,
    /// Assigned but not yet a member of the Raft group.
    pub pending: bool,
}

/// A mirror's or source's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SourceInfo {
    /// The stream read from.
    pub name: String,
    /// Its account or domain, when external.
    pub external: Option<External>,
    /// Messages behind.
    pub lag: u64,
    /// Since the source last delivered (`None`: never).
    #[serde(deserialize_with = "nanos::deserialize_negative_as_none")]
    pub active: Option<Duration>,
    /// Why the source is not progressing.
    pub error: Option<ApiError>,
    /// Its filter.
    pub filter_subject: Option<String>,
    /// Its filters with transforms.
    #[serde(deserialize_with = "null_as_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
}

/// A mirror that can answer for a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamAlternate {
    /// The mirror's name.
    pub name: String,
    /// Its domain.
    pub domain: Option<String>,
    /// Its cluster.
    pub cluster: String,
}

/// Delivered / ack-floor sequences of a consumer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SequenceInfo {
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// When it last moved (RFC 3339).
    pub last_active: Option<String>,
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
    /// The consumer's cluster: leader and replicas (clustered servers).
    pub cluster: Option<ClusterInfo>,
    /// A push consumer with a subscriber on its deliver subject.
    pub push_bound: bool,
    /// Paused (servers since 2.11).
    pub paused: bool,
    /// How long it stays paused.
    #[serde(with = "nanos")]
    pub pause_remaining: Duration,
    /// When the server gathered this (RFC 3339).
    #[serde(rename = "ts")]
    pub timestamp: Option<String>,
    /// Each priority group's state (servers since 2.11).
    #[serde(deserialize_with = "null_as_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

/// A priority group's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PriorityGroupState {
    /// The group.
    pub group: String,
    /// The pinned client's id (pinned-client policy).
    pub pinned_client_id: Option<String>,
    /// Since when it is pinned (RFC 3339).
    #[serde(rename = "pinned_ts")]
    pub pinned_since: Option<String>,
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
