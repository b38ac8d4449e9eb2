//! Reading bodies into memory with a cap, so a huge or endless answer is a
//! typed error and never an out-of-memory.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

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
    let url = crate::http::redact::redact(response.url());
    let too_large = || Error::TooLarge {
        what: format!("{method} {url}"),
        limit,
    };
    let announced = super::content_length(response.headers());
    let body = response.bytes_stream().map(|chunk| {
        chunk.map_err(|source| Error::Http {
            method: method.to_owned(),
            url: url.clone(),
            source,
        })
    });
    collect_limited(body, announced, limit, too_large).await
}

/// The most room reserved for a body before its bytes arrive.
const RESERVE_MAX: u64 = 256 << 10;

/// How much room to reserve for a body that announced `announced` bytes and
/// may have `limit`: the announcement is only the server's word, so no more
/// than 256 KiB; the buffer grows as bytes really arrive.
#[doc(hidden)]
pub fn initial_capacity(announced: Option<u64>, limit: u64) -> usize {
    let room = announced.unwrap_or(0).min(limit).min(RESERVE_MAX);
    usize::try_from(room).unwrap_or(0)
}

/// Collects a body's pieces into one buffer, failing with `too_large()`
/// when `announced` passes `limit`, or as soon as the bytes themselves do.
#[doc(hidden)]
pub async fn collect_limited<S>(
    body: S,
    announced: Option<u64>,
    limit: u64,
    too_large: impl Fn() -> Error,
) -> Result<Bytes>
where
    S: Stream<Item = Result<Bytes>>,
{
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(initial_capacity(announced, limit));
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if (buf.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
