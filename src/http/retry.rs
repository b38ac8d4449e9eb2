//! Retries: which failures are worth another attempt, how long to wait
//! (exponential backoff with jitter, `Retry-After`), and the total budget.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use crate::error::Error;

/// How dockreg retries requests that failed in a way another attempt may
/// cure.
///
/// Retried: connection failures and timeouts, and the statuses 408, 429,
/// 500, 502, 503 and 504 — for requests that are safe to repeat (`GET`,
/// `HEAD`, `DELETE`, manifest `PUT`). Upload `POST`, `PATCH` and `PUT` are
/// never repeated blindly: they are sent again when the registry answered
/// that it took none of it (408, 429, 502, 503, 504) or no connection could
/// be made, and a chunk whose connection broke resumes from the upload's
/// status, each under the same policy.
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

/// What hears of each retry made by the task it is set for: the attempt
/// that failed, the wait before the next, and why.
pub(crate) type RetryHook = std::sync::Arc<dyn Fn(u32, Duration, &str) + Send + Sync>;

tokio::task_local! {
    static ON_RETRY: RetryHook;
}

/// Runs `fut` with `hook` hearing of every retry its requests make (a
/// transfer reports them per blob this way).
pub(crate) async fn with_retry_hook<F: std::future::Future>(hook: RetryHook, fut: F) -> F::Output {
    ON_RETRY.scope(hook, fut).await
}

fn notify_retry(attempt: u32, delay: Duration, reason: &dyn std::fmt::Display) {
    let _ = ON_RETRY.try_with(|hook| hook(attempt, delay, &reason.to_string()));
}

/// The attempts of one request (or one body, or one chunk) under a
/// [`RetryConfig`]: the one retry mechanism every kind of request goes
/// through. It counts the attempts, chooses each wait (backoff, the
/// server's `Retry-After`, the host's streak of shed answers), keeps to the
/// budget, reports each retry as a `tracing` event, and wraps the last
/// failure in [`Error::RetriesExhausted`] when it gives up.
///
/// The loop stays with the caller, which alone knows what one attempt is
/// and what sends it again (the pipeline waits at the host's gate, a body
/// reconnects with `Range`, an upload chunk asks the upload's status).
#[derive(Debug, Clone)]
pub(crate) struct Attempts {
    config: RetryConfig,
    started: Instant,
    /// The attempt under way (1-based; 0 before the first).
    attempt: u32,
}

impl Attempts {
    /// No attempt made yet; the budget runs from now.
    pub(crate) fn new(config: RetryConfig) -> Attempts {
        Attempts {
            config,
            started: Instant::now(),
            attempt: 0,
        }
    }

    /// Begins the next attempt and returns its number (1-based).
    pub(crate) fn next(&mut self) -> u32 {
        self.attempt = self.attempt.saturating_add(1);
        self.attempt
    }

    /// What is left of the budget.
    pub(crate) fn budget_left(&self) -> Duration {
        self.config.budget.saturating_sub(self.started.elapsed())
    }

    /// Progress was made (a body delivered bytes): the attempt under way
    /// counts as the first, and the budget runs from now.
    pub(crate) fn progressed(&mut self) {
        self.attempt = self.attempt.min(1);
        self.started = Instant::now();
    }

    /// After the attempt under way failed in a way another may cure
    /// (`reason` says how): the wait before the next attempt, or `None`
    /// when the retries or the budget are used up. `streak` is the host's
    /// streak of shed answers when this answer was one: the wait follows
    /// the host, and the request gives up by the host's streak, not by its
    /// own luck alone. `retry_after` is the server's wish.
    pub(crate) fn retry(
        &self,
        reason: &dyn std::fmt::Display,
        streak: Option<u32>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let attempt = self.attempt.max(1);
        let max = self.config.max_retries;
        let exhausted = streak.map_or(attempt > max, |streak| {
            super::shed_exhausted(streak, attempt, max)
        });
        let delay = self
            .config
            .delay(streak.map_or(attempt, |s| s.min(attempt)), retry_after);
        if exhausted || !self.config.fits_budget(self.started, delay) {
            crate::trace::info!(
                attempt,
                reason = %reason,
                "giving up: the retries or the budget are used up"
            );
            return None;
        }
        crate::trace::info!(
            attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            retry_after_s = retry_after.map(|d| d.as_secs()),
            shed_streak = streak,
            reason = %reason,
            "retrying after back-off"
        );
        notify_retry(attempt, delay, reason);
        Some(delay)
    }

    /// The error for giving up after `last`: `last` itself after a single
    /// attempt, else [`Error::RetriesExhausted`] counting the attempts.
    pub(crate) fn give_up(&self, last: Error) -> Error {
        if self.attempt <= 1 {
            last
        } else {
            Error::RetriesExhausted {
                attempts: self.attempt,
                source: Box::new(last),
            }
        }
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
