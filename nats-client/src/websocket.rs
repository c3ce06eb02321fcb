//! The NATS protocol over a WebSocket, for runtimes without one built in: the HTTP
//! upgrade and the RFC 6455 framing (async-tungstenite, over any futures-io stream),
//! wrapped into the plain byte stream the driver reads and writes.
//!
//! Reads return the bytes of the server's data messages in order (binary, or text if a
//! server sends it), whatever their boundaries: a message may hold part of an op or
//! several. Pings are answered and a close frame ends the stream. Each write sends one
//! binary message (vectored writes are coalesced into one). No compression.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Bytes, Message};
use async_tungstenite::WebSocketStream;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;
use nats_proto::{TransportError, TransportErrorKind};

/// The largest message (and frame) accepted from the server. nats-server sends a client
/// that is not a browser all its pending output as one frame, and cuts a client off when
/// that passes `max_pending` (64 MiB by default): twice that leaves room for servers
/// configured higher, and bounds what one message can make this end buffer.
pub(crate) const MAX_MESSAGE: usize = 128 * 1024 * 1024;
/// The largest message this end sends (a write of more is partly accepted).
const MAX_WRITE: usize = 256 * 1024;
/// tungstenite sends its buffer on once it holds this much (or on flush).
const WRITE_BUFFER: usize = 128 * 1024;
/// Bound of tungstenite's write buffer (one buffer and one message).
const MAX_WRITE_BUFFER: usize = WRITE_BUFFER + MAX_WRITE + 64 * 1024;

/// Why the WebSocket could not be opened or used: carried inside an [`io::Error`] on the
/// byte stream, and reported to the core as [`TransportErrorKind::WebSocket`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum WebSocketError {
    /// The server answered the upgrade request with another HTTP status than 101.
    #[error("upgrade to {url} refused: HTTP {status}")]
    Rejected {
        /// The URL asked for.
        url: String,
        /// The status line's code and reason (`404 Not Found`).
        status: String,
    },
    /// The answer to the upgrade request is not a valid WebSocket upgrade.
    #[error("invalid upgrade response from {url}: {reason} (is it the server's WebSocket port?)")]
    Handshake {
        /// The URL asked for.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server sent a message larger than [`MAX_MESSAGE`].
    #[error("{0}")]
    TooLarge(String),
    /// The server broke the WebSocket protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl WebSocketError {
    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// The kind to report for an IO error of a transport: [`TransportErrorKind::WebSocket`]
/// when it carries a [`WebSocketError`], else `default`.
pub(crate) fn error_kind(error: &io::Error, default: TransportErrorKind) -> TransportErrorKind {
    match error.get_ref() {
        Some(inner) if inner.is::<WebSocketError>() => TransportErrorKind::WebSocket,
        _ => default,
    }
}

fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Opens a WebSocket on `stream` (TCP, or TLS for `wss://`): sends the HTTP upgrade
/// request for `url` (`ws://host:port/path`, its path and `Host` header) and checks the
/// answer. tungstenite reads at most 64 KiB of answer.
pub(crate) async fn upgrade<S>(stream: S, url: &str) -> Result<WebSocket<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    upgrade_with_limit(stream, url, MAX_MESSAGE).await
}

/// [`upgrade`] with another message size limit (tests).
pub(crate) async fn upgrade_with_limit<S>(
    stream: S,
    url: &str,
    max_message: usize,
) -> Result<WebSocket<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake_error = |reason: String| {
        TransportError::new(
            TransportErrorKind::WebSocket,
            WebSocketError::Handshake { url: url.to_owned(), reason }.to_string(),
        )
    };
    let request = url.into_client_request().map_err(|e| handshake_error(e.to_string()))?;
    match async_tungstenite::client_async_with_config(request, stream, Some(config(max_message))).await {
        Ok((inner, _response)) => Ok(WebSocket::new(inner)),
        Err(WsError::Io(e)) => Err(TransportError::from_io(TransportErrorKind::Connect, &e)),
        Err(WsError::Http(response)) => {
            let status = response.status();
            let status = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or_default());
            Err(TransportError::new(
                TransportErrorKind::WebSocket,
                WebSocketError::Rejected { url: url.to_owned(), status: status.trim_end().to_owned() }
                    .to_string(),
            ))
        }
        Err(WsError::Protocol(ProtocolError::HandshakeIncomplete)) | Err(WsError::ConnectionClosed) => {
            Err(TransportError::new(
                TransportErrorKind::Closed,
                "the server closed the connection during the upgrade",
            ))
        }
        Err(e) => Err(handshake_error(e.to_string())),
    }
}

/// An open WebSocket as a byte stream.
pub(crate) struct WebSocket<S> {
    inner: WebSocketStream<S>,
    /// The unread rest of the last data message.
    unread: Bytes,
    /// The server closed the WebSocket (a close frame, or the end of the stream).
    ended: bool,
}

impl<S> WebSocket<S> {
    fn new(inner: WebSocketStream<S>) -> Self {
        Self { inner, unread: Bytes::new(), ended: false }
    }
}

/// Maps an error of the open WebSocket; `None` when it means the stream ended.
fn stream_error(error: WsError) -> Option<io::Error> {
    match error {
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Io(e) => Some(e),
        WsError::Capacity(e) => Some(WebSocketError::TooLarge(e.to_string()).into_io()),
        other => Some(WebSocketError::Protocol(other.to_string()).into_io()),
    }
}

fn write_error(error: WsError) -> io::Error {
    stream_error(error).unwrap_or_else(|| io::ErrorKind::BrokenPipe.into())
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocket<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if !this.unread.is_empty() {
                let n = buf.len().min(this.unread.len());
                buf[..n].copy_from_slice(&this.unread.split_to(n));
                return Poll::Ready(Ok(n));
            }
            if this.ended {
                return Poll::Ready(Ok(0));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.unread = data,
                Some(Ok(Message::Text(text))) => this.unread = text.into(),
                // tungstenite queues the pong itself, and sends it with the next write
                // or read.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => {
                    this.ended = true;
                    // Best effort: send the reply to the close frame now.
                    let _ = Pin::new(&mut this.inner).poll_flush(cx);
                }
                Some(Err(e)) => match stream_error(e) {
                    None => this.ended = true,
                    Some(e) => return Poll::Ready(Err(e)),
                },
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocket<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Sends the slices (up to 256 KiB of them) as one binary message.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs.iter().map(|b| b.len()).sum::<usize>().min(MAX_WRITE);
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(Pin::new(&mut this.inner).poll_ready(cx)).map_err(write_error)?;
        let mut message = Vec::with_capacity(total);
        for buf in bufs {
            let take = buf.len().min(total - message.len());
            message.extend_from_slice(&buf[..take]);
            if message.len() == total {
                break;
            }
        }
        Pin::new(&mut this.inner).start_send(Message::Binary(message.into())).map_err(write_error)?;
        Poll::Ready(Ok(total))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx).map_err(write_error)
    }

    /// Sends a close frame.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx).map_err(write_error)
    }
}

#[cfg(test)]
mod tests;
