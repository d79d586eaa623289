//! Instants from durations that may be too long to be one.

use core::time::Duration;

use tokio::time::Instant;

/// About 30 years: how far a deadline too long to be an instant is put.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `base` + `delay`, or about 30 years from now when that is too far to be
/// an instant (a server's `retry: 18446744073709551615`, a keep-alive of
/// `Duration::MAX`), as tokio's own timeouts do: never a panic.
pub(crate) fn instant_after(base: Instant, delay: Duration) -> Instant {
    base.checked_add(delay)
        .unwrap_or_else(|| Instant::now() + FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_too_long_for_an_instant_is_about_30_years_away() {
        let now = Instant::now();
        assert_eq!(
            instant_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = instant_after(now, Duration::MAX);
        assert!(far >= now + FAR_FUTURE && far < now + FAR_FUTURE + Duration::from_secs(60));
    }

    #[test]
    fn the_far_future_is_about_30_years() {
        let year = Duration::from_secs(365 * 86_400);
        let now = Instant::now();
        let far = instant_after(now, Duration::MAX);
        assert!(far - now >= year * 29 && far - now <= year * 31);
    }
}
