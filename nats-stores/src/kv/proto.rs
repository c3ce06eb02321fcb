//! The sans-IO key-value protocol (ADR-8): bucket and key validation, the bucket's stream
//! configuration, subjects, operations carried in headers, and the watcher state machine.

use std::time::Duration;

use nats_client::HeaderMap;
use nats_jetstream::proto::{DeliverPolicy, DiscardPolicy, StorageType, StreamConfig, StreamInfo};

/// The header carrying a key's operation (`DEL` or `PURGE`; absent for a put).
pub const KV_OPERATION: &str = "KV-Operation";
/// `Nats-Marker-Reason`: on a marker the server left where a limit removed a key's
/// messages (`MaxAge`, `Purge`, `Remove`).
pub const MARKER_REASON: &str = "Nats-Marker-Reason";
/// The rollup header: `sub` removes the subject's earlier messages (a purge).
pub const NATS_ROLLUP: &str = "Nats-Rollup";
/// The most revisions a bucket may keep per key.
pub const MAX_HISTORY: i64 = 64;

/// A bucket name that cannot be used: empty, or other than letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bucket name {0:?}: letters, digits, '_' and '-' only")]
pub struct InvalidBucket(pub String);

/// A key that cannot be used: empty, starting or ending with `.`, or other than letters,
/// digits and `-/_=.` (plus `*` and `>` in watch patterns).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key {0:?}")]
pub struct InvalidKey(pub String);

/// Checks a bucket name (`[a-zA-Z0-9_-]+`), for key-value and object stores alike.
///
/// # Errors
/// [`InvalidBucket`].
pub fn validate_bucket(name: &str) -> Result<(), InvalidBucket> {
    if !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
        Ok(())
    } else {
        Err(InvalidBucket(name.to_owned()))
    }
}

fn key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/' | b'_' | b'=' | b'.')
}

/// Checks a key (`[-/_=.a-zA-Z0-9]+`, not starting or ending with `.`), as nats.go does.
///
/// # Errors
/// [`InvalidKey`].
pub fn validate_key(key: &str) -> Result<(), InvalidKey> {
    if key.is_empty() || key.starts_with('.') || key.ends_with('.') || !key.bytes().all(key_byte) {
        return Err(InvalidKey(key.to_owned()));
    }
    Ok(())
}

/// Checks a watch pattern: a key whose tokens may also be `*`, and whose last token may be
/// `>`.
///
/// # Errors
/// [`InvalidKey`].
pub fn validate_pattern(pattern: &str) -> Result<(), InvalidKey> {
    let bad = || InvalidKey(pattern.to_owned());
    if pattern.is_empty() || pattern.starts_with('.') || pattern.ends_with('.') {
        return Err(bad());
    }
    let tokens: Vec<&str> = pattern.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        let ok = match *token {
            "" => false,
            "*" => true,
            ">" => i + 1 == tokens.len(),
            t => t.bytes().all(|c| key_byte(c) && c != b'.'),
        };
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// The bucket a stream name stands for: `KV_<bucket>` or a plain bucket name.
pub fn bucket_of_stream(name: &str) -> &str {
    name.strip_prefix("KV_").unwrap_or(name)
}

/// The stream backing a bucket: `KV_<bucket>`.
pub fn stream_name(bucket: &str) -> String {
    format!("KV_{bucket}")
}

/// The subject prefix of a bucket's keys: `$KV.<bucket>.`.
pub fn subject_prefix(bucket: &str) -> String {
    format!("$KV.{bucket}.")
}

/// The subject of a key (or a watch pattern).
pub fn key_subject(bucket: &str, key: &str) -> String {
    format!("$KV.{bucket}.{key}")
}

/// The key of a message subject of `bucket`, `None` when the subject is not in the bucket.
pub fn key_of_subject<'a>(bucket: &str, subject: &'a str) -> Option<&'a str> {
    subject.strip_prefix("$KV.")?.strip_prefix(bucket)?.strip_prefix('.').filter(|k| !k.is_empty())
}

/// What a revision of a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A value.
    Put,
    /// A deletion marker (earlier revisions kept).
    Delete,
    /// A purge marker (earlier revisions removed).
    Purge,
}

