//! Authentication against a real server, each on tokio, smol and async-std: user and
//! password, token, nkey and JWT (operator mode), each accepted with the right credentials
//! and rejected with wrong or missing ones.

use futures_util::StreamExt;
use nats_client::{Client, ConnectError, ConnectOptions, ConnectionError, Runtime};
use nats_integration_tests::{
    connect_with, next_message, runtime_tests, try_connect, within, NKeyUser, NatsServer, OperatorSetup,
    ServerAuth, ServerConfig,
};

runtime_tests!(user_password, token, nkey, jwt);

/// The connection works: a message goes round trip.
async fn assert_usable<R: Runtime>(rt: &R, client: &Client) {
    let mut sub = client.subscribe("auth.check").await.unwrap();
    within(rt, "flush", client.flush()).await.unwrap();
    client.publish("auth.check", "ok".into()).await.unwrap();
    assert_eq!(&next_message(rt, &mut sub).await.payload[..], b"ok");
    within(rt, "close", client.close()).await;
    assert_eq!(client.last_error(), None);
    assert_eq!(within(rt, "end", sub.next()).await, None);
}

/// Connecting fails with `NoServers` and an authorization error from the server.
async fn assert_rejected<R: Runtime>(rt: &R, url: &str, options: ConnectOptions) {
    let error = try_connect(rt, url, options).await.expect_err("the server must reject these credentials");
    assert!(error.is_auth_error(), "not an auth error: {error:?}");
    let ConnectError::NoServers { last: Some(ConnectionError::Server(server_error)) } = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert!(server_error.message().to_lowercase().contains("authorization"), "{server_error:?}");
}

async fn user_password<R: Runtime>(rt: R) {
    let auth = ServerAuth::UserPassword { user: "alice".into(), password: "s3cret".into() };
    let server = NatsServer::start(ServerConfig::new().auth(auth));
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().user_and_password("alice", "s3cret")).await;
    assert_eq!(client.server_info().map(|i| i.auth_required), Some(true));
    assert_usable(&rt, &client).await;
    let client = connect_with(&rt, &server.url_with_credentials("alice:s3cret"), ConnectOptions::new()).await;
    assert_usable(&rt, &client).await;
    // URL credentials take precedence over the options'.
    let options = ConnectOptions::new().user_and_password("alice", "wrong");
    let client = connect_with(&rt, &server.url_with_credentials("alice:s3cret"), options).await;
    assert_usable(&rt, &client).await;

    assert_rejected(&rt, &server.url(), ConnectOptions::new().user_and_password("alice", "wrong")).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new().user_and_password("mallory", "s3cret")).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new()).await;
    assert_rejected(&rt, &server.url_with_credentials("alice:nope"), ConnectOptions::new()).await;
}

async fn token<R: Runtime>(rt: R) {
    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Token("t0k3n-abc".into())));
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().token("t0k3n-abc")).await;
    assert_usable(&rt, &client).await;
    let client = connect_with(&rt, &server.url_with_credentials("t0k3n-abc"), ConnectOptions::new()).await;
    assert_usable(&rt, &client).await;

    assert_rejected(&rt, &server.url(), ConnectOptions::new().token("t0k3n-xyz")).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new()).await;
}

async fn nkey<R: Runtime>(rt: R) {
    let user = NKeyUser::generate();
    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::NKeys(vec![user.public.clone()])));
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().nkey(user.seed.clone())).await;
    // The nonce belongs to the handshake's INFO: nats-server 2.15 sends a new INFO after the
    // CONNECT without one, and `server_info()` is the latest INFO, so it is not checked here.
    // That the nonce was signed is shown by the stranger's key being rejected below.
    assert_usable(&rt, &client).await;

    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed)).unwrap();
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().nkey_seed_file(&seed_file)).await;
    assert_usable(&rt, &client).await;

    let stranger = NKeyUser::generate();
    assert_rejected(&rt, &server.url(), ConnectOptions::new().nkey(stranger.seed)).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new().user_and_password("u", "p")).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new()).await;
}

