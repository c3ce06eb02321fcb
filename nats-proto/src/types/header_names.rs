//! The names of the headers NATS itself defines (JetStream, key-value, services), as
//! [`HeaderName`] constants: `headers.insert(header::NATS_MESSAGE_ID, "order-7")`.
//!
//! Names are compared exactly, case included, as nats-server compares them; these are the
//! spellings the server and the official clients use.

use super::headers::HeaderName;

macro_rules! names {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)*) => {$(
        $(#[$doc])*
        pub const $name: HeaderName = HeaderName::from_static($value);
    )*};
}

names! {
    /// `Nats-Msg-Id`: the publisher's id of a message; JetStream drops a second message
    /// with the same id inside the stream's duplicate window.
    NATS_MESSAGE_ID = "Nats-Msg-Id";
    /// `Nats-Expected-Stream`: store only if the subject belongs to this stream.
    NATS_EXPECTED_STREAM = "Nats-Expected-Stream";
    /// `Nats-Expected-Last-Msg-Id`: store only if the stream's last message has this id.
    NATS_EXPECTED_LAST_MESSAGE_ID = "Nats-Expected-Last-Msg-Id";
    /// `Nats-Expected-Last-Sequence`: store only if the stream's last sequence is this.
    NATS_EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence";
    /// `Nats-Expected-Last-Subject-Sequence`: store only if the last message on the
    /// subject has this sequence (0: there is none).
    NATS_EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence";
    /// `Nats-Expected-Last-Subject-Sequence-Subject`: the subject (or filter) the previous
    /// expectation applies to, instead of the message's own.
    NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject";
    /// `Nats-Rollup`: `sub` replaces every message on the subject, `all` the whole stream.
    NATS_ROLLUP = "Nats-Rollup";
    /// `Nats-TTL`: how long the stream keeps this message (`30s`, `1h`, `never`); the
    /// stream must allow per-message TTLs.
    NATS_MESSAGE_TTL = "Nats-TTL";
    /// `Nats-Marker-Reason`: why the server wrote a delete marker (`MaxAge`, `Remove`,
    /// `Purge`).
    NATS_MARKER_REASON = "Nats-Marker-Reason";
    /// `Nats-Stream`: the stream a message was read from (direct get, republish).
    NATS_STREAM = "Nats-Stream";
    /// `Nats-Sequence`: the message's sequence in that stream.
    NATS_SEQUENCE = "Nats-Sequence";
    /// `Nats-Time-Stamp`: when the stream stored it (RFC 3339).
    NATS_TIME_STAMP = "Nats-Time-Stamp";
    /// `Nats-Subject`: the subject it was stored under.
    NATS_SUBJECT = "Nats-Subject";
    /// `Nats-Last-Sequence`: the previous sequence on the subject (republish).
    NATS_LAST_SEQUENCE = "Nats-Last-Sequence";
    /// `Nats-Num-Pending`: messages left after this one (direct get batches).
    NATS_NUM_PENDING = "Nats-Num-Pending";
    /// `Nats-Last-Stream`: on a flow-control or idle-heartbeat message, the last stream
    /// sequence delivered.
    NATS_LAST_STREAM = "Nats-Last-Stream";
    /// `Nats-Last-Consumer`: on an idle heartbeat, the last consumer sequence delivered.
    NATS_LAST_CONSUMER = "Nats-Last-Consumer";
    /// `Nats-Consumer-Stalled`: on a heartbeat, the subject to answer to resume flow.
    NATS_CONSUMER_STALLED = "Nats-Consumer-Stalled";
    /// `Nats-Pending-Messages`: messages a pull request still had coming when it ended.
    NATS_PENDING_MESSAGES = "Nats-Pending-Messages";
    /// `Nats-Pending-Bytes`: bytes a pull request still had coming when it ended.
    NATS_PENDING_BYTES = "Nats-Pending-Bytes";
    /// `Nats-Service-Error`: a service endpoint's error description (ADR-32).
    NATS_SERVICE_ERROR = "Nats-Service-Error";
    /// `Nats-Service-Error-Code`: a service endpoint's error code (ADR-32).
    NATS_SERVICE_ERROR_CODE = "Nats-Service-Error-Code";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_names_the_server_reads() {
        assert_eq!(NATS_MESSAGE_ID, "Nats-Msg-Id");
        assert_eq!(NATS_MESSAGE_TTL, "Nats-TTL");
        assert_eq!(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "Nats-Expected-Last-Subject-Sequence");
        assert_eq!(HeaderName::new("Nats-Msg-Id").unwrap(), NATS_MESSAGE_ID);
    }
}
