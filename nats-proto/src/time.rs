//! Time, as the caller provides it: the core never reads a clock.

use core::{fmt::Debug, ops::Add, time::Duration};

/// A point in time from the caller's clock: anything copyable and ordered that a
/// [`Duration`] can be added to. `std::time::Instant` is one (the default with the `std`
/// feature); without `std`, a [`Duration`] since an epoch of the caller's choosing is one
/// (`Connection<Duration>`: pass the time since boot, since `performance.timeOrigin`, ...),
/// and so is any type of the caller's own with these traits.
pub trait Instant: Copy + Ord + Debug + Add<Duration, Output = Self> {}

impl<T: Copy + Ord + Debug + Add<Duration, Output = T>> Instant for T {}

/// The instant type of a [`Connection`](crate::Connection) that names none:
/// `std::time::Instant` with the `std` feature, else a [`Duration`] since the caller's
/// epoch. Code that must build both ways names its instant type explicitly.
#[cfg(feature = "std")]
pub type DefaultInstant = std::time::Instant;

/// The instant type of a [`Connection`](crate::Connection) that names none:
/// `std::time::Instant` with the `std` feature, else a [`Duration`] since the caller's
/// epoch. Code that must build both ways names its instant type explicitly.
#[cfg(not(feature = "std"))]
pub type DefaultInstant = Duration;

#[cfg(test)]
mod tests {
    use super::*;

    fn later<I: Instant>(t: I) -> I {
        t + Duration::from_secs(1)
    }

    #[test]
    fn std_instants_and_durations_since_an_epoch_are_instants() {
        let now = std::time::Instant::now();
        assert!(later(now) > now);
        assert_eq!(later(Duration::from_millis(5)), Duration::from_millis(1005));
    }
}
