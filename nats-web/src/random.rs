//! Randomness from the browser's crypto (`crypto.getRandomValues`), for the connection's
//! random seed: std's hasher keys are fixed in wasm32-unknown-unknown, so without it every
//! page would draw the same server order, jitter and request inboxes.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    /// The global `crypto.getRandomValues` (a window's or a worker's).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// Eight random bytes from the browser's crypto, or `None` where there is no
/// `crypto.getRandomValues`.
pub(crate) fn seed() -> Option<u64> {
    let mut bytes = [0u8; 8];
    get_random_values(&mut bytes).ok()?;
    Some(u64::from_le_bytes(bytes))
}
