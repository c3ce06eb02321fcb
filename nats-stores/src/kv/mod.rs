//! The key-value store (ADR-8): buckets on JetStream streams, with the async API of
//! `async-nats` ([`KeyValueExt`] on a [`Context`], [`Store`]).

pub mod proto;

pub use self::proto::{Config, Operation, Status, WatchOptions, WatchStart};

use nats_client::{SystemTime, UNIX_EPOCH};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::stream::unfold;
use futures_util::StreamExt;
use nats_client::{HeaderMap, HeaderName, HeaderValue};
use nats_jetstream::proto::DeliverPolicy;
use nats_jetstream::{
    Context, FetchError, Ordered, OrderedConfig, Publish, PublishError, Stream, StreamError, StreamMessage,
};

use self::proto::{
    bucket_of_stream, key_of_subject, key_subject, stream_name, validate_bucket, validate_key,
    validate_pattern, ConfigError, InvalidBucket, InvalidKey, Watcher, KV_OPERATION, NATS_ROLLUP,
};

/// The idle heartbeat of a watch's consumer: two missed ones (a silent server restart)
/// make the watch recreate its consumer, so this bounds how long a watch stays deaf.
const WATCH_HEARTBEAT: Duration = Duration::from_secs(2);

/// Why a bucket operation failed (create, get, delete, status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BucketError {
    /// The bucket name cannot be used.
    #[error(transparent)]
    InvalidBucket(#[from] InvalidBucket),
    /// The configuration cannot be used.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// No such bucket.
    #[error("bucket not found")]
    NotFound,
    /// The stream operation failed.
    #[error(transparent)]
    Stream(StreamError),
}

impl From<StreamError> for BucketError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound(_) => Self::NotFound,
            e => Self::Stream(e),
        }
    }
}

/// Why reading a key failed (get, entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The key cannot be used.
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    /// The stream read failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// Why a write failed (put, create, update, delete, purge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The key cannot be used.
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    /// [`Store::create`]: the key has a value.
    #[error("key exists (revision {revision})")]
    AlreadyExists {
        /// Its current revision.
        revision: u64,
    },
    /// [`Store::update`]: the key's latest revision is not the expected one.
    #[error("wrong last revision")]
    WrongLastRevision,
    /// The publish failed.
    #[error(transparent)]
    Publish(PublishError),
    /// Reading the current entry (for create) failed.
    #[error(transparent)]
    Entry(#[from] EntryError),
}

impl From<PublishError> for PutError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::WrongLastSequence(_) => Self::WrongLastRevision,
            e => Self::Publish(e),
        }
    }
}

/// Why watching, listing keys or reading history failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The key or pattern cannot be used.
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    /// Looking up the stored messages failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The consumer failed for good.
    #[error(transparent)]
    Consumer(#[from] FetchError),
    /// [`Store::keys`], [`Store::history`]: no message for the context's timeout while the
    /// stored values were being read (they vanished meanwhile, or the server is away).
    #[error("timed out reading the stored values")]
    Timeout,
}

/// One revision of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The value (empty for delete and purge markers).
    pub value: Bytes,
    /// The revision: the stream sequence.
    pub revision: u64,
    /// Messages still pending after this one in a watch (0 for a get).
    pub delta: u64,
    /// When it was stored.
    pub created: SystemTime,
    /// Put, delete or purge.
    pub operation: Operation,
    /// In a watch: the initial values are all delivered.
    pub seen_current: bool,
}

/// Key-value buckets on a JetStream [`Context`], with `async-nats`'s names.
pub trait KeyValueExt {
    /// Creates a bucket (its stream, `KV_<bucket>`), or returns it when it exists with the
    /// same configuration.
    fn create_key_value(
        &self,
        config: Config,
    ) -> impl std::future::Future<Output = Result<Store, BucketError>> + Send;
    /// Changes a bucket's configuration (history, TTL, limits, ...).
    fn update_key_value(
        &self,
        config: Config,
    ) -> impl std::future::Future<Output = Result<Store, BucketError>> + Send;
    /// A handle on an existing bucket.
    fn get_key_value<B: AsRef<str> + Send>(
        &self,
        bucket: B,
    ) -> impl std::future::Future<Output = Result<Store, BucketError>> + Send;
    /// Deletes a bucket and every key.
    fn delete_key_value<B: AsRef<str> + Send>(
        &self,
        bucket: B,
    ) -> impl std::future::Future<Output = Result<(), BucketError>> + Send;
}

