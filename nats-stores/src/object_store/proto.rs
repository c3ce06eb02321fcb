//! The sans-IO object store protocol (ADR-20): the store's stream configuration, chunk and
//! metadata subjects, the `ObjectInfo` JSON as nats.go and nats-py write it, chunking, and
//! the `SHA-256=<base64url>` digest.

use std::collections::BTreeMap;
use std::time::Duration;

use nats_client::{rfc3339, SystemTime};

use data_encoding::{BASE64URL, BASE64URL_NOPAD};
use nats_jetstream::proto::{DiscardPolicy, StorageType, StreamConfig, StreamInfo};
use serde::{Deserialize, Serialize};

use super::sha256::Sha256;

pub use crate::kv::proto::{validate_bucket, InvalidBucket};

/// The default chunk size: 128 KiB, as nats.go.
pub const DEFAULT_CHUNK_SIZE: usize = 128 * 1024;

/// The stream backing a store: `OBJ_<bucket>`.
pub fn stream_name(bucket: &str) -> String {
    format!("OBJ_{bucket}")
}

/// The subject of an object's chunks: `$O.<bucket>.C.<nuid>`.
pub fn chunk_subject(bucket: &str, nuid: &str) -> String {
    format!("$O.{bucket}.C.{nuid}")
}

/// The subject of an object's metadata: `$O.<bucket>.M.<base64url(name)>` (padded, as
/// nats.go's `base64.URLEncoding` and nats-py's `urlsafe_b64encode`).
pub fn meta_subject(bucket: &str, name: &str) -> String {
    format!("$O.{bucket}.M.{}", BASE64URL.encode(name.as_bytes()))
}

/// The wildcard subject of every object's metadata.
pub fn all_meta_subject(bucket: &str) -> String {
    format!("$O.{bucket}.M.>")
}

/// An object name that cannot be used (empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object name {0:?}")]
pub struct InvalidName(pub String);

/// Checks an object name: any non-empty text (it travels base64-encoded).
///
/// # Errors
/// [`InvalidName`].
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        Err(InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
}

/// A store's configuration: built with [`ObjectStoreConfig::new`] and its setters, or as
/// a struct literal with the defaults for the rest, as async-nats' is:
///
/// ```
/// use nats_stores::object_store::Config;
///
/// let config = Config { bucket: "files".into(), ..Default::default() };
/// assert_eq!(config, Config::new("files"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreConfig {
    /// The bucket name.
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// How long objects live (zero: forever).
    pub max_age: Duration,
    /// Largest store in bytes (`-1` or 0: unlimited).
    pub max_bytes: i64,
    /// Storage.
    pub storage: StorageType,
    /// Replicas (0: 1).
    pub num_replicas: i64,
    /// Compress what the store keeps (S2; servers since 2.10).
    pub compression: bool,
    /// Where the store's replicas are placed.
    pub placement: Option<nats_jetstream::Placement>,
    /// Free-form metadata.
    pub metadata: std::collections::HashMap<String, String>,
}

impl Default for ObjectStoreConfig {
    /// An unnamed store with the defaults of [`ObjectStoreConfig::new`] (a store needs a
    /// name).
    fn default() -> Self {
        Self::new("")
    }
}

impl ObjectStoreConfig {
    /// A store with the defaults.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            description: None,
            max_age: Duration::ZERO,
            max_bytes: -1,
            storage: StorageType::File,
            num_replicas: 1,
            compression: false,
            placement: None,
            metadata: std::collections::HashMap::new(),
        }
    }

    /// With a storage type.
    #[must_use]
    pub fn storage(mut self, storage: StorageType) -> Self {
        self.storage = storage;
        self
    }

    /// With a description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The stream configuration, as nats.go makes it: `OBJ_<bucket>` on
    /// `$O.<bucket>.C.>` and `$O.<bucket>.M.>`, rollups and direct get allowed, discard new.
    ///
    /// # Errors
    /// [`InvalidBucket`].
    pub fn stream_config(&self) -> Result<StreamConfig, InvalidBucket> {
        validate_bucket(&self.bucket)?;
        let b = &self.bucket;
        let mut config =
            StreamConfig::new(stream_name(b)).subjects([format!("$O.{b}.C.>"), format!("$O.{b}.M.>")]);
        config.description = self.description.clone();
        config.max_age = self.max_age;
        config.max_bytes = if self.max_bytes == 0 { -1 } else { self.max_bytes };
        config.storage = self.storage.clone();
        config.num_replicas = self.num_replicas.max(1);
        config.allow_rollup = true;
        config.allow_direct = true;
        config.discard = DiscardPolicy::New;
        if self.compression {
            config.compression = nats_jetstream::Compression::S2;
        }
        config.placement = self.placement.clone();
        config.metadata = self.metadata.clone();
        Ok(config)
    }
}

