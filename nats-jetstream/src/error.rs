//! Errors of the async API, one enum per operation family. Each classifies the common
//! causes (JetStream not enabled, timeouts, missing stream or consumer, limits) so callers
//! can match on them; the server's [`ApiError`] is kept where there is one.

use nats_client::RequestError;

use crate::proto::{
    ApiError, ErrorCode, InvalidHeader, InvalidName, PubAckError, PullFailure, ResponseError, RetryCause,
    Unsupported,
};

/// How a JetStream API request failed, before an operation family classifies it.
#[derive(Debug)]
pub(crate) enum Failure {
    InvalidName(InvalidName),
    Request(RequestError),
    Api(ApiError),
    Decode(String),
}

impl Failure {
    /// What this failure means for retrying an API request, if it may pass.
    pub(crate) fn retry_cause(&self) -> Option<RetryCause> {
        match self {
            Self::Request(RequestError::NoResponders) => Some(RetryCause::NoResponders),
            Self::Request(RequestError::Timeout) => Some(RetryCause::Timeout),
            Self::Api(e) if e.is_not_enabled() => Some(RetryCause::NotEnabled),
            Self::Api(e) => RetryCause::from_api_error(e),
            _ => None,
        }
    }
}

impl From<InvalidName> for Failure {
    fn from(e: InvalidName) -> Self {
        Self::InvalidName(e)
    }
}

impl From<ResponseError> for Failure {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::Api(e) => Self::Api(e),
            ResponseError::Decode(e) => Self::Decode(e),
            // `ResponseError` is non-exhaustive.
            #[allow(unreachable_patterns)]
            other => Self::Decode(other.to_string()),
        }
    }
}

/// Why a stream operation failed (create, update, info, delete, purge, list, get or delete
/// a message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The connected server predates a feature the request uses (it would ignore or not
    /// answer it).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The stream name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// No such stream.
    #[error("stream not found: {0}")]
    NotFound(ApiError),
    /// No such message.
    #[error("message not found: {0}")]
    MessageNotFound(ApiError),
    /// A stream with that name exists with another configuration.
    #[error("stream exists with another configuration: {0}")]
    AlreadyExists(ApiError),
    /// A limit of the account or server.
    #[error("limit exceeded: {0}")]
    Limits(ApiError),
    /// JetStream is not enabled (no responders on the API, or the server says so).
    #[error("JetStream not enabled")]
    JetStreamNotEnabled,
    /// No answer in time.
    #[error("JetStream request timed out")]
    Timeout,
    /// Any other JetStream error.
    #[error(transparent)]
    Api(ApiError),
    /// The response could not be decoded.
    #[error("cannot decode the response: {0}")]
    Decode(String),
    /// The request could not be made (closed connection, publish error).
    #[error(transparent)]
    Request(RequestError),
}

impl From<Failure> for StreamError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::InvalidName(e) => Self::InvalidName(e),
            Failure::Request(RequestError::NoResponders) => Self::JetStreamNotEnabled,
            Failure::Request(RequestError::Timeout) => Self::Timeout,
            Failure::Request(e) => Self::Request(e),
            Failure::Decode(e) => Self::Decode(e),
            Failure::Api(e) if e.is_not_enabled() => Self::JetStreamNotEnabled,
            Failure::Api(e) if e.is_limit() => Self::Limits(e),
            Failure::Api(e) => match e.err_code {
                ErrorCode::STREAM_NOT_FOUND => Self::NotFound(e),
                ErrorCode::NO_MESSAGE_FOUND => Self::MessageNotFound(e),
                ErrorCode::STREAM_NAME_EXISTS => Self::AlreadyExists(e),
                _ => Self::Api(e),
            },
        }
    }
}

/// Why a consumer operation failed (create, info, delete, list).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The connected server predates a feature the request uses (it would ignore or not
    /// answer it).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The stream or consumer name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// No such stream.
    #[error("stream not found: {0}")]
    StreamNotFound(ApiError),
    /// No such consumer.
    #[error("consumer not found: {0}")]
    NotFound(ApiError),
    /// A consumer with that name exists with another configuration.
    #[error("consumer exists with another configuration: {0}")]
    AlreadyExists(ApiError),
    /// A limit of the stream, account or server.
    #[error("limit exceeded: {0}")]
    Limits(ApiError),
    /// JetStream is not enabled.
    #[error("JetStream not enabled")]
    JetStreamNotEnabled,
    /// No answer in time.
    #[error("JetStream request timed out")]
    Timeout,
    /// Any other JetStream error.
    #[error(transparent)]
    Api(ApiError),
    /// The response could not be decoded.
    #[error("cannot decode the response: {0}")]
    Decode(String),
    /// The request could not be made.
    #[error(transparent)]
    Request(RequestError),
}

