//! Object store scenarios (ADR-20) against a real server, each on tokio, smol and
//! async-std: objects of several MiB in chunks with their digest checked, replacement,
//! list, info, delete, corruption detected (altered metadata, an extra chunk, malformed
//! metadata), links to objects and stores, watch, seal, a 100 MiB object with bounded
//! memory, and interop with nats-py in both directions.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use nats_client::Runtime;
use nats_integration_tests::{
    connect, own_process_runtime_tests, run_python, runtime_tests, within, NatsServer,
};
use nats_jetstream::proto::StorageType;
use nats_stores::object_store::proto::{meta_subject, ObjectMeta, ObjectStoreConfig};
use nats_stores::object_store::{GetError, PutError, StoreError};
use nats_stores::ObjectStoreExt;
use ring::digest::{digest, Context as Sha256, SHA256};

runtime_tests!(
    round_trip_in_chunks,
    corruption_is_detected,
    links_watch_and_seal,
    python_writes_we_read,
    we_write_python_reads,
    metadata_updates_renames_and_a_watch_with_history,
);
// Its verdict is the process's peak memory: a process of its own, not the one the other
// tests share.
own_process_runtime_tests!(hundred_mib_with_bounded_memory);

/// Deterministic test data.
/// Every item of a stream a call returns (keys, history, a listing), or the first error.
async fn all<S, T, E>(call: impl std::future::Future<Output = Result<S, E>>) -> Result<Vec<T>, E>
where
    S: futures_util::Stream<Item = Result<T, E>>,
{
    futures_util::TryStreamExt::try_collect(call.await?).await
}

fn data(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    generate(0, &mut out);
    out
}

fn digest_of(bytes: &[u8]) -> String {
    format!("SHA-256={}", data_encoding::BASE64URL.encode(digest(&SHA256, bytes).as_ref()))
}

async fn round_trip_in_chunks<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store = within(&rt, "create", js.create_object_store(ObjectStoreConfig::new("files"))).await.unwrap();
    let stream = within(&rt, "stream", js.stream_info("OBJ_files")).await.unwrap();
    assert_eq!(stream.config.subjects, ["$O.files.C.>", "$O.files.M.>"]);

    let big = data(5 * 1024 * 1024 + 17);
    let info = within(&rt, "put", store.put("dir/big.bin", &mut &big[..])).await.unwrap();
    assert_eq!((info.size, info.chunks), (big.len() as u64, 41));
    assert_eq!(info.digest.as_deref(), Some(digest_of(&big).as_str()));
    let object = within(&rt, "get", store.get("dir/big.bin")).await.unwrap();
    assert_eq!(object.info, info);
    let back = within(&rt, "read", object.read_all()).await.unwrap();
    assert!(back == big, "the data round-trips");
    assert_eq!(within(&rt, "info", store.info("dir/big.bin")).await.unwrap(), info);

    smaller_objects_and_listing(&rt, &js, &store, &info).await;
}

