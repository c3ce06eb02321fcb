//! Validated values: each is checked when constructed and rejected with a typed error.

pub mod header_names;
pub(crate) mod headers;
mod headers_serde;
pub(crate) mod queue_group;
pub(crate) mod secret;
pub(crate) mod server_addr;
pub(crate) mod server_version;
pub(crate) mod sid;
pub(crate) mod status_code;
pub(crate) mod subject;
