//! `/v2/NAME/blobs/DIGEST`: verified blob downloads, existence checks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use reqwest::StatusCode;

use crate::auth::Scope;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::http::{collect_limited, content_length, resuming_body, ChunkWorker};
use crate::http::{redact, Request};
use crate::reference::RepositoryName;
use crate::verify::{Verifier, VerifyingStream};
use crate::Result;

/// A blob's bytes as they arrive, hashed on the way.
///
/// Yields the body in chunks; when the body ends, its size and digest are
/// checked and a mismatch is yielded as the last item. Treat the data as
/// untrusted until the stream ended without an error.
pub struct BlobStream {
    inner: VerifyingStream<BoxStream<'static, Result<Bytes>>>,
    size: Option<u64>,
    digest: Digest,
}

impl BlobStream {
    /// The size the body must have, when one is known: from the descriptor,
    /// the `Content-Length`, or else a `HEAD`.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The digest the bytes are checked against.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.inner.bytes_seen()
    }
}

impl fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStream")
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("bytes_read", &self.bytes_read())
            .finish()
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl Client {
    /// Streams a blob, verifying its digest (and announced size) as it goes.
    ///
    /// Memory stays constant whatever the blob's size. The registry may
    /// redirect to storage elsewhere; credentials do not follow a redirect to
    /// another host. A body longer than its known size (`Content-Length`,
    /// else a `HEAD`'s) fails at once; with no size known at all, the body is
    /// capped at [`Limits::unsized_blob`](crate::http::Limits::unsized_blob).
    pub async fn blob_stream(&self, name: &RepositoryName, digest: &Digest) -> Result<BlobStream> {
        self.blob_stream_sized(name, digest, None).await
    }

    /// Like [`Client::blob_stream`], also checking the size a descriptor
    /// announced (a body that grows past it is cut off at once).
    ///
    /// With no descriptor size and no `Content-Length`, the size comes from a
    /// `HEAD`; when that does not say either, a body past
    /// [`Limits::unsized_blob`](crate::http::Limits::unsized_blob) is
    /// [`Error::TooLarge`].
    pub async fn blob_stream_sized(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobStream> {
        let url = self.repo_url(name, &format!("blobs/{digest}"));
        let shown = redact(&url);
        let request = Request::get(url).scope(Scope::pull(name));
        let response = self.send(request.clone()).await?;
        let announced = content_length(response.headers());
        if let (Some(expected), Some(announced)) = (expected_size, announced) {
            if expected != announced {
                return Err(Error::SizeMismatch {
                    what: format!("blob GET {shown}"),
                    expected,
                    actual: announced,
                });
            }
        }
        let what = format!("blob GET {shown}");
        let mut size = expected_size.or(announced);
        if size.is_none() {
            // No descriptor and a body of no announced length (chunked): the
            // HEAD may know the size. A HEAD that fails or does not say
            // leaves the body capped at `Limits::unsized_blob`.
            size = self.blob_head(name, digest).await.ok().flatten().flatten();
        }
        let mut body = resuming_body(self.clone(), request, response);
        if size.is_none() {
            body = capped(body, self.limits().unsized_blob, what.clone());
        }
        let mut inner = VerifyingStream::new(body, Verifier::new(what, digest.clone(), size));
        // Large bodies are hashed on a thread of their own, overlapping with
        // receiving and writing; small ones (configs) are not worth a thread.
        if size.is_none_or(|s| s >= BACKGROUND_HASH_MIN) {
            inner = inner.in_background();
        }
        Ok(BlobStream {
            inner,
            size,
            digest: digest.clone(),
        })
    }

    /// Downloads a blob to `path`, verified, and returns its size.
    ///
    /// The bytes go to a temporary file beside `path` that is renamed over it
    /// only after the digest matched. On any failure (a digest or size
    /// mismatch, a broken connection, a dropped future) the temporary file is
    /// removed and nothing appears at `path`. The size is checked as in
    /// [`Client::blob_stream`]: a body of no known size stops at
    /// [`Limits::unsized_blob`](crate::http::Limits::unsized_blob).
    ///
    /// With a [cache](crate::ClientBuilder::cache) that keeps
    /// [layers](crate::cache::CacheConfig::layers), a blob it holds is
    /// copied from it (hashed on the way, so a bad file is dropped and the
    /// registry asked instead), and a downloaded one is kept.
    pub async fn download_blob(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        path: impl AsRef<Path>,
    ) -> Result<u64> {
        self.download_blob_with(name, digest, None, path, |_, _| {})
            .await
    }

    /// Like [`Client::download_blob`], also checking an expected size (from a
    /// descriptor) and calling `progress(bytes_so_far, total)` after each chunk.
    pub async fn download_blob_with(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        expected_size: Option<u64>,
        path: impl AsRef<Path>,
        mut progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<u64> {
        let path = path.as_ref();
        // A blob the cache does not know costs no file here.
        if self.cache_holds_blob(digest).await {
            let temp = TempFile::beside(path).await?;
            let file = temp.open().map_err(|source| Error::Io {
                path: temp.path.clone(),
                source,
            })?;
            let cached = self
                .blob_from_cache(digest, expected_size, file, self.sync_downloads())
                .await;
            if let Some(n) = cached {
                progress(n, Some(n));
                temp.persist(path, self.sync_downloads()).await?;
                return Ok(n);
            }
            // Dropped: the part file goes, and the registry is asked.
        }
        let mut stream = self.blob_stream_sized(name, digest, expected_size).await?;
        let total = stream.size();
        let temp = TempFile::beside(path).await?;
        let io_err = |source| Error::Io {
            path: temp.path.clone(),
            source,
        };
        let mut out =
            spawn_writer(temp.open().map_err(io_err)?, self.sync_downloads()).map_err(io_err)?;
        while let Some(chunk) = stream.next().await {
            if !out.send(chunk?).await {
                break; // the writer failed: finish() says why
            }
            progress(stream.bytes_read(), total);
        }
        out.finish()
            .await
            .unwrap_or_else(|| Err(std::io::Error::other("the writer thread failed")))
            .map_err(io_err)?;
        let written = stream.bytes_read();
        // Verified by now (the stream ends with an error otherwise).
        self.keep_blob_file(digest, &temp.path).await;
        temp.persist(path, self.sync_downloads()).await?;
        Ok(written)
    }

    /// The size of a blob (`HEAD`), or `None` when the registry does not have
    /// it in this repository.
    pub async fn blob_size(&self, name: &RepositoryName, digest: &Digest) -> Result<Option<u64>> {
        Ok(self
            .blob_head(name, digest)
            .await?
            .map(|len| len.unwrap_or(0)))
    }

    /// A blob's `HEAD`: `None` when the registry does not have it, else its
    /// `Content-Length` when the registry sent one.
    async fn blob_head(
        &self,
        name: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<Option<u64>>> {
        let request =
            Request::head(self.repo_url(name, &format!("blobs/{digest}"))).scope(Scope::pull(name));
        let method = request.method.clone();
        let response = self.send_any(request).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(content_length(response.headers()))),
            _ => Err(self.status_error(&method, response).await),
        }
    }

    /// Deletes a blob from a repository (`DELETE`). The registry's garbage
    /// collection reclaims its space once nothing references it.
    pub async fn delete_blob(&self, name: &RepositoryName, digest: &Digest) -> Result<()> {
        let url = self.repo_url(name, &format!("blobs/{digest}"));
        self.delete_resource(url, Scope::delete(name)).await
    }

    /// Whether the registry has a blob in this repository (`HEAD`).
    pub async fn blob_exists(&self, name: &RepositoryName, digest: &Digest) -> Result<bool> {
        Ok(self.blob_size(name, digest).await?.is_some())
    }

    /// A whole blob in memory, verified; refused past `limit` bytes. For small
    /// blobs such as image configs: stream large ones with
    /// [`Client::blob_stream`].
    pub async fn blob_bytes(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        limit: u64,
    ) -> Result<Bytes> {
        self.blob_bytes_sized(name, digest, None, limit).await
    }

    pub(crate) async fn blob_bytes_sized(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        expected_size: Option<u64>,
        limit: u64,
    ) -> Result<Bytes> {
        let stream = self.blob_stream_sized(name, digest, expected_size).await?;
        let announced = stream.size();
        collect_limited(stream, announced, limit, || Error::TooLarge {
            what: format!("blob {digest} of {name}"),
            limit,
        })
        .await
    }
}

/// A body of no known size, refused with [`Error::TooLarge`] once it passes
/// `limit` bytes (the stream ends with that error).
fn capped(
    body: BoxStream<'static, Result<Bytes>>,
    limit: u64,
    what: String,
) -> BoxStream<'static, Result<Bytes>> {
    let mut seen: u64 = 0;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            return Err(Error::TooLarge {
                what: format!("{what} (no size known)"),
                limit,
            });
        }
        Ok(chunk)
    })
    .boxed()
}

