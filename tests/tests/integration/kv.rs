//! Key-value scenarios (ADR-8) against a real server, each on tokio, smol and async-std:
//! CRUD with revisions and history, create-if-absent and update-at-revision conflicts as
//! typed errors, delete and purge as keys, history and watch see them, a watch across a
//! server restart, and interop with nats-py in both directions.

use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{ClientEvent, Runtime};
use nats_integration_tests::{
    connect, connect_with, fast_reconnect, run_python, runtime_tests, wait_for_event, within, NatsServer,
};
use nats_jetstream::proto::StorageType;
use nats_stores::kv::proto::{Config, InvalidKey, Operation, WatchOptions, WatchStart};
use nats_stores::kv::{BucketError, Entry, EntryError, PutError, Watch, WatchError};
use nats_stores::KeyValueExt;

runtime_tests!(
    crud_revisions_and_history,
    create_and_update_conflicts,
    deletes_and_purges_are_visible,
    watch_options,
    watch_survives_a_restart,
    python_writes_we_read,
    we_write_python_reads,
    an_expired_key_reads_as_purged,
    per_key_ttls_expected_revisions_and_watch_from_a_revision,
    key_ttls_across_clients,
    keys_and_watches_of_several_filters,
    mirrors_and_sources,
);

/// Every item of a stream a call returns (keys, history, a listing), or the first error.
async fn all<S, T, E>(call: impl std::future::Future<Output = Result<S, E>>) -> Result<Vec<T>, E>
where
    S: futures_util::Stream<Item = Result<T, E>>,
{
    futures_util::TryStreamExt::try_collect(call.await?).await
}

fn values(entries: &[Entry]) -> Vec<(String, String, Operation)> {
    entries
        .iter()
        .map(|e| (e.key.clone(), String::from_utf8(e.value.to_vec()).unwrap(), e.operation))
        .collect()
}

async fn next_entry<R: Runtime>(rt: &R, watch: &mut Watch) -> Entry {
    within(rt, "watch entry", watch.next()).await.expect("watch ended").expect("watch entry")
}

