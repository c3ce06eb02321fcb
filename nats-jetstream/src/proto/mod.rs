//! The sans-IO JetStream protocol: subjects, request and response bodies, API errors,
//! publish expectations and acks, ack metadata, pull bookkeeping and ordered-consumer
//! tracking. No IO, no clock reads: time is passed in, so everything here is tested on a
//! virtual clock.

mod ack;
mod api;
mod batch;
mod capabilities;
mod consumer_config;
pub mod direct;
mod error;
mod info;
mod ordered;
mod policy;
mod publish;
mod pull;
mod push;
mod retry;
mod stream_config;
mod subjects;
mod wire;

pub use ack::{parse_metadata, AckKind, Metadata, NotAckSubject};
pub use api::{
    has_more, parse_response, ConsumerAction, ConsumerListPage, ConsumerNamesPage, CreateConsumerRequest,
    MessageDeleteRequest, MessageGetRequest, MessageGetResponse, PagedRequest, PauseRequest, PauseResponse,
    PubAck, PurgeRequest, PurgeResponse, RawStreamMessage, ResponseError, StreamInfoRequest, StreamListPage,
    StreamNamesPage, SuccessResponse,
};
pub use batch::{
    apply_batch_headers, BATCH_COMMIT, BATCH_ID, BATCH_SEQUENCE, MAX_BATCH_ID_LEN, MAX_BATCH_SIZE,
};
pub use capabilities::{check as check_features, Feature, Unsupported};
pub use consumer_config::{ConsumerConfig, DeliverPolicy};
pub use direct::{parse_direct_reply, DirectGetError, DirectGetRequest, DirectMessage, DirectReply};
pub use error::{ApiError, ErrorCode};
pub use info::{
    AccountInfo, ClusterInfo, ConsumerInfo, LostData, PeerInfo, PriorityGroupState, SequenceInfo, SourceInfo,
    StreamAlternate, StreamInfo, StreamState,
};
pub use ordered::{OrderedTracker, OrderedVerdict, CREATE_BACKOFF, MAX_CREATE_BACKOFF, NOT_ENABLED_WINDOW};
pub use policy::{
    AckPolicy, Compression, DiscardPolicy, PersistMode, PriorityPolicy, ReplayPolicy, RetentionPolicy,
    StorageType,
};
pub use publish::{
    parse_pub_ack, InvalidHeader, MessageTtl, PubAckError, PublishExpectations, EXPECTED_LAST_MSG_ID,
    EXPECTED_LAST_SEQUENCE, EXPECTED_LAST_SUBJECT_SEQUENCE, EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT,
    EXPECTED_STREAM, MESSAGE_TTL, MSG_ID,
};
pub use pull::{
    PriorityRequest, PullFailure, PullMode, PullOptions, PullRequest, PullTimeout, PullTracker, StatusAction,
    DEFAULT_BATCH, DEFAULT_EXPIRES, LAST_CONSUMER, MAX_RETRY_BACKOFF, PENDING_BYTES, PENDING_MESSAGES,
    PIN_ID, RETRY_BACKOFF,
};
pub use push::{PushAction, PushTracker, CONSUMER_STALLED};
pub use retry::{ApiRetry, PublishRetry, RetryCause, DEFAULT_API_DEADLINE};
pub use stream_config::{
    ConsumerLimits, External, OtherFields, Placement, Republish, Source, StreamConfig, SubjectTransform,
};
pub use subjects::{validate_name, ApiPrefix, InvalidName};
