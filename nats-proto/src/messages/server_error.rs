//! `-ERR`: errors reported by the server, classified.

use crate::prelude::*;

use core::fmt;

/// Which operation a permissions violation refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PermissionOperation {
    /// Publishing to a subject.
    Publish,
    /// Subscribing to a subject (optionally in a queue group).
    Subscribe,
    /// Publishing with a reply subject.
    PublishWithReply,
}

/// The class of a server `-ERR`, from its text (matched case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `Unknown Protocol Operation`.
    UnknownProtocolOperation,
    /// `Authorization Violation`: bad or missing credentials.
    AuthorizationViolation,
    /// `Authentication Timeout`: CONNECT came too late.
    AuthenticationTimeout,
    /// `User Authentication Expired`.
    UserAuthenticationExpired,
    /// `Account Authentication Expired`.
    AccountAuthenticationExpired,
    /// `User Authentication Revoked`.
    UserAuthenticationRevoked,
    /// `maximum connections exceeded`.
    MaxConnectionsExceeded,
    /// `maximum account active connections exceeded`.
    MaxAccountConnectionsExceeded,
    /// `Maximum Payload Violation`.
    MaxPayloadViolation,
    /// `maximum control line exceeded`.
    MaxControlLineExceeded,
    /// `invalid client protocol`.
    InvalidClientProtocol,
    /// `no responders requires headers support`.
    NoRespondersRequiresHeaders,
    /// `Secure Connection - TLS Required`.
    TlsRequired,
    /// `Stale Connection`: the server got no answer to its PINGs.
    StaleConnection,
    /// `Invalid Subject` (a SUB with a malformed subject).
    InvalidSubject,
    /// `Invalid Publish Subject` (pedantic mode).
    InvalidPublishSubject,
    /// `Permissions Violation for ...`.
    PermissionsViolation {
        /// The refused operation.
        operation: PermissionOperation,
        /// The subject named in the error.
        subject: String,
        /// The queue group named in the error, for subscriptions.
        queue: Option<String>,
    },
    /// `maximum subscriptions exceeded`.
    MaxSubscriptionsExceeded,
    /// Any other text, including none (a bare `-ERR`): fatal for the transport.
    Other,
}

/// An error the server reported with `-ERR '<text>'`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerError {
    kind: ServerErrorKind,
    message: String,
}

impl ServerError {
    /// Classifies an error text (without the surrounding quotes).
    pub fn new(message: impl Into<String>) -> Self {
        let message = message.into();
        Self { kind: classify(&message), message }
    }

    /// The class of the error.
    pub fn kind(&self) -> &ServerErrorKind {
        &self.kind
    }

    /// The server's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether this error is fatal for the transport: everything except the
    /// per-operation errors (`Invalid Subject`, `Invalid Publish Subject`, `Permissions
    /// Violation for ...`, `maximum subscriptions exceeded`). The server closes the
    /// connection after every fatal error it knows; an unknown text or a bare `-ERR` is
    /// fatal too, so that a peer that sends one and keeps the socket open cannot leave the
    /// client half-alive. [`Connection`](crate::Connection) acts on this (see the table
    /// in the crate documentation).
    pub fn closes_connection(&self) -> bool {
        !self.is_per_operation()
    }

    /// Whether this error refuses one operation (a publish or a subscription) and leaves
    /// the connection up: the complement of [`closes_connection`](Self::closes_connection).
    pub fn is_per_operation(&self) -> bool {
        use ServerErrorKind as K;
        match self.kind {
            K::InvalidSubject
            | K::InvalidPublishSubject
            | K::PermissionsViolation { .. }
            | K::MaxSubscriptionsExceeded => true,
            K::UnknownProtocolOperation
            | K::AuthorizationViolation
            | K::AuthenticationTimeout
            | K::UserAuthenticationExpired
            | K::AccountAuthenticationExpired
            | K::UserAuthenticationRevoked
            | K::MaxConnectionsExceeded
            | K::MaxAccountConnectionsExceeded
            | K::MaxPayloadViolation
            | K::MaxControlLineExceeded
            | K::InvalidClientProtocol
            | K::NoRespondersRequiresHeaders
            | K::TlsRequired
            | K::StaleConnection
            | K::Other => false,
        }
    }

    /// Whether the credentials were refused (`Authorization Violation`, `User` or
    /// `Account Authentication Expired`, `User Authentication Revoked`): the errors that,
    /// twice in a row from one server, stop the reconnect loop
    /// ([`ConnectionError::RepeatedAuthError`](crate::ConnectionError::RepeatedAuthError)).
    /// `Authentication Timeout` is not one: it says the client was slow, not that its
    /// credentials are bad.
    pub(crate) fn counts_as_repeatable_auth_error(&self) -> bool {
        self.is_auth_error() && self.kind != ServerErrorKind::AuthenticationTimeout
    }

    /// Whether this is an authentication or authorization failure.
    pub fn is_auth_error(&self) -> bool {
        use ServerErrorKind as K;
        matches!(
            self.kind,
            K::AuthorizationViolation
                | K::AuthenticationTimeout
                | K::UserAuthenticationExpired
                | K::AccountAuthenticationExpired
                | K::UserAuthenticationRevoked
        )
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server error: {}", self.message)
    }
}

impl core::error::Error for ServerError {}

