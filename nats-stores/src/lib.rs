//! The key-value store ([`kv`], NATS ADR-8) and the object store ([`object_store`],
//! ADR-20) on [`nats_jetstream`], interoperable with nats.go, nats-py and async-nats.
//!
//! Each has a sans-IO part (`proto`: names, subjects, stream configurations, header and
//! JSON formats, the watcher state, chunking and digests), unit-tested, and an async API
//! on a JetStream [`Context`](nats_jetstream::Context) through the extension traits
//! [`KeyValueExt`] and [`ObjectStoreExt`], with `async-nats`'s names.
//!
//! ```no_run
//! # async fn demo(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt;
//! use nats_stores::kv::proto::Config;
//! use nats_stores::object_store::proto::ObjectStoreConfig;
//! use nats_stores::{KeyValueExt, ObjectStoreExt};
//!
//! let js = nats_jetstream::new(client);
//!
//! // Key-value: put, get, optimistic concurrency, watch.
//! let kv = js.create_key_value(Config::new("config").history(5)).await?;
//! let revision = kv.put("service.port", "4222".into()).await?;
//! kv.update("service.port", "4223".into(), revision).await?;
//! assert_eq!(kv.get("service.port").await?.as_deref(), Some(&b"4223"[..]));
//! let mut watch = kv.watch("service.>").await?;
//! while let Some(entry) = watch.next().await {
//!     let entry = entry?;
//!     println!("{} = {:?} (revision {})", entry.key, entry.value, entry.revision);
//! }
//!
//! // Object store: stream an object in, read it back with its digest checked.
//! let store = js.create_object_store(ObjectStoreConfig::new("files")).await?;
//! let info = store.put("report.pdf", &mut &b"%PDF..."[..]).await?;
//! println!("{} bytes in {} chunks, {}", info.size, info.chunks, info.digest.unwrap_or_default());
//! let data = store.get("report.pdf").await?.read_all().await?;
//! # let _ = data;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod kv;
pub mod object_store;

pub use kv::{Entry, History, KeyValueExt, Keys, Store, Watch};
pub use object_store::{List, Object, ObjectStore, ObjectStoreExt, ObjectWatch};

// The configuration and information types an application names, at the crate's root
// (`Config` is the bucket's; the object store's is `ObjectStoreConfig`, also
// `object_store::Config`).
pub use kv::proto::{Config, Operation, Status, WatchOptions, WatchStart};
pub use object_store::proto::{ObjectInfo, ObjectLink, ObjectMeta, ObjectStoreConfig, ObjectStoreStatus};
