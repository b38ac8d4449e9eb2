//! `/v2/NAME/blobs/uploads/`: pushing blobs, monolithic or in chunks, with
//! resume after a broken chunk and cross-repository mounts.

use std::fmt;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderValue, CONTENT_LENGTH, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::Scope;
use crate::client::Client;
use crate::digest::{Digest, Hasher};
use crate::error::Error;
use crate::http::{chunk_min_length, content_digest, upload_offset};
use crate::http::{redact, Attempts, Request};
use crate::models::Descriptor;
use crate::reference::RepositoryName;
use crate::Result;

/// The default size of one `PATCH` of a chunked upload (raised to the
/// registry's `OCI-Chunk-Min-Length` when that is larger).
pub const DEFAULT_CHUNK_SIZE: usize = 16 << 20;
const OCTET_STREAM: &str = "application/octet-stream";

/// How a blob push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushOutcome {
    /// The registry already had the blob in the repository; nothing was sent.
    Exists,
    /// The blob was mounted from another repository of the same registry.
    Mounted,
    /// The bytes were uploaded.
    Uploaded,
}

/// An upload session (`POST /v2/NAME/blobs/uploads/`), fed chunk by chunk
/// and closed with the blob's digest.
///
/// Dropping it without [`BlobUpload::finish`] or [`BlobUpload::cancel`]
/// (a transfer dropped half-way, a task aborted) cancels the session, best
/// effort: a `DELETE` is sent from a task of the running tokio runtime, and
/// without one the session is left for the registry to expire.
pub struct BlobUpload {
    client: Client,
    name: RepositoryName,
    location: Url,
    /// Bytes the registry has acknowledged.
    offset: u64,
    /// Bytes put on the wire (`offset` or more, when a chunk broke): no
    /// status may report more.
    sent: u64,
    /// The registry's `OCI-Chunk-Min-Length`, unchecked.
    min_chunk: Option<u64>,
    /// `None` when the bytes come from a stream that verifies itself.
    /// sha256 until [`BlobUpload::push_stream`] is given a digest of
    /// another algorithm before any byte was sent.
    hasher: Option<Hasher>,
    /// Committed or cancelled: nothing to clean up when dropped.
    closed: bool,
}

impl Drop for BlobUpload {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let request =
            Request::new(Method::DELETE, self.location.clone()).scope(Scope::push(&self.name));
        let client = self.client.clone();
        runtime.spawn(async move {
            let _ = client.send(request).await;
        });
    }
}

