//! The async service on a [`nats_client::Client`]: discovery task, endpoints as streams of
//! requests, replies and error replies, statistics measured on the client's clock.

use nats_client::Instant;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_core::Stream;
use nats_client::{Client, HeaderMap, Message, Subscriber};

use crate::config::{QueueGroup, ServiceConfig};
use crate::core::{EndpointId, EndpointSpec, ServiceCore};
use crate::error::{RespondError, ServiceError};
use crate::messages::{
    set_error_headers, EndpointInfo, EndpointStats, InfoResponse, PingResponse, StatsResponse,
};

type StatsHandler = Arc<dyn Fn(&EndpointStats) -> serde_json::Value + Send + Sync>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Configures and starts a [`Service`] (ADR-32 `addService`).
#[must_use = "a builder does nothing until started"]
pub struct ServiceBuilder {
    config: ServiceConfig,
    stats_handler: Option<StatsHandler>,
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// A service named `name` (`A-Z a-z 0-9 - _`) at semantic version `version`. Both are
    /// checked by [`start`](Self::start).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self::from_config(ServiceConfig::new(name, version))
    }

    /// A service from a whole configuration.
    pub fn from_config(config: ServiceConfig) -> Self {
        Self { config, stats_handler: None }
    }

    /// A human-readable description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.config.description = description.into();
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.metadata.insert(key.into(), value.into());
        self
    }

    /// The default queue group of the endpoints (otherwise `"q"`).
    pub fn queue_group(mut self, name: impl Into<String>) -> Self {
        self.config.queue_group = QueueGroup::named(name);
        self
    }

    /// Endpoints subscribe without a queue group by default: every instance receives every
    /// request.
    pub fn no_queue_group(mut self) -> Self {
        self.config.queue_group = QueueGroup::Disabled;
        self
    }

    /// The prefix of the discovery subjects instead of `"$SRV"` (ADR-32: for tools working
    /// across accounts). Must be a literal subject.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.api_prefix = prefix.into();
        self
    }

    /// A handler whose result fills each endpoint's `data` in STATS responses.
    pub fn stats_handler(
        mut self,
        handler: impl Fn(&EndpointStats) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.stats_handler = Some(Arc::new(handler));
        self
    }

    /// Validates the configuration, subscribes to the nine discovery subjects, starts the
    /// task answering them on the client's runtime ([`Client::spawn`]), and waits until the
    /// server has the subscriptions. The instance id is a fresh [`Client::new_token`].
    ///
    /// # Errors
    /// [`ServiceError::Config`] for an invalid name, version or queue group (nothing is
    /// subscribed then), or a subscribe or flush error.
    pub async fn start(self, client: &Client) -> Result<Service, ServiceError> {
        let core = ServiceCore::new(self.config, client.new_token(), client.system_time())?;
        let mut subscribers = Vec::new();
        for subject in core.control_subjects() {
            subscribers.push(client.subscribe(subject).await?);
        }
        let inner = Arc::new(Inner {
            client: client.clone(),
            stats_handler: self.stats_handler,
            state: Mutex::new(State {
                core,
                stopped: false,
                endpoints: Vec::new(),
                control: Control::default(),
            }),
        });
        client.spawn(run_control(Arc::clone(&inner), subscribers));
        let service = Service { inner };
        if let Err(e) = client.flush().await {
            // Nobody gets a handle: end the discovery task rather than leave it running.
            let _ = service.stop().await;
            return Err(e.into());
        }
        Ok(service)
    }
}

/// Services from a client, as async-nats has them: `client.service_builder()` and
/// `client.add_service(config)`, on the runtime the client was connected with.
///
/// ```no_run
/// # async fn demo(client: nats_client::Client) -> Result<(), nats_service::ServiceError> {
/// use nats_service::ServiceExt;
///
/// let service = client.service_builder().description("adds").start("calc", "1.0.0").await?;
/// # let _ = service; Ok(()) }
/// ```
pub trait ServiceExt {
    /// A builder; [`ClientServiceBuilder::start`] names the service.
    fn service_builder(&self) -> ClientServiceBuilder;

    /// Starts a service with `config`.
    fn add_service(
        &self,
        config: ServiceConfig,
    ) -> impl Future<Output = Result<Service, ServiceError>> + Send;
}

impl ServiceExt for Client {
    fn service_builder(&self) -> ClientServiceBuilder {
        ClientServiceBuilder { client: self.clone(), builder: ServiceBuilder::new("", "") }
    }

    fn add_service(
        &self,
        config: ServiceConfig,
    ) -> impl Future<Output = Result<Service, ServiceError>> + Send {
        ServiceBuilder::from_config(config).start(self)
    }
}