impl KeyValueExt for Context {
    async fn create_key_value(&self, config: Config) -> Result<Store, BucketError> {
        let stream_config = config.stream_config()?;
        let stream = self.create_stream(stream_config).await?;
        Ok(Store::new(self.clone(), stream, config.bucket))
    }

    async fn update_key_value(&self, config: Config) -> Result<Store, BucketError> {
        let stream_config = config.stream_config()?;
        self.update_stream(stream_config).await?;
        self.get_key_value(&config.bucket).await
    }

    async fn get_key_value<B: AsRef<str> + Send>(&self, bucket: B) -> Result<Store, BucketError> {
        let bucket = bucket.as_ref();
        validate_bucket(bucket)?;
        let stream = self.get_stream(&stream_name(bucket)).await?;
        Ok(Store::new(self.clone(), stream, bucket.to_owned()))
    }

    async fn delete_key_value<B: AsRef<str> + Send>(&self, bucket: B) -> Result<(), BucketError> {
        let bucket = bucket.as_ref();
        validate_bucket(bucket)?;
        self.delete_stream(&stream_name(bucket)).await?;
        Ok(())
    }
}

/// A bucket: cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    context: Context,
    stream: Stream,
    name: String,
    /// The bucket whose subjects (`$KV.<bucket>.<key>`) the stream holds: the origin's
    /// for a mirror, this bucket's otherwise.
    subjects_of: String,
    /// Where writes go: `$KV.<bucket>.`, or the origin's subjects for a mirror (behind
    /// its external API prefix when it is in another domain), as nats.go does.
    put_prefix: String,
}

fn header(name: &str, value: &str) -> (HeaderName, HeaderValue) {
    (HeaderName::new(name).expect("constant header name"), HeaderValue::new(value).expect("constant value"))
}

