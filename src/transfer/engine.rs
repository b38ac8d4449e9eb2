//! The transfer engine: [`copy`], its ends, options, events and report.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::image::{BlobRef, Platforms, Resolved};
use super::layout::{off_runtime, OciLayout};
use crate::api::DEFAULT_CHUNK_SIZE;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::http::{with_retry_hook, Limits};
use crate::models::Descriptor;
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

/// What happened to one blob, or to the image, as a transfer runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A blob the target lacks starts to move (`size` when the manifest
    /// says it).
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size, from the manifest.
        size: Option<u64>,
    },
    /// Bytes of a blob have moved: `done` in all so far, of `size`.
    Progress {
        /// The blob.
        digest: Digest,
        /// Bytes moved so far.
        done: u64,
        /// Its size, when known.
        size: Option<u64>,
    },
    /// The blob was mounted from the source repository: no bytes moved.
    Mounted {
        /// The blob.
        digest: Digest,
    },
    /// The target already had the blob: nothing moved.
    Skipped {
        /// The blob.
        digest: Digest,
    },
    /// The blob's bytes arrived whole and verified.
    BlobDone {
        /// The blob.
        digest: Digest,
        /// Bytes moved.
        bytes: u64,
    },
    /// A request for the blob failed in a way worth another try (a 503, a
    /// broken connection, a body cut short) and is tried again after
    /// `delay`.
    Retried {
        /// The blob.
        digest: Digest,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// The wait before the next attempt.
        delay: std::time::Duration,
        /// What went wrong, as a message.
        reason: String,
    },
    /// A referrer of a copied manifest (a signature, an SBOM, an
    /// attestation) was copied too ([`TransferOptions::referrers`]), after
    /// the image's [`Event::Done`].
    Referrer {
        /// The manifest it refers to.
        subject: Digest,
        /// The referrer's digest.
        digest: Digest,
        /// Its artifact type, as the referrers list gives it.
        artifact_type: Option<String>,
    },
    /// The manifests were written; the image is at the target.
    Done {
        /// The digest of the manifest written under the target's reference.
        digest: Digest,
    },
}

/// Hears the [`Event`]s of a transfer, from the tasks that move the blobs
/// (so it must be cheap and must not block). Any `Fn(&Event) + Send +
/// Sync` is one.
pub trait Observer: Send + Sync {
    /// Called with each event.
    fn event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> Observer for F {
    fn event(&self, event: &Event) {
        self(event)
    }
}

/// Settings of a transfer ([`copy`], [`Client::copy_image`],
/// [`Client::pull_to_layout`], [`Client::push_from_layout`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Which platforms of an index to move (default: all).
    pub platforms: Platforms,
    /// Blobs moved at once (default 4).
    pub concurrency: usize,
    /// Size of each upload chunk; memory holds about `concurrency` of them
    /// (default [`DEFAULT_CHUNK_SIZE`]).
    pub chunk_size: usize,
    /// Hears what happens (default: nobody).
    pub observer: Option<Arc<dyn Observer>>,
    /// Also copies the referrers of the copied manifests (OCI 1.1
    /// signatures, SBOMs, attestations), and theirs, recursively (default:
    /// no). Both ends may be registries or layouts: a registry lists them
    /// through its Referrers API or fallback tag, and its fallback tags are
    /// written as its pushes go; a layout records them in `index.json`
    /// without a name, and lists the entries whose `subject` is the
    /// manifest.
    pub referrers: bool,
}

impl fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferOptions")
            .field("platforms", &self.platforms)
            .field("concurrency", &self.concurrency)
            .field("chunk_size", &self.chunk_size)
            .field("observer", &self.observer.as_ref().map(|_| "..."))
            .field("referrers", &self.referrers)
            .finish()
    }
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            platforms: Platforms::All,
            concurrency: 4,
            chunk_size: DEFAULT_CHUNK_SIZE,
            observer: None,
            referrers: false,
        }
    }
}

impl TransferOptions {
    /// Moves only `platform` of an index.
    pub fn platform(mut self, platform: crate::models::Platform) -> Self {
        self.platforms = Platforms::One(platform);
        self
    }

    /// Which platforms of an index to move.
    pub fn platforms(mut self, platforms: Platforms) -> Self {
        self.platforms = platforms;
        self
    }

