//! TLS: mirrors the "TLS" section of the README of nats.py (asyncio-nats), the official
//! Python client.
//!
//! Where nats.py builds an `ssl` context (`load_verify_locations('ca.pem')`,
//! `load_cert_chain(certfile=..., keyfile=...)`), this sets the same on `ConnectOptions`:
//! `add_root_certificates` and `client_certificate` (rustls underneath; certificates are
//! always verified). Then it publishes one message to its own subscription.
//!
//! Environment:
//! - `NATS_URL`: the server, a `tls://` URL (required);
//! - `NATS_CA`: a PEM file of the CA to trust (default: the public webpki roots);
//! - `NATS_CERT` and `NATS_KEY`: a client certificate chain and its key (PEM), for servers
//!   that verify clients (`--tlsverify`).
//!
//! ```sh
//! nats-server -p 4443 --tls --tlscert server.pem --tlskey server-key.pem
//! NATS_URL=tls://127.0.0.1:4443 NATS_CA=ca.pem cargo run -p nats-tokio --example tls
//!
//! nats-server -p 4443 --tlsverify --tlscert server.pem --tlskey server-key.pem --tlscacert ca.pem
//! NATS_URL=tls://127.0.0.1:4443 NATS_CA=ca.pem NATS_CERT=client.pem NATS_KEY=client-key.pem \
//!     cargo run -p nats-tokio --example tls
//! ```

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use nats_tokio::{ConnectError, ConnectOptions};
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

const USAGE: &str = "\
usage: NATS_URL=tls://HOST:PORT [NATS_CA=ca.pem] [NATS_CERT=client.pem NATS_KEY=client-key.pem] \\
       cargo run -p nats-tokio --example tls
  NATS_URL   the server, a tls:// URL (required)
  NATS_CA    PEM file of the CA that signed the server's certificate (default: public webpki roots)
  NATS_CERT  PEM client certificate chain, with NATS_KEY, for servers that verify clients
  NATS_KEY   PEM private key of NATS_CERT";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let Some(url) = env("NATS_URL") else {
        eprintln!("{USAGE}");
        return Err("NATS_URL is not set: this example needs a TLS server (see above)".into());
    };
    if !url.split(',').all(|server| server.trim().starts_with("tls://")) {
        println!("Note: NATS_URL ({url}) is not a tls:// URL; TLS is required anyway");
    }

    let mut options = ConnectOptions::new().require_tls(true);
    match env("NATS_CA") {
        // nats.py's `ssl_ctx.load_verify_locations('ca.pem')`.
        Some(ca) => {
            println!("Trusting the CA in {ca}");
            options = options.add_root_certificates(ca);
        }
        None => println!(
            "NATS_CA is not set: trusting the public webpki roots only, so a server certificate \
             signed by a private CA will be rejected"
        ),
    }
    match (env("NATS_CERT"), env("NATS_KEY")) {
        // nats.py's `ssl_ctx.load_cert_chain(certfile=..., keyfile=...)`.
        (Some(cert), Some(key)) => {
            println!("Presenting the client certificate {cert}");
            options = options.client_certificate(cert, key);
        }
        (None, None) => println!("NATS_CERT and NATS_KEY are not set: no client certificate"),
        _ => {
            eprintln!("{USAGE}");
            return Err("set both NATS_CERT and NATS_KEY, or neither".into());
        }
    }

    let client = match nats_tokio::connect_with_options(&url, options).await {
        Ok(client) => client,
        Err(error @ ConnectError::NoServers { .. }) => {
            println!("{error}");
            println!(
                "Check NATS_URL, that NATS_CA is the CA that signed the server's certificate and, \
                 if the server verifies clients, NATS_CERT and NATS_KEY"
            );
            return Err(error.into());
        }
        // An unreadable or invalid certificate or key file.
        Err(error) => {
            println!("{error}");
            return Err(error.into());
        }
    };
    if let Some(server) = client.connected_url() {
        println!("Connected over TLS to {server}");
    }

    let mut subscriber = client.subscribe("tls.hello").await?;
    client.publish("tls.hello", "Hello over TLS".into()).await?;
    let message = timeout(WAIT, subscriber.next()).await?.ok_or("the subscription ended")?;
    println!("Received a message on '{}': {}", message.subject, String::from_utf8_lossy(&message.payload));

    client.close().await;
    Ok(())
}