/// The rest of [`round_trip_in_chunks`] (split: one huge scenario makes a debug-build stack
/// frame too big for a test thread).
async fn smaller_objects_and_listing<R: Runtime>(
    rt: &R,
    js: &nats_jetstream::Context,
    store: &nats_stores::ObjectStore,
    info: &nats_stores::object_store::proto::ObjectInfo,
) {
    let rt = rt.clone();
    // Small objects, a custom chunk size, an empty object.
    let meta = ObjectMeta::from("small").description("a few bytes").chunk_size(4);
    let small = within(&rt, "put small", store.put(meta, &mut &b"0123456789"[..])).await.unwrap();
    assert_eq!((small.chunks, small.description.as_deref()), (3, Some("a few bytes")));
    let read = within(&rt, "get small", async { store.get("small").await.unwrap().read_all().await }).await;
    assert_eq!(read.unwrap(), b"0123456789");
    let empty = within(&rt, "put empty", store.put("empty", &mut &b""[..])).await.unwrap();
    assert_eq!((empty.size, empty.chunks), (0, 0));
    let read = within(&rt, "get empty", async { store.get("empty").await.unwrap().read_all().await }).await;
    assert_eq!(read.unwrap(), b"");

    // Replacing an object purges its old chunks: 41 big chunks + 3 + metas only.
    let replaced = within(&rt, "replace", store.put("dir/big.bin", &mut &b"now small"[..])).await.unwrap();
    assert_ne!(replaced.nuid, info.nuid);
    let status = within(&rt, "status", store.status()).await.unwrap();
    assert_eq!(status.info.state.messages, 1 + 3 + 3, "chunks: 1 + 3, metas: 3");
    assert!(!status.sealed);

    let mut names: Vec<String> =
        within(&rt, "list", all(store.list())).await.unwrap().into_iter().map(|i| i.name).collect();
    names.sort();
    assert_eq!(names, ["dir/big.bin", "empty", "small"]);
    within(&rt, "delete", store.delete("small")).await.unwrap();
    assert_eq!(within(&rt, "info deleted", store.info("small")).await.unwrap_err(), GetError::NotFound);
    assert_eq!(within(&rt, "get deleted", store.get("small")).await.unwrap_err(), GetError::NotFound);
    let err = within(&rt, "delete again", store.delete("small")).await.unwrap_err();
    assert_eq!(err, PutError::Get(GetError::NotFound));
    assert_eq!(within(&rt, "list", all(store.list())).await.unwrap().len(), 2);
    assert_eq!(within(&rt, "missing", store.get("nope")).await.unwrap_err(), GetError::NotFound);
    assert_eq!(within(&rt, "missing bytes", store.get_bytes("nope")).await.unwrap_err(), GetError::NotFound);

    // Objects in memory, and a listing read one by one (deleted objects left out).
    let config = ObjectMeta::from("config.json").chunk_size(5);
    let put = within(&rt, "put bytes", store.put_bytes(config, br#"{"a":1}"#)).await.unwrap();
    assert_eq!((put.size, put.chunks), (7, 2));
    assert_eq!(&within(&rt, "get bytes", store.get_bytes("config.json")).await.unwrap()[..], br#"{"a":1}"#);
    let mut listing = within(&rt, "list", store.list()).await.unwrap();
    let mut listed = Vec::new();
    while let Some(info) = within(&rt, "listed", listing.next()).await {
        listed.push(info.unwrap().name);
    }
    listed.sort();
    assert_eq!(listed, ["config.json", "dir/big.bin", "empty"]);
    stores(&rt, js).await;
}

async fn stores<R: Runtime>(rt: &R, js: &nats_jetstream::Context) {
    let rt = rt.clone();

    let again = within(&rt, "get store", js.get_object_store("files")).await.unwrap();
    assert_eq!(again.name(), "files");
    within(&rt, "delete store", js.delete_object_store("files")).await.unwrap();
    let err = within(&rt, "deleted store", js.get_object_store("files")).await.unwrap_err();
    assert_eq!(err, StoreError::NotFound);
    let err =
        within(&rt, "bad store", js.create_object_store(ObjectStoreConfig::new("a.b"))).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidBucket(_)), "{err:?}");
}

async fn corruption_is_detected<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store = within(
        &rt,
        "create",
        js.create_object_store(ObjectStoreConfig::new("c").storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    let payload = data(300_000);
    let info = within(&rt, "put", store.put("o", &mut &payload[..])).await.unwrap();
    let subject = meta_subject("c", "o");
    let publish_meta = |json: Vec<u8>| {
        let js = js.clone();
        let subject = subject.clone();
        async move { js.publish(subject, json.into()).await.unwrap().await.unwrap() }
    };

    // Metadata altered: another digest.
    let mut altered = info.clone();
    altered.digest = Some(digest_of(b"something else"));
    within(&rt, "alter meta", publish_meta(altered.to_json())).await;
    let result = within(&rt, "read", async { store.get("o").await.unwrap().read_all().await }).await;
    assert!(matches!(result, Err(GetError::Corrupt(_))), "{result:?}");

    // Metadata restored, but a bad chunk published after the real ones.
    within(&rt, "restore meta", publish_meta(info.to_json())).await;
    assert_eq!(
        within(&rt, "read", async { store.get("o").await.unwrap().read_all().await }).await.unwrap(),
        payload
    );
    let chunks = format!("$O.c.C.{}", info.nuid);
    within(&rt, "bad chunk", async { js.publish(chunks, "junk".into()).await.unwrap().await.unwrap() }).await;
    let result = within(&rt, "read", async { store.get("o").await.unwrap().read_all().await }).await;
    assert!(matches!(result, Err(GetError::Corrupt(_))), "{result:?}");

    // Metadata naming chunks that do not exist: an error, not a wait.
    let mut orphan = info.clone();
    orphan.nuid = "NOCHUNKSHERE".into();
    within(&rt, "orphan meta", publish_meta(orphan.to_json())).await;
    let err = within(&rt, "get orphan", store.get("o")).await.unwrap_err();
    assert!(matches!(err, GetError::Corrupt(_)), "{err:?}");

    // Malformed metadata: a typed error, no panic.
    within(&rt, "malformed meta", publish_meta(b"{not json".to_vec())).await;
    let err = within(&rt, "info", store.info("o")).await.unwrap_err();
    assert!(matches!(err, GetError::MalformedInfo(_)), "{err:?}");
    assert!(matches!(within(&rt, "get", store.get("o")).await.unwrap_err(), GetError::MalformedInfo(_)));
}

async fn links_watch_and_seal<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store = within(&rt, "create", js.create_object_store(ObjectStoreConfig::new("l"))).await.unwrap();
    let other = within(&rt, "create", js.create_object_store(ObjectStoreConfig::new("other"))).await.unwrap();
    let mut watch = within(&rt, "watch", store.watch()).await.unwrap();

    let target = within(&rt, "put", other.put("t", &mut &b"target data"[..])).await.unwrap();
    let link = within(&rt, "link", store.add_link("to-t", &target)).await.unwrap();
    assert_eq!(link.link().unwrap().bucket, "other");
    let read = within(&rt, "get via link", async { store.get("to-t").await.unwrap().read_all().await }).await;
    assert_eq!(read.unwrap(), b"target data");
    let bucket_link = within(&rt, "bucket link", store.add_bucket_link("to-other", "other")).await.unwrap();
    assert_eq!(bucket_link.link().unwrap().name, None);
    assert_eq!(
        within(&rt, "get bucket link", store.get("to-other")).await.unwrap_err(),
        GetError::BucketLink
    );
    // No links to links, nor over an object.
    let err = within(&rt, "link to link", store.add_link("x", &link)).await.unwrap_err();
    assert!(matches!(err, PutError::InvalidLink(_)), "{err:?}");
    within(&rt, "put", store.put("plain", &mut &b"p"[..])).await.unwrap();
    let err = within(&rt, "link over object", store.add_link("plain", &target)).await.unwrap_err();
    assert!(matches!(err, PutError::InvalidLink(_)), "{err:?}");

    // The watch saw the links, the put, then a delete. (Its consumer starts when it is
    // first polled, from the sequence fixed when it was made: polling before the delete
    // keeps the put, which the delete's rollup would otherwise replace.)
    let mut seen = Vec::new();
    for i in 0..4 {
        if i == 3 {
            within(&rt, "delete", store.delete("plain")).await.unwrap();
        }
        let info = within(&rt, "watch", watch.next()).await.unwrap().unwrap();
        seen.push((info.name, info.deleted));
    }
    assert_eq!(
        seen,
        [("to-t", false), ("to-other", false), ("plain", false), ("plain", true)]
            .map(|(n, d)| (n.to_owned(), d))
    );

    within(&rt, "seal", store.seal()).await.unwrap();
    assert!(within(&rt, "status", store.status()).await.unwrap().sealed);
    let err = within(&rt, "put sealed", store.put("late", &mut &b"x"[..])).await.unwrap_err();
    assert!(matches!(err, PutError::Publish(_)), "{err:?}");
    let read = within(&rt, "get sealed", async { store.get("to-t").await.unwrap().read_all().await }).await;
    assert_eq!(read.unwrap(), b"target data");
}

/// Peak resident set size of this process (`VmHWM`), in KiB: of this test alone, which runs
/// in a process of its own.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The bytes of [`data`] from `position` on.
fn generate(position: usize, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = u8::try_from((position + i) * 31 % 251).expect("below 251");
    }
}