    /// Blobs moved at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Size of each upload chunk (at least 1 byte; the registry's minimum
    /// still applies).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Also copies referrers, recursively (see [`TransferOptions::referrers`]).
    pub fn referrers(mut self, referrers: bool) -> Self {
        self.referrers = referrers;
        self
    }

    /// Reports every [`Event`] to `observer`.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    fn emit(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer.event(&event);
        }
    }
}

/// What a transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TransferReport {
    /// The digest of the manifest written under the target's reference.
    pub digest: Option<Digest>,
    /// Manifests written (an index counts with its children).
    pub manifests: usize,
    /// Blobs whose bytes moved.
    pub blobs_uploaded: usize,
    /// Blobs mounted from the source repository (same registry).
    pub blobs_mounted: usize,
    /// Blobs the target already had.
    pub blobs_existing: usize,
    /// Bytes moved.
    pub bytes_uploaded: u64,
    /// Referrers copied along ([`TransferOptions::referrers`]); their
    /// manifests and blobs are counted above too.
    pub referrers: usize,
}

impl TransferReport {
    /// Adds what another transfer (a referrer's) did.
    fn add(&mut self, other: &TransferReport) {
        self.manifests += other.manifests;
        self.blobs_uploaded += other.blobs_uploaded;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_existing += other.blobs_existing;
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(other.bytes_uploaded);
    }
}

/// Most referrers one copy takes along (referrers of referrers included).
pub const MAX_REFERRERS: usize = 4096;

/// A blob's bytes as a source yields them: verified against its digest as
/// they pass (the stream ends with an error instead of its last chunk when
/// they do not match).
pub type BlobBytes = BoxStream<'static, Result<Bytes>>;

/// How a blob reached the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arrived {
    /// Mounted from the source's repository: no bytes moved.
    Mounted,
    /// Its bytes moved, this many.
    Copied(u64),
}

/// Where an image comes from: it names the image (its reference is its
/// own), reads its manifests, and yields its blobs verified.
#[async_trait]
pub trait Source: Send + Sync {
    /// The image, for messages (`HOST/NAME:TAG`, `oci:DIR:NAME`).
    fn describe(&self) -> String;
    /// The manifest to write under the target's reference and the image
    /// manifests whose blobs go along, as `platforms` picks them.
    async fn resolve(&self, platforms: &Platforms) -> Result<Resolved>;
    /// A blob's bytes, verified as they stream. A source that can tell a
    /// bad blob before the first byte (a layout's file) refuses it here.
    async fn blob(&self, blob: &BlobRef) -> Result<BlobBytes>;
    /// The registry repository the blobs are in, for a target on the same
    /// registry to mount from. `None` (the default) for other sources.
    fn repository(&self) -> Option<(&Client, &RepositoryName)> {
        None
    }
    /// The referrers of manifest `subject` at this end (OCI 1.1), for a
    /// copy with [`TransferOptions::referrers`]; `None` (the default) when
    /// this end cannot list them.
    async fn referrers(&self, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let _ = subject;
        Ok(None)
    }
    /// The manifest `digest` of this end (a referrer) as a source of its
    /// own; `None` (the default) when this end cannot name one by digest.
    fn manifest_source(&self, digest: &Digest) -> Option<Box<dyn Source + '_>> {
        let _ = digest;
        None
    }
}

/// Where an image goes: it stores blobs and then the manifests, under its
/// own reference.
#[async_trait]
pub trait Target: Send + Sync {
    /// The destination, for messages.
    fn describe(&self) -> String;
    /// Refuses what this target cannot hold, before anything moves (an OCI
    /// layout refuses schema 1); `source` names where it comes from, for
    /// the error. Accepts everything by default.
    fn accepts(&self, image: &Resolved, source: &str) -> Result<()> {
        let _ = (image, source);
        Ok(())
    }
    /// Whether the target has the blob already.
    async fn has_blob(&self, blob: &BlobRef) -> Result<bool>;
    /// Stores a blob the target lacks, from `source`, calling `progress`
    /// with the bytes moved so far; nothing of a blob that fails
    /// verification is kept.
    async fn put_blob(
        &self,
        blob: &BlobRef,
        source: &dyn Source,
        options: &TransferOptions,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Arrived>;
    /// Writes the manifests (an index's children first, by digest), every
    /// blob being there; returns the digest written under the reference and
    /// how many manifests were written.
    async fn put_manifests(&self, image: &Resolved) -> Result<(Digest, usize)>;
    /// Where the manifest `digest` of a source (a referrer) goes at this
    /// end, under its digest; `None` (the default) when this end cannot
    /// hold one.
    fn manifest_target(&self, digest: &Digest) -> Option<Box<dyn Target + '_>> {
        let _ = digest;
        None
    }
}