async fn crud_revisions_and_history<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let kv = within(&rt, "create", js.create_key_value(Config::new("crud").history(3))).await.unwrap();
    let stream = within(&rt, "stream", js.stream_info("KV_crud")).await.unwrap();
    assert_eq!(stream.config.max_messages_per_subject, 3);
    assert!(stream.config.allow_rollup && stream.config.deny_delete && stream.config.allow_direct);

    assert_eq!(within(&rt, "get missing", kv.get("a")).await.unwrap(), None);
    let r1 = within(&rt, "put", kv.put("a", "1".into())).await.unwrap();
    let r2 = within(&rt, "put", kv.put("b.c", "x".into())).await.unwrap();
    let r3 = within(&rt, "put", kv.put("a", "2".into())).await.unwrap();
    assert_eq!((r1, r2, r3), (1, 2, 3));
    assert_eq!(within(&rt, "get", kv.get("a")).await.unwrap().as_deref(), Some(&b"2"[..]));
    let entry = within(&rt, "entry", kv.entry("a")).await.unwrap().unwrap();
    assert_eq!((entry.key.as_str(), entry.revision, entry.operation), ("a", 3, Operation::Put));
    assert_eq!(entry.bucket, "crud");
    let old = within(&rt, "revision", kv.entry_for_revision("a", 1)).await.unwrap().unwrap();
    assert_eq!(&old.value[..], b"1");
    // A revision of another key is not this key's.
    assert_eq!(within(&rt, "revision of b", kv.entry_for_revision("a", 2)).await.unwrap(), None);

    // History keeps 3 revisions.
    within(&rt, "put", kv.put("a", "3".into())).await.unwrap();
    within(&rt, "put", kv.put("a", "4".into())).await.unwrap();
    let history = within(&rt, "history", all(kv.history("a"))).await.unwrap();
    assert_eq!(history.iter().map(|e| e.revision).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(&history[2].value[..], b"4");
    assert!(within(&rt, "history none", all(kv.history("none"))).await.unwrap().is_empty());
    let mut keys = within(&rt, "keys", all(kv.keys())).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b.c"]);

    let status = within(&rt, "status", kv.status()).await.unwrap();
    assert_eq!((status.bucket.as_str(), status.history, status.values), ("crud", 3, 4));

    // Invalid keys and buckets are refused before anything is sent.
    for bad in ["", ".a", "a.", "a b", "a*", "a>"] {
        let err = within(&rt, "bad put", kv.put(bad, "x".into())).await.unwrap_err();
        assert_eq!(err, PutError::InvalidKey(InvalidKey(bad.into())));
        let err = within(&rt, "bad get", kv.get(bad)).await.unwrap_err();
        assert_eq!(err, EntryError::InvalidKey(InvalidKey(bad.into())));
    }
    let err = within(&rt, "bad watch", kv.watch("a.>.b")).await.unwrap_err();
    assert!(matches!(err, WatchError::InvalidKey(_)), "{err:?}");
    let err = within(&rt, "bad bucket", js.create_key_value(Config::new("a.b"))).await.unwrap_err();
    assert!(matches!(err, BucketError::InvalidConfig(_)), "{err:?}");
    let err =
        within(&rt, "bad history", js.create_key_value(Config::new("h").history(65))).await.unwrap_err();
    assert!(matches!(err, BucketError::InvalidConfig(_)), "{err:?}");

    // A bucket's configuration changes.
    let updated =
        within(&rt, "update bucket", js.update_key_value(Config::new("crud").history(6))).await.unwrap();
    assert_eq!(within(&rt, "status", updated.status()).await.unwrap().history, 6);
    let err = within(&rt, "update missing", js.update_key_value(Config::new("nope"))).await.unwrap_err();
    assert_eq!(err, BucketError::NotFound);

    // Another handle, then deletion of the bucket.
    let again = within(&rt, "get bucket", js.get_key_value("crud")).await.unwrap();
    assert_eq!(within(&rt, "get", again.get("b.c")).await.unwrap().as_deref(), Some(&b"x"[..]));
    within(&rt, "delete bucket", js.delete_key_value("crud")).await.unwrap();
    let err = within(&rt, "get deleted bucket", js.get_key_value("crud")).await.unwrap_err();
    assert_eq!(err, BucketError::NotFound);
}

async fn create_and_update_conflicts<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let kv = within(
        &rt,
        "create",
        js.create_key_value(Config::new("cas").history(5).storage(StorageType::Memory)),
    )
    .await
    .unwrap();
    let r1 = within(&rt, "create", kv.create("k", "v1".into())).await.unwrap();
    let err = within(&rt, "create again", kv.create("k", "v2".into())).await.unwrap_err();
    assert_eq!(err, PutError::AlreadyExists { revision: r1 });
    let r2 = within(&rt, "update", kv.update("k", "v2".into(), r1)).await.unwrap();
    assert!(r2 > r1);
    let err = within(&rt, "stale update", kv.update("k", "v3".into(), r1)).await.unwrap_err();
    assert_eq!(err, PutError::WrongLastRevision);
    let err = within(&rt, "update of absent", kv.update("absent", "x".into(), 7)).await.unwrap_err();
    assert_eq!(err, PutError::WrongLastRevision);
    assert_eq!(within(&rt, "get", kv.get("k")).await.unwrap().as_deref(), Some(&b"v2"[..]));
    // After a delete (and after a purge), create succeeds again.
    within(&rt, "delete", kv.delete("k")).await.unwrap();
    let r3 = within(&rt, "create after delete", kv.create("k", "v3".into())).await.unwrap();
    within(&rt, "purge", kv.purge("k")).await.unwrap();
    let r4 = within(&rt, "create after purge", kv.create("k", "v4".into())).await.unwrap();
    assert!(r4 > r3);
    assert_eq!(within(&rt, "get", kv.get("k")).await.unwrap().as_deref(), Some(&b"v4"[..]));
}

