//! The object store (ADR-20): objects of any size in chunks on a JetStream stream, their
//! SHA-256 digest checked on read, with the async API of `async-nats` ([`ObjectStoreExt`]
//! on a [`Context`], [`ObjectStore`]).

pub mod proto;

pub use self::proto::{
    ObjectInfo, ObjectLink, ObjectMeta, ObjectStoreConfig, ObjectStoreConfig as Config, ObjectStoreStatus,
};
mod sha256;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream as FuturesStream;
use futures_io::AsyncRead;
use futures_util::stream::unfold;
use futures_util::{AsyncReadExt, StreamExt};
use nats_client::{HeaderMap, HeaderName, HeaderValue};
use nats_jetstream::proto::DeliverPolicy;
use nats_jetstream::{
    Context, FetchError, Ordered, OrderedConfig, Publish, PublishAckFuture, PublishError, Stream, StreamError,
};

use self::proto::{
    all_meta_subject, chunk_subject, meta_subject, stream_name, validate_bucket, validate_name, ChunkVerdict,
    ChunkVerifier, Chunker, Corruption, InvalidBucket, InvalidName, MalformedInfo, ObjectOptions,
};
use crate::kv::proto::NATS_ROLLUP;

/// Acknowledgements kept outstanding while putting chunks.
const PUT_WINDOW: usize = 16;
/// Chunks requested per pull while getting (bounds the memory a read holds).
const GET_BATCH: usize = 8;

/// Why a store operation failed (create, get, delete, seal, status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The bucket name cannot be used.
    #[error(transparent)]
    InvalidBucket(#[from] InvalidBucket),
    /// No such store.
    #[error("object store not found")]
    NotFound,
    /// The stream operation failed.
    #[error(transparent)]
    Stream(StreamError),
}

impl From<StreamError> for StoreError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound(_) => Self::NotFound,
            e => Self::Stream(e),
        }
    }
}

