//! The `tracing` instrumentation, behind the `tracing` feature: without it
//! every macro here expands to nothing and [`Span`] is an empty value, so
//! call sites carry no `cfg`.
//!
//! What may go in a field: methods, statuses, attempts, delays, sizes,
//! digests, scopes and URLs passed through [`crate::http::redact`]. Never a
//! header value, a token, a password or a query.

/// An event at `INFO` (a retry, a pause, a token fetch, a resume).
#[cfg(feature = "tracing")]
macro_rules! info {
    ($($arg:tt)*) => { ::tracing::info!(target: "dockreg", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! info {
    ($($arg:tt)*) => {
        ()
    };
}

/// An event at `WARN` (a digest mismatch).
#[cfg(feature = "tracing")]
macro_rules! warning {
    ($($arg:tt)*) => { ::tracing::warn!(target: "dockreg", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! warning {
    ($($arg:tt)*) => {
        ()
    };
}

pub(crate) use {info, warning};

#[cfg(feature = "tracing")]
pub(crate) use tracing::Span;

/// Without the `tracing` feature: a span that records nothing.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone)]
pub(crate) struct Span;

/// The span of one attempt at a request: method, redacted URL and attempt
/// number; the status is recorded when the answer arrives
/// ([`record_status`]).
#[cfg(feature = "tracing")]
pub(crate) fn request_span(method: &reqwest::Method, url: &url::Url, attempt: u32) -> Span {
    tracing::info_span!(
        target: "dockreg",
        "request",
        method = %method,
        url = %crate::http::redact(url),
        attempt,
        status = tracing::field::Empty,
    )
}

/// Without the `tracing` feature: nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) fn request_span(_: &reqwest::Method, _: &url::Url, _: u32) -> Span {
    Span
}

/// Records the status of the answer in a request's span.
pub(crate) fn record_status(span: &Span, status: reqwest::StatusCode) {
    #[cfg(feature = "tracing")]
    span.record("status", status.as_u16());
    #[cfg(not(feature = "tracing"))]
    let _ = (span, status);
}

/// Runs `future` inside `span`.
pub(crate) async fn in_span<F: std::future::Future>(span: Span, future: F) -> F::Output {
    #[cfg(feature = "tracing")]
    {
        tracing::Instrument::instrument(future, span).await
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = span;
        future.await
    }
}