async fn deletes_and_purges_are_visible<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let kv = within(&rt, "create", js.create_key_value(Config::new("dp").history(10))).await.unwrap();
    for (k, v) in [("a", "1"), ("b", "1"), ("a", "2"), ("c", "1"), ("b", "2")] {
        within(&rt, "put", kv.put(k, v.into())).await.unwrap();
    }
    let mut watch = within(&rt, "watch", kv.watch_all()).await.unwrap();
    // Initial values: the latest of a, c, b (in stream order), the last one marked current.
    let initial: Vec<Entry> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(next_entry(&rt, &mut watch).await);
        }
        v
    };
    assert_eq!(
        values(&initial),
        [("a", "2"), ("c", "1"), ("b", "2")].map(|(k, v)| (k.to_owned(), v.to_owned(), Operation::Put))
    );
    assert_eq!(initial.iter().map(|e| e.seen_current).collect::<Vec<_>>(), [false, false, true]);

    within(&rt, "delete", kv.delete("a")).await.unwrap();
    within(&rt, "purge", kv.purge("b")).await.unwrap();
    let deleted = next_entry(&rt, &mut watch).await;
    assert_eq!(
        (deleted.key.as_str(), deleted.operation, deleted.seen_current),
        ("a", Operation::Delete, true)
    );
    let purged = next_entry(&rt, &mut watch).await;
    assert_eq!((purged.key.as_str(), purged.operation), ("b", Operation::Purge));

    assert_eq!(within(&rt, "get deleted", kv.get("a")).await.unwrap(), None);
    let marker = within(&rt, "entry deleted", kv.entry("a")).await.unwrap().unwrap();
    assert_eq!(marker.operation, Operation::Delete);
    assert_eq!(within(&rt, "keys", all(kv.keys())).await.unwrap(), ["c"]);
    // The delete keeps a's history; the purge removed b's.
    let history = within(&rt, "history a", all(kv.history("a"))).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.operation).collect::<Vec<_>>(),
        [Operation::Put, Operation::Put, Operation::Delete]
    );
    let history = within(&rt, "history b", all(kv.history("b"))).await.unwrap();
    assert_eq!(history.iter().map(|e| e.operation).collect::<Vec<_>>(), [Operation::Purge]);
    // Everything deleted: no keys.
    within(&rt, "delete c", kv.delete("c")).await.unwrap();
    assert!(within(&rt, "keys", all(kv.keys())).await.unwrap().is_empty());
}

async fn watch_options<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let kv = within(&rt, "create", js.create_key_value(Config::new("w").history(5))).await.unwrap();
    for (k, v) in [("x.1", "a"), ("x.2", "b"), ("x.1", "c"), ("y", "d")] {
        within(&rt, "put", kv.put(k, v.into())).await.unwrap();
    }
    // A pattern with history.
    let mut history = within(&rt, "watch history", kv.watch_with_history("x.*")).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_entry(&rt, &mut history).await);
    }
    assert_eq!(got.iter().map(|e| e.revision).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(got[2].seen_current && !got[1].seen_current);
    // Updates only, ignoring deletes.
    let options = WatchOptions::default().start(WatchStart::UpdatesOnly).ignore_deletes(true);
    let mut updates = within(&rt, "watch updates", kv.watch_with(">", options)).await.unwrap();
    // One key of an empty pattern: everything is an update.
    let mut single = within(&rt, "watch one", kv.watch("z")).await.unwrap();
    within(&rt, "flush", js.client().flush()).await.unwrap();
    within(&rt, "delete", kv.delete("x.2")).await.unwrap();
    within(&rt, "put", kv.put("z", "e".into())).await.unwrap();
    let e = next_entry(&rt, &mut updates).await;
    assert_eq!((e.key.as_str(), &e.value[..], e.seen_current), ("z", &b"e"[..], true));
    let e = next_entry(&rt, &mut single).await;
    assert_eq!((e.key.as_str(), e.revision), ("z", 6));
    let e = next_entry(&rt, &mut history).await;
    assert_eq!((e.key.as_str(), e.operation), ("x.2", Operation::Delete));
}