/// Moves the image of `source` to `target`; see the [module](crate::transfer) docs.
///
/// With [`TransferOptions::referrers`], the referrers of the image's
/// manifests (the top one and an index's children) follow it, each as an
/// image of its own written by digest, and then their referrers, up to
/// [`MAX_REFERRERS`] ([`Error::TooMany`] past it); an end that cannot list
/// or hold referrers is [`Error::Invalid`] before anything moves.
pub async fn copy(
    source: &dyn Source,
    target: &dyn Target,
    options: &TransferOptions,
) -> Result<TransferReport> {
    let image = source.resolve(&options.platforms).await?;
    let mut subjects: Vec<Digest> = Vec::new();
    let mut first = None;
    if options.referrers {
        let top = image.top.digest()?;
        if target.manifest_target(&top).is_none() || source.manifest_source(&top).is_none() {
            return Err(referrers_unsupported(source, target));
        }
        first = Some(
            source
                .referrers(&top)
                .await?
                .ok_or_else(|| referrers_unsupported(source, target))?,
        );
        subjects.push(top);
        for child in image.children() {
            subjects.push(child.digest()?);
        }
    }
    let mut report = move_image(source, target, &image, options).await?;
    if let Some(digest) = &report.digest {
        options.emit(Event::Done {
            digest: digest.clone(),
        });
    }
    if options.referrers {
        copy_referrers(source, target, subjects, first, options, &mut report).await?;
    }
    Ok(report)
}

fn referrers_unsupported(source: &dyn Source, target: &dyn Target) -> Error {
    Error::invalid(
        "copy with referrers",
        &format!("{} to {}", source.describe(), Target::describe(target)),
        "one of the ends cannot list or hold referrers (registries and OCI layouts can)",
    )
}

/// Copies the referrers of `subjects`, breadth first, and theirs.
/// `first` is the list of the first subject, already fetched.
async fn copy_referrers(
    source: &dyn Source,
    target: &dyn Target,
    subjects: Vec<Digest>,
    mut first: Option<Vec<Descriptor>>,
    options: &TransferOptions,
    report: &mut TransferReport,
) -> Result<()> {
    let inner = TransferOptions {
        platforms: Platforms::All,
        referrers: false,
        ..options.clone()
    };
    let mut seen: std::collections::HashSet<Digest> = subjects.iter().cloned().collect();
    let mut queue: std::collections::VecDeque<Digest> = subjects.into();
    while let Some(subject) = queue.pop_front() {
        let list = match first.take() {
            Some(list) => list,
            None => source
                .referrers(&subject)
                .await?
                .ok_or_else(|| referrers_unsupported(source, target))?,
        };
        for r in list {
            if !seen.insert(r.digest.clone()) {
                continue;
            }
            if report.referrers >= MAX_REFERRERS {
                return Err(Error::TooMany {
                    what: format!("copy of {} with referrers", source.describe()),
                    items: "referrers",
                    count: u64::try_from(report.referrers + 1).unwrap_or(u64::MAX),
                    limit: MAX_REFERRERS as u64,
                });
            }
            let (Some(from), Some(to)) = (
                source.manifest_source(&r.digest),
                target.manifest_target(&r.digest),
            ) else {
                return Err(referrers_unsupported(source, target));
            };
            let image = from.resolve(&Platforms::All).await?;
            let moved = move_image(from.as_ref(), to.as_ref(), &image, &inner).await?;
            report.add(&moved);
            report.referrers += 1;
            options.emit(Event::Referrer {
                subject: subject.clone(),
                digest: r.digest.clone(),
                artifact_type: r.artifact_type.clone(),
            });
            queue.push_back(r.digest);
        }
    }
    Ok(())
}

