//! NATS client for the tokio runtime.
//!
//! A thin adapter: a [`Runtime`] implementation for tokio (TCP connect, timer, spawn), the
//! [`connect`] functions, and a re-export of the whole [`nats_client`] API, so an
//! application depends on this one crate. Call it from within a tokio runtime.
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = nats_tokio::connect("nats://127.0.0.1:4222").await?;
//! let mut subscriber = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello".into()).await?;
//! if let Some(message) = subscriber.next().await {
//!     println!("{}: {:?}", message.subject, message.payload);
//! }
//! client.drain().await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;

mod tcp;

pub use nats_client::*;
pub use tcp::TcpTransport;

// The README's example compiles as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The tokio runtime, as the client needs it: uses the ambient runtime (`Handle::current`)
/// for spawning and timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Transport = TcpTransport;
    type Sleep = tokio::time::Sleep;

    // Not an `async fn`: the future must be 'static, not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(TcpTransport::new(stream))
        }
    }

    #[allow(clippy::manual_async_fn)] // The future must be `'static`: an `async fn` would borrow `self`.
    fn connect_from(
        &self,
        host: String,
        port: u16,
        local: std::net::SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let mut last = None;
            for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
                if addr.is_ipv4() != local.is_ipv4() {
                    continue;
                }
                let socket = if addr.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.bind(local)?;
                match socket.connect(addr).await {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        return Ok(TcpTransport::new(stream));
                    }
                    Err(error) => last = Some(error),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("{host}:{port} has no address of the local address {local}'s family"),
                )
            }))
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(future);
    }
}

/// Connects with default options to the servers in `urls` (comma-separated `nats://` or
/// `tls://` URLs, credentials allowed: `nats://user:pass@host:4222`).
///
/// # Errors
/// A [`ConnectError`].
pub async fn connect(urls: &str) -> Result<Client, ConnectError> {
    connect_with_options(urls, ConnectOptions::new()).await
}

/// Connects with the given options.
///
/// # Errors
/// A [`ConnectError`].
pub async fn connect_with_options(urls: &str, options: ConnectOptions) -> Result<Client, ConnectError> {
    connect_with_runtime(Tokio, urls, options).await
}
