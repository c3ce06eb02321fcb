//! The sans-IO JetStream protocol: subjects, request and response bodies, API errors,
//! publish expectations and acks, ack metadata, pull bookkeeping and ordered-consumer
//! tracking. No IO, no clock reads: time is passed in, so everything here is tested on a
//! virtual clock.

mod ack;
mod error;
mod ordered;
mod publish;
mod pull;
mod retry;
mod subjects;
mod types;

pub use ack::{parse_metadata, AckKind, Metadata, NotAckSubject};
pub use error::{ApiError, ErrorCode};
pub use ordered::{OrderedTracker, OrderedVerdict, CREATE_BACKOFF, MAX_CREATE_BACKOFF, NOT_ENABLED_WINDOW};
pub use publish::{
    parse_pub_ack, InvalidHeader, PubAckError, PublishExpectations, EXPECTED_LAST_MSG_ID,
    EXPECTED_LAST_SEQUENCE, EXPECTED_LAST_SUBJECT_SEQUENCE, EXPECTED_STREAM, MSG_ID,
};
pub use pull::{
    PullFailure, PullMode, PullOptions, PullRequest, PullTimeout, PullTracker, StatusAction, DEFAULT_BATCH,
    DEFAULT_EXPIRES, LAST_CONSUMER, MAX_RETRY_BACKOFF, PENDING_BYTES, PENDING_MESSAGES, RETRY_BACKOFF,
};
pub use retry::{ApiRetry, PublishRetry, RetryCause, DEFAULT_API_DEADLINE};
pub use subjects::{validate_name, ApiPrefix, InvalidName};
pub use types::{
    has_more, parse_response, AccountInfo, AckPolicy, ConsumerConfig, ConsumerInfo, ConsumerListPage,
    ConsumerNamesPage, CreateConsumerRequest, DeliverPolicy, DiscardPolicy, MessageDeleteRequest,
    MessageGetRequest, MessageGetResponse, PagedRequest, PubAck, PurgeRequest, PurgeResponse,
    RawStreamMessage, ReplayPolicy, ResponseError, RetentionPolicy, SequenceInfo, StorageType, StreamConfig,
    StreamInfo, StreamListPage, StreamNamesPage, StreamState, SuccessResponse,
};
