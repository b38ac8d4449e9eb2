//! Transport helpers shared by every endpoint: bounded body reads, `Link`
//! pagination headers, size limits, the host-wide gate (back-off and
//! adaptive concurrency), rate-limit headers and OCI warnings.

mod body;
mod gate;
mod headers;
mod link;
mod pagination;
mod ratelimit;
mod resume;
mod retry;
mod warning;
mod worker;

pub(crate) use body::read_limited;
pub use body::Limits;
pub(crate) use gate::{shed_exhausted, Closed, Gates};
pub(crate) use headers::{content_digest, content_length, content_type, upload_offset};
pub use link::next_link;
pub(crate) use pagination::{fetch_page, page_url};
pub use pagination::{Page, Paginated, REGISTRY_MAX_PAGE_SIZE};
pub use ratelimit::{RateLimit, MAX_COUNT, MAX_SECONDS};
pub(crate) use resume::resuming_body;
pub use retry::RetryConfig;
pub(crate) use retry::{retry_after, retryable_error, retryable_status};
pub(crate) use warning::Warnings;
pub(crate) use worker::ChunkWorker;