impl Operation {
    /// The operation of a stored message from its headers (`KV-Operation`); anything but
    /// `DEL` and `PURGE` is a put, as in the other clients. A limit marker the server left
    /// (`Nats-Marker-Reason`, servers since 2.11; ADR-8) is a purge when the key's age
    /// limit or a purge removed it, a delete when it was removed.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Self {
        match headers.and_then(|h| h.get(MARKER_REASON)).map(|v| v.as_str().trim()) {
            Some("MaxAge" | "Purge") => return Self::Purge,
            Some("Remove") => return Self::Delete,
            _ => {}
        }
        match headers.and_then(|h| h.get(KV_OPERATION)).map(|v| v.as_str().trim()) {
            Some("DEL") => Self::Delete,
            Some("PURGE") => Self::Purge,
            _ => Self::Put,
        }
    }

    /// The `KV-Operation` header value (`None` for a put).
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Self::Put => None,
            Self::Delete => Some("DEL"),
            Self::Purge => Some("PURGE"),
        }
    }
}

/// A bucket's configuration: built with [`Config::new`] and its setters, or as a struct
/// literal with the defaults for the rest, as async-nats' is:
///
/// ```
/// use nats_stores::Config;
///
/// let config = Config { bucket: "profiles".into(), history: 5, ..Default::default() };
/// assert_eq!(config, Config::new("profiles").history(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The bucket name.
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// Revisions kept per key, 1 to [`MAX_HISTORY`] (0: 1).
    pub history: i64,
    /// How long a value lives (zero: forever).
    pub max_age: Duration,
    /// Largest value (`-1` or 0: unlimited).
    pub max_value_size: i64,
    /// Largest bucket in bytes (`-1` or 0: unlimited).
    pub max_bytes: i64,
    /// Storage.
    pub storage: StorageType,
    /// Replicas (0: 1).
    pub num_replicas: i64,
    /// Limit markers (servers since 2.11): where the age limit or a TTL removes a key, the
    /// server leaves a marker that lives this long, so watchers see the key go (zero: no
    /// markers). Needed for per-key TTLs.
    pub limit_markers: Duration,
    /// Compress what the bucket stores (S2; servers since 2.10).
    pub compression: bool,
    /// Where the bucket's replicas are placed.
    pub placement: Option<nats_jetstream::Placement>,
    /// Republish each change.
    pub republish: Option<nats_jetstream::Republish>,
    /// Free-form metadata.
    pub metadata: std::collections::HashMap<String, String>,
    /// A mirror of another bucket (its name, with or without `KV_`; `Source::in_domain`
    /// for a bucket in another JetStream domain): the bucket has no subjects of its own,
    /// reads come from the mirror (direct gets answered by it too, `mirror_direct`), and
    /// writes go to the origin. Not together with `sources`.
    pub mirror: Option<nats_jetstream::Source>,
    /// Buckets whose keys flow into this one (names with or without `KV_`): the keys of a
    /// bucket with another name are mapped into this bucket's subjects, unless the source
    /// has subject transforms of its own.
    pub sources: Vec<nats_jetstream::Source>,
}

impl Default for Config {
    /// An unnamed bucket with the defaults of [`Config::new`] (a bucket needs a name).
    fn default() -> Self {
        Self::new("")
    }
}

