//! NATS client for the smol runtime.
//!
//! A thin adapter: a [`Runtime`] implementation for smol (TCP connect, timer, spawn on
//! smol's global executor), the [`connect`] functions, and a re-export of the whole
//! [`nats_client`] API, so an application depends on this one crate.
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! smol::block_on(async {
//!     let client = nats_smol::connect("nats://127.0.0.1:4222").await?;
//!     let mut subscriber = client.subscribe("greet.*").await?;
//!     client.publish("greet.joe", "hello".into()).await?;
//!     if let Some(message) = subscriber.next().await {
//!         println!("{}: {:?}", message.subject, message.payload);
//!     }
//!     client.drain().await;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use nats_client::*;

/// The smol runtime, as the client needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// A smol timer that completes with `()`.
#[derive(Debug)]
pub struct Sleep(smol::Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl Runtime for Smol {
    type Transport = smol::net::TcpStream;
    type Sleep = Sleep;

    // Not an `async fn`: the future must be 'static, not borrow `self`.
    #[allow(clippy::manual_async_fn)]
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }

    /// smol's TCP API cannot bind before connecting: the connect runs on smol's blocking
    /// pool ([`connect_bound`]).
    #[allow(clippy::manual_async_fn)] // The future must be `'static`: an `async fn` would borrow `self`.
    fn connect_from(
        &self,
        host: String,
        port: u16,
        local: std::net::SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Transport>> + Send + 'static {
        async move {
            let stream = smol::unblock(move || connect_bound(&host, port, local)).await?;
            smol::net::TcpStream::try_from(stream)
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        Sleep(smol::Timer::at(deadline))
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol::spawn(future).detach();
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
    connect_with_runtime(Smol, urls, options).await
}
