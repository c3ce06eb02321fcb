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
    client.publish("auth.check", "ok").await.unwrap();
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
    client.publish("shared", "hi carol").await.unwrap();
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
