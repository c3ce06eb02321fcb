//! Inboxes and tokens: subjects for replies under the connection's prefix, and NUID-shaped
//! random tokens, from the connection's random source.

use super::Client;

impl Client {
    /// A fresh, unique subject under the connection's inbox prefix (`_INBOX.<token>` by
    /// default), for subscriptions that receive replies (JetStream pull requests, say).
    ///
    /// ```no_run
    /// # async fn example(client: nats_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// let inbox = client.new_inbox();
    /// let mut replies = client.subscribe(&inbox).await?;
    /// client.publish_with_reply("jobs.start", &inbox, "job-1".into()).await?;
    /// let progress = replies.next().await;
    /// println!("{progress:?}");
    /// # Ok(()) }
    /// ```
    pub fn new_inbox(&self) -> String {
        format!(
            "{}.{}",
            self.inner.options.proto.inbox_prefix,
            inbox_token(self.inner.options.proto.rng_seed)
        )
    }

    /// A fresh random token of 22 base62 characters (the shape of a NUID), from the
    /// connection's random source: unique within the process, unpredictable across
    /// processes (seeded from the browser's crypto in a page). Object names in an object
    /// store, service ids and consumer names take it.
    ///
    /// ```no_run
    /// # fn example(client: nats_client::Client) {
    /// let id = client.new_token();
    /// assert_eq!(id.len(), 22);
    /// # }
    /// ```
    pub fn new_token(&self) -> String {
        inbox_token(self.inner.options.proto.rng_seed)
    }
}

/// A 22-character token, unique within the process (a counter) and unpredictable across
/// processes (hashed with a randomly keyed hasher, and the connection's random seed when
/// it has one: in the browser std's hasher keys are fixed, and the seed comes from the
/// browser's crypto).
fn inbox_token(seed: Option<u64>) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static KEYS: OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = KEYS.get_or_init(Default::default);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut high = a.build_hasher();
    let mut low = b.build_hasher();
    if let Some(seed) = seed {
        high.write_u64(seed);
        low.write_u64(seed.rotate_left(32));
    }
    high.write_u64(n);
    low.write_u64(n);
    let mut value = (u128::from(high.finish()) << 64) | u128::from(low.finish() ^ n);
    let mut token = String::with_capacity(22);
    for _ in 0..22 {
        token.push(char::from(ALPHABET[(value % 62) as usize]));
        value /= 62;
    }
    token
}