impl Store {
    fn new(context: Context, stream: Stream, name: String) -> Self {
        let (subjects_of, put_prefix) = match &stream.cached_info().config.mirror {
            Some(mirror) => {
                let origin = bucket_of_stream(&mirror.name).to_owned();
                let put_prefix = match mirror.external.as_ref().filter(|e| !e.api_prefix.is_empty()) {
                    Some(external) => format!("{}.$KV.{origin}.", external.api_prefix),
                    None => format!("$KV.{origin}."),
                };
                (origin, put_prefix)
            }
            None => (name.clone(), format!("$KV.{name}.")),
        };
        Self { context, stream, name, subjects_of, put_prefix }
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bucket's status (fresh from the server).
    ///
    /// # Errors
    /// A [`BucketError`].
    pub async fn status(&self) -> Result<Status, BucketError> {
        let info = self.context.stream_info(&stream_name(&self.name)).await?;
        Ok(Status::from_stream(&self.name, info))
    }

    fn entry_of(&self, message: StreamMessage) -> Option<Entry> {
        let key = key_of_subject(&self.subjects_of, &message.subject)?.to_owned();
        Some(Entry {
            bucket: self.name.clone(),
            key,
            operation: Operation::from_headers(message.headers.as_ref()),
            value: message.payload,
            revision: message.sequence,
            delta: 0,
            created: nats_client::rfc3339::parse(&message.time).unwrap_or(UNIX_EPOCH),
            seen_current: false,
        })
    }

    /// The latest value of `key`; `None` when it has none or was deleted or purged.
    ///
    /// # Errors
    /// An [`EntryError`].
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, EntryError> {
        Ok(self.entry(key).await?.filter(|e| e.operation == Operation::Put).map(|e| e.value))
    }

    /// The latest revision of `key`, including delete and purge markers; `None` when the
    /// bucket has nothing for it.
    ///
    /// # Errors
    /// An [`EntryError`].
    pub async fn entry(&self, key: &str) -> Result<Option<Entry>, EntryError> {
        validate_key(key)?;
        match self.stream.get_last_raw_message_by_subject(&key_subject(&self.subjects_of, key)).await {
            Ok(message) => Ok(self.entry_of(message)),
            Err(StreamError::MessageNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Revision `revision` of `key`; `None` when that revision is gone or of another key.
    ///
    /// # Errors
    /// An [`EntryError`].
    pub async fn entry_for_revision(&self, key: &str, revision: u64) -> Result<Option<Entry>, EntryError> {
        validate_key(key)?;
        match self.stream.get_raw_message(revision).await {
            Ok(message) => Ok(self.entry_of(message).filter(|e| e.key == key)),
            Err(StreamError::MessageNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn publish(
        &self,
        key: &str,
        value: Bytes,
        operation: Operation,
        expected: Option<u64>,
    ) -> Result<u64, PutError> {
        self.publish_with_ttl(key, value, operation, expected, None).await
    }

    async fn publish_with_ttl(
        &self,
        key: &str,
        value: Bytes,
        operation: Operation,
        expected: Option<u64>,
        ttl: Option<Duration>,
    ) -> Result<u64, PutError> {
        validate_key(key)?;
        let mut publish = Publish::new().payload(value);
        if let Some(ttl) = ttl {
            publish = publish.ttl(ttl);
        }
        if let Some(op) = operation.header_value() {
            let mut headers = HeaderMap::new();
            let (n, v) = header(KV_OPERATION, op);
            headers.insert(n, v);
            if operation == Operation::Purge {
                let (n, v) = header(NATS_ROLLUP, "sub");
                headers.insert(n, v);
            }
            publish = publish.headers(headers);
        }
        if let Some(revision) = expected {
            publish = publish.expected_last_subject_sequence(revision);
        }
        let ack = self.context.send_publish(format!("{}{key}", self.put_prefix), publish).await?.await?;
        Ok(ack.sequence)
    }

    /// Sets `key` to `value`; returns the new revision.
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, PutError> {
        self.publish(key, value, Operation::Put, None).await
    }

    /// Sets `key` only if it has no value (never set, or deleted or purged last).
    ///
    /// # Errors
    /// [`PutError::AlreadyExists`] when it has one, or another [`PutError`].
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, PutError> {
        match self.publish(key, value.clone(), Operation::Put, Some(0)).await {
            Err(PutError::WrongLastRevision) => match self.entry(key).await? {
                Some(entry) if entry.operation != Operation::Put => {
                    match self.publish(key, value, Operation::Put, Some(entry.revision)).await {
                        Err(PutError::WrongLastRevision) => {
                            let revision = self.entry(key).await?.map_or(0, |e| e.revision);
                            Err(PutError::AlreadyExists { revision })
                        }
                        other => other,
                    }
                }
                Some(entry) => Err(PutError::AlreadyExists { revision: entry.revision }),
                None => Err(PutError::WrongLastRevision),
            },
            other => other,
        }
    }

    /// Sets `key` only if its latest revision is `revision`.
    ///
    /// # Errors
    /// [`PutError::WrongLastRevision`] when it is not, or another [`PutError`].
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, PutError> {
        self.publish(key, value, Operation::Put, Some(revision)).await
    }

    /// Deletes `key` (a `DEL` marker; earlier revisions stay in the history).
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn delete(&self, key: &str) -> Result<(), PutError> {
        self.publish(key, Bytes::new(), Operation::Delete, None).await.map(drop)
    }

    /// Purges `key`: a `PURGE` marker that removes every earlier revision.
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn purge(&self, key: &str) -> Result<(), PutError> {
        self.publish(key, Bytes::new(), Operation::Purge, None).await.map(drop)
    }

    /// Sets `key` only if it has no value, for `ttl` (whole seconds, at least one): then
    /// the server removes it and leaves a marker (the bucket needs
    /// [`limit_markers`](Config::limit_markers); servers since 2.11).
    ///
    /// # Errors
    /// [`PutError::AlreadyExists`] when it has a value, or another [`PutError`].
    pub async fn create_with_ttl(&self, key: &str, value: Bytes, ttl: Duration) -> Result<u64, PutError> {
        match self.publish_with_ttl(key, value.clone(), Operation::Put, Some(0), Some(ttl)).await {
            Err(PutError::WrongLastRevision) => match self.entry(key).await? {
                Some(entry) if entry.operation != Operation::Put => {
                    self.publish_with_ttl(key, value, Operation::Put, Some(entry.revision), Some(ttl)).await
                }
                Some(entry) => Err(PutError::AlreadyExists { revision: entry.revision }),
                None => Err(PutError::WrongLastRevision),
            },
            other => other,
        }
    }

    /// Deletes `key` only if its latest revision is `revision`.
    ///
    /// # Errors
    /// [`PutError::WrongLastRevision`] when it is not, or another [`PutError`].
    pub async fn delete_expect_revision(&self, key: &str, revision: u64) -> Result<(), PutError> {
        self.publish(key, Bytes::new(), Operation::Delete, Some(revision)).await.map(drop)
    }

    /// Purges `key` only if its latest revision is `revision`.
    ///
    /// # Errors
    /// [`PutError::WrongLastRevision`] when it is not, or another [`PutError`].
    pub async fn purge_expect_revision(&self, key: &str, revision: u64) -> Result<(), PutError> {
        self.publish(key, Bytes::new(), Operation::Purge, Some(revision)).await.map(drop)
    }

    /// Purges `key`, its purge marker itself removed after `ttl` (the bucket needs
    /// [`limit_markers`](Config::limit_markers)).
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn purge_with_ttl(&self, key: &str, ttl: Duration) -> Result<(), PutError> {
        self.publish_with_ttl(key, Bytes::new(), Operation::Purge, None, Some(ttl)).await.map(drop)
    }

    /// Watches the keys matching `pattern` (`*` and `>` allowed): the latest value of each,
    /// then updates.
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch(&self, pattern: &str) -> Result<Watch, WatchError> {
        self.watch_with(pattern, WatchOptions::default()).await
    }

    /// Watches every key.
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch_all(&self) -> Result<Watch, WatchError> {
        self.watch(">").await
    }

    /// Watches `pattern` from every stored revision.
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch_with_history(&self, pattern: &str) -> Result<Watch, WatchError> {
        self.watch_with(pattern, WatchOptions::default().start(WatchStart::IncludeHistory)).await
    }

    /// Watches `pattern` with every option (start, ignore deletes).
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch_with(&self, pattern: &str, options: WatchOptions) -> Result<Watch, WatchError> {
        self.watch_many_with(&[pattern], options).await
    }

    /// Watches the keys matching any of `patterns` (servers since 2.10 for more than one),
    /// as [`watch_with`](Self::watch_with).
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch_many_with(
        &self,
        patterns: &[&str],
        options: WatchOptions,
    ) -> Result<Watch, WatchError> {
        let mut subjects = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            validate_pattern(pattern)?;
            subjects.push(key_subject(&self.subjects_of, pattern));
        }
        let initial_empty = match options.start {
            WatchStart::UpdatesOnly => true,
            WatchStart::FromRevision(revision) => {
                self.context.stream_info(&stream_name(&self.name)).await?.state.last_seq < revision.max(1)
            }
            _ => {
                let mut empty = true;
                for subject in &subjects {
                    match self.stream.get_last_raw_message_by_subject(subject).await {
                        Ok(_) => empty = false,
                        Err(StreamError::MessageNotFound(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                empty
            }
        };
        let deliver_policy = match options.start.deliver_policy() {
            // The pattern has no message yet: every message is an update.
            DeliverPolicy::LastPerSubject if initial_empty => DeliverPolicy::All,
            // The consumer is created when the watch is first polled: "new" is fixed now,
            // as the sequence after the stream's last.
            DeliverPolicy::New => {
                let last = self.context.stream_info(&stream_name(&self.name)).await?.state.last_seq;
                DeliverPolicy::ByStartSequence { start_sequence: last + 1 }
            }
            policy => policy,
        };
        let config = match <[String; 1]>::try_from(subjects) {
            Ok([subject]) => OrderedConfig::default().filter_subject(subject),
            Err(subjects) => OrderedConfig::default().filter_subjects(subjects),
        }
        .deliver_policy(deliver_policy)
        .headers_only(options.meta_only)
        .heartbeat(WATCH_HEARTBEAT);
        let messages = self.stream.ordered_consumer(config).messages();
        let state =
            WatchState { store: self.clone(), messages, watcher: Watcher::new(options, initial_empty) };
        Ok(Watch {
            initial_done_at_start: state.watcher.initial_done(),
            inner: Box::pin(unfold(state, |mut state| async move {
                let item = state.next().await?;
                Some((item, state))
            })),
        })
    }

    /// The keys that have a value (deleted and purged keys left out), as a stream that
    /// ends once the bucket's current keys are read. Values are not downloaded (the watch
    /// behind it asks for headers only). Collect them with
    /// `futures_util::TryStreamExt::try_collect`.
    ///
    /// # Errors
    /// A [`WatchError`], from the call or as an item (the stream ends after it).
    pub async fn keys(&self) -> Result<Keys, WatchError> {
        self.keys_matching(&[">"]).await
    }

    /// The keys matching any of `filters` (`*` and `>` allowed) that have a value, as
    /// [`keys`](Self::keys).
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn keys_matching(&self, filters: &[&str]) -> Result<Keys, WatchError> {
        // Markers are read (not ignored) so that the last initial message is seen even
        // when it is one; they are left out here.
        let watch = self.watch_many_with(filters, WatchOptions::default().meta_only(true)).await?;
        let entries = self.initial_entries(watch);
        let keys = entries.filter_map(|entry| {
            std::future::ready(match entry {
                Ok(entry) if entry.operation == Operation::Put => Some(Ok(entry.key)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
        });
        Ok(Keys { inner: Box::pin(keys) })
    }

    /// Every stored revision of `key`, oldest first, as a stream that ends with the
    /// latest (empty when none).
    ///
    /// # Errors
    /// A [`WatchError`], from the call or as an item (the stream ends after it).
    pub async fn history(&self, key: &str) -> Result<History, WatchError> {
        validate_key(key)?;
        let watch = self.watch_with(key, WatchOptions::default().start(WatchStart::IncludeHistory)).await?;
        Ok(History { inner: Box::pin(self.initial_entries(watch)) })
    }

    /// The entries a watch starts with, up to the one marked `seen_current`; each waits
    /// at most the context's timeout ([`WatchError::Timeout`]), and an error ends it.
    fn initial_entries(&self, watch: Watch) -> impl FuturesStream<Item = Result<Entry, WatchError>> + Send {
        let done = watch.initial_done_at_start;
        unfold((self.clone(), watch, done), |(store, mut watch, done)| async move {
            if done {
                return None;
            }
            match store.next_within(&mut watch).await? {
                Ok(entry) => {
                    let done = entry.seen_current;
                    Some((Ok(entry), (store, watch, done)))
                }
                Err(e) => Some((Err(e), (store, watch, true))),
            }
        })
    }
}

/// The keys of a bucket ([`Store::keys`]): a stream of the keys that have a value.
#[must_use = "streams do nothing unless polled"]
pub struct Keys {
    inner: Pin<Box<dyn FuturesStream<Item = Result<String, WatchError>> + Send>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl FuturesStream for Keys {
    type Item = Result<String, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The revisions of a key ([`Store::history`]), oldest first.
#[must_use = "streams do nothing unless polled"]
pub struct History {
    inner: Pin<Box<dyn FuturesStream<Item = Result<Entry, WatchError>> + Send>>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").finish_non_exhaustive()
    }
}

impl FuturesStream for History {
    type Item = Result<Entry, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Store {
    /// The next entry of a watch reading stored values, or [`WatchError::Timeout`] after
    /// the context's timeout without one: a bounded wait, never a hang.
    async fn next_within(&self, watch: &mut Watch) -> Option<Result<Entry, WatchError>> {
        let sleep = self.context.client().sleep_until(self.context.client().deadline(self.context.timeout()));
        match futures_util::future::select(watch.next(), Box::pin(sleep)).await {
            futures_util::future::Either::Left((item, _)) => item,
            futures_util::future::Either::Right(_) => Some(Err(WatchError::Timeout)),
        }
    }
}

struct WatchState {
    store: Store,
    messages: Ordered,
    watcher: Watcher,
}

impl WatchState {
    async fn next(&mut self) -> Option<Result<Entry, WatchError>> {
        loop {
            let message = match self.messages.next().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(e.into())),
            };
            let Ok(info) = message.info() else { continue };
            let Some(key) = key_of_subject(&self.store.subjects_of, message.subject.as_str()) else {
                continue;
            };
            let operation = Operation::from_headers(message.headers.as_deref());
            let verdict = self.watcher.handle(operation, info.pending);
            if !verdict.deliver {
                continue;
            }
            return Some(Ok(Entry {
                bucket: self.store.name.clone(),
                key: key.to_owned(),
                value: message.payload.clone(),
                revision: info.stream_sequence,
                delta: info.pending,
                created: info.timestamp(),
                operation,
                seen_current: verdict.seen_current,
            }));
        }
    }
}

/// The entries of a watch, as a stream: initial values (until
/// [`Entry::seen_current`]), then updates, across reconnects and server restarts.
#[must_use = "streams do nothing unless polled"]
pub struct Watch {
    initial_done_at_start: bool,
    inner: Pin<Box<dyn FuturesStream<Item = Result<Entry, WatchError>> + Send>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl FuturesStream for Watch {
    type Item = Result<Entry, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