/// Moves a resolved image: its blobs, then its manifests.
async fn move_image(
    source: &dyn Source,
    target: &dyn Target,
    image: &Resolved,
    options: &TransferOptions,
) -> Result<TransferReport> {
    target.accepts(image, &source.describe())?;
    let moved: Vec<Option<Arrived>> = futures::stream::iter(image.blobs())
        .map(|blob| async move {
            let digest = blob.digest.clone();
            if target.has_blob(&blob).await? {
                options.emit(Event::Skipped { digest });
                return Ok(None);
            }
            options.emit(Event::BlobStarted {
                digest: digest.clone(),
                size: blob.size,
            });
            let progress = |done: u64| {
                options.emit(Event::Progress {
                    digest: digest.clone(),
                    done,
                    size: blob.size,
                })
            };
            let hook = {
                let (options, digest) = (options.clone(), digest.clone());
                Arc::new(move |attempt: u32, delay, reason: &str| {
                    options.emit(Event::Retried {
                        digest: digest.clone(),
                        attempt,
                        delay,
                        reason: reason.to_owned(),
                    })
                }) as crate::http::RetryHook
            };
            let put = target.put_blob(&blob, source, options, &progress);
            let arrived = with_retry_hook(hook, put).await?;
            options.emit(match arrived {
                Arrived::Mounted => Event::Mounted { digest },
                Arrived::Copied(bytes) => Event::BlobDone { digest, bytes },
            });
            Ok::<_, Error>(Some(arrived))
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;
    let mut report = TransferReport::default();
    for arrived in moved {
        match arrived {
            None => report.blobs_existing += 1,
            Some(Arrived::Mounted) => report.blobs_mounted += 1,
            Some(Arrived::Copied(bytes)) => {
                report.blobs_uploaded += 1;
                report.bytes_uploaded += bytes;
            }
        }
    }
    let (digest, manifests) = target.put_manifests(image).await?;
    report.digest = Some(digest);
    report.manifests = manifests;
    Ok(report)
}

/// Counts the bytes of a stream as they pass, for progress.
fn counted<'a>(
    bytes: BlobBytes,
    progress: &'a (dyn Fn(u64) + Send + Sync),
) -> impl futures::Stream<Item = Result<Bytes>> + Send + 'a {
    let mut done = 0u64;
    bytes.inspect_ok(move |chunk| {
        done = done.saturating_add(chunk.len() as u64);
        progress(done)
    })
}

// ---------------------------------------------------------------------------
// A registry repository
// ---------------------------------------------------------------------------

/// An image in a registry repository: `name:reference` through `client`.
/// As a [`Source`] it is read; as a [`Target`] its blobs are uploaded (or
/// mounted from a source on the same registry) and the manifests written
/// under `reference`.
#[derive(Debug, Clone, Copy)]
pub struct RegistryImage<'a> {
    client: &'a Client,
    name: &'a RepositoryName,
    reference: &'a TagOrDigest,
}

impl<'a> RegistryImage<'a> {
    /// `name:reference` on `client`'s registry.
    pub fn new(client: &'a Client, name: &'a RepositoryName, reference: &'a TagOrDigest) -> Self {
        RegistryImage {
            client,
            name,
            reference,
        }
    }
}

#[async_trait]
impl Source for RegistryImage<'_> {
    fn describe(&self) -> String {
        format!("{}{}:{}", self.client.base_url(), self.name, self.reference)
    }

    async fn resolve(&self, platforms: &Platforms) -> Result<Resolved> {
        self.client
            .resolve_images(self.name, self.reference, platforms)
            .await
    }

    async fn blob(&self, blob: &BlobRef) -> Result<BlobBytes> {
        let stream = self
            .client
            .blob_stream_sized(self.name, &blob.digest, blob.size)
            .await?;
        Ok(stream.boxed())
    }

    fn repository(&self) -> Option<(&Client, &RepositoryName)> {
        Some((self.client, self.name))
    }

    async fn referrers(&self, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let list = self.client.referrers(self.name, subject, None).await?;
        Ok(Some(list.manifests))
    }

    fn manifest_source(&self, digest: &Digest) -> Option<Box<dyn Source + '_>> {
        Some(Box::new(RegistryManifest {
            client: self.client,
            name: self.name,
            reference: TagOrDigest::Digest(digest.clone()),
        }))
    }
}