/// A reader producing `len` deterministic bytes without holding them.
struct Generated {
    position: usize,
    len: usize,
}

impl futures_util::AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.len - self.position);
        generate(self.position, &mut buf[..n]);
        self.position += n;
        Poll::Ready(Ok(n))
    }
}

/// 100 MiB in and out without ever holding the object: the peak RSS grows by far less
/// than the object's size.
async fn hundred_mib_with_bounded_memory<R: Runtime>(rt: R) {
    const LEN: usize = 100 * 1024 * 1024;
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let config = ObjectStoreConfig::new("big").storage(StorageType::Memory);
    let store = within(&rt, "create", js.create_object_store(config)).await.unwrap();
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let info = nats_integration_tests::with_timeout(&rt, std::time::Duration::from_secs(50), async {
        store.put("100m", &mut Generated { position: 0, len: LEN }).await.unwrap()
    })
    .await
    .expect("put in time");
    let put_time = started.elapsed();
    assert_eq!((info.size, info.chunks), (LEN as u64, 800));
    let started = std::time::Instant::now();
    let mut object = within(&rt, "get", store.get("100m")).await.unwrap();
    let mut hasher = Sha256::new(&SHA256);
    let mut size = 0usize;
    while let Some(chunk) =
        nats_integration_tests::with_timeout(&rt, std::time::Duration::from_secs(10), object.next())
            .await
            .expect("chunk in time")
    {
        let chunk = chunk.expect("verified chunk");
        let mut want = vec![0; chunk.len()];
        generate(size, &mut want);
        assert!(chunk[..] == want[..], "data at {size}");
        hasher.update(&chunk);
        size += chunk.len();
    }
    let get_time = started.elapsed();
    assert_eq!(size, LEN);
    assert_eq!(
        info.digest.as_deref(),
        Some(format!("SHA-256={}", data_encoding::BASE64URL.encode(hasher.finish().as_ref())).as_str())
    );
    let growth_mib = peak_rss_kib().saturating_sub(before) / 1024;
    eprintln!(
        "100 MiB object: put {put_time:?}, get {get_time:?}, peak RSS {} MiB (+{growth_mib} MiB)",
        peak_rss_kib() / 1024
    );
    assert!(growth_mib < 80, "peak RSS grew by {growth_mib} MiB for a 100 MiB object");
}

