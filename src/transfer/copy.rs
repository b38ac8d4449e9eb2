//! Copying images within a registry (mounts, no bytes moved) and between
//! registries (blobs streamed through, verified, a few at once).

use std::collections::HashSet;

use super::engine::{copy, RegistryImage, TransferOptions, TransferReport};
use crate::api::platform_entry;
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

/// The settings of a copy: [`TransferOptions`] (the name of 0.1).
pub type CopyOptions = TransferOptions;

/// What a copy (or a push from a layout) did: [`TransferReport`] (the name
/// of 0.1).
pub type CopyReport = TransferReport;

/// A blob an image manifest references: digest and, when the manifest says,
/// size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size, when the manifest gives one (schema 1 does not).
    pub size: Option<u64>,
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
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The manifest written under the destination reference: an image
    /// manifest, or an index whose children are `images`.
    pub top: Manifest,
    /// The image manifests whose blobs go along.
    pub images: Vec<Manifest>,
}

impl Resolved {
    /// Every blob of every image, each once.
    pub fn blobs(&self) -> Vec<BlobRef> {
        let mut seen: HashSet<Digest> = HashSet::new();
        self.images
            .iter()
            .flat_map(blobs_of)
            .filter(|blob| seen.insert(blob.digest.clone()))
            .collect()
    }

    /// The children written by digest before the top manifest.
    pub fn children(&self) -> &[Manifest] {
        if self.top.is_index() {
            &self.images
        } else {
            &[]
        }
    }
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
    /// registry or another), and returns what it did: [`copy`] from a
    /// [`RegistryImage`] to another.
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
        copy(
            &RegistryImage::new(self, name, reference),
            &RegistryImage::new(dest, dest_name, dest_reference),
            options,
        )
        .await
    }
}
