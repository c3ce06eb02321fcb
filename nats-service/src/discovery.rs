//! A services client (ADR-32): discover the services on a connection and read their
//! information and statistics, as typed responses, without writing `$SRV` subjects.
//!
//! ```no_run
//! # async fn demo(client: nats_client::Client) -> Result<(), nats_service::DiscoveryError> {
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use nats_service::ServiceClient;
//!
//! let services = ServiceClient::new(client).timeout(Duration::from_millis(500));
//! // Every instance of every service that answers within the wait.
//! for pong in services.ping(None).await? {
//!     println!("{} {} {}", pong.name, pong.version, pong.id);
//! }
//! // The statistics of each instance of "calc", as they arrive.
//! let mut stats = services.stats_stream(Some("calc"))?;
//! while let Some(instance) = stats.next().await {
//!     println!("{:?}", instance?.endpoints);
//! }
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use nats_client::{Client, Expected, Replies, RequestError};
use serde::de::DeserializeOwned;

use crate::messages::{
    control_subject_with_prefix, InfoResponse, PingResponse, StatsResponse, Verb, API_PREFIX,
};

/// How long discovery waits for answers by default.
pub const DEFAULT_DISCOVERY_WAIT: Duration = Duration::from_secs(1);

/// Why a discovery request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The request could not be made.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// One instance's answer is not the response it should be.
    #[error("invalid discovery response: {0}")]
    Decode(String),
    /// No instance answered ([`ServiceClient::ping_instance`] and the like).
    #[error("no such service instance")]
    NotFound,
}

/// A client of the services on a connection.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    client: Client,
    prefix: String,
    wait: Duration,
}

impl ServiceClient {
    /// A services client on `client`, under `$SRV`, waiting [`DEFAULT_DISCOVERY_WAIT`].
    pub fn new(client: Client) -> Self {
        Self { client, prefix: API_PREFIX.to_owned(), wait: DEFAULT_DISCOVERY_WAIT }
    }

    /// Under another API prefix.
    #[must_use]
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait for answers (all of them for the many-instance calls, the one for
    /// an instance).
    #[must_use]
    pub fn timeout(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Pings every instance (of every service, or of the service `name`) answering within
    /// the wait.
    ///
    /// # Errors
    /// A [`DiscoveryError`].
    pub async fn ping(&self, name: Option<&str>) -> Result<Vec<PingResponse>, DiscoveryError> {
        collect(self.ping_stream(name)?).await
    }

    /// The instances' information.
    ///
    /// # Errors
    /// A [`DiscoveryError`].
    pub async fn info(&self, name: Option<&str>) -> Result<Vec<InfoResponse>, DiscoveryError> {
        collect(self.info_stream(name)?).await
    }

    /// The instances' statistics.
    ///
    /// # Errors
    /// A [`DiscoveryError`].
    pub async fn stats(&self, name: Option<&str>) -> Result<Vec<StatsResponse>, DiscoveryError> {
        collect(self.stats_stream(name)?).await
    }

    /// The pings, as they arrive; the stream ends after the wait.
    ///
    /// # Errors
    /// A [`DiscoveryError`] when the request cannot be made.
    pub fn ping_stream(&self, name: Option<&str>) -> Result<Discovery<PingResponse>, DiscoveryError> {
        self.discover(Verb::Ping, name, None)
    }

    /// The information of each instance, as it arrives.
    ///
    /// # Errors
    /// A [`DiscoveryError`] when the request cannot be made.
    pub fn info_stream(&self, name: Option<&str>) -> Result<Discovery<InfoResponse>, DiscoveryError> {
        self.discover(Verb::Info, name, None)
    }

    /// The statistics of each instance, as they arrive.
    ///
    /// # Errors
    /// A [`DiscoveryError`] when the request cannot be made.
    pub fn stats_stream(&self, name: Option<&str>) -> Result<Discovery<StatsResponse>, DiscoveryError> {
        self.discover(Verb::Stats, name, None)
    }

    /// Pings one instance.
    ///
    /// # Errors
    /// [`DiscoveryError::NotFound`] when it does not answer within the wait.
    pub async fn ping_instance(&self, name: &str, id: &str) -> Result<PingResponse, DiscoveryError> {
        one(self.discover(Verb::Ping, Some(name), Some(id))?).await
    }

    /// One instance's information.
    ///
    /// # Errors
    /// [`DiscoveryError::NotFound`] when it does not answer within the wait.
    pub async fn info_instance(&self, name: &str, id: &str) -> Result<InfoResponse, DiscoveryError> {
        one(self.discover(Verb::Info, Some(name), Some(id))?).await
    }

    /// One instance's statistics.
    ///
    /// # Errors
    /// [`DiscoveryError::NotFound`] when it does not answer within the wait.
    pub async fn stats_instance(&self, name: &str, id: &str) -> Result<StatsResponse, DiscoveryError> {
        one(self.discover(Verb::Stats, Some(name), Some(id))?).await
    }

    fn discover<T>(
        &self,
        verb: Verb,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Discovery<T>, DiscoveryError> {
        let subject = control_subject_with_prefix(&self.prefix, verb, name, id);
        // One instance answers once; the others until the wait is over.
        let expected = if id.is_some() { Expected::Count(1) } else { Expected::UntilTimeout };
        let replies = self.client.request_many(subject, Bytes::new(), expected, self.wait)?;
        Ok(Discovery { replies, done: false, _kind: PhantomData })
    }
}

async fn collect<T: DeserializeOwned>(mut stream: Discovery<T>) -> Result<Vec<T>, DiscoveryError> {
    let mut all = Vec::new();
    while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        all.push(item?);
    }
    Ok(all)
}

async fn one<T: DeserializeOwned>(mut stream: Discovery<T>) -> Result<T, DiscoveryError> {
    std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx))
        .await
        .unwrap_or(Err(DiscoveryError::NotFound))
}

/// The responses of one discovery request, typed, as they arrive. Ends when the wait is
/// over (or, for one instance, after its answer); nobody answering ends it empty.
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct Discovery<T> {
    replies: Replies,
    done: bool,
    _kind: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Stream for Discovery<T> {
    type Item = Result<T, DiscoveryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.replies).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(reply)) => Poll::Ready(Some(
                serde_json::from_slice(&reply.payload).map_err(|e| DiscoveryError::Decode(e.to_string())),
            )),
            Poll::Ready(None) => {
                self.done = true;
                match self.replies.error() {
                    // Nobody listening, or the wait over: the discovery is complete.
                    None | Some(RequestError::NoResponders | RequestError::Timeout) => Poll::Ready(None),
                    Some(e) => Poll::Ready(Some(Err(e.into()))),
                }
            }
        }
    }
}
