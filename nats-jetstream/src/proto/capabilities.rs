//! What a JetStream request needs of the server. Older servers ignore JSON fields they do
//! not know and do not answer API subjects they do not serve: a stream created with a
//! message TTL setting on 2.10 silently has none, a pause request on 2.10 times out. So a
//! request whose features the connected server predates fails at once, with an error that
//! names the feature and the version it needs.

use nats_proto::ServerVersion;

use super::consumer_config::ConsumerConfig;
use super::direct::DirectGetRequest;
use super::policy::{Compression, PersistMode, PriorityPolicy};
use super::stream_config::StreamConfig;

/// A JetStream feature newer than 2.9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// Stream compression (2.10).
    Compression,
    /// Subject transforms on streams and sources (2.10).
    SubjectTransforms,
    /// A stream's first sequence (2.10).
    FirstSequence,
    /// Stream and consumer metadata (2.10).
    Metadata,
    /// Consumer limits on a stream (2.10).
    ConsumerLimits,
    /// Several filter subjects on a consumer (2.10).
    FilterSubjects,
    /// Create-only and update-only consumer requests (2.10).
    ConsumerActions,
    /// Per-message TTLs and subject delete markers (2.11).
    MessageTtl,
    /// Pausing consumers (2.11).
    ConsumerPause,
    /// Priority groups: overflow and pinned client (2.11).
    PriorityGroups,
    /// Batch and multi-last direct gets (2.11).
    DirectGetBatch,
    /// The prioritized priority policy (2.12).
    PrioritizedPolicy,
    /// Atomic batch publishes (2.12).
    AtomicBatch,
    /// Counters, atomic and fast batch publishes, scheduled messages, asynchronous
    /// persistence (2.12).
    Stream212,
}

impl Feature {
    /// The first server version with the feature.
    pub fn since(self) -> ServerVersion {
        match self {
            Self::Compression
            | Self::SubjectTransforms
            | Self::FirstSequence
            | Self::Metadata
            | Self::ConsumerLimits
            | Self::FilterSubjects
            | Self::ConsumerActions => ServerVersion::new(2, 10, 0),
            Self::MessageTtl | Self::ConsumerPause | Self::PriorityGroups | Self::DirectGetBatch => {
                ServerVersion::new(2, 11, 0)
            }
            Self::PrioritizedPolicy | Self::AtomicBatch | Self::Stream212 => ServerVersion::new(2, 12, 0),
        }
    }

    /// The feature's name, as an error shows it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Compression => "stream compression",
            Self::SubjectTransforms => "subject transforms",
            Self::FirstSequence => "a stream's first sequence",
            Self::Metadata => "metadata",
            Self::ConsumerLimits => "stream consumer limits",
            Self::FilterSubjects => "several filter subjects",
            Self::ConsumerActions => "create-only and update-only consumer requests",
            Self::MessageTtl => "per-message TTLs",
            Self::ConsumerPause => "consumer pause",
            Self::PriorityGroups => "priority groups",
            Self::DirectGetBatch => "batch direct gets",
            Self::PrioritizedPolicy => "the prioritized priority policy",
            Self::AtomicBatch => "atomic batch publishes",
            Self::Stream212 => "counters, batch publishes, schedules or asynchronous persistence",
        }
    }
}

/// A request the connected server cannot serve: it predates a feature the request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} needs nats-server {} or later; the connected server is {server}", feature.name(), feature.since())]
pub struct Unsupported {
    /// The feature.
    pub feature: Feature,
    /// The connected server's version.
    pub server: ServerVersion,
}

/// Checks `features` against the connected server's version (`None`: unknown, let the
/// server decide).
///
/// # Errors
/// [`Unsupported`] for the first feature the server predates.
pub fn check(
    server: Option<ServerVersion>,
    features: impl IntoIterator<Item = Feature>,
) -> Result<(), Unsupported> {
    let Some(server) = server else { return Ok(()) };
    match features.into_iter().find(|f| server < f.since()) {
        Some(feature) => Err(Unsupported { feature, server }),
        None => Ok(()),
    }
}

