//! What the driver reads and writes once connected: the NATS protocol straight on the
//! runtime's stream (plain or TLS), or in the messages of a WebSocket on it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::tls::Stream;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use crate::websocket::WebSocket;

/// A connected transport.
pub(crate) enum Transport<T> {
    /// `nats://` and `tls://`, or the platform's own WebSocket (the browser's).
    Direct(Stream<T>),
    /// `ws://` and `wss://` on runtimes without a WebSocket of their own.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    WebSocket(Box<WebSocket<Stream<T>>>),
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Transport<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Direct(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Self::WebSocket(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Transport<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Direct(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Self::WebSocket(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Direct(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Self::WebSocket(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Direct(s) => Pin::new(s).poll_flush(cx),
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Self::WebSocket(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Direct(s) => Pin::new(s).poll_close(cx),
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Self::WebSocket(s) => Pin::new(&mut **s).poll_close(cx),
        }
    }
}
