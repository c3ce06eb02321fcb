//! The client's clock types: [`std::time::Instant`] and [`std::time::SystemTime`], except in
//! the browser (`wasm32-unknown-unknown`), where the standard ones panic and `web_time`'s
//! stand in (`performance.now()` and `Date.now()`). On every other target both names are
//! the same types as std's.

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use std::time::{Instant, SystemTime, UNIX_EPOCH};
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web_time::{Instant, SystemTime, UNIX_EPOCH};