/// Blobs from this size on are hashed on a thread of their own.
const BACKGROUND_HASH_MIN: u64 = 4 << 20;

/// Chunks a download's writer thread may trail behind by.
const WRITE_QUEUE: usize = 16;

/// Writes a download's chunks to its file on a thread of its own: no copy
/// into intermediate buffers, and the writes overlap with receiving and
/// hashing.
fn spawn_writer(
    file: std::fs::File,
    sync: bool,
) -> std::io::Result<ChunkWorker<std::io::Result<()>>> {
    ChunkWorker::spawn("dockreg-write", WRITE_QUEUE, move |chunks| {
        use std::io::Write;
        let mut file = file;
        for chunk in chunks {
            file.write_all(&chunk)?;
        }
        if sync {
            file.sync_data()?;
        }
        Ok(())
    })
}

/// A temporary file beside a destination, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    file: std::sync::Mutex<Option<std::fs::File>>,
    guard: tempfile::TempPath,
}

impl TempFile {
    /// Creates the file (off the runtime's threads).
    async fn beside(dest: &Path) -> Result<TempFile> {
        let owned = dest.to_owned();
        let created = tokio::task::spawn_blocking(move || temp_beside(&owned))
            .await
            .map_err(|e| Error::protocol("download", format!("the file task failed: {e}")))?;
        let (file, guard) = created
            .map_err(|source| Error::Io {
                path: dest.to_owned(),
                source,
            })?
            .into_parts();
        Ok(TempFile {
            path: guard.to_path_buf(),
            file: std::sync::Mutex::new(Some(file)),
            guard,
        })
    }