/// A manifest of a registry repository by digest: a referrer as an end of
/// its own, which [`RegistryImage`] (borrowing its reference) cannot be.
struct RegistryManifest<'a> {
    client: &'a Client,
    name: &'a RepositoryName,
    reference: TagOrDigest,
}

impl RegistryManifest<'_> {
    fn image(&self) -> RegistryImage<'_> {
        RegistryImage::new(self.client, self.name, &self.reference)
    }
}

#[async_trait]
impl Source for RegistryManifest<'_> {
    fn describe(&self) -> String {
        Source::describe(&self.image())
    }
    async fn resolve(&self, platforms: &Platforms) -> Result<Resolved> {
        Source::resolve(&self.image(), platforms).await
    }
    async fn blob(&self, blob: &BlobRef) -> Result<BlobBytes> {
        Source::blob(&self.image(), blob).await
    }
    fn repository(&self) -> Option<(&Client, &RepositoryName)> {
        Some((self.client, self.name))
    }
}

#[async_trait]
impl Target for RegistryManifest<'_> {
    fn describe(&self) -> String {
        Source::describe(&self.image())
    }
    async fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        self.image().has_blob(blob).await
    }
    async fn put_blob(
        &self,
        blob: &BlobRef,
        source: &dyn Source,
        options: &TransferOptions,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Arrived> {
        self.image().put_blob(blob, source, options, progress).await
    }
    async fn put_manifests(&self, image: &Resolved) -> Result<(Digest, usize)> {
        self.image().put_manifests(image).await
    }
}

#[async_trait]
impl Target for RegistryImage<'_> {
    fn describe(&self) -> String {
        Source::describe(self)
    }

    async fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        self.client.blob_exists(self.name, &blob.digest).await
    }

    async fn put_blob(
        &self,
        blob: &BlobRef,
        source: &dyn Source,
        options: &TransferOptions,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Arrived> {
        let same_registry = source
            .repository()
            .filter(|(client, _)| client.base_url() == self.client.base_url());
        let (upload, bytes) = match same_registry {
            Some((_, from)) => match self
                .client
                .mount_blob(self.name, &blob.digest, from)
                .await?
            {
                None => return Ok(Arrived::Mounted),
                Some(upload) => (upload, source.blob(blob).await?),
            },
            // The source first: a blob it refuses opens no session.
            None => {
                let bytes = source.blob(blob).await?;
                (self.client.start_upload(self.name).await?, bytes)
            }
        };
        // The source verifies its bytes as they pass.
        let (_, size) = upload
            .trusting_source()
            .push_stream(
                counted(bytes, progress),
                Some(&blob.digest),
                options.chunk_size,
            )
            .await?;
        Ok(Arrived::Copied(size))
    }

    async fn put_manifests(&self, image: &Resolved) -> Result<(Digest, usize)> {
        for child in image.children() {
            let digest = TagOrDigest::Digest(child.digest()?);
            self.client.put_manifest(self.name, &digest, child).await?;
        }
        let digest = self
            .client
            .put_manifest(self.name, self.reference, &image.top)
            .await?;
        Ok((digest, image.children().len() + 1))
    }

    fn manifest_target(&self, digest: &Digest) -> Option<Box<dyn Target + '_>> {
        Some(Box::new(RegistryManifest {
            client: self.client,
            name: self.name,
            reference: TagOrDigest::Digest(digest.clone()),
        }))
    }
}

// ---------------------------------------------------------------------------
// An OCI layout
// ---------------------------------------------------------------------------

/// An image in an OCI layout directory, named in `index.json` by
/// `ref_name` (`None`: its only image, as a source; no name, as a target).
/// Manifests read from it are bounded by [`Limits`] (the defaults unless
/// [`LayoutImage::limits`] says otherwise).
#[derive(Debug, Clone)]
pub struct LayoutImage<'a> {
    layout: &'a OciLayout,
    ref_name: Option<&'a str>,
    limits: Limits,
    sync: bool,
}

impl<'a> LayoutImage<'a> {
    /// The image `ref_name` of `layout`.
    pub fn new(layout: &'a OciLayout, ref_name: Option<&'a str>) -> Self {
        LayoutImage {
            layout,
            ref_name,
            limits: Limits::default(),
            sync: false,
        }
    }