/// A link: to an object (`name` set) or to a whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectLink {
    /// The store linked to.
    pub bucket: String,
    /// The object linked to (`None`: the whole store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Options of an object: link, chunk size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectOptions {
    /// A link instead of data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<ObjectLink>,
    /// The chunk size used.
    #[serde(rename = "max_chunk_size", skip_serializing_if = "is_zero")]
    pub max_chunk_size: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a caller says about an object to put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Headers (name to values).
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// Free metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Chunk size (0: [`DEFAULT_CHUNK_SIZE`]).
    pub chunk_size: usize,
}

impl From<&str> for ObjectMeta {
    fn from(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }
}

impl From<String> for ObjectMeta {
    fn from(name: String) -> Self {
        Self { name, ..Self::default() }
    }
}

impl ObjectMeta {
    /// With a description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// With a metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.get_or_insert_with(BTreeMap::new).insert(key.into(), value.into());
        self
    }

    /// With a chunk size.
    #[must_use]
    pub fn chunk_size(mut self, size: usize) -> Self {
        self.chunk_size = size;
        self
    }

    /// The chunk size to use.
    pub fn effective_chunk_size(&self) -> usize {
        if self.chunk_size == 0 {
            DEFAULT_CHUNK_SIZE
        } else {
            self.chunk_size
        }
    }
}

/// An object's information: the JSON stored on its metadata subject, field for field as
/// nats.go writes it (`name`, `description`, `headers`, `metadata`, `options`, `bucket`,
/// `nuid`, `size`, `mtime`, `chunks`, `digest`, `deleted`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The name.
    pub name: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    /// Free metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Options (link, chunk size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<ObjectOptions>,
    /// The store.
    pub bucket: String,
    /// The id naming its chunk subject.
    pub nuid: String,
    /// Size in bytes.
    pub size: u64,
    /// When modified (RFC 3339).
    pub mtime: String,
    /// Number of chunks.
    pub chunks: u32,
    /// `SHA-256=<base64url>` of the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A deletion marker.
    #[serde(skip_serializing_if = "is_false")]
    pub deleted: bool,
}

/// Metadata that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed object metadata: {0}")]
pub struct MalformedInfo(pub String);

impl ObjectInfo {
    /// Parses the JSON of a metadata message.
    ///
    /// # Errors
    /// [`MalformedInfo`] for anything but an object with a name.
    pub fn parse(json: &[u8]) -> Result<Self, MalformedInfo> {
        let info: Self = serde_json::from_slice(json).map_err(|e| MalformedInfo(e.to_string()))?;
        if info.name.is_empty() {
            return Err(MalformedInfo("no name".into()));
        }
        Ok(info)
    }

