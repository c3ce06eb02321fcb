//! The protocol's structured messages: the server's `INFO`, the client's `CONNECT`, and
//! the server's `-ERR` with its classification.

pub(crate) mod connect;
pub(crate) mod info;
pub(crate) mod server_error;