    /// Takes `client`'s settings that concern a layout: its [`Limits`] for
    /// what is read, and [`Client::sync_downloads`] for what is written.
    pub fn settings_of(self, client: &Client) -> Self {
        self.limits(*client.limits()).sync(client.sync_downloads())
    }

    /// Bounds what is read from the layout (manifest sizes, index children).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Makes each blob durable (fsync of its directory) once written, as
    /// [`ClientBuilder::sync_downloads`](crate::ClientBuilder::sync_downloads)
    /// does for a download.
    pub fn sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }
}

#[async_trait]
impl Source for LayoutImage<'_> {
    fn describe(&self) -> String {
        match self.ref_name {
            Some(name) => format!("oci:{}:{name}", self.layout.root().display()),
            None => format!("oci:{}", self.layout.root().display()),
        }
    }

    async fn resolve(&self, platforms: &Platforms) -> Result<Resolved> {
        let _ = platforms;
        let (ref_name, limits) = (self.ref_name.map(str::to_owned), self.limits);
        off_runtime(self.layout, move |layout| {
            layout.resolve(ref_name.as_deref(), &limits)
        })
        .await
    }

    async fn blob(&self, blob: &BlobRef) -> Result<BlobBytes> {
        layout_blob(self.layout, blob).await
    }

    /// The manifests recorded in `index.json` whose `subject` is `subject`
    /// (where a copy with referrers records them, as oras does).
    async fn referrers(&self, subject: &Digest) -> Result<Option<Vec<Descriptor>>> {
        let (subject, limit) = (subject.clone(), self.limits.manifest);
        off_runtime(self.layout, move |layout| {
            let mut found: Vec<Descriptor> = Vec::new();
            for entry in layout.index()?.manifests {
                if !crate::models::media_type::is_manifest(&entry.media_type) {
                    continue;
                }
                let m = layout_manifest(layout, &entry.digest, Some(&entry.media_type), limit)?;
                if m.subject().map(|s| &s.digest) == Some(&subject)
                    && !found.iter().any(|d| d.digest == entry.digest)
                {
                    found.push(m.referrer_descriptor()?);
                }
            }
            Ok(Some(found))
        })
        .await
    }

    fn manifest_source(&self, digest: &Digest) -> Option<Box<dyn Source + '_>> {
        Some(Box::new(LayoutManifest {
            layout: self.layout,
            digest: digest.clone(),
            limits: self.limits,
        }))
    }
}

/// A manifest of a layout by digest (`media_type` from its descriptor, or
/// told by its own `mediaType`), read whole within `limit` and verified.
fn layout_manifest(
    layout: &OciLayout,
    digest: &Digest,
    media_type: Option<&str>,
    limit: u64,
) -> Result<crate::models::Manifest> {
    let bytes = layout.read_blob(digest, limit)?;
    crate::models::Manifest::from_bytes(bytes, media_type)
}

/// A blob of an OCI layout as a source's stream: the file, checked
/// against the descriptor's size and hashed as it is read.
async fn layout_blob(layout: &OciLayout, blob: &BlobRef) -> Result<BlobBytes> {
    let stream = layout.blob_file_stream(&blob.digest, blob.size).await?;
    Ok(stream.boxed())
}

/// A manifest of an OCI layout by digest: a referrer as a source of its
/// own, which [`LayoutImage`] (naming images by `ref_name`) cannot be.
struct LayoutManifest<'a> {
    layout: &'a OciLayout,
    digest: Digest,
    limits: Limits,
}

