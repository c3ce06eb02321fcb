//! The client's clock type: [`std::time::Instant`], except in the browser
//! (`wasm32-unknown-unknown`), where the standard one panics and `web_time::Instant`
//! (`performance.now()`) stands in. On every other target both names are the same type.

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use std::time::Instant;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web_time::Instant;
