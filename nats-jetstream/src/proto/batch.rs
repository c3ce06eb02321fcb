//! Atomic batch publishes (ADR-50; servers since 2.12, streams with `allow_atomic`): the
//! messages of a batch carry its id and their place in it, the last one commits, and the
//! stream stores all of them or none. The stream answers a message that is not the commit
//! with an empty message once it has staged it, and the commit with a publish ack naming
//! the batch and its size. A lost message leaves a gap the commit reports as an incomplete
//! batch.

use nats_proto::{HeaderMap, HeaderName, HeaderValue};

use super::publish::InvalidHeader;

/// `Nats-Batch-Id`: the batch a message belongs to (at most 64 characters).
pub const BATCH_ID: &str = "Nats-Batch-Id";
/// `Nats-Batch-Sequence`: the message's place in its batch, from 1.
pub const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
/// `Nats-Batch-Commit`: on the last message, `1` (it is stored too).
pub const BATCH_COMMIT: &str = "Nats-Batch-Commit";
/// The most messages the server takes in one atomic batch by default.
pub const MAX_BATCH_SIZE: usize = 1000;
/// The longest batch id the server takes.
pub const MAX_BATCH_ID_LEN: usize = 64;

/// Adds the batch headers of message `sequence` (from 1) of batch `id` to `headers`;
/// `commit` on the last.
///
/// # Errors
/// [`InvalidHeader`] for an id the server would refuse (empty, longer than 64
/// characters, or with characters a header value cannot hold).
pub fn apply_batch_headers(
    headers: &mut HeaderMap,
    id: &str,
    sequence: u64,
    commit: bool,
) -> Result<(), InvalidHeader> {
    let invalid = || InvalidHeader { name: BATCH_ID, value: id.to_owned() };
    if id.is_empty() || id.len() > MAX_BATCH_ID_LEN || id.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(invalid());
    }
    let name = |n: &'static str| HeaderName::new(n).expect("constant header names are valid");
    headers.insert(name(BATCH_ID), HeaderValue::new(id).map_err(|_| invalid())?);
    headers.insert(name(BATCH_SEQUENCE), HeaderValue::new(sequence.to_string()).expect("digits"));
    if commit {
        headers.insert(name(BATCH_COMMIT), HeaderValue::new("1").expect("a digit"));
    } else {
        headers.remove(BATCH_COMMIT);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_headers() {
        let mut headers = HeaderMap::new();
        apply_batch_headers(&mut headers, "b-1", 1, false).unwrap();
        assert_eq!(headers.get(BATCH_ID).unwrap().as_str(), "b-1");
        assert_eq!(headers.get(BATCH_SEQUENCE).unwrap().as_str(), "1");
        assert!(headers.get(BATCH_COMMIT).is_none());
        apply_batch_headers(&mut headers, "b-1", 7, true).unwrap();
        assert_eq!(headers.get(BATCH_SEQUENCE).unwrap().as_str(), "7");
        assert_eq!(headers.get(BATCH_COMMIT).unwrap().as_str(), "1");
        for bad in ["", "a b", &"x".repeat(65)] {
            assert!(apply_batch_headers(&mut HeaderMap::new(), bad, 1, false).is_err(), "{bad:?}");
        }
        assert!(apply_batch_headers(&mut HeaderMap::new(), &"x".repeat(64), 1, false).is_ok());
    }
}