impl Config {
    /// A bucket with the defaults: history 1, no limits, file storage.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            description: None,
            history: 1,
            max_age: Duration::ZERO,
            max_value_size: -1,
            max_bytes: -1,
            storage: StorageType::File,
            num_replicas: 1,
            limit_markers: Duration::ZERO,
            compression: false,
            placement: None,
            republish: None,
            metadata: std::collections::HashMap::new(),
            mirror: None,
            sources: Vec::new(),
        }
    }

    /// With limit markers that live `ttl` (servers since 2.11).
    #[must_use]
    pub fn limit_markers(mut self, ttl: Duration) -> Self {
        self.limit_markers = ttl;
        self
    }

    /// With a history depth.
    #[must_use]
    pub fn history(mut self, history: i64) -> Self {
        self.history = history;
        self
    }

    /// With a time to live.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// With a largest value size.
    #[must_use]
    pub fn max_value_size(mut self, size: i64) -> Self {
        self.max_value_size = size;
        self
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

    /// The stream configuration of the bucket, as nats.go and nats-py make it: `KV_<bucket>`
    /// on `$KV.<bucket>.>`, `max_msgs_per_subject` = history, rollups allowed, deletes denied,
    /// direct get allowed, discard new, duplicate window 2 min (or the TTL when shorter).
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid name or a history outside 1..=64.
    pub fn stream_config(&self) -> Result<StreamConfig, ConfigError> {
        validate_bucket(&self.bucket)?;
        let history = if self.history == 0 { 1 } else { self.history };
        if !(1..=MAX_HISTORY).contains(&history) {
            return Err(ConfigError::History(self.history));
        }
        let two_minutes = Duration::from_secs(120);
        let duplicate_window =
            if !self.max_age.is_zero() && self.max_age < two_minutes { self.max_age } else { two_minutes };
        let mut config =
            StreamConfig::new(stream_name(&self.bucket)).subjects([format!("$KV.{}.>", self.bucket)]);
        if let Some(mirror) = &self.mirror {
            if !self.sources.is_empty() {
                return Err(ConfigError::MirrorWithSources);
            }
            let mut mirror = mirror.clone();
            mirror.name = stream_name(bucket_of_stream(&mirror.name));
            config.subjects = Vec::new();
            config.mirror = Some(mirror);
            config.mirror_direct = true;
        }
        for source in &self.sources {
            let mut source = source.clone();
            let origin = bucket_of_stream(&source.name).to_owned();
            source.name = stream_name(&origin);
            // The same bucket in another domain keeps its subjects; another bucket's keys
            // are mapped into this bucket's.
            let same_bucket_elsewhere = source.external.is_some() && origin == self.bucket;
            if source.subject_transforms.is_empty()
                && source.filter_subject.is_none()
                && !same_bucket_elsewhere
            {
                source.subject_transforms = vec![nats_jetstream::SubjectTransform {
                    source: format!("$KV.{origin}.>"),
                    destination: format!("$KV.{}.>", self.bucket),
                }];
            }
            config.sources.push(source);
        }
        config.description = self.description.clone();
        config.max_messages_per_subject = history;
        config.max_bytes = if self.max_bytes == 0 { -1 } else { self.max_bytes };
        config.max_age = self.max_age;
        config.max_message_size = if self.max_value_size == 0 { -1 } else { self.max_value_size };
        config.storage = self.storage.clone();
        config.num_replicas = self.num_replicas.max(1);
        config.allow_rollup = true;
        config.deny_delete = true;
        config.allow_direct = true;
        config.discard = DiscardPolicy::New;
        config.duplicate_window = duplicate_window;
        config.max_messages = -1;
        config.max_consumers = -1;
        if !self.limit_markers.is_zero() {
            config.allow_message_ttl = true;
            config.subject_delete_marker_ttl = self.limit_markers;
        }
        if self.compression {
            config.compression = nats_jetstream::Compression::S2;
        }
        config.placement = self.placement.clone();
        config.republish = self.republish.clone();
        config.metadata = self.metadata.clone();
        Ok(config)
    }
}

/// A bucket configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The bucket name.
    #[error(transparent)]
    InvalidBucket(#[from] InvalidBucket),
    /// History outside 1..=64.
    #[error("history {0} outside 1..=64")]
    History(i64),
    /// A bucket is a mirror or has sources, not both.
    #[error("a bucket cannot be a mirror and have sources")]
    MirrorWithSources,
}

/// A bucket's status, read from its stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// The bucket name.
    pub bucket: String,
    /// Messages stored (every revision and marker).
    pub values: u64,
    /// Revisions kept per key.
    pub history: i64,
    /// Time to live (zero: forever).
    pub max_age: Duration,
    /// Bytes stored.
    pub bytes: u64,
    /// The backing stream: `KV_<bucket>`.
    pub backing_store: String,
    /// Whether the bucket compresses what it stores.
    pub compressed: bool,
    /// How long limit markers live (zero: no markers).
    pub limit_markers: Duration,
    /// The bucket's metadata.
    pub metadata: std::collections::HashMap<String, String>,
    /// The origin of a mirror bucket.
    pub mirror: Option<nats_jetstream::Source>,
    /// The buckets this one sources.
    pub sources: Vec<nats_jetstream::Source>,
    /// The backing stream's information (replicas, cluster, every setting).
    pub info: StreamInfo,
}