/// A [`ServiceBuilder`] bound to a client ([`ServiceExt::service_builder`]): the name and
/// version come last, at [`start`](Self::start), as in async-nats.
#[must_use = "a builder does nothing until started"]
#[derive(Debug)]
pub struct ClientServiceBuilder {
    client: Client,
    builder: ServiceBuilder,
}

impl ClientServiceBuilder {
    /// A human-readable description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.builder = self.builder.description(description);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.builder = self.builder.metadata(key, value);
        self
    }

    /// The default queue group of the endpoints (otherwise `"q"`).
    pub fn queue_group(mut self, name: impl Into<String>) -> Self {
        self.builder = self.builder.queue_group(name);
        self
    }

    /// No queue group by default.
    pub fn no_queue_group(mut self) -> Self {
        self.builder = self.builder.no_queue_group();
        self
    }

    /// The prefix of the discovery subjects instead of `"$SRV"`.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.builder = self.builder.api_prefix(prefix);
        self
    }

    /// A handler whose result fills each endpoint's `data` in STATS responses.
    pub fn stats_handler(
        mut self,
        handler: impl Fn(&EndpointStats) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.builder = self.builder.stats_handler(handler);
        self
    }

    /// Starts the service `name` at `version` on the client's runtime.
    ///
    /// # Errors
    /// As [`ServiceBuilder::start`].
    pub async fn start(
        self,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Result<Service, ServiceError> {
        let mut builder = self.builder;
        builder.config.name = name.into();
        builder.config.version = version.into();
        builder.start(&self.client).await
    }
}

/// Starts a service with `config` (ADR-32 `addService`); see [`ServiceBuilder::start`].
///
/// # Errors
/// As [`ServiceBuilder::start`].
pub async fn add_service(client: &Client, config: ServiceConfig) -> Result<Service, ServiceError> {
    ServiceBuilder::from_config(config).start(client).await
}

struct Inner {
    client: Client,
    stats_handler: Option<StatsHandler>,
    state: Mutex<State>,
}

struct State {
    core: ServiceCore,
    stopped: bool,
    /// The endpoints' subscriptions, to unsubscribe on stop; an endpoint dropped by its
    /// user is unsubscribed already.
    endpoints: Vec<Weak<Mutex<EndpointSubscription>>>,
    control: Control,
}

/// An endpoint's subscription, shared with the service so that `stop` can end it.
struct EndpointSubscription {
    subscriber: Subscriber,
    /// The task reading the endpoint: `Subscriber::unsubscribe` does not wake it, `stop`
    /// must.
    waker: Option<Waker>,
}

/// The discovery task's shared state.
#[derive(Default)]
struct Control {
    stop_requested: bool,
    task: Option<Waker>,
    done: bool,
    done_waiters: Vec<Waker>,
}

impl Inner {
    fn data(&self, stats: &EndpointStats) -> Option<serde_json::Value> {
        self.stats_handler.as_ref().map(|handler| handler(stats))
    }
}