/// Updates made while the server is down and after it restarts are all delivered, once, in
/// order.
async fn watch_survives_a_restart<R: Runtime>(rt: R) {
    let mut server = NatsServer::jetstream();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let js = nats_jetstream::new(client.clone());
    let kv = within(&rt, "create", js.create_key_value(Config::new("r"))).await.unwrap();
    for i in 0..5 {
        within(&rt, "put", kv.put(&format!("k{i}"), format!("v{i}").into())).await.unwrap();
    }
    let mut watch = within(&rt, "watch", kv.watch_all()).await.unwrap();
    for i in 0..5 {
        let e = next_entry(&rt, &mut watch).await;
        assert_eq!((e.key.clone(), e.revision), (format!("k{i}"), i + 1));
    }
    server.restart();
    wait_for_event(&rt, &mut events, "reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    // Writes after the restart (retried while JetStream comes back).
    for i in 5..10u64 {
        within(&rt, "put after restart", async {
            loop {
                match kv.put(&format!("k{i}"), format!("v{i}").into()).await {
                    Ok(revision) => break revision,
                    Err(PutError::Publish(_)) => {
                        rt.sleep_until(std::time::Instant::now() + Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        })
        .await;
    }
    for i in 5..10 {
        // The first may wait for the watch to notice the restart (missed heartbeats).
        let e = nats_integration_tests::with_timeout(&rt, Duration::from_secs(30), watch.next())
            .await
            .expect("entry after the restart in time")
            .expect("watch ended")
            .expect("watch entry");
        assert_eq!((e.key.clone(), &e.value[..]), (format!("k{i}"), format!("v{i}").as_bytes()));
        assert_eq!(e.revision, i + 1, "no update lost or repeated");
    }
}

const PY_WRITE: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="py", history=5)
    await kv.put("color", b"red")
    await kv.put("color", b"green")
    await kv.put("shape", b"circle")
    await kv.put("gone", b"x")
    await kv.delete("gone")
    await kv.put("wiped", b"1")
    await kv.put("wiped", b"2")
    await kv.purge("wiped")
    rev = await kv.create("new.key", b"n")
    print("created", rev)
    await nc.close()

asyncio.run(main())
"#;

async fn python_writes_we_read<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let out = run_python(PY_WRITE, &[&server.url()]);
    assert_eq!(out.stdout.trim(), "created 9", "{out:?}");

    let kv = within(&rt, "get bucket", js.get_key_value("py")).await.unwrap();
    let status = within(&rt, "status", kv.status()).await.unwrap();
    assert_eq!(status.history, 5);
    assert_eq!(within(&rt, "get", kv.get("color")).await.unwrap().as_deref(), Some(&b"green"[..]));
    assert_eq!(within(&rt, "get", kv.get("new.key")).await.unwrap().as_deref(), Some(&b"n"[..]));
    assert_eq!(within(&rt, "get deleted", kv.get("gone")).await.unwrap(), None);
    assert_eq!(within(&rt, "get purged", kv.get("wiped")).await.unwrap(), None);
    let mut keys = within(&rt, "keys", all(kv.keys())).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["color", "new.key", "shape"]);
    let history = within(&rt, "history", all(kv.history("color"))).await.unwrap();
    assert_eq!(
        values(&history),
        [("color", "red"), ("color", "green")].map(|(k, v)| (k.to_owned(), v.to_owned(), Operation::Put))
    );
    let history = within(&rt, "history gone", all(kv.history("gone"))).await.unwrap();
    assert_eq!(history.iter().map(|e| e.operation).collect::<Vec<_>>(), [Operation::Put, Operation::Delete]);
    let history = within(&rt, "history wiped", all(kv.history("wiped"))).await.unwrap();
    assert_eq!(history.iter().map(|e| e.operation).collect::<Vec<_>>(), [Operation::Purge]);
    // A watch from a revision of their writes: revision 3 ("shape") and every stored one
    // after it, in order, deletes and purges included (the purge of "wiped" rolled up its
    // revisions 6 and 7: its marker, 8, stays).
    let options = WatchOptions::default().start(WatchStart::FromRevision(3));
    let mut from_3 = within(&rt, "watch from 3", kv.watch_with(">", options)).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let e = next_entry(&rt, &mut from_3).await;
        seen.push((e.revision, e.key, e.operation));
    }
    let expected = [
        (3, "shape", Operation::Put),
        (4, "gone", Operation::Put),
        (5, "gone", Operation::Delete),
        (8, "wiped", Operation::Purge),
        (9, "new.key", Operation::Put),
    ]
    .map(|(r, k, o)| (r, k.to_owned(), o));
    assert_eq!(seen, expected);
    // Our write on their bucket: create conflicts with their key.
    let err = within(&rt, "create", kv.create("color", "x".into())).await.unwrap_err();
    assert!(matches!(err, PutError::AlreadyExists { revision: 2 }), "{err:?}");
}

const PY_READ: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    js = nc.jetstream()
    kv = await js.key_value("rs")
    status = await kv.status()
    print("history", status.history)
    e = await kv.get("color")
    print("get", e.key, e.value.decode(), e.revision)
    for key in ["gone", "wiped"]:
        try:
            await kv.get(key)
            print("found", key)
        except nats.js.errors.KeyNotFoundError:
            print("missing", key)
    print("keys", ",".join(sorted(await kv.keys())))
    for e in await kv.history("color"):
        print("history", e.key, e.value.decode(), e.revision, e.operation)
    for e in await kv.history("gone"):
        print("history", e.key, e.revision, e.operation)
    # nats-py's history intermittently raises NoKeysError under load for a key whose only
    # revision is a marker (its watcher can report the end before the entry): retry.
    for attempt in range(5):
        try:
            wiped = await kv.history("wiped")
            break
        except nats.js.errors.NoKeysError:
            if attempt == 4:
                raise
    for e in wiped:
        print("history", e.key, e.revision, e.operation)
    await nc.close()

asyncio.run(main())
"#;

async fn we_write_python_reads<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let kv = within(&rt, "create", js.create_key_value(Config::new("rs").history(4))).await.unwrap();
    within(&rt, "put", kv.put("color", "red".into())).await.unwrap();
    within(&rt, "put", kv.put("color", "blue".into())).await.unwrap();
    within(&rt, "put", kv.put("gone", "x".into())).await.unwrap();
    within(&rt, "delete", kv.delete("gone")).await.unwrap();
    within(&rt, "put", kv.put("wiped", "1".into())).await.unwrap();
    within(&rt, "purge", kv.purge("wiped")).await.unwrap();
    within(&rt, "create", kv.create("shape", "square".into())).await.unwrap();

    let out = run_python(PY_READ, &[&server.url()]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "history 4",
            "get color blue 2",
            "missing gone",
            "missing wiped",
            "keys color,shape",
            "history color red 1 None",
            "history color blue 2 None",
            "history gone 3 None",
            "history gone 4 DEL",
            "history wiped 6 PURGE",
        ],
        "{out:?}"
    );
}