    /// The file, open for writing (once).
    fn open(&self) -> std::io::Result<std::fs::File> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.take()
            .ok_or_else(|| std::io::Error::other("the temporary file was handed out already"))
    }

    async fn persist(self, dest: &Path, sync: bool) -> Result<()> {
        let dest = dest.to_owned();
        let guard = self.guard;
        tokio::task::spawn_blocking(move || persist_beside(guard, &dest, sync))
            .await
            .map_err(|e| Error::protocol("download", format!("the rename task failed: {e}")))?
    }
}

/// A new temporary file in `dest`'s directory, named for `dest` plus a
/// random part and opened with `create_new`: a file or symlink planted at a
/// name it might take is never opened, followed or truncated. Removed when
/// dropped, unless persisted.
pub(crate) fn temp_beside(dest: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let name = dest
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".dockreg-part");
    // As File::create would: readable as the umask allows, not only 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir_of(dest))
}

/// Renames a temporary file over `dest`; with `sync`, also flushes the
/// directory, so that the rename itself survives a crash.
pub(crate) fn persist_beside(temp: tempfile::TempPath, dest: &Path, sync: bool) -> Result<()> {
    let io = |source| Error::Io {
        path: dest.to_owned(),
        source,
    };
    temp.persist(dest).map_err(|e| io(e.error))?;
    #[cfg(unix)]
    if sync {
        std::fs::File::open(dir_of(dest))
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = sync;
    Ok(())
}

/// The directory a path is in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}