/// Answers the discovery subjects until they are unsubscribed (on stop) or the connection
/// closes.
async fn run_control(inner: Arc<Inner>, mut subscribers: Vec<Subscriber>) {
    let mut unsubscribed = false;
    let mut ended = vec![false; subscribers.len()];
    loop {
        let batch = poll_fn(|cx| {
            if !unsubscribed {
                let mut state = lock(&inner.state);
                if state.control.stop_requested {
                    drop(state);
                    subscribers.iter_mut().for_each(|s| {
                        let _ = s.unsubscribe().into_inner(); // ended already: nothing left to stop
                    });
                    unsubscribed = true;
                } else {
                    state.control.task = Some(cx.waker().clone());
                }
            }
            let mut batch = Vec::new();
            for (subscriber, ended) in subscribers.iter_mut().zip(ended.iter_mut()) {
                while !*ended {
                    match Pin::new(&mut *subscriber).poll_next(cx) {
                        Poll::Ready(Some(message)) => batch.push(message),
                        Poll::Ready(None) => *ended = true,
                        Poll::Pending => break,
                    }
                }
            }
            if !batch.is_empty() {
                Poll::Ready(Some(batch))
            } else if ended.iter().all(|&e| e) {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        let Some(batch) = batch else { break };
        for message in batch {
            let Some(reply) = message.reply else { continue };
            let response = {
                let state = lock(&inner.state);
                state.core.handle_control(message.subject.as_str(), &mut |e| inner.data(e))
            };
            if let Some(response) = response {
                // A failed reply (closed connection, say) only loses this answer.
                let _ = inner.client.publish(reply.as_str(), response.into()).await;
            }
        }
    }
    // Stopped, or the connection closed: either way the service is over (as in nats.go,
    // where closing the connection stops its services).
    let mut state = lock(&inner.state);
    state.stopped = true;
    state.control.done = true;
    state.control.done_waiters.drain(..).for_each(Waker::wake);
}

/// A running service: its endpoints are added with [`endpoint`](Self::endpoint) or
/// [`add_endpoint`](Self::add_endpoint), directly or in [`group`](Self::group)s. Cloning is
/// cheap. The service keeps answering discovery requests until [`stop`](Self::stop) or
/// until the connection closes, even when every handle is dropped.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Service")
            .field("name", &state.core.config().name)
            .field("id", &state.core.id())
            .field("stopped", &state.stopped)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// This instance's id.
    pub fn id(&self) -> String {
        lock(&self.inner.state).core.id().to_owned()
    }

    /// The configuration.
    pub fn config(&self) -> ServiceConfig {
        lock(&self.inner.state).core.config().clone()
    }

    /// What a PING returns.
    pub fn ping(&self) -> PingResponse {
        lock(&self.inner.state).core.ping()
    }

    /// What an INFO returns.
    pub fn info(&self) -> InfoResponse {
        lock(&self.inner.state).core.info()
    }

    /// What a STATS returns.
    pub fn stats(&self) -> StatsResponse {
        lock(&self.inner.state).core.stats(&mut |e| self.inner.data(e))
    }

    /// Zeroes the statistics and sets `started` to now.
    pub fn reset(&self) {
        lock(&self.inner.state).core.reset(self.inner.client.system_time());
    }

    /// Whether the service is stopped: [`stop`](Self::stop) was called or the connection
    /// closed.
    pub fn is_stopped(&self) -> bool {
        lock(&self.inner.state).stopped
    }

    /// Waits until the service has stopped answering discovery requests: after
    /// [`stop`](Self::stop), or once the connection has closed (ADR-32's "notify when the
    /// service has stopped").
    pub async fn stopped(&self) {
        poll_fn(|cx| {
            let mut state = lock(&self.inner.state);
            if state.control.done {
                Poll::Ready(())
            } else {
                if !state.control.done_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    state.control.done_waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await;
    }

    /// An endpoint named `name` (its subject is the name unless set), to configure and add.
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(self.clone(), name.into(), String::new(), QueueGroup::Inherit)
    }

    /// Adds an endpoint on subject `name` with the service's queue group.
    ///
    /// # Errors
    /// As [`EndpointBuilder::add`].
    pub async fn add_endpoint(&self, name: impl Into<String>) -> Result<Endpoint, ServiceError> {
        self.endpoint(name).add().await
    }

    /// A group: endpoints added to it listen on `prefix.<subject>`.
    pub fn group(&self, prefix: impl Into<String>) -> Group {
        Group { service: self.clone(), prefix: prefix.into(), queue_group: QueueGroup::Inherit }
    }

    /// Stops the service: unsubscribes every endpoint (their streams yield the requests
    /// already received, then end) and the discovery subjects, answers the discovery
    /// requests already received, then waits until the server has processed the
    /// unsubscriptions. Calling it again does nothing.
    ///
    /// # Errors
    /// [`ServiceError::Flush`] when the server cannot confirm (the service is stopped
    /// anyway).
    pub async fn stop(&self) -> Result<(), ServiceError> {
        let endpoints = {
            let mut state = lock(&self.inner.state);
            if state.stopped {
                return Ok(());
            }
            state.stopped = true;
            state.control.stop_requested = true;
            if let Some(task) = state.control.task.take() {
                task.wake();
            }
            std::mem::take(&mut state.endpoints)
        };
        for endpoint in endpoints.iter().filter_map(Weak::upgrade) {
            let mut endpoint = lock(&endpoint);
            // Already ended (closed connection, say) is fine: stopping is what was asked.
            let _ = endpoint.subscriber.unsubscribe().into_inner();
            if let Some(waker) = endpoint.waker.take() {
                waker.wake();
            }
        }
        self.stopped().await;
        self.inner.client.flush().await?;
        Ok(())
    }

    async fn add(&self, spec: EndpointSpec) -> Result<Endpoint, ServiceError> {
        let subscription = {
            let state = lock(&self.inner.state);
            if state.stopped {
                return Err(ServiceError::Stopped);
            }
            // Validated on a copy first: nothing is subscribed for a refused endpoint.
            state.core.clone().add_endpoint(spec.clone())?
        };
        let subscriber = match &subscription.queue_group {
            Some(queue) => self.inner.client.queue_subscribe(&subscription.subject, queue).await?,
            None => self.inner.client.subscribe(&subscription.subject).await?,
        };
        let subscriber = Arc::new(Mutex::new(EndpointSubscription { subscriber, waker: None }));
        let (id, info) = {
            let mut state = lock(&self.inner.state);
            if state.stopped {
                return Err(ServiceError::Stopped);
            }
            let id = state.core.add_endpoint(spec)?.endpoint;
            let info = state.core.endpoint(id).cloned().ok_or(ServiceError::Stopped)?;
            state.endpoints.retain(|e| e.strong_count() > 0);
            state.endpoints.push(Arc::downgrade(&subscriber));
            (id, info)
        };
        self.inner.client.flush().await?;
        Ok(Endpoint { subscriber, service: Arc::clone(&self.inner), id, info })
    }
}

/// A group of endpoints sharing a subject prefix and, optionally, a queue group.
#[derive(Debug, Clone)]
pub struct Group {
    service: Service,
    prefix: String,
    queue_group: QueueGroup,
}

impl Group {
    /// The group's queue group for its endpoints and subgroups.
    pub fn queue_group(mut self, name: impl Into<String>) -> Self {
        self.queue_group = QueueGroup::named(name);
        self
    }

    /// The group's endpoints and subgroups subscribe without a queue group.
    pub fn no_queue_group(mut self) -> Self {
        self.queue_group = QueueGroup::Disabled;
        self
    }

    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A subgroup: prefix `<this prefix>.<prefix>`, this group's queue group by default.
    pub fn group(&self, prefix: impl Into<String>) -> Group {
        Group {
            service: self.service.clone(),
            prefix: crate::config::join_subject(&self.prefix, &prefix.into()),
            queue_group: self.queue_group.clone(),
        }
    }

    /// An endpoint in this group, to configure and add.
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(self.service.clone(), name.into(), self.prefix.clone(), self.queue_group.clone())
    }

    /// Adds an endpoint on `<prefix>.<name>`.
    ///
    /// # Errors
    /// As [`EndpointBuilder::add`].
    pub async fn add_endpoint(&self, name: impl Into<String>) -> Result<Endpoint, ServiceError> {
        self.endpoint(name).add().await
    }
}

/// Configures one endpoint; [`add`](Self::add) subscribes it.
#[derive(Debug)]
#[must_use = "an endpoint is added by `add`"]
pub struct EndpointBuilder {
    service: Service,
    spec: EndpointSpec,
    parent_queue_group: QueueGroup,
}

impl EndpointBuilder {
    fn new(service: Service, name: String, group: String, parent_queue_group: QueueGroup) -> Self {
        let mut spec = EndpointSpec::new(name);
        spec.group = group;
        Self { service, spec, parent_queue_group }
    }

    /// The subject (relative to the group), instead of the name. Wildcards are allowed.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.spec.subject = Some(subject.into());
        self
    }

    /// The endpoint's queue group.
    pub fn queue_group(mut self, name: impl Into<String>) -> Self {
        self.spec.queue_group = QueueGroup::named(name);
        self
    }

    /// No queue group: every instance receives every request.
    pub fn no_queue_group(mut self) -> Self {
        self.spec.queue_group = QueueGroup::Disabled;
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.metadata.insert(key.into(), value.into());
        self
    }

    /// Validates, subscribes, and waits until the server has the subscription.
    ///
    /// # Errors
    /// [`ServiceError::Config`] for an invalid name, subject or queue group;
    /// [`ServiceError::Stopped`]; a subscribe or flush error.
    pub async fn add(self) -> Result<Endpoint, ServiceError> {
        let mut spec = self.spec;
        spec.queue_group = spec.queue_group.or(&self.parent_queue_group);
        self.service.add(spec).await
    }
}

/// The requests of one endpoint, as a [`Stream`]. Dropping it unsubscribes the endpoint
/// (it stays listed in INFO and STATS). The stream ends when the service stops or the
/// connection closes.
pub struct Endpoint {
    subscriber: Arc<Mutex<EndpointSubscription>>,
    service: Arc<Inner>,
    id: EndpointId,
    info: EndpointInfo,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The endpoint's name, subject, queue group and metadata.
    pub fn info(&self) -> &EndpointInfo {
        &self.info
    }

    /// Stops this endpoint alone: unsubscribes it (its stream yields the requests already
    /// received, then ends), takes it out of the service's INFO and STATS, and waits until
    /// the server has processed the unsubscription. The service and its other endpoints
    /// go on.
    ///
    /// # Errors
    /// [`ServiceError::Flush`] when the server cannot confirm (the endpoint is stopped
    /// anyway).
    pub async fn stop(&self) -> Result<(), ServiceError> {
        lock(&self.service.state).core.remove_endpoint(self.id);
        {
            let mut endpoint = lock(&self.subscriber);
            // Already ended (closed connection, say) is fine: stopping is what was asked.
            let _ = endpoint.subscriber.unsubscribe().into_inner();
            if let Some(waker) = endpoint.waker.take() {
                waker.wake();
            }
        }
        self.service.client.flush().await?;
        Ok(())
    }

    /// Handles every request with `handler`, one after another, on a task of the service's
    /// runtime, until the endpoint's stream ends. Requests the handler drops without a reply
    /// still count in the statistics.
    pub fn serve<F, Fut>(mut self, handler: F)
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let client = self.service.client.clone();
        client.spawn(async move {
            while let Some(request) = poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
                handler(request).await;
            }
        });
    }
}

