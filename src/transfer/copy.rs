//! Copying images within a registry (mounts, no bytes moved) and between
//! registries (blobs streamed through, verified, a few at once).

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};

use crate::api::platform_entry;
use crate::api::{PushOutcome, DEFAULT_CHUNK_SIZE};
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

/// What a copy (or a push from a layout) did.
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
    let mut seen: HashSet<Digest> = HashSet::new();
    let mut push = |digest: &Digest, size: Option<u64>| {
        if seen.insert(digest.clone()) {
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

/// An image resolved for a transfer: the manifest to write under the
/// destination reference, and the image manifests whose blobs go along
/// (an index's children, written by digest before it).
pub(crate) struct Resolved {
    pub(crate) top: Manifest,
    pub(crate) images: Vec<Manifest>,
}

impl Resolved {
    /// Every blob of every image, each once.
    pub(crate) fn blobs(&self) -> Vec<BlobRef> {
        let mut seen: HashSet<Digest> = HashSet::new();
        self.images
            .iter()
            .flat_map(blobs_of)
            .filter(|blob| seen.insert(blob.digest.clone()))
            .collect()
    }

    /// The children written by digest before the top manifest.
    pub(crate) fn children(&self) -> &[Manifest] {
        if self.top.is_index() {
            &self.images
        } else {
            &[]
        }
    }
}

/// Where the bytes of a blob the destination lacks come from.
pub(crate) enum BlobSource<'a> {
    /// Another repository, on this registry (mounted) or another (streamed).
    Registry {
        client: &'a Client,
        name: &'a RepositoryName,
    },
    /// The files of an OCI layout.
    Layout(&'a crate::transfer::layout::OciLayout),
}

impl Client {
    /// Fetches `reference` and, for an index, the manifests `platforms` picks.
    pub(crate) async fn resolve_images(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        platforms: &Platforms,
    ) -> Result<Resolved> {
        let top = self.manifest(name, reference).await?;
        if !top.is_index() {
            return Ok(Resolved {
                images: vec![top.clone()],
                top,
            });
        }
        match platforms {
            Platforms::One(platform) => {
                let entry = platform_entry(&top, platform, || format!("{name}:{reference}"))?;
                let chosen = self
                    .manifest(name, &TagOrDigest::Digest(entry.digest.clone()))
                    .await?;
                Ok(Resolved {
                    images: vec![chosen.clone()],
                    top: chosen,
                })
            }
            Platforms::All => {
                // The count was capped when the index was fetched; a child
                // named twice is fetched (and written) once.
                let mut images = Vec::new();
                let mut seen: HashSet<&Digest> = HashSet::new();
                for child in top.manifests() {
                    if !seen.insert(&child.digest) {
                        continue;
                    }
                    let m = self
                        .manifest(name, &TagOrDigest::Digest(child.digest.clone()))
                        .await?;
                    if m.is_index() {
                        return Err(Error::protocol(
                            format!("{name}:{reference}"),
                            "nested indexes are not supported",
                        ));
                    }
                    images.push(m);
                }
                Ok(Resolved { top, images })
            }
        }
    }

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
        let resolved = self
            .resolve_images(name, reference, &options.platforms)
            .await?;
        let source = BlobSource::Registry { client: self, name };
        dest.write_image(dest_name, dest_reference, &resolved, source, options)
            .await
    }

    /// Writes a resolved image to `name:reference`: the blobs this registry
    /// lacks from `source`, then the children by digest, then the top.
    pub(crate) async fn write_image(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        resolved: &Resolved,
        source: BlobSource<'_>,
        options: &CopyOptions,
    ) -> Result<CopyReport> {
        let mut report = CopyReport::default();
        self.transfer_blobs(name, resolved.blobs(), &source, options, &mut report)
            .await?;
        for child in resolved.children() {
            let digest = TagOrDigest::Digest(child.digest()?);
            self.put_manifest(name, &digest, child).await?;
            report.manifests += 1;
        }
        let digest = self.put_manifest(name, reference, &resolved.top).await?;
        report.manifests += 1;
        report.digest = Some(digest);
        Ok(report)
    }

    /// Makes sure `name` has every blob: already there, mounted from the
    /// source repository on this registry, or uploaded from `source`.
    async fn transfer_blobs(
        &self,
        name: &RepositoryName,
        blobs: Vec<BlobRef>,
        source: &BlobSource<'_>,
        options: &CopyOptions,
        report: &mut CopyReport,
    ) -> Result<()> {
        let outcomes: Vec<(PushOutcome, u64)> = futures::stream::iter(blobs)
            .map(|blob| async move {
                if self.blob_exists(name, &blob.digest).await? {
                    return Ok((PushOutcome::Exists, 0));
                }
                let pushed = match source {
                    BlobSource::Registry { client, name: from } => {
                        let upload = if client.base_url() == self.base_url() {
                            match self.mount_blob(name, &blob.digest, from).await? {
                                None => return Ok((PushOutcome::Mounted, 0)),
                                Some(upload) => upload,
                            }
                        } else {
                            self.start_upload(name).await?
                        };
                        let stream = client
                            .blob_stream_sized(from, &blob.digest, blob.size)
                            .await?;
                        // The source stream verifies its bytes as they pass.
                        upload
                            .trusting_source()
                            .push_stream(stream, Some(&blob.digest), options.chunk_size)
                            .await?
                    }
                    BlobSource::Layout(layout) => {
                        // Check the file first: a missing, mis-sized or lying
                        // one opens no session. The stream verifies itself.
                        let stream = layout.blob_file_stream(&blob.digest, blob.size).await?;
                        self.start_upload(name)
                            .await?
                            .trusting_source()
                            .push_stream(stream, Some(&blob.digest), options.chunk_size)
                            .await?
                    }
                };
                Ok::<_, Error>((PushOutcome::Uploaded, pushed.1))
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