async fn jwt<R: Runtime>(rt: R) {
    let setup = OperatorSetup::generate();
    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Operator(setup.clone())));
    let options = ConnectOptions::new().credentials(&setup.user_creds("alice")).unwrap();
    let client = connect_with(&rt, &server.url(), options).await;
    assert_usable(&rt, &client).await;

    let dir = tempfile::tempdir().unwrap();
    let creds_file = dir.path().join("bob.creds");
    std::fs::write(&creds_file, setup.user_creds("bob")).unwrap();
    let client = connect_with(&rt, &server.url(), ConnectOptions::new().credentials_file(&creds_file)).await;
    // Two users of one account share subjects.
    let other = connect_with(
        &rt,
        &server.url(),
        ConnectOptions::new().credentials(&setup.user_creds("carol")).unwrap(),
    )
    .await;
    let mut sub = other.subscribe("shared").await.unwrap();
    within(&rt, "flush", other.flush()).await.unwrap();
    client.publish("shared", "hi carol".into()).await.unwrap();
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"hi carol");
    within(&rt, "close", other.close()).await;
    assert_eq!(within(&rt, "end", sub.next()).await, None);
    assert_usable(&rt, &client).await;

    let foreign = ConnectOptions::new().credentials(&setup.foreign_user_creds("eve")).unwrap();
    assert_rejected(&rt, &server.url(), foreign).await;
    let mismatched = ConnectOptions::new().credentials(&setup.mismatched_seed_creds("eve")).unwrap();
    assert_rejected(&rt, &server.url(), mismatched).await;
    assert_rejected(&rt, &server.url(), ConnectOptions::new()).await;
}

// ----- credentials that change: JWT signing functions, the auth callback, repeated
// refusals. One runtime each: the protocol part is runtime-neutral and tested on the
// virtual clock; these show it against a real server.

mod rotation {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use nats_client::{ClientEvent, ConnectOptions, ConnectionError, Credentials, ServerErrorKind};
    use nats_integration_tests::{
        connect_with, fast_reconnect, run_tokio, wait_for_event, NatsServer, OperatorSetup, ServerAuth,
        ServerConfig,
    };

    use nats_client::Client;
    use nats_integration_tests::{next_message, within};

    /// A message goes round trip (the last error may be the refusals before).
    async fn assert_round_trip<R: nats_client::Runtime>(rt: &R, client: &Client) {
        let mut sub = client.subscribe("auth.check").await.unwrap();
        within(rt, "flush", client.flush()).await.unwrap();
        client.publish("auth.check", "ok".into()).await.unwrap();
        assert_eq!(&next_message(rt, &mut sub).await.payload[..], b"ok");
        within(rt, "close", client.close()).await;
    }

    use super::assert_usable;

    fn alice(password: &str) -> ServerAuth {
        ServerAuth::UserPassword { user: "alice".into(), password: password.into() }
    }

    #[test]
    fn jwt_with_a_signing_function() {
        run_tokio(|rt| async move {
            let setup = OperatorSetup::generate();
            let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Operator(setup.clone())));
            let (jwt, key) = setup.user("signer");
            let signs = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&signs);
            let options = ConnectOptions::new().jwt(jwt, move |nonce: &[u8]| {
                counter.fetch_add(1, Ordering::SeqCst);
                key.sign(nonce).map_err(|e| e.to_string())
            });
            let client = connect_with(&rt, &server.url(), options).await;
            assert_eq!(signs.load(Ordering::SeqCst), 1, "the nonce was signed once");
            assert_usable(&rt, &client).await;