const PY_WRITE: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    obs = await js.create_object_store("pyobs")
    data = bytes((i * 31 % 251) for i in range(300000))
    info = await obs.put("py/data.bin", data)
    print("put", info.size, info.chunks, info.digest)
    await obs.put("gone", b"bye")
    await obs.delete("gone")
    await nc.close()

asyncio.run(main())
"#;

async fn python_writes_we_read<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let out = run_python(PY_WRITE, &[&server.url()]);
    let expected = data(300_000);
    assert_eq!(out.stdout.trim(), format!("put 300000 3 {}", digest_of(&expected)), "{out:?}");

    let store = within(&rt, "get store", js.get_object_store("pyobs")).await.unwrap();
    let info = within(&rt, "info", store.info("py/data.bin")).await.unwrap();
    assert_eq!((info.size, info.chunks, info.bucket.as_str()), (300_000, 3, "pyobs"));
    let read = within(&rt, "get", async { store.get("py/data.bin").await.unwrap().read_all().await }).await;
    assert!(read.unwrap() == expected);
    assert_eq!(within(&rt, "deleted", store.info("gone")).await.unwrap_err(), GetError::NotFound);
    let names: Vec<String> =
        within(&rt, "list", all(store.list())).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["py/data.bin"]);
}

const PY_READ: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    obs = await js.object_store("rsobs")
    res = await obs.get("rs/data.bin")
    expected = bytes((i * 31 % 251) for i in range(300000))
    print("get", res.info.name, res.info.size, res.info.chunks, res.data == expected, res.info.digest)
    linked = await obs.get("link")
    print("link", linked.data == expected)
    try:
        await obs.get("gone")
        print("found gone")
    except nats.js.errors.ObjectNotFoundError:
        print("missing gone")
    except nats.js.errors.ObjectDeletedError:
        print("missing gone")
    # nats-py's list includes deletion markers (nats.go leaves them out by default).
    names = sorted(f"{i.name}:{bool(i.deleted)}" for i in await obs.list())
    print("list", ",".join(names))
    await nc.close()