impl From<Failure> for ConsumerError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::InvalidName(e) => Self::InvalidName(e),
            Failure::Request(RequestError::NoResponders) => Self::JetStreamNotEnabled,
            Failure::Request(RequestError::Timeout) => Self::Timeout,
            Failure::Request(e) => Self::Request(e),
            Failure::Decode(e) => Self::Decode(e),
            Failure::Api(e) if e.is_not_enabled() => Self::JetStreamNotEnabled,
            Failure::Api(e) if e.is_limit() => Self::Limits(e),
            Failure::Api(e) => match e.err_code {
                ErrorCode::STREAM_NOT_FOUND => Self::StreamNotFound(e),
                ErrorCode::CONSUMER_NOT_FOUND => Self::NotFound(e),
                ErrorCode::CONSUMER_NAME_EXISTS | ErrorCode::CONSUMER_ALREADY_EXISTS => {
                    Self::AlreadyExists(e)
                }
                ErrorCode::CONSUMER_DOES_NOT_EXIST => Self::NotFound(e),
                _ => Self::Api(e),
            },
        }
    }
}

/// Why a publish to a stream failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The connected server predates a feature the request uses (it would ignore or not
    /// answer it).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// A message id or expected stream with CR or LF.
    #[error(transparent)]
    InvalidHeader(#[from] InvalidHeader),
    /// `Nats-Expected-Stream` named another stream.
    #[error("wrong stream: {0}")]
    WrongStream(ApiError),
    /// An expected last sequence (stream or subject) or last message id did not match.
    #[error("wrong last sequence: {0}")]
    WrongLastSequence(ApiError),
    /// A limit refused the message.
    #[error("limit exceeded: {0}")]
    Limits(ApiError),
    /// JetStream is not enabled.
    #[error("JetStream not enabled")]
    JetStreamNotEnabled,
    /// No stream captures the subject (nobody answered).
    #[error("no stream captures the subject (no responders)")]
    NoResponders,
    /// No acknowledgement in time.
    #[error("publish acknowledgement timed out")]
    Timeout,
    /// Any other JetStream error.
    #[error(transparent)]
    Api(ApiError),
    /// The reply is not a publish acknowledgement.
    #[error("invalid acknowledgement: {0}")]
    Decode(String),
    /// The message could not be published (closed connection, payload too big, ...).
    #[error(transparent)]
    Request(RequestError),
    /// A retried publish gave up after an attempt that may have reached the stream (no
    /// acknowledgement in time, or the connection lost while waiting for one): the message
    /// may be stored, whatever the later attempts answered. Publishing it again with the
    /// same `Nats-Msg-Id` within the stream's duplicate window is safe; without an id it
    /// may store a second copy.
    #[error(
        "publish outcome unknown after {attempts} attempts (the message may be stored): last error: {last}"
    )]
    OutcomeUnknown {
        /// Attempts made.
        attempts: u32,
        /// What the last attempt returned.
        last: Box<PublishError>,
    },
}

impl PublishError {
    /// Whether the stream may have stored the message despite this error: no
    /// acknowledgement came (a timeout, the connection lost while waiting, a reply that is
    /// not an acknowledgement), or [`OutcomeUnknown`](Self::OutcomeUnknown). Every other
    /// error means the message is not stored.
    pub fn may_be_stored(&self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::Decode(_)
                | Self::Request(RequestError::Closed)
                | Self::OutcomeUnknown { .. }
        )
    }
}

impl From<RequestError> for PublishError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::NoResponders => Self::NoResponders,
            RequestError::Timeout => Self::Timeout,
            e => Self::Request(e),
        }
    }
}