/// Why reading an object or its information failed (get, info, reading the data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// The name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// No such object (or it was deleted).
    #[error("object not found")]
    NotFound,
    /// The object is a link to a whole store, which has no data.
    #[error("the object is a link to a store")]
    BucketLink,
    /// The metadata cannot be read.
    #[error(transparent)]
    MalformedInfo(#[from] MalformedInfo),
    /// The data does not match the metadata: the object is corrupt.
    #[error("corrupt object: {0}")]
    Corrupt(#[from] Corruption),
    /// A linked store cannot be opened.
    #[error(transparent)]
    Store(Box<StoreError>),
    /// A stream read failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// Reading the chunks failed.
    #[error(transparent)]
    Consumer(#[from] FetchError),
}

/// Why writing failed (put, add_link, add_bucket_link, delete).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The name cannot be used.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// The bucket name cannot be used (bucket links).
    #[error(transparent)]
    InvalidBucket(#[from] InvalidBucket),
    /// Links cannot point at deleted objects or at links.
    #[error("invalid link target: {0}")]
    InvalidLink(&'static str),
    /// A rename to a name another object has.
    #[error("an object named {0:?} exists")]
    NameTaken(String),
    /// Reading the data to put failed.
    #[error("reading the data: {0}")]
    Read(String),
    /// A publish failed (the store sealed, full, ...).
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Reading the current information failed.
    #[error(transparent)]
    Get(#[from] GetError),
    /// Purging chunks failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// Why listing or watching failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// A stream read failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The consumer failed for good.
    #[error(transparent)]
    Consumer(#[from] FetchError),
    /// A metadata message cannot be read.
    #[error(transparent)]
    MalformedInfo(#[from] MalformedInfo),
    /// [`ObjectStore::list`]: no message for the context's timeout while the stored
    /// metadata was being read (it vanished meanwhile, or the server is away).
    #[error("timed out reading the stored metadata")]
    Timeout,
}

/// Object stores on a JetStream [`Context`], with `async-nats`'s names.
pub trait ObjectStoreExt {
    /// Creates a store (its stream, `OBJ_<bucket>`), or returns it when it exists with the
    /// same configuration.
    fn create_object_store(
        &self,
        config: ObjectStoreConfig,
    ) -> impl std::future::Future<Output = Result<ObjectStore, StoreError>> + Send;
    /// A handle on an existing store.
    fn get_object_store<B: AsRef<str> + Send>(
        &self,
        bucket: B,
    ) -> impl std::future::Future<Output = Result<ObjectStore, StoreError>> + Send;
    /// Deletes a store and every object.
    fn delete_object_store<B: AsRef<str> + Send>(
        &self,
        bucket: B,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

impl ObjectStoreExt for Context {
    async fn create_object_store(&self, config: ObjectStoreConfig) -> Result<ObjectStore, StoreError> {
        let stream = self.create_stream(config.stream_config()?).await?;
        Ok(ObjectStore { context: self.clone(), stream, name: config.bucket })
    }

    async fn get_object_store<B: AsRef<str> + Send>(&self, bucket: B) -> Result<ObjectStore, StoreError> {
        let bucket = bucket.as_ref();
        validate_bucket(bucket)?;
        let stream = self.get_stream(&stream_name(bucket)).await?;
        Ok(ObjectStore { context: self.clone(), stream, name: bucket.to_owned() })
    }

    async fn delete_object_store<B: AsRef<str> + Send>(&self, bucket: B) -> Result<(), StoreError> {
        let bucket = bucket.as_ref();
        validate_bucket(bucket)?;
        self.delete_stream(&stream_name(bucket)).await?;
        Ok(())
    }
}

/// An object store: cheap to clone.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    context: Context,
    stream: Stream,
    name: String,
}

fn nuid(context: &Context) -> String {
    context.client().new_token()
}

impl ObjectStore {
    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store's status (fresh from the server).
    ///
    /// # Errors
    /// A [`StoreError`].
    pub async fn status(&self) -> Result<ObjectStoreStatus, StoreError> {
        let info = self.context.stream_info(&stream_name(&self.name)).await?;
        Ok(ObjectStoreStatus::from_stream(&self.name, info))
    }

    /// Seals the store: it becomes read only, for good.
    ///
    /// # Errors
    /// A [`StoreError`].
    pub async fn seal(&self) -> Result<(), StoreError> {
        let mut config = self.context.stream_info(&stream_name(&self.name)).await?.config;
        config.sealed = true;
        self.context.update_stream(config).await?;
        Ok(())
    }

    /// The information of `name`, including deletion markers; `None` when there is none.
    async fn raw_info(&self, name: &str) -> Result<Option<ObjectInfo>, GetError> {
        validate_name(name)?;
        match self.stream.get_last_raw_message_by_subject(&meta_subject(&self.name, name)).await {
            Ok(message) => Ok(Some(ObjectInfo::parse(&message.payload)?)),
            Err(StreamError::MessageNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The information of `name` (links not followed).
    ///
    /// # Errors
    /// [`GetError::NotFound`] when missing or deleted, or another [`GetError`].
    pub async fn info(&self, name: &str) -> Result<ObjectInfo, GetError> {
        match self.raw_info(name).await? {
            Some(info) if !info.deleted => Ok(info),
            _ => Err(GetError::NotFound),
        }
    }

    async fn publish_meta(&self, info: &ObjectInfo) -> Result<(), PutError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::new(NATS_ROLLUP).expect("constant header name"),
            HeaderValue::new("sub").expect("constant value"),
        );
        let publish = Publish::new().headers(headers).payload(info.to_json().into());
        self.context.send_publish(meta_subject(&self.name, &info.name), publish).await?.await?;
        Ok(())
    }

    /// Puts an object, reading its data from `data` chunk by chunk (never all of it in
    /// memory); replaces an object of the same name (whose chunks are then purged).
    ///
    /// # Errors
    /// A [`PutError`]; the chunks already sent are purged.
    pub async fn put<R: AsyncRead + Unpin + ?Sized>(
        &self,
        meta: impl Into<ObjectMeta>,
        data: &mut R,
    ) -> Result<ObjectInfo, PutError> {
        // Boxed: the state of a put is large, and callers' futures stay small.
        Box::pin(self.put_inner(meta.into(), data)).await
    }

    async fn put_inner<R: AsyncRead + Unpin + ?Sized>(
        &self,
        meta: ObjectMeta,
        data: &mut R,
    ) -> Result<ObjectInfo, PutError> {
        validate_name(&meta.name)?;
        let previous = self.raw_info(&meta.name).await?;
        let id = nuid(&self.context);
        let subject = chunk_subject(&self.name, &id);
        let result = self.put_chunks(&meta, &subject, data).await;
        let (size, chunks, digest) = match result {
            Ok(totals) => totals,
            Err(e) => {
                let _ = self.stream.purge_subject(&subject, None).await;
                return Err(e);
            }
        };
        let info = ObjectInfo {
            name: meta.name.clone(),
            description: meta.description.clone(),
            headers: meta.headers.clone(),
            metadata: meta.metadata.clone(),
            options: Some(ObjectOptions {
                link: None,
                max_chunk_size: u32::try_from(meta.effective_chunk_size()).unwrap_or(u32::MAX),
            }),
            bucket: self.name.clone(),
            nuid: id,
            size,
            mtime: nats_client::rfc3339::format(self.context.client().system_time()),
            chunks,
            digest: Some(digest),
            deleted: false,
        };
        if let Err(e) = self.publish_meta(&info).await {
            let _ = self.stream.purge_subject(&subject, None).await;
            return Err(e);
        }
        if let Some(old) = previous.filter(|old| !old.nuid.is_empty() && old.nuid != info.nuid) {
            self.stream.purge_subject(&chunk_subject(&self.name, &old.nuid), None).await?;
        }
        Ok(info)
    }

    async fn put_chunks<R: AsyncRead + Unpin + ?Sized>(
        &self,
        meta: &ObjectMeta,
        subject: &str,
        data: &mut R,
    ) -> Result<(u64, u32, String), PutError> {
        let chunk_size = meta.effective_chunk_size();
        let mut chunker = Chunker::new();
        let mut acks: VecDeque<PublishAckFuture> = VecDeque::new();
        loop {
            let mut buffer = BytesMut::zeroed(chunk_size);
            let mut filled = 0;
            while filled < chunk_size {
                let n = data.read(&mut buffer[filled..]).await.map_err(|e| PutError::Read(e.to_string()))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            buffer.truncate(filled);
            let chunk = buffer.freeze();
            chunker.add(&chunk);
            if acks.len() >= PUT_WINDOW {
                if let Some(ack) = acks.pop_front() {
                    ack.await?;
                }
            }
            acks.push_back(self.context.publish(subject, chunk).await?);
            if filled < chunk_size {
                break;
            }
        }
        for ack in acks {
            ack.await?;
        }
        Ok(chunker.finish())
    }

    /// Reads an object (following a link to an object): its information now, its data as a
    /// stream of chunks checked against the size, chunk count and digest.
    ///
    /// # Errors
    /// A [`GetError`].
    pub async fn get(&self, name: &str) -> Result<Object, GetError> {
        Box::pin(self.get_inner(name)).await
    }

    /// Reads a whole object into memory, checked as [`get`](Self::get) checks it: for
    /// objects that fit (a configuration file, an image for a page).
    ///
    /// ```no_run
    /// # async fn demo(store: nats_stores::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
    /// store.put_bytes("settings.json", br#"{"theme":"dark"}"#).await?;
    /// let data = store.get_bytes("settings.json").await?;
    /// assert_eq!(&data[..], br#"{"theme":"dark"}"#);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`GetError`], [`GetError::Corrupt`] when the data does not match the metadata.
    pub async fn get_bytes(&self, name: &str) -> Result<Bytes, GetError> {
        Ok(self.get(name).await?.read_all().await?.into())
    }

    /// Puts an object whose data is in memory ([`put`](Self::put) from a slice).
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn put_bytes(
        &self,
        meta: impl Into<ObjectMeta>,
        data: impl AsRef<[u8]>,
    ) -> Result<ObjectInfo, PutError> {
        self.put(meta, &mut data.as_ref()).await
    }

    async fn get_inner(&self, name: &str) -> Result<Object, GetError> {
        let mut info = self.info(name).await?;
        let mut store = self.clone();
        if let Some(link) = info.link().cloned() {
            let Some(target) = link.name else { return Err(GetError::BucketLink) };
            if link.bucket != self.name {
                store = self
                    .context
                    .get_object_store(&link.bucket)
                    .await
                    .map_err(|e| GetError::Store(Box::new(e)))?;
            }
            info = store.info(&target).await?;
            if info.link().is_some() {
                return Err(GetError::NotFound);
            }
        }
        let verifier = ChunkVerifier::new(&info);
        if !verifier.expects_nothing() {
            // Metadata naming chunks that are not there would leave the read waiting.
            let chunks = chunk_subject(&store.name, &info.nuid);
            match store.stream.get_last_raw_message_by_subject(&chunks).await {
                Ok(_) => {}
                Err(StreamError::MessageNotFound(_)) => {
                    return Err(Corruption::ChunkCount { expected: info.chunks, actual: 0 }.into())
                }
                Err(e) => return Err(e.into()),
            }
        }
        let messages = (!verifier.expects_nothing()).then(|| {
            let config = OrderedConfig::default()
                .filter_subject(chunk_subject(&store.name, &info.nuid))
                .deliver_policy(DeliverPolicy::All)
                .batch(GET_BATCH);
            store.stream.ordered_consumer(config).messages()
        });
        let state = ReadState { messages, verifier, done: false };
        Ok(Object {
            info,
            inner: Box::pin(unfold(state, |mut state| async move {
                let item = state.next().await?;
                Some((item, state))
            })),
        })
    }

    /// Deletes an object: its chunks purged, a deletion marker left as its metadata.
    ///
    /// # Errors
    /// [`GetError::NotFound`] (in [`PutError::Get`]) when missing, or another [`PutError`].
    pub async fn delete(&self, name: &str) -> Result<(), PutError> {
        let info = self.info(name).await?;
        if !info.nuid.is_empty() {
            self.stream.purge_subject(&chunk_subject(&self.name, &info.nuid), None).await?;
        }
        self.publish_meta(&info.into_deleted(self.context.client().system_time())).await
    }

    /// Updates an object's name, description, headers and metadata (its data stays); a new
    /// name renames it, if no other object has that name. Returns its new information.
    ///
    /// # Errors
    /// [`GetError::NotFound`] (in [`PutError::Get`]) when missing,
    /// [`PutError::NameTaken`], or another [`PutError`].
    pub async fn update_metadata(
        &self,
        name: &str,
        meta: impl Into<ObjectMeta>,
    ) -> Result<ObjectInfo, PutError> {
        let meta = meta.into();
        validate_name(&meta.name)?;
        let mut info = self.info(name).await?;
        let renamed = meta.name != name;
        if renamed {
            if let Some(existing) = self.raw_info(&meta.name).await? {
                if !existing.deleted {
                    return Err(PutError::NameTaken(meta.name));
                }
            }
        }
        info.name = meta.name;
        info.description = meta.description;
        info.headers = meta.headers;
        info.metadata = meta.metadata;
        self.publish_meta(&info).await?;
        if renamed {
            // The old name's metadata goes; the chunks are the renamed object's.
            self.stream.purge_subject(&meta_subject(&self.name, name), None).await?;
        }
        Ok(info)
    }

    /// Adds `name`, a link to the object `target` (in this store or another).
    ///
    /// # Errors
    /// [`PutError::InvalidLink`] for a deleted target or a link to a link.
    pub async fn add_link(&self, name: &str, target: &ObjectInfo) -> Result<ObjectInfo, PutError> {
        validate_name(name)?;
        if target.deleted {
            return Err(PutError::InvalidLink("the target is deleted"));
        }
        if target.link().is_some() {
            return Err(PutError::InvalidLink("the target is a link"));
        }
        self.put_link(name, ObjectLink { bucket: target.bucket.clone(), name: Some(target.name.clone()) })
            .await
    }

    /// Adds `name`, a link to the store `bucket`.
    ///
    /// # Errors
    /// A [`PutError`].
    pub async fn add_bucket_link(&self, name: &str, bucket: &str) -> Result<ObjectInfo, PutError> {
        validate_name(name)?;
        validate_bucket(bucket)?;
        self.put_link(name, ObjectLink { bucket: bucket.to_owned(), name: None }).await
    }

    async fn put_link(&self, name: &str, link: ObjectLink) -> Result<ObjectInfo, PutError> {
        if let Some(existing) = self.raw_info(name).await? {
            if !existing.deleted && existing.link().is_none() {
                return Err(PutError::InvalidLink("an object with that name exists"));
            }
        }
        let info = ObjectInfo::new_link(
            &self.name,
            name,
            link,
            nuid(&self.context),
            self.context.client().system_time(),
        );
        self.publish_meta(&info).await?;
        Ok(info)
    }

    /// The information of every object (deleted ones left out), as a stream that ends once
    /// the store's current objects are read. Each object waits at most the context's
    /// timeout ([`WatchError::Timeout`]); an error ends the stream.
    ///
    /// # Errors
    /// A [`WatchError`], from the call or as an item.
    pub async fn list(&self) -> Result<List, WatchError> {
        let subject = all_meta_subject(&self.name);
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(_) => {}
            Err(StreamError::MessageNotFound(_)) => {
                return Ok(List { inner: Box::pin(futures_util::stream::empty()) });
            }
            Err(e) => return Err(e.into()),
        }
        let config =
            OrderedConfig::default().filter_subject(subject).deliver_policy(DeliverPolicy::LastPerSubject);
        let messages = self.stream.ordered_consumer(config).messages();
        let infos = unfold(Some((self.clone(), messages)), |state| async move {
            let (store, mut messages) = state?;
            loop {
                let client = store.context.client();
                let sleep = client.sleep_until(client.deadline(store.context.timeout()));
                let message = match futures_util::future::select(messages.next(), Box::pin(sleep)).await {
                    futures_util::future::Either::Left((Some(Ok(message)), _)) => message,
                    futures_util::future::Either::Left((Some(Err(e)), _)) => {
                        return Some((Err(e.into()), None))
                    }
                    futures_util::future::Either::Left((None, _)) => return None,
                    futures_util::future::Either::Right(_) => return Some((Err(WatchError::Timeout), None)),
                };
                let last = message.info().map(|m| m.pending).unwrap_or(0) == 0;
                let next = (!last).then_some((store.clone(), messages));
                match ObjectInfo::parse(&message.payload) {
                    Err(e) => return Some((Err(e.into()), None)),
                    Ok(info) if !info.deleted => return Some((Ok(info), next)),
                    Ok(_) if last => return None,
                    Ok(_) => messages = next?.1,
                }
            }
        });
        Ok(List { inner: Box::pin(infos) })
    }

    /// Watches the store: the information of every object put, linked or deleted from now
    /// on (deletions as infos with `deleted` set). The start is fixed now; the consumer is
    /// created when the watch is first polled, so a change replaced (rolled up) by a later
    /// change of the same object before that is seen only as the later one.
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch(&self) -> Result<ObjectWatch, WatchError> {
        // The consumer is created when the watch is first polled: "new" is fixed now, as
        // the sequence after the stream's last.
        let last = self.context.stream_info(&stream_name(&self.name)).await?.state.last_seq;
        self.watch_from(DeliverPolicy::ByStartSequence { start_sequence: last + 1 })
    }

    /// Watches the store with its history: the current information of every object
    /// (deletion markers included), then every change.
    ///
    /// # Errors
    /// A [`WatchError`].
    pub async fn watch_with_history(&self) -> Result<ObjectWatch, WatchError> {
        self.watch_from(DeliverPolicy::LastPerSubject)
    }

    fn watch_from(&self, deliver_policy: DeliverPolicy) -> Result<ObjectWatch, WatchError> {
        let config = OrderedConfig::default()
            .filter_subject(all_meta_subject(&self.name))
            .deliver_policy(deliver_policy);
        let messages = self.stream.ordered_consumer(config).messages();
        Ok(ObjectWatch {
            inner: Box::pin(messages.map(|m| {
                let m = m?;
                Ok(ObjectInfo::parse(&m.payload)?)
            })),
        })
    }
}

struct ReadState {
    messages: Option<Ordered>,
    verifier: ChunkVerifier,
    done: bool,
}

impl ReadState {
    async fn next(&mut self) -> Option<Result<Bytes, GetError>> {
        if self.done {
            return None;
        }
        let Some(messages) = self.messages.as_mut() else {
            self.done = true;
            return self.verifier.finish().err().map(|e| Err(e.into()));
        };
        let message = match messages.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                self.done = true;
                return Some(Err(e.into()));
            }
            None => {
                self.done = true;
                return Some(Err(FetchError::Closed.into()));
            }
        };
        let pending = message.info().map(|m| m.pending).unwrap_or(0);
        match self.verifier.handle_chunk(&message.payload, pending) {
            Ok(ChunkVerdict::More) => Some(Ok(message.payload.clone())),
            Ok(ChunkVerdict::Complete) => {
                self.messages = None;
                self.done = true;
                Some(Ok(message.payload.clone()))
            }
            Err(e) => {
                self.messages = None;
                self.done = true;
                Some(Err(e.into()))
            }
        }
    }
}

/// An object being read: its information, and its data as a stream of chunks. The last
/// chunk is handed out only once the whole object checks out; a corrupt object ends with a
/// [`GetError::Corrupt`] instead.
#[must_use = "streams do nothing unless polled"]
pub struct Object {
    /// The object's information (the target's, for a link).
    pub info: ObjectInfo,
    inner: Pin<Box<dyn FuturesStream<Item = Result<Bytes, GetError>> + Send>>,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Object {
    /// Reads the whole object into memory (for small objects).
    ///
    /// # Errors
    /// A [`GetError`], [`GetError::Corrupt`] when the data does not match the metadata.
    pub async fn read_all(mut self) -> Result<Vec<u8>, GetError> {
        let mut out = Vec::with_capacity(usize::try_from(self.info.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

impl FuturesStream for Object {
    type Item = Result<Bytes, GetError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The objects of a store ([`ObjectStore::list`]): a stream of their information.
#[must_use = "streams do nothing unless polled"]
pub struct List {
    inner: Pin<Box<dyn FuturesStream<Item = Result<ObjectInfo, WatchError>> + Send>>,
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("List").finish_non_exhaustive()
    }
}

impl FuturesStream for List {
    type Item = Result<ObjectInfo, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The changes of a store, as a stream of object information.
#[must_use = "streams do nothing unless polled"]
pub struct ObjectWatch {
    inner: Pin<Box<dyn FuturesStream<Item = Result<ObjectInfo, WatchError>> + Send>>,
}

impl std::fmt::Debug for ObjectWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWatch").finish_non_exhaustive()
    }
}

impl FuturesStream for ObjectWatch {
    type Item = Result<ObjectInfo, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