impl Status {
    /// The status of `bucket` from its stream's information.
    pub fn from_stream(bucket: &str, info: StreamInfo) -> Self {
        Self {
            bucket: bucket.to_owned(),
            values: info.state.messages,
            history: info.config.max_messages_per_subject,
            max_age: info.config.max_age,
            bytes: info.state.bytes,
            backing_store: info.config.name.clone(),
            compressed: info.config.compression == nats_jetstream::Compression::S2,
            limit_markers: info.config.subject_delete_marker_ttl,
            metadata: info.config.metadata.clone(),
            mirror: info.config.mirror.clone(),
            sources: info.config.sources.clone(),
            info,
        }
    }
}

/// Which revisions a watch starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchStart {
    /// The latest revision of each key, then updates.
    #[default]
    Latest,
    /// Every stored revision, then updates.
    IncludeHistory,
    /// Updates only.
    UpdatesOnly,
    /// Every revision from this one (a stream sequence) on, then updates.
    FromRevision(u64),
}

impl WatchStart {
    /// The consumer deliver policy.
    pub fn deliver_policy(self) -> DeliverPolicy {
        match self {
            Self::Latest => DeliverPolicy::LastPerSubject,
            Self::IncludeHistory => DeliverPolicy::All,
            Self::UpdatesOnly => DeliverPolicy::New,
            Self::FromRevision(revision) => {
                DeliverPolicy::ByStartSequence { start_sequence: revision.max(1) }
            }
        }
    }
}

/// How to watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Where to start.
    pub start: WatchStart,
    /// Skip deletion and purge markers.
    pub ignore_deletes: bool,
    /// Keys and revisions only: the entries' values are left empty (the server sends
    /// headers only).
    pub meta_only: bool,
}

impl WatchOptions {
    /// Keys and revisions only, no values.
    #[must_use]
    pub fn meta_only(mut self, meta_only: bool) -> Self {
        self.meta_only = meta_only;
        self
    }

    /// With a start.
    #[must_use]
    pub fn start(mut self, start: WatchStart) -> Self {
        self.start = start;
        self
    }

    /// Skipping deletion and purge markers.
    #[must_use]
    pub fn ignore_deletes(mut self, ignore: bool) -> Self {
        self.ignore_deletes = ignore;
        self
    }
}

/// What the watcher decides about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct WatchVerdict {
    /// Hand the entry to the user.
    pub deliver: bool,
    /// The initial values are all delivered (this message was the last of them, or an
    /// update after them).
    pub seen_current: bool,
    /// This message ended the initial values.
    pub initial_done_now: bool,
}

/// The watcher state machine: initial values until the consumer reports nothing pending,
/// then updates; deletion markers skipped when asked.
#[derive(Debug, Clone)]
pub struct Watcher {
    ignore_deletes: bool,
    initial_done: bool,
}

impl Watcher {
    /// A watcher; `initial_empty` when there is nothing to deliver initially (updates-only
    /// watches, or no stored message matches the pattern).
    pub fn new(options: WatchOptions, initial_empty: bool) -> Self {
        Self {
            ignore_deletes: options.ignore_deletes,
            initial_done: initial_empty || options.start == WatchStart::UpdatesOnly,
        }
    }

    /// Whether the initial values are all delivered.
    pub fn initial_done(&self) -> bool {
        self.initial_done
    }

    /// One message: its operation and the consumer's pending count after it.
    pub fn handle(&mut self, operation: Operation, pending: u64) -> WatchVerdict {
        let initial_done_now = !self.initial_done && pending == 0;
        if initial_done_now {
            self.initial_done = true;
        }
        let deliver = !(self.ignore_deletes && operation != Operation::Put);
        WatchVerdict { deliver, seen_current: self.initial_done, initial_done_now }
    }
}