impl Stream for Endpoint {
    type Item = Request;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Request>> {
        let this = self.get_mut();
        let next = {
            let mut shared = lock(&this.subscriber);
            let next = Pin::new(&mut shared.subscriber).poll_next(cx);
            if next.is_pending() {
                shared.waker = Some(cx.waker().clone());
            }
            next
        };
        next.map(|message| {
            message.map(|message| Request {
                message,
                service: Arc::clone(&this.service),
                endpoint: this.id,
                received: this.service.client.now(),
                recorded: AtomicBool::new(false),
            })
        })
    }
}

/// A request to an endpoint. Reply with [`respond`](Self::respond) or
/// [`error`](Self::error); its processing time runs from when the endpoint stream yielded it
/// to the first reply (or to its drop, when it gets none).
pub struct Request {
    message: Message,
    service: Arc<Inner>,
    endpoint: EndpointId,
    received: Instant,
    recorded: AtomicBool,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").field("message", &self.message).finish_non_exhaustive()
    }
}

impl Request {
    /// The message: subject, reply subject, headers, payload.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The subject the request was sent to.
    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// The headers, if any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_deref()
    }

    /// Replies with `payload`.
    ///
    /// # Errors
    /// [`RespondError::NoReplySubject`] or a publish error.
    pub async fn respond(&self, payload: Bytes) -> Result<(), RespondError> {
        self.send(None, None, payload).await
    }

    /// Replies with headers and `payload`.
    ///
    /// # Errors
    /// As [`respond`](Self::respond).
    pub async fn respond_with_headers(
        &self,
        headers: impl std::borrow::Borrow<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), RespondError> {
        self.send(Some(headers.borrow().clone()), None, payload).await
    }

    /// Replies with an error: the `Nats-Service-Error-Code` and `Nats-Service-Error`
    /// headers and an empty payload. Counts as an error in the statistics, with
    /// `last_error` `"<code>:<description>"`.
    ///
    /// # Errors
    /// As [`respond`](Self::respond).
    pub async fn error(&self, code: u32, description: &str) -> Result<(), RespondError> {
        self.error_with(code, description, None, Bytes::new()).await
    }

    /// [`error`](Self::error) with extra headers and a payload.
    ///
    /// # Errors
    /// As [`respond`](Self::respond).
    pub async fn error_with(
        &self,
        code: u32,
        description: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<(), RespondError> {
        let mut headers = headers.cloned().unwrap_or_default();
        set_error_headers(&mut headers, code, description);
        self.send(Some(headers), Some((code, description)), payload).await
    }

    async fn send(
        &self,
        headers: Option<HeaderMap>,
        error: Option<(u32, &str)>,
        payload: Bytes,
    ) -> Result<(), RespondError> {
        let reply = self.message.reply.as_ref().ok_or(RespondError::NoReplySubject)?;
        // Accounted before the reply goes out: whoever reads STATS after the reply sees it.
        self.record(error);
        self.service.client.publish_message(reply.as_str(), None, headers.as_ref(), payload).await?;
        Ok(())
    }

    fn record(&self, error: Option<(u32, &str)>) {
        if !self.recorded.swap(true, Ordering::AcqRel) {
            let elapsed = self.service.client.now().saturating_duration_since(self.received);
            lock(&self.service.state).core.record(self.endpoint, elapsed, error);
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.record(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_cross_threads_and_tasks() {
        fn send_sync<T: Send + Sync>() {}
        fn send_unpin<T: Send + Unpin>() {}
        send_sync::<Service>();
        send_sync::<Group>();
        send_sync::<Request>();
        send_unpin::<Endpoint>();
        send_sync::<EndpointBuilder>();
        send_sync::<ServiceBuilder>();
    }
}
