//! NATS services: the "micro" API of NATS ADR-32.
#![forbid(unsafe_code)]

mod config;
mod core;
mod error;
mod id;
mod messages;
mod time;

pub use crate::config::{
    join_subject, validate_group, validate_name, validate_queue_group, validate_subject, validate_version,
    QueueGroup, ServiceConfig, DEFAULT_QUEUE_GROUP,
};
pub use crate::core::{EndpointId, EndpointSpec, ServiceCore, Subscription};
pub use crate::error::{ConfigError, RespondError, ServiceError};
pub use crate::id::{IdGenerator, ID_LEN};
pub use crate::messages::{
    control_subject, set_error_headers, EndpointInfo, EndpointStats, ErrorReply, InfoResponse, PingResponse,
    StatsResponse, Verb, API_PREFIX, ERROR_CODE_HEADER, ERROR_HEADER, INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE,
    STATS_RESPONSE_TYPE,
};
pub use crate::time::{format_rfc3339, parse_rfc3339};
