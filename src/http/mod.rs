//! Transport helpers shared by every endpoint: bounded body reads, `Link`
//! pagination headers, size limits, the host-wide gate (back-off and
//! adaptive concurrency), rate-limit headers and OCI warnings.

mod body;
mod gate;
mod headers;
mod hosted;
mod link;
mod pagination;
mod pipeline;
mod ratelimit;
pub(crate) mod redact;
mod request;
mod resume;
mod retry;
pub(crate) mod scheme;
mod status;
pub(crate) mod tls;
mod warning;
mod worker;

pub use body::Limits;
pub(crate) use body::{collect_limited, read_limited};
pub(crate) use gate::{shed_exhausted, Closed, Gates};
pub(crate) use headers::{
    chunk_min_length, chunk_size, content_digest, content_length, content_type, filters_applied,
    oci_subject, upload_offset,
};
pub use link::next_link;
pub(crate) use pagination::{fetch_page, page_url};
pub use pagination::{Page, Paginated, REGISTRY_MAX_PAGE_SIZE};
pub use ratelimit::{RateLimit, MAX_COUNT, MAX_SECONDS};
pub(crate) use redact::{redact, retain_query};
pub(crate) use request::Request;
pub(crate) use resume::resuming_body;
pub use retry::RetryConfig;
pub(crate) use retry::{retry_after, retryable_error, retryable_status, Attempts};
pub(crate) use retry::{with_retry_hook, RetryHook};
pub(crate) use status::registry_error;
pub(crate) use warning::Warnings;
pub(crate) use worker::ChunkWorker;

/// The parsers and the arithmetic dockreg applies to numbers a server sends
/// (`Retry-After`, `Content-Length`, `Range`, `Content-Range`,
/// `OCI-Chunk-Min-Length`), reachable for the property tests and fuzz
/// targets. Not part of the API: no stability promise.
#[doc(hidden)]
pub mod numbers {
    pub use super::body::{collect_limited, initial_capacity};
    pub use super::headers::{
        chunk_min_length, chunk_size, content_length, content_range, upload_offset, ContentRange,
    };
    pub use super::resume::check_resumed_range;
    pub use super::retry::retry_after;
}