/// On a bucket with limit markers (servers since 2.11), a key its age limit removed leaves
/// a marker (`Nats-Marker-Reason: MaxAge`): it reads as purged, not as an empty value, and
/// `keys` leaves it out.
async fn an_expired_key_reads_as_purged<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store =
        within(&rt, "create", js.create_key_value(Config::new("markers").max_age(Duration::from_secs(1))))
            .await
            .unwrap();
    // Markers on, as a 2.11 client creates the bucket.
    let mut stream = within(&rt, "info", js.stream_info("KV_markers")).await.unwrap().config;
    stream.allow_message_ttl = true;
    stream.subject_delete_marker_ttl = Duration::from_secs(60);
    within(&rt, "update", js.update_stream(stream)).await.unwrap();

    let mut watch = within(&rt, "watch", store.watch("k")).await.unwrap();
    within(&rt, "put", store.put("k", "v".into())).await.unwrap();
    within(&rt, "put", store.put("other", "kept".into())).await.unwrap();
    assert_eq!(next_entry(&rt, &mut watch).await.operation, Operation::Put);
    // The expiry arrives as the marker on the watch: awaited, not slept for.
    let marker = next_entry(&rt, &mut watch).await;
    assert_eq!((marker.key.as_str(), marker.operation), ("k", Operation::Purge));
    assert_eq!(within(&rt, "get", store.get("k")).await.unwrap(), None);
    let entry = within(&rt, "entry", store.entry("k")).await.unwrap();
    assert_eq!(entry.map(|e| e.operation), Some(Operation::Purge));
    let keys = within(&rt, "keys", all(store.keys())).await.unwrap();
    assert!(!keys.contains(&"k".to_owned()), "{keys:?}");
}

