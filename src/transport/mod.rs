//! Transport helpers shared by every endpoint: bounded body reads, `Link`
//! pagination headers and size limits.

mod body;
mod headers;
mod link;
mod pagination;
mod resume;
mod retry;
mod worker;

pub(crate) use body::read_limited;
pub use body::Limits;
pub(crate) use headers::{content_digest, content_length, content_type, upload_offset};
pub use link::next_link;
pub(crate) use pagination::{fetch_page, page_url};
pub use pagination::{Page, Paginated, REGISTRY_MAX_PAGE_SIZE};
pub(crate) use resume::resuming_body;
pub use retry::RetryConfig;
pub(crate) use retry::{retry_after, retryable_error, retryable_status};
pub(crate) use worker::ChunkWorker;
