//! Errors.

use nats_client::{FlushError, PublishError, SubjectError, SubscribeError};

/// A service, group or endpoint configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A service or endpoint name is not `^[A-Za-z0-9\-_]+$`.
    #[error("invalid name {0:?}: use only A-Z, a-z, 0-9, '-' and '_'")]
    InvalidName(String),
    /// The version is not a semantic version.
    #[error("invalid version {0:?}: not a semantic version (e.g. 1.0.0, 2.1.3-alpha.1)")]
    InvalidVersion(String),
    /// An endpoint subject is not a valid subject.
    #[error("invalid endpoint subject {0:?}: {1}")]
    InvalidSubject(String, SubjectError),
    /// A group prefix is not a valid subject, or has a `>` token.
    #[error("invalid group {0:?}: a group is a subject prefix without '>'")]
    InvalidGroup(String),
    /// The API prefix is not a literal subject (no wildcards).
    #[error("invalid API prefix {0:?}: not a literal subject")]
    InvalidApiPrefix(String),
    /// A queue group name is empty or has whitespace.
    #[error("invalid queue group {0:?}")]
    InvalidQueueGroup(String),
}

/// An operation on a service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A subscription could not be made.
    #[error("subscribe: {0}")]
    Subscribe(#[from] SubscribeError),
    /// The server did not confirm the subscriptions (or the unsubscriptions, on stop).
    #[error("flush: {0}")]
    Flush(#[from] FlushError),
    /// The service was stopped.
    #[error("the service is stopped")]
    Stopped,
}

/// A reply to a request could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The request had no reply subject.
    #[error("the request has no reply subject")]
    NoReplySubject,
    /// Publishing the reply failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
}
