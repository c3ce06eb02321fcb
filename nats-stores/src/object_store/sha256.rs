//! Incremental SHA-256 for object digests.
//!
//! Every byte of an object is hashed on put and again on get, so the hash must run at full
//! speed in the application's own debug build too, where a pure-Rust hasher is unoptimised
//! (a dependency's `opt-level` in this workspace's profile does not carry over to the
//! applications that use the crate). On native targets this is `ring`'s SHA-256, whose
//! block function is assembly and so fast in any profile (ring is already a dependency
//! through rustls); on wasm32, where ring needs a C compiler for the target, it is the
//! pure-Rust `sha2`.

use std::fmt;

/// The length of a SHA-256 hash in bytes.
pub(crate) const LEN: usize = 32;

/// A SHA-256 hash being computed: [`update`](Self::update) with the data in any pieces,
/// then [`finish`](Self::finish).
#[derive(Clone)]
pub(crate) struct Sha256 {
    #[cfg(not(target_arch = "wasm32"))]
    inner: ring::digest::Context,
    #[cfg(target_arch = "wasm32")]
    inner: sha2::Sha256,
}

impl Sha256 {
    /// A hash of nothing yet.
    pub(crate) fn new() -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        let inner = ring::digest::Context::new(&ring::digest::SHA256);
        #[cfg(target_arch = "wasm32")]
        let inner = <sha2::Sha256 as sha2::Digest>::new();
        Self { inner }
    }

    /// Adds `data` to the hashed bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        #[cfg(not(target_arch = "wasm32"))]
        self.inner.update(data);
        #[cfg(target_arch = "wasm32")]
        sha2::Digest::update(&mut self.inner, data);
    }

    /// The hash of everything added.
    pub(crate) fn finish(self) -> [u8; LEN] {
        let mut out = [0; LEN];
        #[cfg(not(target_arch = "wasm32"))]
        out.copy_from_slice(self.inner.finish().as_ref());
        #[cfg(target_arch = "wasm32")]
        out.copy_from_slice(&sha2::Digest::finalize(self.inner));
        out
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sha256").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: [u8; LEN]) -> String {
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn one_shot(data: &[u8]) -> [u8; LEN] {
        let mut h = Sha256::new();
        h.update(data);
        h.finish()
    }

    #[test]
    fn known_vectors() {
        // FIPS 180-2 and the NIST examples.
        assert_eq!(
            hex(Sha256::new().finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex(one_shot(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            hex(one_shot(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // One million 'a's.
        assert_eq!(
            hex(one_shot(&[b'a'; 1_000_000])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn pieces_hash_like_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
        let whole = one_shot(&data);
        // Pieces of every size around the 64-byte block, and empty ones.
        for piece in [1, 3, 63, 64, 65, 127, 1000, 4096] {
            let mut h = Sha256::new();
            for chunk in data.chunks(piece) {
                h.update(chunk);
                h.update(b"");
            }
            assert_eq!(h.finish(), whole, "pieces of {piece}");
        }
        // A clone goes on independently.
        let mut h = Sha256::new();
        h.update(&data[..5000]);
        let mut fork = h.clone();
        h.update(&data[5000..]);
        fork.update(b"other");
        assert_eq!(h.finish(), whole);
    }
}