impl From<PubAckError> for PublishError {
    fn from(e: PubAckError) -> Self {
        match e {
            PubAckError::WrongStream(e) => Self::WrongStream(e),
            PubAckError::WrongLastSequence(e) => Self::WrongLastSequence(e),
            PubAckError::Limits(e) => Self::Limits(e),
            PubAckError::NotEnabled(_) => Self::JetStreamNotEnabled,
            PubAckError::Api(e) => Self::Api(e),
            PubAckError::Decode(e) => Self::Decode(e),
            #[allow(unreachable_patterns)]
            e => Self::Decode(e.to_string()),
        }
    }
}

/// Why pulling messages failed (fetch, next, messages, ordered consumers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The connected server predates a feature the request uses (it would ignore or not
    /// answer it).
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The consumer was deleted while pulling.
    #[error("consumer deleted")]
    ConsumerDeleted,
    /// Nobody answered the pull request: no such consumer, or no JetStream.
    #[error("no responders: the consumer does not exist or JetStream is unavailable")]
    NoResponders,
    /// Two heartbeat intervals passed without traffic (fetches only; continuous pulls
    /// recover by pulling again).
    #[error("missed idle heartbeats")]
    MissedHeartbeats,
    /// The server refused the pull request.
    #[error("pull request refused: {0}")]
    Refused(String),
    /// The pull inbox could not be subscribed or the request published.
    #[error("cannot pull: {0}")]
    Pull(String),
    /// (Re)creating an ordered consumer failed for good.
    #[error(transparent)]
    Consumer(#[from] ConsumerError),
    /// The connection closed.
    #[error("connection closed")]
    Closed,
}

impl From<PullFailure> for FetchError {
    fn from(f: PullFailure) -> Self {
        match f {
            PullFailure::ConsumerDeleted => Self::ConsumerDeleted,
            PullFailure::NoResponders => Self::NoResponders,
            PullFailure::MissedHeartbeats => Self::MissedHeartbeats,
            PullFailure::Refused(text) => Self::Refused(text),
            #[allow(unreachable_patterns)]
            f => Self::Refused(f.to_string()),
        }
    }
}

/// Why acknowledging a message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The message has no reply subject (not from a consumer that expects acks).
    #[error("the message has no reply subject to acknowledge to")]
    NoReply,
    /// [`double_ack`](crate::Message::double_ack): no confirmation in time.
    #[error("acknowledgement not confirmed in time")]
    Timeout,
    /// The acknowledgement could not be sent.
    #[error(transparent)]
    Request(RequestError),
}

impl From<nats_client::PublishError> for AckError {
    fn from(e: nats_client::PublishError) -> Self {
        Self::Request(RequestError::Publish(e))
    }
}

impl From<RequestError> for AckError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Timeout => Self::Timeout,
            e => Self::Request(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(err_code: u64) -> ApiError {
        ApiError { code: 400, err_code: ErrorCode(err_code), description: "d".into() }
    }

    #[test]
    fn classification() {
        assert_eq!(
            StreamError::from(Failure::Request(RequestError::NoResponders)),
            StreamError::JetStreamNotEnabled
        );
        assert_eq!(StreamError::from(Failure::Request(RequestError::Timeout)), StreamError::Timeout);
        assert!(matches!(StreamError::from(Failure::Api(api(10059))), StreamError::NotFound(_)));
        assert!(matches!(StreamError::from(Failure::Api(api(10037))), StreamError::MessageNotFound(_)));
        assert!(matches!(StreamError::from(Failure::Api(api(10027))), StreamError::Limits(_)));
        assert_eq!(StreamError::from(Failure::Api(api(10039))), StreamError::JetStreamNotEnabled);
        assert!(matches!(ConsumerError::from(Failure::Api(api(10014))), ConsumerError::NotFound(_)));
        assert!(matches!(ConsumerError::from(Failure::Api(api(10059))), ConsumerError::StreamNotFound(_)));
        assert!(matches!(ConsumerError::from(Failure::Api(api(10026))), ConsumerError::Limits(_)));
        assert_eq!(PublishError::from(RequestError::NoResponders), PublishError::NoResponders);
        assert_eq!(FetchError::from(PullFailure::ConsumerDeleted), FetchError::ConsumerDeleted);
        assert_eq!(AckError::from(RequestError::Timeout), AckError::Timeout);
    }
}