async fn per_key_ttls_expected_revisions_and_watch_from_a_revision<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let config = Config::new("ttl").limit_markers(Duration::from_secs(60)).storage(StorageType::Memory);
    let store = within(&rt, "create", js.create_key_value(config)).await.unwrap();
    let status = within(&rt, "status", store.status()).await.unwrap();
    assert!(status.info.config.allow_message_ttl);
    assert_eq!(status.info.config.subject_delete_marker_ttl, Duration::from_secs(60));
    assert_eq!((status.limit_markers, status.backing_store.as_str()), (Duration::from_secs(60), "KV_ttl"));
    assert!(!status.compressed && status.mirror.is_none() && status.sources.is_empty());

    // A key with a TTL goes by itself; its marker reaches the watch.
    let mut watch = within(&rt, "watch", store.watch("session")).await.unwrap();
    within(&rt, "create", store.create_with_ttl("session", "s1".into(), Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(next_entry(&rt, &mut watch).await.operation, Operation::Put);
    let gone = next_entry(&rt, &mut watch).await;
    assert_eq!((gone.key.as_str(), gone.operation), ("session", Operation::Purge));
    assert_eq!(within(&rt, "get", store.get("session")).await.unwrap(), None);
    let again =
        within(&rt, "create again", store.create_with_ttl("session", "s2".into(), Duration::from_secs(60)));
    again.await.unwrap();
    let err = within(
        &rt,
        "create existing",
        store.create_with_ttl("session", "s3".into(), Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PutError::AlreadyExists { .. }), "{err:?}");

    // Deletes and purges that expect a revision.
    let revision = within(&rt, "put", store.put("k", "v1".into())).await.unwrap();
    let err = within(&rt, "stale delete", store.delete_expect_revision("k", revision - 1)).await.unwrap_err();
    assert!(matches!(err, PutError::WrongLastRevision), "{err:?}");
    within(&rt, "delete", store.delete_expect_revision("k", revision)).await.unwrap();
    let deleted = within(&rt, "entry", store.entry("k")).await.unwrap().unwrap();
    assert_eq!(deleted.operation, Operation::Delete);
    let err = within(&rt, "stale purge", store.purge_expect_revision("k", revision)).await.unwrap_err();
    assert!(matches!(err, PutError::WrongLastRevision), "{err:?}");
    within(&rt, "purge", store.purge_expect_revision("k", deleted.revision)).await.unwrap();

    // A watch from a revision: that revision and later ones, then updates.
    let a = within(&rt, "a", store.put("w.a", "1".into())).await.unwrap();
    let b = within(&rt, "b", store.put("w.b", "2".into())).await.unwrap();
    let mut from_b = within(
        &rt,
        "watch from b",
        store.watch_with("w.>", WatchOptions::default().start(WatchStart::FromRevision(b))),
    )
    .await
    .unwrap();
    let first = next_entry(&rt, &mut from_b).await;
    assert_eq!((first.key.as_str(), first.revision), ("w.b", b), "not w.a at {a}");
    within(&rt, "c", store.put("w.c", "3".into())).await.unwrap();
    assert_eq!(next_entry(&rt, &mut from_b).await.key, "w.c");
}

/// nats-py creates a key with a TTL that expires here (seen on a watch), and watches a key
/// created here with a TTL until its marker reads as a purge there.
const PY_KEY_TTLS: &str = r#"
import asyncio, sys, nats

async def main():
    nc = await asyncio.wait_for(nats.connect(sys.argv[1]), 5)
    kv = await nc.jetstream().key_value("shared")
    if sys.argv[2] == "create":
        await kv.create("from-python", b"p", msg_ttl=1.0)
        print("created")
    else:
        watcher = await kv.watch("from-rust")
        async def until_purged():
            async for entry in watcher:
                if entry is not None and entry.operation == "PURGE":
                    return entry.key
        print(await asyncio.wait_for(until_purged(), 20))
    await nc.close()

asyncio.run(main())
"#;

async fn key_ttls_across_clients<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let config = Config::new("shared").limit_markers(Duration::from_secs(60)).storage(StorageType::Memory);
    let store = within(&rt, "create", js.create_key_value(config)).await.unwrap();

    let mut watch = within(&rt, "watch", store.watch("from-python")).await.unwrap();
    let out = run_python(PY_KEY_TTLS, &[&server.url(), "create"]);
    assert_eq!(out.stdout.trim(), "created");
    assert_eq!(next_entry(&rt, &mut watch).await.operation, Operation::Put);
    let expired = next_entry(&rt, &mut watch).await;
    assert_eq!((expired.key.as_str(), expired.operation), ("from-python", Operation::Purge));

    // Python watches first (it prints once the key is purged), then the key is created here.
    let python = nats_integration_tests::spawn_python(PY_KEY_TTLS, &[&server.url(), "watch"]);
    let mut own = within(&rt, "own watch", store.watch("from-rust")).await.unwrap();
    within(&rt, "create", store.create_with_ttl("from-rust", "r".into(), Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(next_entry(&rt, &mut own).await.operation, Operation::Put);
    assert_eq!(next_entry(&rt, &mut own).await.operation, Operation::Purge);
    assert_eq!(python.wait().stdout.trim(), "from-rust", "nats-py read the expiry as a purge");
}

async fn keys_and_watches_of_several_filters<R: Runtime>(rt: R) {
    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let store =
        within(&rt, "create", js.create_key_value(Config::new("filters").storage(StorageType::Memory)))
            .await
            .unwrap();
    for key in ["users.a", "users.b", "orders.1", "carts.x"] {
        within(&rt, "put", store.put(key, key.to_owned().into())).await.unwrap();
    }
    within(&rt, "delete", store.delete("users.b")).await.unwrap();
    let mut keys = within(&rt, "keys", all(store.keys_matching(&["users.*", "orders.>"]))).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["orders.1", "users.a"], "deleted and unmatched keys left out");
    assert_eq!(within(&rt, "all keys", all(store.keys())).await.unwrap().len(), 3);

    let mut watch = within(
        &rt,
        "watch",
        store.watch_many_with(&["users.*", "carts.*"], WatchOptions::default().meta_only(true)),
    )
    .await
    .unwrap();
    let mut initial = Vec::new();
    loop {
        let entry = next_entry(&rt, &mut watch).await;
        assert!(entry.value.is_empty(), "meta only: no value");
        initial.push((entry.key.clone(), entry.operation));
        if entry.seen_current {
            break;
        }
    }
    initial.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        initial,
        [
            ("carts.x".to_owned(), Operation::Put),
            ("users.a".to_owned(), Operation::Put),
            ("users.b".to_owned(), Operation::Delete)
        ]
    );
    within(&rt, "put", store.put("orders.2", "o".into())).await.unwrap();
    within(&rt, "put", store.put("carts.y", "c".into())).await.unwrap();
    assert_eq!(next_entry(&rt, &mut watch).await.key, "carts.y", "orders.2 is not watched");
}

