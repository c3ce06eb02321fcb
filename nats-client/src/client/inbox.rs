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
        format!("{}.{}", self.inner.options.proto.inbox_prefix, self.new_token())
    }

    /// A fresh random token of 22 base62 characters (the shape of a NUID), from the
    /// connection's random source: unique within the process, unpredictable across
    /// processes (seeded from the browser's crypto in a page). Object names in an object
    /// store, service ids and consumer names take it. With a fixed
    /// [`rng_seed`](crate::ConnectOptions::rng_seed) the tokens follow from the seed
    /// alone (the n-th token of a connection is the same on every run: simulations
    /// replay), which is why two live connections must not share a seed.
    ///
    /// ```no_run
    /// # fn example(client: nats_client::Client) {
    /// let id = client.new_token();
    /// assert_eq!(id.len(), 22);
    /// # }
    /// ```
    pub fn new_token(&self) -> String {
        let n = self.inner.tokens.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.inner.options.proto.rng_seed {
            Some(seed) => seeded_token(seed, n),
            None => inbox_token(),
        }
    }
}

/// The `n`-th token of a connection seeded with `seed`: two SplitMix64 steps, no hasher
/// keyed at random.
fn seeded_token(seed: u64, n: u64) -> String {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let base = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_add(0x6e75_6964);
    let value = (u128::from(mix(base)) << 64) | u128::from(mix(base ^ 0xa5a5_a5a5_a5a5_a5a5));
    base62(value)
}

/// A 22-character token, unique within the process (a counter) and unpredictable across
/// processes (hashed with a randomly keyed hasher): for connections without a seed.
fn inbox_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static KEYS: OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = KEYS.get_or_init(Default::default);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut high = a.build_hasher();
    let mut low = b.build_hasher();
    high.write_u64(n);
    low.write_u64(n);
    base62((u128::from(high.finish()) << 64) | u128::from(low.finish() ^ n))
}

/// 22 base62 characters of `value`.
fn base62(mut value: u128) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut token = String::with_capacity(22);
    for _ in 0..22 {
        token.push(char::from(ALPHABET[(value % 62) as usize]));
        value /= 62;
    }
    token
}
