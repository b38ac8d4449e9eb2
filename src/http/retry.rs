//! Retries: which failures are worth another attempt, how long to wait
//! (exponential backoff with jitter, `Retry-After`), and the total budget.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// How dockreg retries requests that failed in a way another attempt may
/// cure.
///
/// Retried: connection failures and timeouts, and the statuses 408, 429,
/// 500, 502, 503 and 504 — for requests that are safe to repeat (`GET`,
/// `HEAD`, `DELETE`, manifest `PUT`). Upload `POST` and `PATCH` are never
/// repeated blindly: a broken chunk resumes from the upload's status instead.
/// A broken blob download resumes with a `Range` request from the byte it
/// reached. A `Retry-After` header (seconds or an HTTP date) is honoured when
/// it fits the budget; one that does not (up to 2^64 seconds, or a date in
/// year 9999) ends the request with the registry's answer at once.
///
/// | field | default |
/// |---|---|
/// | `max_retries` | 3 (so 4 attempts at most) |
/// | `base_backoff` | 250 ms, doubled each retry, with jitter |
/// | `max_backoff` | 10 s |
/// | `budget` | 60 s of waiting and trying per request |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_backoff: Duration,
    /// The longest single wait.
    pub max_backoff: Duration,
    /// The total time one request may take across its attempts; a wait that
    /// would pass it is not made.
    pub budget: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> RetryConfig {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// A retry policy with these numbers.
    pub fn new(
        max_retries: u32,
        base_backoff: Duration,
        max_backoff: Duration,
        budget: Duration,
    ) -> Self {
        RetryConfig {
            max_retries,
            base_backoff,
            max_backoff,
            budget,
        }
    }

    /// The wait before retry number `retry` (1-based): exponential backoff
    /// with jitter (between half and all of it), or the server's
    /// `Retry-After` when that is longer, capped at `max_backoff` unless
    /// the server asked for more. A server's wish counts up to the budget
    /// only: the result is never longer than `max_backoff` or `budget`,
    /// whichever is longer.
    #[doc(hidden)]
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << (retry.saturating_sub(1)).min(20))
            .min(self.max_backoff);
        let half = exp / 2;
        let jittered = half.saturating_add(half.mul_f64(random_unit()));
        match retry_after {
            Some(asked) => asked.min(self.budget).max(jittered),
            None => jittered,
        }
    }

    /// Whether waiting `delay` more keeps a request begun at `started`
    /// within the budget. Never overflows, whatever the delay.
    #[doc(hidden)]
    pub fn fits_budget(&self, started: Instant, delay: Duration) -> bool {
        started
            .elapsed()
            .checked_add(delay)
            .is_some_and(|total| total <= self.budget)
    }
}

/// Statuses worth retrying.
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Transport failures worth retrying: the request may not have arrived, or
/// the answer did not.
pub(crate) fn retryable_error(e: &reqwest::Error) -> bool {
    (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode())
        && !is_certificate_error(e)
}

/// Whether a failure is a refused TLS certificate: another attempt would
/// meet the same certificate.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `Retry-After` as a duration from now: delta-seconds or an HTTP date. A
/// number of seconds past u64 reads as u64::MAX seconds (a very long time,
/// not "no hint"); a date in the past as now.
#[doc(hidden)]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP uses.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    crate::models::parse_rfc3339(&format!("{year:04}-{month:02}-{day:02}T{time}Z"))
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        nanos | 1
    });
}

/// A number in [0, 1) from a per-thread xorshift generator: enough to spread
/// retries, not for anything secret.
pub(crate) fn random_unit() -> f64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cell.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let c = RetryConfig::default();
        for retry in 1..=10 {
            let d = c.delay(retry, None);
            let exp = (c.base_backoff * (1 << (retry - 1))).min(c.max_backoff);
            assert!(d >= exp / 2 && d <= exp, "retry {retry}: {d:?} vs {exp:?}");
        }
        assert_eq!(
            c.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(784_111_777))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_huge_retry_after_is_clamped_and_never_overflows() {
        let c = RetryConfig::default();
        let huge = Duration::from_secs(u64::MAX);
        assert_eq!(c.delay(1, Some(huge)), c.budget);
        assert_eq!(c.delay(1, Some(Duration::MAX)), c.budget);
        let started = Instant::now() - Duration::from_secs(1);
        assert!(!c.fits_budget(started, huge));
        assert!(!c.fits_budget(started, Duration::MAX));
        assert!(c.fits_budget(started, Duration::from_secs(1)));
        let mut h = HeaderMap::new();
        for (value, secs) in [
            ("18446744073709551615", u64::MAX),
            ("99999999999999999999999", u64::MAX),
            ("007", 7),
        ] {
            h.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&h), Some(Duration::from_secs(secs)), "{value}");
        }
        for value in ["+5", "-5", "5.5", "", "Fri, 31 Dec 99999 23:59:59 GMT"] {
            h.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&h), None, "{value}");
        }
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Fri, 31 Dec 9999 23:59:59 GMT"),
        );
        let far = retry_after(&h).unwrap();
        assert!(far > Duration::from_secs(7000 * 365 * 86400), "{far:?}");
        assert_eq!(c.delay(2, Some(far)), c.budget);
    }

    #[test]
    fn which_statuses_retry() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()));
        }
        for s in [200, 400, 401, 403, 404, 405, 416, 501] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()));
        }
    }
}