asyncio.run(main())
"#;

async fn we_write_python_reads<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store = within(&rt, "create", js.create_object_store(ObjectStoreConfig::new("rsobs"))).await.unwrap();
    let payload = data(300_000);
    let info = within(&rt, "put", store.put("rs/data.bin", &mut &payload[..])).await.unwrap();
    within(&rt, "link", store.add_link("link", &info)).await.unwrap();
    within(&rt, "put", store.put("gone", &mut &b"x"[..])).await.unwrap();
    within(&rt, "delete", store.delete("gone")).await.unwrap();

    let out = run_python(PY_READ, &[&server.url()]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("get rs/data.bin 300000 3 True {}", digest_of(&payload)).as_str(),
            "link True",
            "missing gone",
            "list gone:True,link:False,rs/data.bin:False",
        ],
        "{out:?}"
    );
}

const PY_READ_INFO: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    store = await nc.jetstream().object_store("meta")
    info = await store.get_info(sys.argv[2])
    # nats-py 2.16's ObjectInfo has no metadata field: name and description.
    print(info.name, info.description)
    result = await store.get(sys.argv[2])
    print(result.data.decode())
    await nc.close()

asyncio.run(main())
"#;

async fn metadata_updates_renames_and_a_watch_with_history<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let mut config = ObjectStoreConfig::new("meta").storage(StorageType::Memory);
    config.metadata.insert("team".into(), "a".into());
    let store = within(&rt, "create", js.create_object_store(config)).await.unwrap();
    assert_eq!(within(&rt, "status", store.status()).await.unwrap().info.config.metadata["team"], "a");
    let put = within(&rt, "put", store.put("draft.txt", &mut &b"contents"[..])).await.unwrap();
    within(&rt, "put other", store.put("taken.txt", &mut &b"other"[..])).await.unwrap();

    // Rename with a description and metadata: the data stays, the old name goes.
    let meta = ObjectMeta::from("final.txt").description("renamed here").metadata("owner", "rust");
    let renamed = within(&rt, "rename", store.update_metadata("draft.txt", meta)).await.unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.digest.as_deref(), renamed.size),
        ("final.txt", put.digest.as_deref(), 8)
    );
    let err = within(&rt, "old name", store.info("draft.txt")).await.unwrap_err();
    assert!(matches!(err, GetError::NotFound), "{err:?}");
    let data =
        within(&rt, "get", async { store.get("final.txt").await.unwrap().read_all().await.unwrap() }).await;
    assert_eq!(data, b"contents");
    let err = within(&rt, "taken", store.update_metadata("final.txt", "taken.txt")).await.unwrap_err();
    assert!(matches!(err, PutError::NameTaken(_)), "{err:?}");

    // nats-py sees the update.
    let out = run_python(PY_READ_INFO, &[&server.url(), "final.txt"]);
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["final.txt renamed here", "contents"]);

    // A watch with history: the current objects, then changes.
    let mut watch = within(&rt, "watch", store.watch_with_history()).await.unwrap();
    let mut current = Vec::new();
    for _ in 0..2 {
        let info = within(&rt, "current", watch.next()).await.expect("open").unwrap();
        current.push(info.name);
    }
    current.sort();
    assert_eq!(current, ["final.txt", "taken.txt"]);
    within(&rt, "delete", store.delete("taken.txt")).await.unwrap();
    let change = within(&rt, "change", watch.next()).await.expect("open").unwrap();
    assert!(change.deleted && change.name == "taken.txt", "{change:?}");
}
