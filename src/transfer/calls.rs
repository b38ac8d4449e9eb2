//! The transfers as calls on [`Client`]: each is [`copy`] between a
//! [`RegistryImage`] and another end.

use super::engine::{copy, LayoutImage, RegistryImage, TransferOptions, TransferReport};
use super::image::Platforms;
use super::layout::OciLayout;
use crate::client::Client;
use crate::digest::Digest;
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

/// The settings of a copy: [`TransferOptions`] (the name of 0.1).
pub type CopyOptions = TransferOptions;

/// What a copy (or a push from a layout) did: [`TransferReport`] (the name
/// of 0.1).
pub type CopyReport = TransferReport;

/// What a pull into a layout did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullReport {
    /// The digest of the manifest recorded in `index.json`.
    pub digest: Option<Digest>,
    /// Blobs downloaded.
    pub blobs_downloaded: usize,
    /// Blobs the layout already had.
    pub blobs_existing: usize,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
}

impl Client {
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

    /// Downloads an image into an OCI layout: every blob verified (those the
    /// layout has are skipped), then its manifest, recorded in `index.json`
    /// under `ref_name`. For an index, [`Platforms::All`] keeps the whole
    /// index, [`Platforms::One`] only that platform's manifest. This is
    /// [`copy`] from a [`RegistryImage`] to a [`LayoutImage`].
    pub async fn pull_to_layout(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        layout: &OciLayout,
        ref_name: Option<&str>,
        platforms: &Platforms,
        concurrency: usize,
    ) -> Result<PullReport> {
        let options = TransferOptions::default()
            .platforms(platforms.clone())
            .concurrency(concurrency);
        let target = LayoutImage::new(layout, ref_name).settings_of(self);
        let report = copy(
            &RegistryImage::new(self, name, reference),
            &target,
            &options,
        )
        .await?;
        Ok(PullReport {
            digest: report.digest,
            blobs_downloaded: report.blobs_uploaded,
            blobs_existing: report.blobs_existing,
            bytes_downloaded: report.bytes_uploaded,
        })
    }

    /// Pushes the image named `ref_name` in a layout (or its only image) to
    /// `name:reference`: blobs the registry lacks are uploaded from their
    /// files (streamed, verified against their digests before the upload
    /// commits), then child manifests by digest and the top manifest with
    /// its exact bytes. Returns what was pushed. This is
    /// [`copy`] from a [`LayoutImage`] to a [`RegistryImage`].
    pub async fn push_from_layout(
        &self,
        layout: &OciLayout,
        ref_name: Option<&str>,
        name: &RepositoryName,
        reference: &TagOrDigest,
        concurrency: usize,
    ) -> Result<CopyReport> {
        let source = LayoutImage::new(layout, ref_name).settings_of(self);
        let target = RegistryImage::new(self, name, reference);
        copy(
            &source,
            &target,
            &TransferOptions::default().concurrency(concurrency),
        )
        .await
    }
}