            // A signer that fails fails the attempt with a typed error.
            let options = ConnectOptions::new()
                .jwt(setup.user("broken").0, |_: &[u8]| Err::<Vec<u8>, _>("key store offline"));
            let error = nats_integration_tests::try_connect(&rt, &server.url(), options).await.unwrap_err();
            assert!(
                matches!(
                    &error,
                    nats_client::ConnectError::NoServers {
                        last: Some(ConnectionError::Auth(nats_client::AuthError::Signing(m)))
                    } if m == "key store offline"
                ),
                "{error:?}"
            );
        });
    }

    #[test]
    fn the_auth_callback_signs_the_nonce_with_a_jwt() {
        run_tokio(|rt| async move {
            let setup = OperatorSetup::generate();
            let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Operator(setup.clone())));
            let (jwt, key) = setup.user("callback");
            let key = Arc::new(key);
            let options = ConnectOptions::new().auth_callback(move |nonce| {
                let (jwt, key) = (jwt.clone(), Arc::clone(&key));
                async move {
                    assert!(!nonce.is_empty(), "an operator-mode server sends a nonce");
                    let signature = key.sign(&nonce).map_err(|e| e.to_string())?;
                    Ok::<_, String>(Credentials::new().with_jwt(jwt).with_signature(&signature))
                }
            });
            let client = connect_with(&rt, &server.url(), options).await;
            assert_usable(&rt, &client).await;
        });
    }

    #[test]
    fn the_auth_callback_gives_the_rotated_password_on_reconnect() {
        run_tokio(|rt| async move {
            let mut server = NatsServer::start(ServerConfig::new().auth(alice("pw-1")));
            let password = Arc::new(Mutex::new("pw-1".to_owned()));
            let calls = Arc::new(AtomicUsize::new(0));
            let (current, counter) = (Arc::clone(&password), Arc::clone(&calls));
            let options = fast_reconnect().auth_callback(move |_nonce| {
                counter.fetch_add(1, Ordering::SeqCst);
                let password = current.lock().unwrap().clone();
                async move { Ok::<_, String>(Credentials::new().with_user_and_password("alice", password)) }
            });
            let client = connect_with(&rt, &server.url(), options).await;
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            let mut events = client.events();
            // The password rotates: the server restarts with the new one, and the secret
            // store hands it out from now on.
            *password.lock().unwrap() = "pw-2".to_owned();
            server.restart_with_auth(alice("pw-2"));
            let (event, _) =
                wait_for_event(&rt, &mut events, "reconnected", |e| matches!(e, ClientEvent::Reconnected(_)))
                    .await;
            assert!(matches!(event, ClientEvent::Reconnected(_)));
            assert_eq!(calls.load(Ordering::SeqCst), 2, "asked once more, for the reconnect");
            assert_round_trip(&rt, &client).await;
        });
    }

    /// A callback whose call `n` (from 1) answers `password(n)`, counting calls.
    fn counted(calls: &Arc<AtomicUsize>, password: fn(usize) -> &'static str) -> ConnectOptions {
        let counter = Arc::clone(calls);
        fast_reconnect().auth_callback(move |_nonce| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Ok::<_, String>(Credentials::new().with_user_and_password("alice", password(n))) }
        })
    }

    /// The first connect succeeds with pw-1; after the server moves to pw-2 the next
    /// three attempts offer a wrong password, then pw-2.
    fn stale_then_right(n: usize) -> &'static str {
        match n {
            1 => "pw-1",
            2..=4 => "wrong",
            _ => "pw-2",
        }
    }

    #[test]
    fn the_same_refusal_twice_closes_the_connection() {
        run_tokio(|rt| async move {
            let mut server = NatsServer::start(ServerConfig::new().auth(alice("pw-1")));
            let calls = Arc::new(AtomicUsize::new(0));
            let client = connect_with(&rt, &server.url(), counted(&calls, stale_then_right)).await;
            let mut events = client.events();
            server.restart_with_auth(alice("pw-2"));
            let (event, _) =
                wait_for_event(&rt, &mut events, "closed", |e| matches!(e, ClientEvent::Closed(_))).await;
            let ClientEvent::Closed(Some(ConnectionError::RepeatedAuthError(error))) = &event else {
                panic!("{event:?}")
            };
            assert_eq!(error.kind(), &ServerErrorKind::AuthorizationViolation);
            assert_eq!(calls.load(Ordering::SeqCst), 3, "two refused attempts, then no more");
            assert!(client.last_error().is_some_and(|e| e.is_auth_error()));
        });
    }

    #[test]
    fn a_wrong_static_password_with_retries_on_closes_instead_of_looping() {
        run_tokio(|rt| async move {
            let server = NatsServer::start(ServerConfig::new().auth(alice("right")));
            let options = fast_reconnect().retry_on_initial_connect().user_and_password("alice", "wrong");
            let client = connect_with(&rt, &server.url(), options).await;
            let mut events = client.events();
            let (event, _) =
                wait_for_event(&rt, &mut events, "closed", |e| matches!(e, ClientEvent::Closed(_))).await;
            assert!(
                matches!(&event, ClientEvent::Closed(Some(ConnectionError::RepeatedAuthError(_)))),
                "{event:?}"
            );
        });
    }

    #[test]
    fn retry_on_repeated_auth_errors_keeps_trying() {
        run_tokio(|rt| async move {
            let mut server = NatsServer::start(ServerConfig::new().auth(alice("pw-1")));
            let calls = Arc::new(AtomicUsize::new(0));
            let options = counted(&calls, stale_then_right).retry_on_repeated_auth_errors();
            let client = connect_with(&rt, &server.url(), options).await;
            let mut events = client.events();
            server.restart_with_auth(alice("pw-2"));
            let (event, skipped) = wait_for_event(&rt, &mut events, "reconnected", |e| {
                matches!(e, ClientEvent::Reconnected(_) | ClientEvent::Closed(_))
            })
            .await;
            assert!(matches!(event, ClientEvent::Reconnected(_)), "{event:?} after {skipped:?}");
            assert_eq!(calls.load(Ordering::SeqCst), 5, "three refused attempts, then the right password");
            assert_round_trip(&rt, &client).await;
        });
    }
}
