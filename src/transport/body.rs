//! Reading bodies into memory with a cap, so a huge or endless answer is a
//! typed error and never an out-of-memory.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::error::Error;
use crate::Result;

/// Caps on what dockreg reads into memory. Blobs stream and are not capped.
///
/// The defaults fit every registry seen in the wild; raise them only for a
/// registry that really sends more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest manifest accepted, in bytes (default 8 MiB; the CNCF registry
    /// itself refuses manifests over 4 MiB).
    pub manifest: u64,
    /// Largest catalog or tag-list page, in bytes (default 32 MiB: a registry
    /// that ignores `n` may send every tag in one page).
    pub page: u64,
    /// Largest image config read into memory, in bytes (default 16 MiB).
    pub config: u64,
    /// How much of an error body is read, in bytes (default 64 KiB); the rest
    /// is dropped.
    pub error_body: u64,
    /// Most pages one catalog or tag listing may fetch, the first included
    /// (default 10,000); a longer chain of `Link` headers ends in
    /// [`Error::Protocol`] naming the listing and this cap.
    pub pages: u64,
    /// Most entries one catalog or tag listing may yield (default 10,000,000);
    /// the page that passes it ends the listing in [`Error::Protocol`].
    pub entries: u64,
    /// Most child manifests an index or manifest list may name before it is
    /// refused with [`Error::TooMany`] (default 4,096; real indexes name a
    /// handful of platforms).
    pub index_children: u64,
    /// Most layers an image manifest may name before it is refused (default
    /// 4,096; Docker itself stops at 127).
    pub layers: u64,
    /// Largest blob downloaded when no size is known beforehand, from a
    /// descriptor or a HEAD (default 64 GiB).
    pub unsized_blob: u64,
    /// Largest `OCI-Chunk-Min-Length` an upload honours (default 256 MiB); a
    /// registry that demands more chunks fails the push with a typed error
    /// instead of sizing a buffer by the registry's word.
    pub chunk_min: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest: 8 << 20,
            page: 32 << 20,
            config: 16 << 20,
            error_body: 64 << 10,
            pages: 10_000,
            entries: 10_000_000,
            index_children: 4096,
            layers: 4096,
            unsized_blob: 64 << 30,
            chunk_min: 256 << 20,
        }
    }
}

/// Reads a whole body, refusing it with [`Error::TooLarge`] as soon as it
/// passes `limit` bytes (or announces more in `Content-Length`). `method`
/// names the request in errors, with the response's URL.
pub(crate) async fn read_limited(
    response: reqwest::Response,
    limit: u64,
    method: &str,
) -> Result<Bytes> {
    let url = crate::client::redact(response.url());
    let too_large = || Error::TooLarge {
        what: format!("{method} {url}"),
        limit,
    };
    let announced = super::content_length(response.headers());
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let capacity = announced.unwrap_or(0).min(limit) as usize;
    let mut buf = BytesMut::with_capacity(capacity);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| Error::Http {
            method: method.to_owned(),
            url: url.clone(),
            source,
        })?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
