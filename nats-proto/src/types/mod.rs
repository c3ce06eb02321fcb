//! Validated values: each is checked when constructed and rejected with a typed error.

pub(crate) mod headers;
pub(crate) mod queue_group;
pub(crate) mod secret;
pub(crate) mod server_addr;
pub(crate) mod sid;
pub(crate) mod status_code;
pub(crate) mod subject;