fn classify(text: &str) -> ServerErrorKind {
    use ServerErrorKind as K;
    const EXACT: &[(&str, ServerErrorKind)] = &[
        ("unknown protocol operation", K::UnknownProtocolOperation),
        ("authorization violation", K::AuthorizationViolation),
        ("authentication timeout", K::AuthenticationTimeout),
        ("user authentication expired", K::UserAuthenticationExpired),
        ("account authentication expired", K::AccountAuthenticationExpired),
        ("user authentication revoked", K::UserAuthenticationRevoked),
        ("maximum connections exceeded", K::MaxConnectionsExceeded),
        ("maximum account active connections exceeded", K::MaxAccountConnectionsExceeded),
        ("maximum payload violation", K::MaxPayloadViolation),
        ("maximum control line exceeded", K::MaxControlLineExceeded),
        ("invalid client protocol", K::InvalidClientProtocol),
        ("no responders requires headers support", K::NoRespondersRequiresHeaders),
        ("secure connection - tls required", K::TlsRequired),
        ("stale connection", K::StaleConnection),
        ("invalid subject", K::InvalidSubject),
        ("invalid publish subject", K::InvalidPublishSubject),
        ("maximum subscriptions exceeded", K::MaxSubscriptionsExceeded),
    ];
    let trimmed = text.trim();
    if let Some((_, kind)) = EXACT.iter().find(|(t, _)| trimmed.eq_ignore_ascii_case(t)) {
        return kind.clone();
    }
    permissions_violation(trimmed).unwrap_or(K::Other)
}

/// Parses `Permissions Violation for Publish to "x"`, `... for Subscription to "x"[ using
/// queue "q"]` and `... for Publish with Reply of "x"`.
fn permissions_violation(text: &str) -> Option<ServerErrorKind> {
    let rest = strip_prefix_ignore_case(text, "permissions violation for ")?;
    let (operation, rest) = if let Some(rest) = strip_prefix_ignore_case(rest, "publish to ") {
        (PermissionOperation::Publish, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(rest, "subscription to ") {
        (PermissionOperation::Subscribe, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(rest, "publish with reply of ") {
        (PermissionOperation::PublishWithReply, rest)
    } else {
        return None;
    };
    let (subject, queue) = match rest.split_once(" using queue ") {
        Some((subject, queue)) => (subject, Some(unquote(queue).to_owned())),
        None => (rest, None),
    };
    Some(ServerErrorKind::PermissionsViolation { operation, subject: unquote(subject).to_owned(), queue })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn unquote(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_known_text() {
        use ServerErrorKind as K;
        let closing = [
            ("Unknown Protocol Operation", K::UnknownProtocolOperation),
            ("Authorization Violation", K::AuthorizationViolation),
            ("Authentication Timeout", K::AuthenticationTimeout),
            ("User Authentication Expired", K::UserAuthenticationExpired),
            ("Account Authentication Expired", K::AccountAuthenticationExpired),
            ("User Authentication Revoked", K::UserAuthenticationRevoked),
            ("maximum connections exceeded", K::MaxConnectionsExceeded),
            ("maximum account active connections exceeded", K::MaxAccountConnectionsExceeded),
            ("Maximum Payload Violation", K::MaxPayloadViolation),
            ("maximum control line exceeded", K::MaxControlLineExceeded),
            ("invalid client protocol", K::InvalidClientProtocol),
            ("no responders requires headers support", K::NoRespondersRequiresHeaders),
            ("Secure Connection - TLS Required", K::TlsRequired),
            ("Stale Connection", K::StaleConnection),
        ];
        for (text, kind) in closing {
            let err = ServerError::new(text);
            assert_eq!(err.kind(), &kind, "{text}");
            assert!(err.closes_connection(), "{text}");
            let upper = ServerError::new(text.to_uppercase());
            assert_eq!(upper.kind(), &kind, "case-insensitive {text}");
        }
        let staying = [
            ("Invalid Subject", K::InvalidSubject),
            ("Invalid Publish Subject", K::InvalidPublishSubject),
            ("maximum subscriptions exceeded", K::MaxSubscriptionsExceeded),
        ];
        for (text, kind) in staying {
            let err = ServerError::new(text);
            assert_eq!(err.kind(), &kind, "{text}");
            assert!(!err.closes_connection(), "{text}");
            assert!(err.is_per_operation(), "{text}");
        }
        // Unknown texts and a bare -ERR are fatal.
        for text in ["something new", "", "   "] {
            let err = ServerError::new(text);
            assert_eq!(err.kind(), &K::Other, "{text:?}");
            assert!(err.closes_connection(), "{text:?}");
            assert!(!err.is_per_operation(), "{text:?}");
        }
        assert!(ServerError::new("Authorization Violation").is_auth_error());
        assert!(!ServerError::new("Stale Connection").is_auth_error());
    }

    #[test]
    fn permissions_violations() {
        let pv = |op, subject: &str, queue: Option<&str>| ServerErrorKind::PermissionsViolation {
            operation: op,
            subject: subject.to_owned(),
            queue: queue.map(str::to_owned),
        };
        let cases = [
            (
                r#"Permissions Violation for Publish to "foo.bar""#,
                pv(PermissionOperation::Publish, "foo.bar", None),
            ),
            (
                r#"Permissions Violation for Subscription to "x.>""#,
                pv(PermissionOperation::Subscribe, "x.>", None),
            ),
            (
                r#"Permissions Violation for Subscription to "x" using queue "q""#,
                pv(PermissionOperation::Subscribe, "x", Some("q")),
            ),
            (
                r#"Permissions Violation for Publish with Reply of "_INBOX.a""#,
                pv(PermissionOperation::PublishWithReply, "_INBOX.a", None),
            ),
        ];
        for (text, kind) in cases {
            let err = ServerError::new(text);
            assert_eq!(err.kind(), &kind, "{text}");
            assert!(!err.closes_connection());
            assert_eq!(err.message(), text);
        }
        assert_eq!(ServerError::new("Permissions Violation for Dancing").kind(), &ServerErrorKind::Other);
    }
}
