//! NATS client for the async-std runtime.
//!
//! async-std is discontinued upstream (smol is its successor, see `nats-smol`); this
//! adapter exists for code bases still on it. It is a thin adapter: a [`Runtime`]
//! implementation (TCP connect, timer, spawn), the [`connect`] functions, and a re-export
//! of the whole [`nats_client`] API.
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async_std::task::block_on(async {
//!     let client = nats_async_std::connect("nats://127.0.0.1:4222").await?;
//!     let mut subscriber = client.subscribe("greet.*").await?;
//!     client.publish("greet.joe", "hello".into()).await?;
//!     if let Some(message) = subscriber.next().await {
//!         println!("{}: {:?}", message.subject, message.payload);
//!     }
//!     client.drain().await;
//!     Ok(())
//! })
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;

pub use nats_client::*;

/// The async-std runtime, as the client needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    type Transport = async_std::net::TcpStream;
    type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

    // Not an `async fn`: the future must be 'static, not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }

    /// async-std's TCP API cannot bind before connecting: the connect runs on its
    /// blocking pool ([`connect_bound`]).
    #[allow(clippy::manual_async_fn)] // The future must be `'static`: an `async fn` would borrow `self`.
    fn connect_from(
        &self,
        host: String,
        port: u16,
        local: std::net::SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let stream = async_std::task::spawn_blocking(move || connect_bound(&host, port, local)).await?;
            Ok(async_std::net::TcpStream::from(stream))
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Box::pin(async_std::task::sleep(deadline.saturating_duration_since(Instant::now())))
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        async_std::task::spawn(future);
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
    connect_with_runtime(AsyncStd, urls, options).await
}