/// A bucket mirroring another is read from the mirror (gets, keys, watches, under the
/// origin's keys) and written through to the origin; a bucket with a source receives the
/// source's keys under its own name.
async fn mirrors_and_sources<R: Runtime>(rt: R) {
    use nats_jetstream::Source;

    let server = NatsServer::jetstream();
    let js = nats_jetstream::new(connect(&rt, &server.url()).await);
    let origin = within(&rt, "origin", js.create_key_value(Config::new("origin").history(3))).await.unwrap();
    within(&rt, "put", origin.put("a", "1".into())).await.unwrap();
    within(&rt, "put", origin.put("b", "2".into())).await.unwrap();

    let config = Config { mirror: Some(Source::new("origin")), ..Config::new("copy") };
    let copy = within(&rt, "mirror", js.create_key_value(config)).await.unwrap();
    let status = within(&rt, "status", copy.status()).await.unwrap();
    assert!(status.info.config.subjects.is_empty() && status.info.config.mirror_direct, "{:?}", status.info);
    assert_eq!(status.mirror.map(|m| m.name).as_deref(), Some("KV_origin"));
    let mut watch = within(&rt, "watch the mirror", copy.watch_all()).await.unwrap();
    for (key, value) in [("a", "1"), ("b", "2")] {
        let e = next_entry(&rt, &mut watch).await;
        assert_eq!((e.bucket.as_str(), e.key.as_str(), &e.value[..]), ("copy", key, value.as_bytes()));
    }
    // A write through the mirror lands in the origin, then comes back through the mirror.
    let revision = within(&rt, "put through the mirror", copy.put("c", "3".into())).await.unwrap();
    assert_eq!(revision, 3, "the origin's revision");
    assert_eq!(within(&rt, "origin get", origin.get("c")).await.unwrap().as_deref(), Some(&b"3"[..]));
    let e = next_entry(&rt, &mut watch).await;
    assert_eq!((e.key.as_str(), &e.value[..], e.revision), ("c", &b"3"[..], 3));
    assert_eq!(within(&rt, "mirror get", copy.get("a")).await.unwrap().as_deref(), Some(&b"1"[..]));
    let mut keys = within(&rt, "mirror keys", all(copy.keys())).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);

    // A bucket sourcing the origin: its keys under this bucket's subjects.
    let config = Config { sources: vec![Source::new("origin")], ..Config::new("merged") };
    let merged = within(&rt, "sourced", js.create_key_value(config)).await.unwrap();
    let mut watch = within(&rt, "watch the sourced bucket", merged.watch_all()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = next_entry(&rt, &mut watch).await;
        seen.push((e.key, String::from_utf8(e.value.to_vec()).unwrap()));
    }
    seen.sort();
    assert_eq!(seen, [("a".into(), "1".into()), ("b".into(), "2".into()), ("c".into(), "3".into())]);
    within(&rt, "own put", merged.put("d", "4".into())).await.unwrap();
    assert_eq!(within(&rt, "own get", merged.get("d")).await.unwrap().as_deref(), Some(&b"4"[..]));
    assert_eq!(within(&rt, "sourced get", merged.get("a")).await.unwrap().as_deref(), Some(&b"1"[..]));
}
