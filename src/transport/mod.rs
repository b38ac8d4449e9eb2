//! Transport helpers shared by every endpoint: bounded body reads, `Link`
//! pagination headers and size limits.

mod body;
mod headers;
mod link;
mod pagination;

pub(crate) use body::read_limited;
pub use body::Limits;
pub(crate) use headers::{content_digest, content_length, content_type, upload_offset};
pub use link::next_link;
pub(crate) use pagination::{fetch_page, page_url};
pub use pagination::{Page, Paginated, REGISTRY_MAX_PAGE_SIZE};