#[async_trait]
impl Source for LayoutManifest<'_> {
    fn describe(&self) -> String {
        format!("oci:{}@{}", self.layout.root().display(), self.digest)
    }

    async fn resolve(&self, platforms: &Platforms) -> Result<Resolved> {
        let _ = platforms;
        let (digest, limits) = (self.digest.clone(), self.limits);
        let what = self.describe();
        off_runtime(self.layout, move |layout| {
            let top = layout_manifest(layout, &digest, None, limits.manifest)?;
            let images = if top.is_index() {
                let count = u64::try_from(top.manifests().len()).unwrap_or(u64::MAX);
                if count > limits.index_children {
                    return Err(Error::TooMany {
                        what,
                        items: "child manifests",
                        count,
                        limit: limits.index_children,
                    });
                }
                let mut images = Vec::new();
                for child in top.manifests() {
                    let m = layout_manifest(
                        layout,
                        &child.digest,
                        Some(&child.media_type),
                        limits.manifest,
                    )?;
                    if m.is_index() {
                        return Err(Error::protocol(what, "nested indexes are not supported"));
                    }
                    images.push(m);
                }
                images
            } else {
                vec![top.clone()]
            };
            for image in &images {
                super::layout::check_storable(image, &what)?;
            }
            Ok(Resolved { top, images })
        })
        .await
    }

    async fn blob(&self, blob: &BlobRef) -> Result<BlobBytes> {
        layout_blob(self.layout, blob).await
    }
}

#[async_trait]
impl Target for LayoutImage<'_> {
    fn describe(&self) -> String {
        Source::describe(self)
    }

    fn accepts(&self, image: &Resolved, source: &str) -> Result<()> {
        let what = format!("copy of {source} to {}", Target::describe(self));
        image
            .images
            .iter()
            .try_for_each(|m| super::layout::check_storable(m, &what))
    }

    async fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        let digest = blob.digest.clone();
        off_runtime(self.layout, move |layout| Ok(layout.has_blob(&digest))).await
    }

    async fn put_blob(
        &self,
        blob: &BlobRef,
        source: &dyn Source,
        _options: &TransferOptions,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Arrived> {
        let digest = blob.digest.clone();
        let path = off_runtime(self.layout, move |layout| layout.blob_destination(&digest)).await?;
        let bytes = match source.repository() {
            // A registry blob downloads as a file does: resumed when the
            // connection breaks, renamed into place once verified.
            Some((client, name)) => {
                client
                    .download_blob_with(name, &blob.digest, blob.size, &path, |done, _| {
                        progress(done)
                    })
                    .await?
            }
            None => write_verified(source.blob(blob).await?, &path, self.sync, progress).await?,
        };
        Ok(Arrived::Copied(bytes))
    }

    async fn put_manifests(&self, image: &Resolved) -> Result<(Digest, usize)> {
        let top = &image.top;
        let manifests: Vec<Bytes> = image
            .images
            .iter()
            .chain([top])
            .map(|m| m.bytes().clone())
            .collect();
        let media_type = top.media_type().to_owned();
        let ref_name = self.ref_name.map(str::to_owned);
        let digest = off_runtime(self.layout, move |layout| {
            for bytes in &manifests {
                layout.write_blob(bytes)?;
            }
            let top = manifests.last().expect("the top manifest is last");
            let digest = Digest::sha256(top);
            let descriptor = Descriptor::new(media_type, digest.clone(), top.len() as u64);
            layout.add_manifest(descriptor, ref_name.as_deref())?;
            Ok(digest)
        })
        .await?;
        Ok((digest, image.children().len() + 1))
    }

    fn manifest_target(&self, _digest: &Digest) -> Option<Box<dyn Target + '_>> {
        // A referrer is recorded in index.json without a name.
        Some(Box::new(LayoutImage {
            ref_name: None,
            ..self.clone()
        }))
    }
}

/// Writes a verified stream to a temporary file beside `path` and renames
/// it into place only when the stream ended without error (so verified).
async fn write_verified(
    bytes: BlobBytes,
    path: &Path,
    sync: bool,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dest = path.to_owned();
    let temp = tokio::task::spawn_blocking(move || crate::api::temp_beside(&dest))
        .await
        .map_err(|e| Error::protocol(path.display().to_string(), format!("task failed: {e}")))?
        .map_err(io)?;
    let (file, temp) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = std::pin::pin!(counted(bytes, progress));
    let mut written = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        file.write_all(&chunk).await.map_err(io)?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(io)?;
    if sync {
        file.sync_all().await.map_err(io)?;
    }
    drop(file);
    let dest = path.to_owned();
    tokio::task::spawn_blocking(move || crate::api::persist_beside(temp, &dest, sync))
        .await
        .map_err(|e| Error::protocol(path.display().to_string(), format!("task failed: {e}")))??;
    Ok(written)
}