    /// The JSON of a metadata message.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("object info serialises")
    }

    /// The link, when this is a link.
    pub fn link(&self) -> Option<&ObjectLink> {
        self.options.as_ref().and_then(|o| o.link.as_ref())
    }

    /// When modified, `None` when `mtime` is malformed.
    pub fn modified(&self) -> Option<SystemTime> {
        rfc3339::parse(&self.mtime)
    }

    /// The information of a link named `name` in `bucket` to `target`.
    pub fn new_link(bucket: &str, name: &str, link: ObjectLink, nuid: String, now: SystemTime) -> Self {
        Self {
            name: name.to_owned(),
            options: Some(ObjectOptions { link: Some(link), max_chunk_size: 0 }),
            bucket: bucket.to_owned(),
            nuid,
            mtime: rfc3339::format(now),
            ..Self::default()
        }
    }

    /// This information turned into a deletion marker (size, chunks and digest cleared).
    #[must_use]
    pub fn into_deleted(mut self, now: SystemTime) -> Self {
        self.deleted = true;
        self.size = 0;
        self.chunks = 0;
        self.digest = None;
        self.mtime = rfc3339::format(now);
        self
    }
}

/// `SHA-256=<base64url>` (padded, as nats.go and nats-py) of a SHA-256 hash.
pub fn format_digest(hash: &[u8]) -> String {
    format!("SHA-256={}", BASE64URL.encode(hash))
}

/// The hash in a `SHA-256=` digest (padded or not); `None` when malformed.
pub fn parse_digest(digest: &str) -> Option<Vec<u8>> {
    let text = digest.strip_prefix("SHA-256=")?;
    BASE64URL
        .decode(text.as_bytes())
        .or_else(|_| BASE64URL_NOPAD.decode(text.as_bytes()))
        .ok()
        .filter(|h| h.len() == 32)
}

/// Splits an object into chunks and hashes it as it goes (put side).
#[derive(Debug, Clone, Default)]
pub struct Chunker {
    hasher: Sha256,
    size: u64,
    chunks: u32,
}

impl Chunker {
    /// A new object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts for one chunk about to be sent.
    pub fn add(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.chunks += 1;
    }

    /// Size, chunk count and digest of everything added.
    pub fn finish(self) -> (u64, u32, String) {
        (self.size, self.chunks, format_digest(&self.hasher.finish()))
    }
}

/// What is wrong with an object read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The data's digest differs from the metadata's.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The metadata's digest.
        expected: String,
        /// The data's.
        actual: String,
    },
    /// The size differs from the metadata's.
    #[error("size mismatch: expected {expected}, got {actual}")]
    SizeMismatch {
        /// The metadata's.
        expected: u64,
        /// Read.
        actual: u64,
    },
    /// Fewer or more chunks than the metadata says.
    #[error("chunk count mismatch: expected {expected}, found {actual}")]
    ChunkCount {
        /// The metadata's.
        expected: u32,
        /// Found (at least).
        actual: u32,
    },
    /// The metadata's digest is not `SHA-256=<base64url>`.
    #[error("malformed digest {0:?}")]
    MalformedDigest(String),
}

/// Checks chunks as they are read (get side): count, size and digest against the metadata.
#[derive(Debug, Clone)]
pub struct ChunkVerifier {
    expected_size: u64,
    expected_chunks: u32,
    expected_digest: Option<String>,
    hasher: Sha256,
    size: u64,
    chunks: u32,
}

/// What the verifier says about one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum ChunkVerdict {
    /// Hand it out; more follow.
    More,
    /// Hand it out; it was the last and the object checks out.
    Complete,
}

impl ChunkVerifier {
    /// A verifier for `info`.
    pub fn new(info: &ObjectInfo) -> Self {
        Self {
            expected_size: info.size,
            expected_chunks: info.chunks,
            expected_digest: info.digest.clone().filter(|d| !d.is_empty()),
            hasher: Sha256::new(),
            size: 0,
            chunks: 0,
        }
    }

    /// Whether no chunk is expected at all.
    pub fn expects_nothing(&self) -> bool {
        self.expected_chunks == 0
    }

