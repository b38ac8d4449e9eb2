//! Copying images within a registry (mounts, no bytes moved) and between
//! registries (blobs streamed through, verified, a few at once).

use futures::{StreamExt, TryStreamExt};

use crate::api::uploads::{PushOutcome, DEFAULT_CHUNK_SIZE};
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::{media_type, Manifest, ManifestBody, Platform};
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

/// Which manifests of an index (or manifest list) a copy takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platforms {
    /// Every platform; the index itself is copied byte for byte.
    #[default]
    All,
    /// One platform: its manifest is copied and tagged in place of the index.
    One(Platform),
}

/// Settings of [`Client::copy_image`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Which platforms of an index to copy (default: all).
    pub platforms: Platforms,
    /// Blobs transferred at once (default 4).
    pub concurrency: usize,
    /// Size of each upload chunk; memory holds about `concurrency` of them
    /// (default [`DEFAULT_CHUNK_SIZE`]).
    pub chunk_size: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            platforms: Platforms::All,
            concurrency: 4,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl CopyOptions {
    /// Copies only `platform` of an index.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platforms = Platforms::One(platform);
        self
    }

    /// Blobs transferred at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// The digest of the manifest written under the destination reference.
    pub digest: Option<Digest>,
    /// Manifests written (an index counts with its children).
    pub manifests: usize,
    /// Blobs whose bytes were uploaded.
    pub blobs_uploaded: usize,
    /// Blobs mounted from the source repository (same registry).
    pub blobs_mounted: usize,
    /// Blobs the destination already had.
    pub blobs_existing: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
}

/// A blob an image manifest references: digest and, when the manifest says,
/// size.
pub(crate) struct BlobRef {
    pub(crate) digest: Digest,
    pub(crate) size: Option<u64>,
}

/// The blobs a manifest references, each once: config and layers, or a
/// schema 1 manifest's `fsLayers`. Foreign layers (with `urls`) are left out:
/// registries do not hold them.
pub(crate) fn blobs_of(manifest: &Manifest) -> Vec<BlobRef> {
    let mut out: Vec<BlobRef> = Vec::new();
    let mut push = |digest: &Digest, size: Option<u64>| {
        if !out.iter().any(|b| b.digest == *digest) {
            out.push(BlobRef {
                digest: digest.clone(),
                size,
            });
        }
    };
    match manifest.body() {
        ManifestBody::Schema1 { manifest: m, .. } => {
            for layer in &m.fs_layers {
                push(&layer.blob_sum, None);
            }
        }
        _ => {
            if let Some(config) = manifest.config() {
                push(&config.digest, Some(config.size));
            }
            for layer in manifest.layers() {
                let foreign = layer.media_type == media_type::DOCKER_FOREIGN_LAYER;
                if !foreign || layer.urls.is_empty() {
                    push(&layer.digest, Some(layer.size));
                }
            }
        }
    }
    out
}

impl Client {
    /// Copies an image from this client's registry to `dest` (the same
    /// registry or another), and returns what it did.
    ///
    /// Every blob the destination lacks is mounted from the source repository
    /// when both are on one registry (no bytes move), else streamed through:
    /// verified against its digest on the way, `options.concurrency` at once,
    /// memory bounded by the chunk size. Child manifests of an index go by
    /// digest, then the top manifest is written under `dest_reference` with
    /// its exact bytes, so digests do not change. With
    /// [`Platforms::One`], only that platform's manifest is copied and
    /// written under `dest_reference`.
    pub async fn copy_image(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        dest: &Client,
        dest_name: &RepositoryName,
        dest_reference: &TagOrDigest,
        options: &CopyOptions,
    ) -> Result<CopyReport> {
        let mut top = self.manifest(name, reference).await?;
        let mut report = CopyReport::default();
        if top.is_index() {
            match &options.platforms {
                Platforms::One(platform) => {
                    let entry = top.select_platform(platform).ok_or_else(|| {
                        let available: Vec<String> =
                            top.platforms().iter().map(ToString::to_string).collect();
                        Error::NoMatchingPlatform {
                            what: format!("{name}:{reference}"),
                            platform: platform.to_string(),
                            available: available.join(", "),
                        }
                    })?;
                    let digest = TagOrDigest::Digest(entry.digest.clone());
                    top = self.manifest(name, &digest).await?;
                }
                Platforms::All => {
                    let children = top.manifests().to_vec();
                    for child in children {
                        let by_digest = TagOrDigest::Digest(child.digest.clone());
                        let manifest = self.manifest(name, &by_digest).await?;
                        if manifest.is_index() {
                            return Err(Error::protocol(
                                format!("copy of {name}:{reference}"),
                                "nested indexes are not supported",
                            ));
                        }
                        self.copy_blobs(name, &manifest, dest, dest_name, options, &mut report)
                            .await?;
                        dest.put_manifest(dest_name, &by_digest, &manifest).await?;
                        report.manifests += 1;
                    }
                }
            }
        }
        if !top.is_index() {
            self.copy_blobs(name, &top, dest, dest_name, options, &mut report)
                .await?;
        }
        let digest = dest.put_manifest(dest_name, dest_reference, &top).await?;
        report.manifests += 1;
        report.digest = Some(digest);
        Ok(report)
    }

    async fn copy_blobs(
        &self,
        name: &RepositoryName,
        manifest: &Manifest,
        dest: &Client,
        dest_name: &RepositoryName,
        options: &CopyOptions,
        report: &mut CopyReport,
    ) -> Result<()> {
        let same_registry = self.base_url() == dest.base_url();
        let outcomes: Vec<(PushOutcome, u64)> = futures::stream::iter(blobs_of(manifest))
            .map(|blob| async move {
                if dest.blob_exists(dest_name, &blob.digest).await? {
                    return Ok((PushOutcome::Exists, 0));
                }
                let upload = if same_registry {
                    match dest.mount_blob(dest_name, &blob.digest, name).await? {
                        None => return Ok((PushOutcome::Mounted, 0)),
                        Some(upload) => upload,
                    }
                } else {
                    dest.start_upload(dest_name).await?
                };
                let stream = self
                    .blob_stream_sized(name, &blob.digest, blob.size)
                    .await?;
                let (_, size) = upload
                    .push_stream(stream, Some(&blob.digest), options.chunk_size)
                    .await?;
                Ok::<_, Error>((PushOutcome::Uploaded, size))
            })
            .buffer_unordered(options.concurrency.max(1))
            .try_collect()
            .await?;
        for (outcome, bytes) in outcomes {
            match outcome {
                PushOutcome::Exists => report.blobs_existing += 1,
                PushOutcome::Mounted => report.blobs_mounted += 1,
                PushOutcome::Uploaded => {
                    report.blobs_uploaded += 1;
                    report.bytes_uploaded += bytes;
                }
            }
        }
        Ok(())
    }
}
