//! Direct get on a stream: reads any replica answers ([`proto::direct`](crate::proto::direct)).

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use nats_client::{Expected, Message as Msg, Replies, RequestError};

use crate::context::Context;
use crate::error::StreamError;
use crate::proto::{
    parse_direct_reply, ApiError, DirectGetError, DirectGetRequest, DirectMessage, DirectReply, ErrorCode,
};

/// The subject and payload of a direct get: the plain subject form for the last message on
/// a subject, JSON otherwise.
fn request_parts(
    context: &Context,
    stream: &str,
    request: &DirectGetRequest,
) -> Result<(String, Bytes), StreamError> {
    context.require(request.features())?;
    if let Some(subject) = &request.last_by_subject {
        if *request == DirectGetRequest::last_by_subject(subject.clone()) {
            if let Some(plain) = context.prefix.direct_get_last(stream, subject)? {
                return Ok((plain, Bytes::new()));
            }
        }
    }
    let body = serde_json::to_vec(request).expect("direct get requests serialise");
    Ok((context.prefix.direct_get(stream)?, Bytes::from(body)))
}

fn classify(error: DirectGetError) -> StreamError {
    match error {
        DirectGetError::NotFound => StreamError::MessageNotFound(ApiError {
            code: 404,
            err_code: ErrorCode::NO_MESSAGE_FOUND,
            description: "message not found".into(),
        }),
        DirectGetError::Refused { code, description } => {
            StreamError::Api(ApiError { code, err_code: ErrorCode::default(), description })
        }
        other => StreamError::Decode(other.to_string()),
    }
}

fn no_responders() -> StreamError {
    StreamError::NotFound(ApiError {
        code: 404,
        err_code: ErrorCode::STREAM_NOT_FOUND,
        description: "nobody answers direct gets: no such stream, or it does not allow direct get".into(),
    })
}

fn reply_of(msg: &Msg) -> Result<DirectReply, StreamError> {
    if msg.status().is_some_and(|s| s.as_u16() == 503) {
        return Err(no_responders());
    }
    parse_direct_reply(msg.headers.as_deref(), msg.payload.clone()).map_err(classify)
}

/// One message by direct get.
pub(crate) async fn get_one(
    context: &Context,
    stream: &str,
    request: &DirectGetRequest,
) -> Result<DirectMessage, StreamError> {
    let (subject, payload) = request_parts(context, stream, request)?;
    let reply = context.client().request_with(subject, None, payload, context.timeout()).await.map_err(
        |e| match e {
            RequestError::NoResponders => no_responders(),
            RequestError::Timeout => StreamError::Timeout,
            e => StreamError::Request(e),
        },
    )?;
    match reply_of(&reply)? {
        DirectReply::Message(message) => Ok(message),
        DirectReply::EndOfBatch { .. } => {
            Err(StreamError::Decode("a batch end where a message was expected".into()))
        }
    }
}

/// Starts a batch direct get.
pub(crate) fn get_batch(
    context: &Context,
    stream: &str,
    request: &DirectGetRequest,
) -> Result<DirectBatch, StreamError> {
    let (subject, payload) = request_parts(context, stream, request)?;
    // The batch, then its end; a multi-last batch's size is the server's to say.
    let expected = if request.batch > 0 {
        Expected::Count(usize::try_from(request.batch).unwrap_or(usize::MAX).saturating_add(1))
    } else {
        Expected::Count(usize::MAX)
    };
    let replies = context
        .client()
        .request_many_with(subject, None, payload, expected, context.timeout())
        .map_err(StreamError::Request)?;
    Ok(DirectBatch { replies, done: false })
}

/// The messages of a batch direct get, in stream order; ends after the server's end of
/// batch, or with an error (a batch with no match ends with
/// [`StreamError::MessageNotFound`]).
#[derive(Debug)]
pub struct DirectBatch {
    replies: Replies,
    done: bool,
}

impl FuturesStream for DirectBatch {
    type Item = Result<DirectMessage, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match Pin::new(&mut self.replies).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(msg)) => reply_of(&msg),
            Poll::Ready(None) => Err(match self.replies.error() {
                Some(RequestError::NoResponders) => no_responders(),
                Some(RequestError::Timeout) | None => StreamError::Timeout,
                Some(e) => StreamError::Request(e),
            }),
        };
        match item {
            Ok(DirectReply::Message(message)) => Poll::Ready(Some(Ok(message))),
            Ok(DirectReply::EndOfBatch { .. }) => {
                self.done = true;
                Poll::Ready(None)
            }
            Err(e) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}