    /// One chunk, with the consumer's pending count after it.
    ///
    /// # Errors
    /// A [`Corruption`]: too many or too few chunks, wrong size or digest.
    pub fn handle_chunk(&mut self, chunk: &[u8], pending: u64) -> Result<ChunkVerdict, Corruption> {
        self.chunks += 1;
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
        if self.chunks > self.expected_chunks || self.size > self.expected_size {
            return Err(self.wrong_count_or_size(pending));
        }
        if self.chunks == self.expected_chunks {
            if pending > 0 {
                return Err(Corruption::ChunkCount {
                    expected: self.expected_chunks,
                    actual: self.chunks.saturating_add(u32::try_from(pending).unwrap_or(u32::MAX)),
                });
            }
            self.finish()?;
            return Ok(ChunkVerdict::Complete);
        }
        if pending == 0 {
            return Err(Corruption::ChunkCount { expected: self.expected_chunks, actual: self.chunks });
        }
        Ok(ChunkVerdict::More)
    }

    fn wrong_count_or_size(&self, pending: u64) -> Corruption {
        if self.chunks > self.expected_chunks {
            Corruption::ChunkCount {
                expected: self.expected_chunks,
                actual: self.chunks.saturating_add(u32::try_from(pending).unwrap_or(u32::MAX)),
            }
        } else {
            Corruption::SizeMismatch { expected: self.expected_size, actual: self.size }
        }
    }

    /// Checks the totals (also for an object with no chunks).
    ///
    /// # Errors
    /// A [`Corruption`].
    pub fn finish(&mut self) -> Result<(), Corruption> {
        if self.chunks != self.expected_chunks {
            return Err(Corruption::ChunkCount { expected: self.expected_chunks, actual: self.chunks });
        }
        if self.size != self.expected_size {
            return Err(Corruption::SizeMismatch { expected: self.expected_size, actual: self.size });
        }
        let actual = self.hasher.clone().finish();
        if let Some(expected) = &self.expected_digest {
            let Some(hash) = parse_digest(expected) else {
                return Err(Corruption::MalformedDigest(expected.clone()));
            };
            if hash[..] != actual[..] {
                return Err(Corruption::DigestMismatch {
                    expected: expected.clone(),
                    actual: format_digest(&actual),
                });
            }
        }
        Ok(())
    }
}

/// A store's status.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObjectStoreStatus {
    /// The bucket.
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// Sealed: read only.
    pub sealed: bool,
    /// Bytes stored.
    pub size: u64,
    /// The backing stream's information.
    pub info: StreamInfo,
}