impl StreamConfig {
    /// The features this configuration uses (to check against the server before sending
    /// it: an older server would drop them silently).
    pub fn features(&self) -> Vec<Feature> {
        let mut features = Vec::new();
        let mut need = |used: bool, feature| {
            if used {
                features.push(feature);
            }
        };
        need(self.compression != Compression::None, Feature::Compression);
        let transforms = self.subject_transform.is_some()
            || self.mirror.iter().chain(&self.sources).any(|s| !s.subject_transforms.is_empty());
        need(transforms, Feature::SubjectTransforms);
        need(self.first_sequence > 0, Feature::FirstSequence);
        need(self.metadata.keys().any(|k| !k.starts_with("_nats.")), Feature::Metadata);
        need(
            self.consumer_limits.as_ref().is_some_and(|l| *l != Default::default()),
            Feature::ConsumerLimits,
        );
        need(self.allow_message_ttl || !self.subject_delete_marker_ttl.is_zero(), Feature::MessageTtl);
        let since_212 = self.allow_message_counter
            || self.allow_atomic_publish
            || self.allow_message_schedules
            || self.allow_batch_publish
            || self.persist_mode != PersistMode::Default;
        need(since_212, Feature::Stream212);
        features
    }
}

impl ConsumerConfig {
    /// The features this configuration uses.
    pub fn features(&self) -> Vec<Feature> {
        let mut features = Vec::new();
        let mut need = |used: bool, feature| {
            if used {
                features.push(feature);
            }
        };
        need(!self.filter_subjects.is_empty(), Feature::FilterSubjects);
        need(self.metadata.keys().any(|k| !k.starts_with("_nats.")), Feature::Metadata);
        need(self.pause_until.is_some(), Feature::ConsumerPause);
        need(
            !self.priority_groups.is_empty() || self.priority_policy != PriorityPolicy::None,
            Feature::PriorityGroups,
        );
        need(self.priority_policy == PriorityPolicy::Prioritized, Feature::PrioritizedPolicy);
        features
    }
}

impl DirectGetRequest {
    /// The features this request uses.
    pub fn features(&self) -> Vec<Feature> {
        if self.is_batch() || self.start_time.is_some() || self.up_to_seq > 0 || self.up_to_time.is_some() {
            vec![Feature::DirectGetBatch]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_9: ServerVersion = ServerVersion::new(2, 9, 10);
    const V2_15: ServerVersion = ServerVersion::new(2, 15, 1);

    #[test]
    fn a_configuration_names_the_features_it_uses() {
        assert!(StreamConfig::new("S").subjects(["a"]).features().is_empty());
        let mut config = StreamConfig::new("S").metadata("owner", "me");
        config.allow_message_ttl = true;
        config.compression = Compression::S2;
        assert_eq!(config.features(), [Feature::Compression, Feature::Metadata, Feature::MessageTtl]);
        // The server's own metadata does not count: a configuration read from 2.11 and
        // sent to 2.10 is not refused for it.
        let read_back = StreamConfig::new("S").metadata("_nats.level", "1");
        assert!(read_back.features().is_empty());

        let consumer = ConsumerConfig {
            filter_subjects: vec!["a".into(), "b".into()],
            priority_groups: vec!["g".into()],
            priority_policy: PriorityPolicy::Prioritized,
            ..ConsumerConfig::durable("c")
        };
        assert_eq!(
            consumer.features(),
            [Feature::FilterSubjects, Feature::PriorityGroups, Feature::PrioritizedPolicy]
        );
        assert_eq!(DirectGetRequest::sequence(1).features(), []);
        assert_eq!(DirectGetRequest::multi_last(["a"]).features(), [Feature::DirectGetBatch]);
    }

    #[test]
    fn an_older_server_refuses_at_once_with_the_version_needed() {
        let err = check(Some(V2_9), [Feature::MessageTtl]).unwrap_err();
        assert_eq!(err, Unsupported { feature: Feature::MessageTtl, server: V2_9 });
        assert_eq!(
            err.to_string(),
            "per-message TTLs needs nats-server 2.11.0 or later; the connected server is 2.9.10"
        );
        assert_eq!(check(Some(V2_15), [Feature::MessageTtl, Feature::PrioritizedPolicy]), Ok(()));
        assert_eq!(check(None, [Feature::Stream212]), Ok(()), "unknown version: the server decides");
        assert_eq!(check(Some(V2_9), []), Ok(()));
    }
}
