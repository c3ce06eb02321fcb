//! The wire codec: streaming decoders for both directions, the encoder and the outbound
//! buffer it writes into, and the ops they exchange.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod op;
pub(crate) mod out_buffer;
