//! JetStream API errors (ADR-7): an HTTP-like `code`, a JetStream `err_code` and a text.

use std::fmt;

use serde::Deserialize;

/// A JetStream error code (`err_code`), as in the server's `errors.json`. The constants
/// name the codes this crate's errors classify; any other code is kept as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    /// Resource limits exceeded for the account.
    pub const ACCOUNT_RESOURCES_EXCEEDED: Self = Self(10002);
    /// Bad request.
    pub const BAD_REQUEST: Self = Self(10003);
    /// A consumer with that name exists with another configuration.
    pub const CONSUMER_NAME_EXISTS: Self = Self(10013);
    /// Consumer not found.
    pub const CONSUMER_NOT_FOUND: Self = Self(10014);
    /// The stream's consumer limit is reached.
    pub const MAXIMUM_CONSUMERS_LIMIT: Self = Self(10026);
    /// The account's stream limit is reached.
    pub const MAXIMUM_STREAMS_LIMIT: Self = Self(10027);
    /// No message found.
    pub const NO_MESSAGE_FOUND: Self = Self(10037);
    /// JetStream not enabled for the account.
    pub const NOT_ENABLED_FOR_ACCOUNT: Self = Self(10039);
    /// The stream configuration is invalid.
    pub const STREAM_INVALID_CONFIG: Self = Self(10052);
    /// The message is larger than the stream's maximum message size.
    pub const MESSAGE_EXCEEDS_MAXIMUM: Self = Self(10054);
    /// A stream with that name exists with another configuration.
    pub const STREAM_NAME_EXISTS: Self = Self(10058);
    /// Stream not found.
    pub const STREAM_NOT_FOUND: Self = Self(10059);
    /// `Nats-Expected-Stream` does not match the stream that captured the message.
    pub const STREAM_NOT_MATCH: Self = Self(10060);
    /// The subjects overlap another stream's.
    pub const STREAM_SUBJECT_OVERLAP: Self = Self(10065);
    /// `Nats-Expected-Last-Msg-Id` does not match.
    pub const STREAM_WRONG_LAST_MSG_ID: Self = Self(10070);
    /// `Nats-Expected-Last-Sequence` or `Nats-Expected-Last-Subject-Sequence` does not match.
    pub const STREAM_WRONG_LAST_SEQUENCE: Self = Self(10071);
    /// JetStream not enabled on the server.
    pub const NOT_ENABLED: Self = Self(10076);
    /// The store refused the message (for example a limit with `discard: new`).
    pub const STREAM_STORE_FAILED: Self = Self(10077);
    /// A create-only consumer request found the consumer existing with another
    /// configuration.
    pub const CONSUMER_ALREADY_EXISTS: Self = Self(10148);
    /// An update-only consumer request found no consumer.
    pub const CONSUMER_DOES_NOT_EXIST: Self = Self(10149);
    /// The `Nats-TTL` header is not a valid TTL.
    pub const MESSAGE_TTL_INVALID: Self = Self(10165);
    /// The stream does not allow per-message TTLs.
    pub const MESSAGE_TTL_DISABLED: Self = Self(10166);
    /// The stream does not allow atomic batch publishes.
    pub const ATOMIC_PUBLISH_DISABLED: Self = Self(10174);
    /// An atomic batch reached its commit with a message missing: nothing was stored.
    pub const ATOMIC_PUBLISH_INCOMPLETE: Self = Self(10176);
    /// The request needs a higher JetStream API level than this server has.
    pub const REQUIRED_API_LEVEL: Self = Self(10185);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An error the JetStream API returned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, thiserror::Error)]
#[error("JetStream error {code}/{err_code}: {description}")]
#[serde(default)]
pub struct ApiError {
    /// The HTTP-like status (400, 404, 503, ...).
    pub code: u16,
    /// The JetStream error code.
    pub err_code: ErrorCode,
    /// The server's text.
    pub description: String,
}

impl ApiError {
    /// JetStream is not enabled (server or account).
    pub fn is_not_enabled(&self) -> bool {
        matches!(self.err_code, ErrorCode::NOT_ENABLED | ErrorCode::NOT_ENABLED_FOR_ACCOUNT)
    }

    /// A limit was hit: account resources, stream or consumer counts, message size, store.
    pub fn is_limit(&self) -> bool {
        matches!(
            self.err_code,
            ErrorCode::ACCOUNT_RESOURCES_EXCEEDED
                | ErrorCode::MAXIMUM_CONSUMERS_LIMIT
                | ErrorCode::MAXIMUM_STREAMS_LIMIT
                | ErrorCode::MESSAGE_EXCEEDS_MAXIMUM
                | ErrorCode::STREAM_STORE_FAILED
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let e = ApiError { code: 503, err_code: ErrorCode::NOT_ENABLED, description: "x".into() };
        assert!(e.is_not_enabled() && !e.is_limit());
        let e = ApiError { code: 503, err_code: ErrorCode::STREAM_STORE_FAILED, description: "x".into() };
        assert!(e.is_limit());
        assert_eq!(e.to_string(), "JetStream error 503/10077: x");
        let e: ApiError =
            serde_json::from_str(r#"{"code":400,"err_code":99999,"description":"new","extra":1}"#).unwrap();
        assert_eq!(e.err_code, ErrorCode(99999));
    }
}
