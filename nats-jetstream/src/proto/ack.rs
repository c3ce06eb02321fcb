//! Acknowledgements and the metadata JetStream encodes in a message's reply subject.

use std::time::Duration;

use nats_client::{SystemTime, UNIX_EPOCH};

use super::wire::nanos;

/// How a message is acknowledged (the body sent to its reply subject).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckKind {
    /// Processed (`+ACK`).
    Ack,
    /// Not processed: redeliver, optionally after a delay (`-NAK`, `-NAK {"delay":ns}`).
    Nak(Option<Duration>),
    /// Still working: reset the ack timer (`+WPI`).
    Progress,
    /// Never redeliver (`+TERM`).
    Term,
    /// Never redeliver, with a reason the server puts in its termination advisory
    /// (`+TERM <reason>`; servers since 2.10.4).
    TermWithReason(String),
    /// Processed; and send the next message to the reply subject of this acknowledgement
    /// (`+NXT {"batch":1,...}`): a pull request carried by the ack.
    Next {
        /// Messages wanted (at least 1).
        batch: usize,
        /// How long the request lives on the server (zero: until answered).
        expires: Duration,
    },
}

impl AckKind {
    /// The body to send.
    pub fn body(&self) -> Vec<u8> {
        match self {
            Self::Ack => b"+ACK".to_vec(),
            Self::Nak(None) => b"-NAK".to_vec(),
            Self::Nak(Some(delay)) => format!("-NAK {{\"delay\":{}}}", nanos::to_go(*delay)).into_bytes(),
            Self::Progress => b"+WPI".to_vec(),
            Self::Term => b"+TERM".to_vec(),
            // A line break would end the reason early on the server: spaces instead.
            Self::TermWithReason(reason) => {
                format!("+TERM {}", reason.replace(['\r', '\n'], " ")).into_bytes()
            }
            Self::Next { batch, expires } => {
                let expires = if expires.is_zero() {
                    String::new()
                } else {
                    format!(",\"expires\":{}", nanos::to_go(*expires))
                };
                format!("+NXT {{\"batch\":{}{expires}}}", (*batch).max(1)).into_bytes()
            }
        }
    }
}

/// What the reply subject of a JetStream message says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The JetStream domain (v2 subjects; `None` when absent or `_`).
    pub domain: Option<String>,
    /// The account hash (v2 subjects).
    pub account_hash: Option<String>,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// How many times it was delivered (1 the first time).
    pub delivered: u64,
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// Its consumer sequence.
    pub consumer_sequence: u64,
    /// When it was stored, in nanoseconds since the Unix epoch.
    pub timestamp_nanos: u64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
}

impl Metadata {
    /// When it was stored.
    pub fn timestamp(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.timestamp_nanos)
    }
}

/// A reply subject that is not a JetStream ack subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JetStream ack subject: {0:?}")]
pub struct NotAckSubject(pub String);

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (v1, nine
/// tokens) or `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>...]`
/// (v2, eleven or more tokens; domain `_` means none).
///
/// # Errors
/// [`NotAckSubject`] for anything else.
pub fn parse_metadata(reply: &str) -> Result<Metadata, NotAckSubject> {
    let bad = || NotAckSubject(reply.to_owned());
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" || tokens.iter().any(|t| t.is_empty()) {
        return Err(bad());
    }
    let (domain, account_hash, rest) = match tokens.len() {
        9 => (None, None, &tokens[2..]),
        n if n >= 11 => {
            let domain = (tokens[2] != "_").then(|| tokens[2].to_owned());
            (domain, Some(tokens[3].to_owned()), &tokens[4..11])
        }
        _ => return Err(bad()),
    };
    let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
    Ok(Metadata {
        domain,
        account_hash,
        stream: rest[0].to_owned(),
        consumer: rest[1].to_owned(),
        delivered: num(rest[2])?,
        stream_sequence: num(rest[3])?,
        consumer_sequence: num(rest[4])?,
        timestamp_nanos: num(rest[5])?,
        pending: num(rest[6])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_bodies() {
        assert_eq!(AckKind::Ack.body(), b"+ACK");
        assert_eq!(AckKind::Nak(None).body(), b"-NAK");
        assert_eq!(AckKind::Nak(Some(Duration::from_millis(1500))).body(), b"-NAK {\"delay\":1500000000}");
        // A Go time.Duration: saturated at i64::MAX, never wrapped or past it.
        assert_eq!(AckKind::Nak(Some(Duration::MAX)).body(), b"-NAK {\"delay\":9223372036854775807}");
        assert_eq!(AckKind::Progress.body(), b"+WPI");
        assert_eq!(AckKind::Term.body(), b"+TERM");
        assert_eq!(AckKind::TermWithReason("bad input\r\nx".into()).body(), b"+TERM bad input  x");
        assert_eq!(AckKind::Next { batch: 0, expires: Duration::ZERO }.body(), b"+NXT {\"batch\":1}");
        assert_eq!(
            AckKind::Next { batch: 5, expires: Duration::from_secs(2) }.body(),
            b"+NXT {\"batch\":5,\"expires\":2000000000}"
        );
    }

    #[test]
    fn v1_subjects() {
        let m = parse_metadata("$JS.ACK.ORDERS.worker.2.1001.17.1700000000123456789.5").unwrap();
        assert_eq!(m.stream, "ORDERS");
        assert_eq!(m.consumer, "worker");
        assert_eq!(m.delivered, 2);
        assert_eq!(m.stream_sequence, 1001);
        assert_eq!(m.consumer_sequence, 17);
        assert_eq!(m.timestamp_nanos, 1_700_000_000_123_456_789);
        assert_eq!(m.pending, 5);
        assert_eq!(m.domain, None);
        assert_eq!(m.account_hash, None);
        assert_eq!(m.timestamp(), UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789));
    }

    #[test]
    fn v2_subjects() {
        let m =
            parse_metadata("$JS.ACK.hub.ACCHASH.ORDERS.worker.1.3.3.1700000000000000000.0.rand0m").unwrap();
        assert_eq!(m.domain.as_deref(), Some("hub"));
        assert_eq!(m.account_hash.as_deref(), Some("ACCHASH"));
        assert_eq!((m.stream.as_str(), m.consumer.as_str()), ("ORDERS", "worker"));
        assert_eq!((m.delivered, m.stream_sequence, m.consumer_sequence, m.pending), (1, 3, 3, 0));
        let m = parse_metadata("$JS.ACK._.ACC.S.C.1.2.3.4.5").unwrap();
        assert_eq!(m.domain, None, "_ is no domain");
        assert_eq!(m.pending, 5);
    }

    #[test]
    fn bad_subjects() {
        for bad in [
            "",
            "_INBOX.x",
            "$JS.ACK.S.C.1.2.3.4",
            "$JS.ACK.S.C.1.2.3.4.5.6",
            "$JS.NAK.S.C.1.2.3.4.5",
            "$JS.ACK.S.C.x.2.3.4.5",
            "$JS.ACK.S.C.-1.2.3.4.5",
            "$JS.ACK.S..1.2.3.4.5",
            "$JS.ACK.S.C.1.2.3.4.99999999999999999999999",
        ] {
            assert!(parse_metadata(bad).is_err(), "{bad:?}");
        }
    }
}
