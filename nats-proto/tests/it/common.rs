//! Helpers shared by the codec tests: decode a fixture whole, byte by byte and split at
//! every offset, and insist that every way gives the same result.

#![allow(dead_code)]

use bytes::BytesMut;
use nats_proto::{ClientDecoder, ClientOp, DecodeError, DecoderLimits, ServerDecoder, ServerOp};

/// Ops decoded from a stream plus the error that ended it, if any.
pub type Outcome<T> = (Vec<T>, Option<DecodeError>);

trait Decode {
    type Op;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Op>, DecodeError>;
}

impl Decode for ServerDecoder {
    type Op = ServerOp;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ServerOp>, DecodeError> {
        ServerDecoder::decode(self, buf)
    }
}

impl Decode for ClientDecoder {
    type Op = ClientOp;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, DecodeError> {
        ClientDecoder::decode(self, buf)
    }
}

/// Feeds `pieces` one after the other, decoding after each; stops at the first error.
fn feed<D: Decode>(mut decoder: D, pieces: &[&[u8]]) -> Outcome<D::Op> {
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(decoder.decode(&mut buf), Err(DecodeError::Failed)), "errors are final");
                    return (ops, Some(e));
                }
            }
        }
    }
    (ops, None)
}

fn all_ways<D: Decode>(input: &[u8], new: impl Fn() -> D) -> Outcome<D::Op>
where
    D::Op: PartialEq + std::fmt::Debug,
{
    let whole = feed(new(), &[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed(new(), &bytes), whole, "byte by byte differs from whole for {:?}", show(input));
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(feed(new(), &[a, b]), whole, "split at {split} differs for {:?}", show(input));
    }
    whole
}

/// Decodes server ops every way; returns the common outcome.
pub fn server_ops(input: &[u8]) -> Outcome<ServerOp> {
    all_ways(input, ServerDecoder::new)
}

/// Decodes server ops every way with the given limits.
pub fn server_ops_with(input: &[u8], limits: DecoderLimits) -> Outcome<ServerOp> {
    all_ways(input, || ServerDecoder::with_limits(limits))
}

/// Decodes client ops every way; returns the common outcome.
pub fn client_ops(input: &[u8]) -> Outcome<ClientOp> {
    all_ways(input, ClientDecoder::new)
}

/// Exactly one op and no error.
pub fn one_server_op(input: &[u8]) -> ServerOp {
    let (mut ops, error) = server_ops(input);
    assert_eq!(error, None, "{:?}", show(input));
    assert_eq!(ops.len(), 1, "{:?}", show(input));
    ops.pop().unwrap()
}

/// Exactly one client op and no error.
pub fn one_client_op(input: &[u8]) -> ClientOp {
    let (mut ops, error) = client_ops(input);
    assert_eq!(error, None, "{:?}", show(input));
    assert_eq!(ops.len(), 1, "{:?}", show(input));
    ops.pop().unwrap()
}

/// The error a server-op stream ends with (after any ops before it).
pub fn server_error(input: &[u8]) -> DecodeError {
    server_ops(input).1.unwrap_or_else(|| panic!("no error for {:?}", show(input)))
}

/// The error a client-op stream ends with.
pub fn client_error(input: &[u8]) -> DecodeError {
    client_ops(input).1.unwrap_or_else(|| panic!("no error for {:?}", show(input)))
}

pub fn show(input: &[u8]) -> String {
    String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned()
}
