//! The registry's endpoints, one file per group, each an `impl Client` block.
//!
//! | group | calls |
//! |---|---|
//! | base | [`Client::ping`](crate::Client::ping) |
//! | catalog | [`Client::catalog`](crate::Client::catalog), [`Client::catalog_page`](crate::Client::catalog_page) |
//! | tags | [`Client::tags`](crate::Client::tags), [`Client::tags_page`](crate::Client::tags_page) |
//! | manifests | [`Client::manifest`](crate::Client::manifest), [`Client::manifest_digest`](crate::Client::manifest_digest), [`Client::manifest_for_platform`](crate::Client::manifest_for_platform), [`Client::image_config`](crate::Client::image_config) |
//! | blobs | [`Client::blob_stream`](crate::Client::blob_stream), [`Client::download_blob`](crate::Client::download_blob), [`Client::blob_size`](crate::Client::blob_size), [`Client::blob_exists`](crate::Client::blob_exists), [`Client::blob_bytes`](crate::Client::blob_bytes) |

mod base;
mod blobs;
mod catalog;
mod manifests;
mod tags;

pub use base::PingResponse;
pub use blobs::BlobStream;