impl fmt::Debug for BlobUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobUpload")
            .field("name", &self.name)
            .field("location", &redact(&self.location))
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// The `Location` of an upload response, resolved against the request URL.
fn location(response: &reqwest::Response, what: &str) -> Result<Url> {
    let value = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::protocol(what, "the registry sent no upload Location"))?;
    let url = response
        .url()
        .join(value)
        .map_err(|e| Error::protocol(what, format!("bad upload Location {value:?}: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // reqwest would send them as Basic credentials.
        return Err(Error::protocol(
            what,
            "upload Location with credentials in its URL refused",
        ));
    }
    if response.url().scheme() == "https" && url.scheme() != "https" {
        // The blob's bytes would cross the network in clear.
        return Err(Error::protocol(
            what,
            format!(
                "upload Location {} leaves https for plain http: refused",
                redact(&url)
            ),
        ));
    }
    Ok(url)
}

impl Client {
    /// Starts an upload session in `name`.
    pub async fn start_upload(&self, name: &RepositoryName) -> Result<BlobUpload> {
        let url = self.repo_url(name, "blobs/uploads/");
        let request = Request::new(Method::POST, url)
            .scope(Scope::push(name))
            .resend_when_refused();
        let (_, upload) = self.open_upload(name, request).await?;
        Ok(upload)
    }

    /// Sends an upload `POST` and returns its status with the session it
    /// opened.
    async fn open_upload(
        &self,
        name: &RepositoryName,
        request: Request,
    ) -> Result<(StatusCode, BlobUpload)> {
        let what = format!("POST {}", redact(&request.url));
        let response = self
            .send(request.header(CONTENT_LENGTH, HeaderValue::from_static("0")))
            .await?;
        let status = response.status();
        let upload = BlobUpload {
            client: self.clone(),
            name: name.clone(),
            location: location(&response, &what)?,
            offset: 0,
            sent: 0,
            min_chunk: chunk_min_length(response.headers()),
            hasher: Some(Hasher::new(crate::digest::Algorithm::Sha256)),
            closed: false,
        };
        Ok((status, upload))
    }

    /// Mounts a blob from another repository of this registry
    /// (`POST ?mount=DIGEST&from=REPO`). Returns `None` when mounted; when the
    /// registry refuses the mount (it answers 202), the upload session it
    /// opened instead, to push the bytes through.
    pub async fn mount_blob(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<Option<BlobUpload>> {
        let mut url = self.repo_url(name, "blobs/uploads/");
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from.as_str());
        let request = Request::new(Method::POST, url)
            .scope(Scope::push(name))
            .scope(Scope::pull(from))
            .resend_when_refused();
        let (status, mut upload) = self.open_upload(name, request).await?;
        if status == StatusCode::CREATED {
            // Mounted: the Location is the blob itself, not a session, and
            // must never be sent a DELETE.
            upload.closed = true;
            return Ok(None);
        }
        crate::trace::info!(
            repository = %name,
            from = %from,
            digest = %digest,
            status = status.as_u16(),
            "mount refused: the registry started an upload instead"
        );
        Ok(Some(upload))
    }

    /// Pushes a blob held in memory: nothing when the registry already has it
    /// (`HEAD` first), else one monolithic upload (`POST`, then `PUT` with
    /// the digest). Returns the blob's descriptor and what happened.
    pub async fn push_blob(
        &self,
        name: &RepositoryName,
        data: impl Into<Bytes>,
        media_type: &str,
    ) -> Result<(Descriptor, PushOutcome)> {
        let data = data.into();
        let digest = Digest::sha256(&data);
        let descriptor = Descriptor::new(media_type, digest.clone(), data.len() as u64);
        if self.blob_exists(name, &digest).await? {
            return Ok((descriptor, PushOutcome::Exists));
        }
        let upload = self.start_upload(name).await?;
        upload.finish_with(data, &digest).await?;
        Ok((descriptor, PushOutcome::Uploaded))
    }

    /// Pushes a blob from a byte stream in chunks of `chunk_size` (at least
    /// the registry's `OCI-Chunk-Min-Length`), hashing as it goes. When
    /// `expected` is given the registry is asked first (`HEAD`) and nothing is
    /// sent if it has the blob; the stream's bytes must hash to it. Memory
    /// holds one chunk at a time; see [`BlobUpload::push_stream`].
    pub async fn push_blob_stream<S>(
        &self,
        name: &RepositoryName,
        stream: S,
        expected: Option<&Digest>,
        chunk_size: usize,
    ) -> Result<(Digest, u64, PushOutcome)>
    where
        S: Stream<Item = Result<Bytes>> + Send,
    {
        if let Some(d) = expected {
            if let Some(size) = self.blob_size(name, d).await? {
                return Ok((d.clone(), size, PushOutcome::Exists));
            }
        }
        let upload = self.start_upload(name).await?;
        let (digest, size) = upload.push_stream(stream, expected, chunk_size).await?;
        Ok((digest, size, PushOutcome::Uploaded))
    }
}

impl BlobUpload {
    /// Sends a whole byte stream through this upload in chunks of
    /// `chunk_size` (at least the registry's `OCI-Chunk-Min-Length`) and
    /// closes it. The bytes must hash to `expected` when given; on a mismatch
    /// or a failing stream the upload is cancelled and nothing is committed.
    /// Returns the digest and size.
    ///
    /// The bytes are hashed with the algorithm of `expected` (sha256 when
    /// none is given): a `sha512:` blob is checked as sha512. An upload that
    /// already holds bytes written with [`BlobUpload::write_chunk`] was
    /// hashed as sha256; with an `expected` digest of another algorithm it
    /// is cancelled with [`Error::Invalid`] before anything more is sent.
    ///
    /// Memory holds one chunk at most, grown as the bytes arrive. A registry
    /// minimum above [`Limits::chunk_min`](crate::http::Limits::chunk_min)
    /// cancels the upload with [`Error::TooLarge`] naming it.
    pub async fn push_stream<S>(
        mut self,
        stream: S,
        expected: Option<&Digest>,
        chunk_size: usize,
    ) -> Result<(Digest, u64)>
    where
        S: Stream<Item = Result<Bytes>> + Send,
    {
        if let (Some(d), Some(hasher)) = (expected, &self.hasher) {
            if hasher.algorithm() != d.algorithm() {
                if self.sent > 0 {
                    let _ = self.cancel().await;
                    return Err(Error::invalid(
                        "expected digest",
                        d.as_str(),
                        "the upload already holds bytes hashed as sha256",
                    ));
                }
                self.hasher = Some(Hasher::new(d.algorithm()));
            }
        }
        let cap = self.client.limits().chunk_min;
        let chunk_size = match crate::http::chunk_size(chunk_size, self.min_chunk, cap) {
            Ok(size) => size,
            Err(demanded) => {
                let what = format!(
                    "upload to {}: a chunk of the registry's OCI-Chunk-Min-Length, \
                     {demanded} bytes, held in memory (Limits::chunk_min)",
                    self.name
                );
                let _ = self.cancel().await;
                return Err(Error::TooLarge { what, limit: cap });
            }
        };
        let mut stream = std::pin::pin!(stream);
        // Grown as the bytes arrive: a registry's minimum is no reason to
        // hold its size in memory for a smaller blob.
        let mut buf = BytesMut::new();
        while let Some(piece) = stream.next().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    let _ = self.cancel().await;
                    return Err(e);
                }
            };
            buf.extend_from_slice(&piece);
            while buf.len() >= chunk_size {
                let chunk = buf.split_to(chunk_size).freeze();
                self.write_chunk(chunk).await?;
            }
        }
        let digest = match (self.digest_so_far(buf.as_ref()), expected) {
            (Some(d), _) => d,
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err(Error::protocol(
                    format!("upload to {}", self.name),
                    "an unhashed upload needs the expected digest",
                ))
            }
        };
        if let Some(d) = expected {
            if *d != digest {
                let what = format!("blob pushed to {}", self.name);
                let _ = self.cancel().await;
                return Err(Error::digest_mismatch(what, d.clone(), digest));
            }
        }
        let size = self.offset.saturating_add(buf.len() as u64);
        self.finish_with(buf.freeze(), &digest).await?;
        Ok((digest, size))
    }

    /// The upload's current URL (it changes with every chunk).
    pub fn location(&self) -> &Url {
        &self.location
    }

    /// Bytes the registry has received so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The digest of everything written so far plus `tail` (`None` when
    /// not hashing).
    fn digest_so_far(&self, tail: &[u8]) -> Option<Digest> {
        let mut h = self.hasher.clone()?;
        h.update(tail);
        Some(h.finish())
    }

    /// Skips hashing the bytes sent: for a source stream that verifies them
    /// itself (a [`crate::api::BlobStream`] fails before its end on a
    /// mismatch, so nothing is committed), which spares hashing every byte
    /// twice. The registry checks the digest at the end too.
    pub(crate) fn trusting_source(mut self) -> BlobUpload {
        self.hasher = None;
        self
    }

    /// Sends one chunk (`PATCH` with `Content-Range`), retried under the
    /// client's [`RetryConfig`](crate::http::RetryConfig) as every request
    /// is. A chunk the registry refused whole (408, 429, 502, 503, 504) is
    /// sent again after the back-off (and the host's pause). When the
    /// connection breaks, the upload's status tells how much arrived and
    /// the rest of the chunk is sent again.
    ///
    /// The CNCF registry keeps the upload's state in its `Location`: when a
    /// chunk arrived but its answer (with the new `Location`) was lost, the
    /// registry cancels the upload on the status request, and the error says
    /// the upload must start again. A chunk that did not arrive resumes.
    pub async fn write_chunk(&mut self, chunk: Bytes) -> Result<()> {
        let start = self.offset;
        let end = start.checked_add(chunk.len() as u64).ok_or_else(|| {
            Error::protocol(
                format!("upload to {}", self.name),
                "the upload would pass 2^64 bytes",
            )
        })?;
        let mut attempts = Attempts::new(*self.client.retry_config());
        attempts.next();
        while self.offset < end {
            // `status` keeps `start <= offset <= end` (the bytes sent).
            let done = usize::try_from(self.offset - start).unwrap_or(chunk.len());
            match self.patch(chunk.slice(done..)).await {
                Ok(()) => {}
                Err(broken @ Error::Http { .. }) => {
                    let reason = format!("the chunk at byte {} broke: {broken}", self.offset);
                    let Some(delay) = attempts.retry(&reason, None, None) else {
                        return Err(attempts.give_up(broken));
                    };
                    tokio::time::sleep(delay).await;
                    attempts.next();
                    // The chunk may have arrived in part: ask, then go on
                    // from there.
                    if let Err(refused) = self.status().await {
                        return Err(Error::protocol(
                            format!("upload to {}", self.name),
                            format!(
                                "the chunk at byte {start} broke ({broken}), then the upload's \
                                 status failed ({refused}); the upload must start again"
                            ),
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(h) = &mut self.hasher {
            h.update(&chunk);
        }
        Ok(())
    }

    /// Sends `part` (not empty) from the upload's offset.
    async fn patch(&mut self, part: Bytes) -> Result<()> {
        let len = part.len() as u64;
        let end = self.offset.saturating_add(len);
        let range = HeaderValue::from_str(&format!("{}-{}", self.offset, end.saturating_sub(1)))
            .expect("digits and a dash are a valid header");
        let what = format!("PATCH {}", redact(&self.location));
        self.sent = self.sent.max(end);
        let response = self
            .client
            .send(
                Request::new(Method::PATCH, self.location.clone())
                    .body(part, OCTET_STREAM)
                    .header(reqwest::header::CONTENT_RANGE, range)
                    .scope(Scope::push(&self.name))
                    .resend_when_refused(),
            )
            .await?;
        self.location = location(&response, &what)?;
        // A 202 means the whole part arrived.
        self.offset = end;
        Ok(())
    }

    /// Asks the registry how much of the upload it has (`GET` on the
    /// upload's URL), and continues from there.
    ///
    /// The answer must lie between what the registry acknowledged before
    /// and what was sent; anything else (a malformed, overflowing, shrinking
    /// or oversized `Range`) is [`Error::Protocol`] and leaves the upload as
    /// it was.
    pub async fn status(&mut self) -> Result<u64> {
        let what = format!("GET {}", redact(&self.location));
        let response = self
            .client
            .send(Request::get(self.location.clone()).scope(Scope::push(&self.name)))
            .await?;
        let mut received =
            upload_offset(response.headers()).map_err(|reason| Error::protocol(&what, reason))?;
        if received == 0 && self.offset == 1 {
            // `0-0`: nothing, or the one byte already acknowledged.
            received = 1;
        }
        if received < self.offset || received > self.sent {
            return Err(Error::protocol(
                &what,
                format!(
                    "the registry reports {received} bytes received, outside the {}..={} \
                     it acknowledged before and was sent",
                    self.offset, self.sent
                ),
            ));
        }
        if let Ok(l) = location(&response, &what) {
            self.location = l;
        }
        self.offset = received;
        Ok(received)
    }

    /// Closes the upload with the bytes written so far (`PUT ?digest=`),
    /// checking them against the digest computed while writing.
    pub async fn finish(self) -> Result<Digest> {
        let digest = self.digest_so_far(&[]).ok_or_else(|| {
            Error::protocol(
                format!("upload to {}", self.name),
                "no digest to finish with",
            )
        })?;
        self.finish_with(Bytes::new(), &digest).await?;
        Ok(digest)
    }

    /// Closes the upload, sending `last` as the final piece.
    async fn finish_with(mut self, last: Bytes, digest: &Digest) -> Result<()> {
        let mut url = self.location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let what = format!("PUT {}", redact(&url));
        let mut request = Request::new(Method::PUT, url)
            .scope(Scope::push(&self.name))
            .resend_when_refused();
        request = if last.is_empty() {
            request.header(CONTENT_LENGTH, HeaderValue::from_static("0"))
        } else {
            request.body(last, OCTET_STREAM)
        };
        let response = self.client.send(request).await?;
        // Committed: the session URL is gone, nothing to cancel when dropped.
        self.closed = true;
        // A registry names a blob by its own algorithm (distribution answers
        // a sha512 upload with its sha256): only a digest of the algorithm
        // the bytes were hashed with can be compared.
        let announced = content_digest(response.headers(), &what)?
            .filter(|a| a.algorithm() == digest.algorithm());
        if let Some(announced) = announced {
            if announced != *digest {
                return Err(Error::digest_mismatch(what, digest.clone(), announced));
            }
        }
        Ok(())
    }

    /// Abandons the upload (`DELETE` on its URL).
    pub async fn cancel(mut self) -> Result<()> {
        self.closed = true;
        self.client
            .send(
                Request::new(Method::DELETE, self.location.clone()).scope(Scope::push(&self.name)),
            )
            .await
            .map(drop)
    }
}
