//! The fetch paths of the report, retention planning and usage: a tag's
//! manifest (by `HEAD` and the cache when it is likely cached, else by
//! `GET`), manifests by digest and image configs, each from the cache when
//! it holds them verified, else from the registry and then kept.

use std::sync::Arc;

use bytes::Bytes;

use super::hints::MAX_HINTS_BYTES;
use super::store::{check_blob, is_content_of, Refusal};
use super::{Cache, CacheStats, Hints, Store};
use crate::api::{check_fan_out, verify_manifest};
use crate::client::Client;
use crate::digest::Digest;
use crate::models::Manifest;
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::Result;

/// Runs `f` with the store on the blocking pool; `None` when the pool
/// could not run it (the runtime shutting down).
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> T + Send + 'static,
) -> Option<T> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store)).await.ok()
}

/// Reads the store's directory again when its index is stale (never read,
/// or not in the last minute).
async fn fresh(store: &Arc<Store>) {
    if store.stale() {
        blocking(store, Store::reload_if_stale).await;
    }
}

impl Client {
    /// What this client's cache did so far (hits, misses, writes, dropped
    /// files, evictions, failures), shared by its clones; `None` without a
    /// cache ([`ClientBuilder::cache`](crate::ClientBuilder::cache)).
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(|c| c.store().stats())
    }

    fn store(&self) -> Option<&Arc<Store>> {
        self.inner.cache.as_ref().map(Cache::store)
    }

    /// Keeps verified `bytes` as the entry of `digest` (nothing without a
    /// cache), written in the background: see [`Client::cache_settled`].
    async fn keep(&self, digest: &Digest, bytes: Bytes) {
        if let Some(cache) = &self.inner.cache {
            cache.put(digest.clone(), bytes).await;
        }
    }

    /// Whether the cache keeps layers and knows an entry for `digest` (not
    /// whether it verifies): worth a file to copy it into.
    pub(crate) async fn cache_holds_blob(&self, digest: &Digest) -> bool {
        let Some(store) = self.store().filter(|s| s.layers) else {
            return false;
        };
        fresh(store).await;
        store.has(digest)
    }

    /// Copies the cached blob `digest` into `out` when the cache keeps
    /// layers and holds it verified (hashed on the way; `size` checked when
    /// given), flushed to disk with `sync`: its length. `None`: fetch it,
    /// and throw away what `out` holds.
    pub(crate) async fn blob_from_cache(
        &self,
        digest: &Digest,
        size: Option<u64>,
        mut out: std::fs::File,
        sync: bool,
    ) -> Option<u64> {
        let store = self.store().filter(|s| s.layers)?;
        let digest = digest.clone();
        blocking(store, move |s| {
            let n = s.copy_out(&digest, size, &mut out)?;
            (!sync || out.sync_all().is_ok()).then_some(n)
        })
        .await
        .flatten()
    }

    /// Keeps a copy of the downloaded, verified file at `path` as the
    /// entry of `digest`, when the cache keeps layers.
    pub(crate) async fn keep_blob_file(&self, digest: &Digest, path: &std::path::Path) {
        if let Some(store) = self.store().filter(|s| s.layers) {
            let (digest, path) = (digest.clone(), path.to_owned());
            blocking(store, move |s| s.keep_file(&digest, &path)).await;
        }
    }

    /// Looks up the entry of `digest` with `get` (which reads and verifies
    /// it): on the blocking pool when it is on disk, here when it is a
    /// miss or in memory. The index is read first when it is stale.
    async fn cached<T: Send + 'static>(
        &self,
        store: &Arc<Store>,
        digest: &Digest,
        get: impl FnOnce(&Store) -> Option<T> + Send + 'static,
    ) -> Option<T> {
        fresh(store).await;
        if store.on_disk(digest) {
            blocking(store, get).await.flatten()
        } else {
            get(store)
        }
    }

    /// Waits for the cache writes asked for so far: what a call that
    /// fetched through the cache does before it returns, so that its files
    /// are there when it does (and a process that exits next loses none).
    pub(crate) async fn cache_settled(&self) {
        if let Some(cache) = &self.inner.cache {
            cache.settled().await;
        }
    }

    /// The tag hints of `name` (none without a cache), with those whose
    /// manifest is in the cache marked.
    pub(crate) async fn tag_hints(&self, name: &RepositoryName) -> Hints {
        let Some(store) = self.store() else {
            return Hints::default();
        };
        let key = Digest::sha256(format!("{}\n{name}", self.inner.base).as_bytes())
            .hex()
            .to_owned();
        blocking(store, move |s| {
            // What other runs wrote since this client last looked counts.
            s.reload();
            let text = s.read_tags(&key, MAX_HINTS_BYTES).unwrap_or_default();
            let mut hints = Hints::parse(key, &text);
            hints.cached = hints
                .known
                .iter()
                .filter(|(_, d)| s.has(d))
                .map(|(t, d)| (t.clone(), d.clone()))
                .collect();
            hints
        })
        .await
        .unwrap_or_default()
    }

    /// Writes what a report saw as the next report's hints, when it
    /// changed (in the background, after the entries asked for before).
    pub(crate) async fn keep_tag_hints(&self, hints: Hints) {
        let (Some(cache), Some(key)) = (&self.inner.cache, hints.key.clone()) else {
            return;
        };
        if let Some(text) = hints.to_write() {
            cache.write_tags(key, text).await;
        }
    }

    /// A tag's manifest. When a cache is set and `hints` say the tag's
    /// manifest is likely in it: its digest by `HEAD` (every manifest type in
    /// `Accept`), then the manifest of that digest from the cache, verified
    /// (or by `GET` when it is not there). Otherwise a `GET` by tag, as
    /// [`Client::manifest`], and the manifest is kept. Records the digest in
    /// `hints`.
    pub(crate) async fn tag_manifest(
        &self,
        name: &RepositoryName,
        tag: &Tag,
        hints: &Hints,
    ) -> Result<Manifest> {
        let reference = TagOrDigest::Tag(tag.clone());
        if self.store().is_some() && hints.likely_cached(tag.as_str()) {
            match self.manifest_head(name, &reference).await {
                Ok(Some((digest, content_type))) => {
                    let manifest = self
                        .manifest_by_digest(name, &digest, content_type.as_deref())
                        .await?;
                    hints.record(tag.as_str(), &digest);
                    return Ok(manifest);
                }
                // No digest announced: the GET below hashes the body.
                Ok(None) => {}
                // A failed HEAD has no body to say why; the GET's has.
                Err(e) if e.status().is_some() && e.registry_errors().is_empty() => {}
                Err(e) => return Err(e),
            }
        }
        let manifest = self.manifest(name, &reference).await?;
        if self.store().is_some() {
            let digest = manifest.digest()?;
            self.keep(&digest, manifest.bytes().clone()).await;
            hints.record(tag.as_str(), &digest);
        }
        Ok(manifest)
    }

    /// The manifest with `digest`, read as `media_type` (the `Content-Type`
    /// the registry gives it; `None`: from its body): from the cache when it
    /// holds it and it verifies as [`Client::manifest`] verifies, else by
    /// `GET` and then kept. The caller knows the repository holds it (a tag
    /// or an index of the repository named it).
    pub(crate) async fn manifest_by_digest(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        media_type: Option<&str>,
    ) -> Result<Manifest> {
        let reference = TagOrDigest::Digest(digest.clone());
        let Some(store) = self.store() else {
            return self.manifest(name, &reference).await;
        };
        let (wanted, media_type, limits) = (
            digest.clone(),
            media_type.map(str::to_owned),
            *self.limits(),
        );
        let cached = self
            .cached(store, digest, move |s| {
                s.get(&wanted, limits.manifest, |bytes| {
                    let what = format!("cached manifest {wanted}");
                    // Bytes that hash to the digest are its content: read
                    // as another media type, they are refused here only.
                    let raw = bytes.clone();
                    let refuse = |e: crate::Error| match is_content_of(&wanted, &raw) {
                        true => Refusal::NotHere(e.to_string()),
                        false => Refusal::Bad(e.to_string()),
                    };
                    let manifest =
                        Manifest::from_bytes(bytes, media_type.as_deref()).map_err(refuse)?;
                    verify_manifest(&manifest, [Some(&wanted), None], &what).map_err(refuse)?;
                    // Verified: a fan-out past this client's limits is its own.
                    check_fan_out(&manifest, &limits, &what)
                        .map_err(|e| Refusal::NotHere(e.to_string()))?;
                    Ok(manifest)
                })
            })
            .await;
        if let Some(manifest) = cached {
            return Ok(manifest);
        }
        let manifest = self.manifest(name, &reference).await?;
        self.keep(digest, manifest.bytes().clone()).await;
        Ok(manifest)
    }

    /// The blob with `digest` read whole (at most `limit` bytes, `size` when
    /// known): from the cache when it holds it and its bytes hash to the
    /// digest (and have the size), else from the registry, verified, and
    /// then kept.
    pub(crate) async fn blob_bytes_cached(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        size: Option<u64>,
        limit: u64,
    ) -> Result<Bytes> {
        let Some(store) = self.store() else {
            return self.blob_bytes_sized(name, digest, size, limit).await;
        };
        let wanted = digest.clone();
        let cached = self
            .cached(store, digest, move |s| {
                s.get(&wanted, limit, |bytes| {
                    check_blob(&wanted, size, &bytes).map(|()| bytes)
                })
            })
            .await;
        if let Some(bytes) = cached {
            return Ok(bytes);
        }
        // Verified against the digest (and size) while read.
        let bytes = self.blob_bytes_sized(name, digest, size, limit).await?;
        self.keep(digest, bytes.clone()).await;
        Ok(bytes)
    }
}
