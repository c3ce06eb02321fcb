//! Time, as the caller provides it: the core never reads a clock.

use core::{fmt::Debug, ops::Add, time::Duration};

/// A point in time from the caller's clock: anything copyable and ordered that a
/// [`Duration`] can be added to. `std::time::Instant` is one (the default with the `std`
/// feature); without `std`, a [`Duration`] since an epoch of the caller's choosing is one
/// (`Connection<Duration>`: pass the time since boot, since `performance.timeOrigin`, ...),
/// and so is any type of the caller's own with these traits.
pub trait Instant: Copy + Ord + Debug + Add<Duration, Output = Self> {}

impl<T: Copy + Ord + Debug + Add<Duration, Output = T>> Instant for T {}

/// The longest wait the crate ever adds to an instant: `u32::MAX` seconds, about 136 years.
///
/// Any wait at least this long means "never": a timeout, interval or delay of
/// [`Duration::MAX`] is accepted everywhere and capped to this by [`deadline`]. It is long
/// enough that nothing ever fires at the capped deadline, and short enough that every
/// [`Instant`] type can add it without overflowing: `std::time::Instant` (a clock that
/// started at most a few centuries ago) as well as a [`Duration`] since the caller's epoch.
pub const NEVER: Duration = Duration::from_secs(u32::MAX as u64);

/// The instant `wait` after `now`, with waits longer than [`NEVER`] capped to it, so that
/// no wait, [`Duration::MAX`] included, overflows the instant type (`Instant + Duration`
/// panics on overflow, and the generic [`Instant`] has no `checked_add`). Every deadline
/// computed from a caller's duration goes through here.
///
/// ```
/// use core::time::Duration;
/// use nats_proto::time::{deadline, NEVER};
///
/// let now = Duration::from_secs(5); // an instant: the time since the caller's epoch
/// assert_eq!(deadline(now, Duration::from_secs(1)), Duration::from_secs(6));
/// assert_eq!(deadline(now, Duration::MAX), now + NEVER);
/// ```
#[inline]
pub fn deadline<I: Instant>(now: I, wait: Duration) -> I {
    now + wait.min(NEVER)
}

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

    #[test]
    fn a_deadline_caps_the_wait_at_never() {
        let now = std::time::Instant::now();
        assert_eq!(deadline(now, Duration::from_secs(3)), now + Duration::from_secs(3));
        assert_eq!(deadline(now, NEVER), now + NEVER);
        assert_eq!(deadline(now, Duration::MAX), now + NEVER, "no overflow");
        let epoch = Duration::from_secs(u64::from(u32::MAX) * 1000);
        assert_eq!(deadline(epoch, Duration::MAX), epoch + NEVER);
        assert_eq!(NEVER.as_secs(), u64::from(u32::MAX));
    }
}