#[cfg(test)]
mod tests {
    use nats_client::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["a", "ORDERS", "my-bucket_2"] {
            validate_bucket(ok).unwrap();
        }
        for bad in ["", "a.b", "a b", "a*", "a>", "ä", "a/b"] {
            assert_eq!(validate_bucket(bad), Err(InvalidBucket(bad.into())), "{bad}");
        }
    }

    #[test]
    fn keys_and_patterns() {
        for ok in ["a", "a.b.c", "-/_=", "A9.b_c-d/e=f", "x..y"] {
            validate_key(ok).unwrap_or_else(|_| panic!("{ok}"));
        }
        for bad in ["", ".a", "a.", "a b", "a*", "a.>", "ä", "a\r\n", "a:b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
        for ok in [">", "*", "a.*", "a.>", "a.*.c", "a.b"] {
            validate_pattern(ok).unwrap_or_else(|_| panic!("{ok}"));
        }
        for bad in ["", ".", "a.>.b", "a..b", "a*", ">a", ".a", "a.", "a b"] {
            assert!(validate_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(stream_name("b"), "KV_b");
        assert_eq!(key_subject("b", "k.1"), "$KV.b.k.1");
        assert_eq!(key_of_subject("b", "$KV.b.k.1"), Some("k.1"));
        assert_eq!(key_of_subject("b", "$KV.bb.k"), None);
        assert_eq!(key_of_subject("b", "$KV.b."), None);
        assert_eq!(key_of_subject("b", "$O.b.k"), None);
    }

    #[test]
    fn operations_from_headers() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(HeaderName::new(KV_OPERATION).unwrap(), HeaderValue::new(v).unwrap());
            h
        };
        assert_eq!(Operation::from_headers(None), Operation::Put);
        assert_eq!(Operation::from_headers(Some(&with("DEL"))), Operation::Delete);
        assert_eq!(Operation::from_headers(Some(&with("PURGE"))), Operation::Purge);
        assert_eq!(Operation::from_headers(Some(&with("other"))), Operation::Put);
        let marker = |reason: &str| {
            let mut h = HeaderMap::new();
            h.insert(HeaderName::new(MARKER_REASON).unwrap(), HeaderValue::new(reason).unwrap());
            h
        };
        assert_eq!(Operation::from_headers(Some(&marker("MaxAge"))), Operation::Purge, "expired by age");
        assert_eq!(Operation::from_headers(Some(&marker("Purge"))), Operation::Purge);
        assert_eq!(Operation::from_headers(Some(&marker("Remove"))), Operation::Delete);
        assert_eq!(Operation::Delete.header_value(), Some("DEL"));
        assert_eq!(Operation::Put.header_value(), None);
    }

    #[test]
    fn stream_config_per_adr_8() {
        let config = Config::new("b").history(5).max_age(Duration::from_secs(30)).stream_config().unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["name"], "KV_b");
        assert_eq!(json["subjects"], serde_json::json!(["$KV.b.>"]));
        assert_eq!(json["max_msgs_per_subject"], 5);
        assert_eq!(json["allow_rollup_hdrs"], true);
        assert_eq!(json["deny_delete"], true);
        assert_eq!(json["allow_direct"], true);
        assert_eq!(json["discard"], "new");
        assert_eq!(json["max_age"], 30_000_000_000u64);
        assert_eq!(json["duplicate_window"], 30_000_000_000u64);
        let config = Config::new("b").stream_config().unwrap();
        assert_eq!(config.duplicate_window, Duration::from_secs(120));
        assert_eq!(config.max_messages_per_subject, 1);
        assert_eq!(Config::new("b").history(65).stream_config(), Err(ConfigError::History(65)));
        assert!(matches!(Config::new("a.b").stream_config(), Err(ConfigError::InvalidBucket(_))));
    }

    #[test]
    fn mirrors_and_sources_as_the_official_clients_make_them() {
        use nats_jetstream::Source;

        // A mirror: no subjects, the origin's stream name, direct gets from the mirror.
        let mirror = Config { mirror: Some(Source::new("origin")), ..Config::new("copy") };
        let json = serde_json::to_value(mirror.stream_config().unwrap()).unwrap();
        assert_eq!(json["name"], "KV_copy");
        assert!(json.get("subjects").is_none_or(|s| s.as_array().is_some_and(Vec::is_empty)), "{json}");
        assert_eq!(json["mirror"]["name"], "KV_origin");
        assert_eq!(json["mirror_direct"], true);
        let in_hub = Config { mirror: Some(Source::in_domain("KV_origin", "hub")), ..Config::new("copy") };
        let json = serde_json::to_value(in_hub.stream_config().unwrap()).unwrap();
        assert_eq!(
            (json["mirror"]["name"].as_str(), json["mirror"]["external"]["api"].as_str()),
            (Some("KV_origin"), Some("$JS.hub.API"))
        );

        // Sources: another bucket's keys mapped into this bucket; the same bucket in another
        // domain kept as it is; transforms of the caller's own kept.
        let own = Source {
            subject_transforms: vec![nats_jetstream::SubjectTransform {
                source: "$KV.c.a.>".into(),
                destination: "$KV.all.>".into(),
            }],
            ..Source::new("c")
        };
        let config = Config {
            sources: vec![Source::new("a"), Source::in_domain("all", "leaf"), own],
            ..Config::new("all")
        };
        let json = serde_json::to_value(config.stream_config().unwrap()).unwrap();
        assert_eq!(json["subjects"], serde_json::json!(["$KV.all.>"]));
        let sources = json["sources"].as_array().unwrap();
        assert_eq!(sources[0]["name"], "KV_a");
        assert_eq!(
            sources[0]["subject_transforms"],
            serde_json::json!([{"src": "$KV.a.>", "dest": "$KV.all.>"}])
        );
        assert_eq!(sources[1]["name"], "KV_all");
        assert!(sources[1].get("subject_transforms").is_none(), "{}", sources[1]);
        assert_eq!(
            sources[2]["subject_transforms"],
            serde_json::json!([{"src": "$KV.c.a.>", "dest": "$KV.all.>"}])
        );

        let both =
            Config { mirror: Some(Source::new("a")), sources: vec![Source::new("b")], ..Config::new("x") };
        assert_eq!(both.stream_config(), Err(ConfigError::MirrorWithSources));
    }

    #[test]
    fn a_ttl_of_duration_max_goes_to_the_server_as_the_longest_go_duration() {
        let config = Config::new("b").max_age(Duration::MAX).stream_config().unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["max_age"].as_i64(), Some(i64::MAX), "saturated, neither wrapped nor past i64");
        assert_eq!(json["duplicate_window"], 120_000_000_000u64);
    }

    #[test]
    fn watcher_initial_values_then_updates() {
        // Three initial values (pending 2, 1, 0), then updates.
        let mut w = Watcher::new(WatchOptions::default(), false);
        assert!(!w.initial_done());
        let v = w.handle(Operation::Put, 2);
        assert!(v.deliver && !v.seen_current && !v.initial_done_now);
        let _ = w.handle(Operation::Put, 1);
        let v = w.handle(Operation::Put, 0);
        assert!(v.deliver && v.seen_current && v.initial_done_now);
        let v = w.handle(Operation::Put, 0);
        assert!(v.deliver && v.seen_current && !v.initial_done_now);
        // Nothing initially.
        assert!(Watcher::new(WatchOptions::default(), true).initial_done());
        assert!(Watcher::new(WatchOptions::default().start(WatchStart::UpdatesOnly), false).initial_done());
    }

    #[test]
    fn watcher_ignores_deletes_but_still_ends_the_initial_values() {
        let mut w = Watcher::new(WatchOptions::default().ignore_deletes(true), false);
        assert!(w.handle(Operation::Put, 1).deliver);
        let v = w.handle(Operation::Delete, 0);
        assert!(!v.deliver && v.initial_done_now);
        assert!(!w.handle(Operation::Purge, 0).deliver);
        let mut w = Watcher::new(WatchOptions::default(), false);
        assert!(w.handle(Operation::Purge, 0).deliver);
    }

    #[test]
    fn deliver_policies() {
        assert_eq!(WatchStart::Latest.deliver_policy(), DeliverPolicy::LastPerSubject);
        assert_eq!(WatchStart::IncludeHistory.deliver_policy(), DeliverPolicy::All);
        assert_eq!(WatchStart::UpdatesOnly.deliver_policy(), DeliverPolicy::New);
    }
}