impl ObjectStoreStatus {
    /// The status of `bucket` from its stream's information.
    pub fn from_stream(bucket: &str, info: StreamInfo) -> Self {
        Self {
            bucket: bucket.to_owned(),
            description: info.config.description.clone(),
            sealed: info.config.sealed,
            size: info.state.bytes,
            info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_stream() {
        assert_eq!(stream_name("b"), "OBJ_b");
        assert_eq!(chunk_subject("b", "N1"), "$O.b.C.N1");
        // Padded base64url, as nats.go and nats-py.
        assert_eq!(meta_subject("b", "a"), "$O.b.M.YQ==");
        assert_eq!(meta_subject("b", "dir/file?.txt"), "$O.b.M.ZGlyL2ZpbGU_LnR4dA==");
        let json = serde_json::to_value(ObjectStoreConfig::new("b").stream_config().unwrap()).unwrap();
        assert_eq!(json["name"], "OBJ_b");
        assert_eq!(json["subjects"], serde_json::json!(["$O.b.C.>", "$O.b.M.>"]));
        assert_eq!(json["allow_rollup_hdrs"], true);
        assert_eq!(json["allow_direct"], true);
        assert_eq!(json["discard"], "new");
        assert!(ObjectStoreConfig::new("a.b").stream_config().is_err());
        assert!(validate_name("").is_err());
    }

    #[test]
    fn info_json_as_nats_go_writes_it() {
        // Written by nats.go (ObjectInfo embedding ObjectMeta).
        let go = br#"{"name":"f.txt","description":"d","headers":{"X":["1"]},"options":{"max_chunk_size":131072},"bucket":"b","nuid":"ABC","size":5,"mtime":"2026-01-01T00:00:00.5Z","chunks":1,"digest":"SHA-256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}"#;
        let info = ObjectInfo::parse(go).unwrap();
        assert_eq!((info.name.as_str(), info.size, info.chunks, info.nuid.as_str()), ("f.txt", 5, 1, "ABC"));
        assert_eq!(info.options.as_ref().unwrap().max_chunk_size, 131_072);
        assert!(info.modified().is_some());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&info.to_json()).unwrap(),
            serde_json::from_slice::<serde_json::Value>(go).unwrap()
        );
        // A link, and a deletion marker.
        let link = ObjectInfo::new_link(
            "b",
            "l",
            ObjectLink { bucket: "o".into(), name: Some("x".into()) },
            "N".into(),
            nats_client::UNIX_EPOCH,
        );
        let json: serde_json::Value = serde_json::from_slice(&link.to_json()).unwrap();
        assert_eq!(json["options"]["link"], serde_json::json!({"bucket": "o", "name": "x"}));
        assert!(json.get("deleted").is_none() && json.get("digest").is_none());
        let deleted = info.into_deleted(nats_client::UNIX_EPOCH);
        let json: serde_json::Value = serde_json::from_slice(&deleted.to_json()).unwrap();
        assert_eq!(
            (json["deleted"].clone(), json["size"].clone(), json["chunks"].clone()),
            (true.into(), 0.into(), 0.into())
        );
        // Malformed metadata is an error, not a panic.
        for bad in
            [&b""[..], b"{", b"[]", b"{\"name\":\"\"}", b"{\"name\":1}", b"{\"name\":\"a\",\"size\":-1}"]
        {
            assert!(ObjectInfo::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests() {
        let mut c = Chunker::new();
        c.add(b"hello");
        let (size, chunks, digest) = c.finish();
        assert_eq!((size, chunks), (5, 1));
        // sha256("hello"), base64url with padding.
        assert_eq!(digest, "SHA-256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(parse_digest(&digest).unwrap().len(), 32);
        assert!(parse_digest("SHA-256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ").is_some());
        assert!(parse_digest("MD5=abc").is_none());
        assert!(parse_digest("SHA-256=!!").is_none());
    }

    fn info_of(data: &[&[u8]]) -> ObjectInfo {
        let mut c = Chunker::new();
        for d in data {
            c.add(d);
        }
        let (size, chunks, digest) = c.finish();
        ObjectInfo { name: "o".into(), size, chunks, digest: Some(digest), ..ObjectInfo::default() }
    }

    #[test]
    fn verifier_accepts_the_object_and_rejects_corruption() {
        let info = info_of(&[b"abc", b"def"]);
        let mut v = ChunkVerifier::new(&info);
        assert_eq!(v.handle_chunk(b"abc", 1), Ok(ChunkVerdict::More));
        assert_eq!(v.handle_chunk(b"def", 0), Ok(ChunkVerdict::Complete));
        // Altered data.
        let mut v = ChunkVerifier::new(&info);
        let _ = v.handle_chunk(b"abc", 1);
        assert!(matches!(v.handle_chunk(b"dex", 0), Err(Corruption::DigestMismatch { .. })));
        // A chunk missing, one too many, a longer chunk.
        let mut v = ChunkVerifier::new(&info);
        assert!(matches!(v.handle_chunk(b"abc", 0), Err(Corruption::ChunkCount { expected: 2, actual: 1 })));
        let mut v = ChunkVerifier::new(&info);
        let _ = v.handle_chunk(b"abc", 2);
        assert!(matches!(v.handle_chunk(b"def", 1), Err(Corruption::ChunkCount { expected: 2, actual: 3 })));
        let mut v = ChunkVerifier::new(&info);
        assert!(matches!(v.handle_chunk(b"abcdefg", 1), Err(Corruption::SizeMismatch { .. })));
        // An empty object.
        let mut v = ChunkVerifier::new(&info_of(&[]));
        assert!(v.expects_nothing());
        v.finish().unwrap();
        // A malformed digest in the metadata.
        let mut bad = info_of(&[b"x"]);
        bad.digest = Some("SHA-256=%%".into());
        assert!(matches!(
            ChunkVerifier::new(&bad).handle_chunk(b"x", 0),
            Err(Corruption::MalformedDigest(_))
        ));
    }
}
