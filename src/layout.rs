//! OCI image layout directories (`oci-layout`, `index.json`,
//! `blobs/ALG/HEX`), as `skopeo copy ... oci:DIR` and `umoci` read and write
//! them: pull an image into one, push an image out of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};

use crate::api::copy::{BlobRef, BlobSource, Resolved};
use crate::api::{CopyOptions, CopyReport, Platforms};
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::{Descriptor, ImageIndex, Manifest, ManifestBody};
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// Largest manifest or index read from a layout.
const MANIFEST_LIMIT: u64 = 8 << 20;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a file atomically: a temp file beside it (named for this process
/// and this write, so concurrent writers never share one), then a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

impl OciLayout {
    /// Opens a layout directory, creating it (and `oci-layout`,
    /// `index.json`, `blobs/`) when missing. A directory that has other
    /// files but no `oci-layout` is refused rather than written into.
    pub fn create(dir: impl AsRef<Path>) -> Result<OciLayout> {
        let root = dir.as_ref().to_owned();
        if !root.join(LAYOUT_FILE).exists() {
            if let Ok(mut entries) = std::fs::read_dir(&root) {
                if entries.next().is_some() {
                    return Err(Error::invalid(
                        "OCI layout",
                        &root.display().to_string(),
                        "the directory is not empty and has no oci-layout file",
                    ));
                }
            }
        }
        std::fs::create_dir_all(root.join("blobs").join("sha256")).map_err(io(&root))?;
        let marker = root.join(LAYOUT_FILE);
        if !marker.exists() {
            write_atomic(&marker, LAYOUT_VERSION.as_bytes())?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            write_atomic(&index, br#"{"schemaVersion":2,"manifests":[]}"#)?;
        }
        Ok(OciLayout { root })
    }

    /// Opens an existing layout; a directory without `oci-layout` is refused.
    pub fn open(dir: impl AsRef<Path>) -> Result<OciLayout> {
        let root = dir.as_ref().to_owned();
        let marker = root.join(LAYOUT_FILE);
        if !marker.is_file() {
            return Err(Error::invalid(
                "OCI layout",
                &root.display().to_string(),
                "no oci-layout file: not an OCI image layout directory",
            ));
        }
        Ok(OciLayout { root })
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives: `blobs/ALG/HEX`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Whether the layout has a blob (by its file; not re-hashed).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Writes bytes as a blob and returns their digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Reads a small blob (a manifest, a config), verified against its digest.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let len = std::fs::metadata(&path).map_err(io(&path))?.len();
        if len > limit {
            return Err(Error::TooLarge {
                what: path.display().to_string(),
                limit,
            });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        digest.verify(&bytes, &path.display().to_string())?;
        Ok(bytes)
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::decode(path.display().to_string(), e))
    }

    /// Records a manifest in `index.json`, named `ref_name` when given
    /// (replacing an entry of the same name).
    pub fn add_manifest(&self, mut descriptor: Descriptor, ref_name: Option<&str>) -> Result<()> {
        // index.json is read, changed and written back: one writer at a time
        // in this process (other processes are not coordinated with).
        static INDEX_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _writing = INDEX_WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.index()?;
        if let Some(name) = ref_name {
            index
                .manifests
                .retain(|d| d.annotations.get(REF_NAME).map(String::as_str) != Some(name));
            descriptor
                .annotations
                .insert(REF_NAME.to_owned(), name.to_owned());
        } else {
            index.manifests.retain(|d| d.digest != descriptor.digest);
        }
        index.manifests.push(descriptor);
        let bytes = serde_json::to_vec(&index).map_err(|e| Error::decode("index.json", e))?;
        write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// The manifest descriptor named `ref_name`, or the only one when no name
    /// is given.
    pub fn find(&self, ref_name: Option<&str>) -> Result<Descriptor> {
        let index = self.index()?;
        let names: Vec<&str> = index
            .manifests
            .iter()
            .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
            .collect();
        let shown = self.root.display().to_string();
        match ref_name {
            Some(name) => index
                .manifests
                .iter()
                .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(name))
                .cloned()
                .ok_or_else(|| {
                    Error::invalid(
                        "OCI layout reference",
                        name,
                        format!("not in {shown} (it has: {})", names.join(", ")),
                    )
                }),
            None => match index.manifests.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(Error::invalid(
                    "OCI layout",
                    &shown,
                    "index.json lists no manifest",
                )),
                _ => Err(Error::invalid(
                    "OCI layout",
                    &shown,
                    format!("several images; name one of: {}", names.join(", ")),
                )),
            },
        }
    }

    /// A blob's file as a stream of chunks (not verified here: an upload
    /// checks the digest before it commits).
    pub(crate) async fn blob_file_stream(
        &self,
        digest: &Digest,
    ) -> Result<impl futures::Stream<Item = Result<bytes::Bytes>> + Send + 'static> {
        let path = self.blob_path(digest);
        let file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
        Ok(file_stream(file, path))
    }

    fn read_manifest(&self, descriptor: &Descriptor) -> Result<Manifest> {
        let bytes = self.read_blob(&descriptor.digest, MANIFEST_LIMIT)?;
        Manifest::from_bytes(bytes, Some(&descriptor.media_type))
    }
}

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

/// Refuses what an OCI layout cannot hold: a schema 1 manifest.
fn check_storable(manifest: &Manifest, what: &str) -> Result<()> {
    if let ManifestBody::Schema1 { .. } = manifest.body() {
        return Err(Error::protocol(
            what,
            "a Docker schema 1 manifest cannot be stored in an OCI image layout",
        ));
    }
    Ok(())
}

impl Client {
    /// Downloads an image into an OCI layout: every blob verified (those the
    /// layout has are skipped), then its manifest, recorded in `index.json`
    /// under `ref_name`. For an index, [`Platforms::All`] keeps the whole
    /// index, [`Platforms::One`] only that platform's manifest.
    pub async fn pull_to_layout(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        layout: &OciLayout,
        ref_name: Option<&str>,
        platforms: &Platforms,
        concurrency: usize,
    ) -> Result<PullReport> {
        let what = format!("pull of {name}:{reference}");
        let resolved = self.resolve_images(name, reference, platforms).await?;
        for image in &resolved.images {
            check_storable(image, &what)?;
        }
        let blobs = resolved.blobs();
        let mut report = PullReport::default();
        let results: Vec<Option<u64>> = futures::stream::iter(blobs)
            .map(|BlobRef { digest, size }| async move {
                if layout.has_blob(&digest) {
                    return Ok(None);
                }
                let path = layout.blob_path(&digest);
                self.download_blob_with(name, &digest, size, &path, |_, _| {})
                    .await
                    .map(Some)
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        for r in results {
            match r {
                Some(bytes) => {
                    report.blobs_downloaded += 1;
                    report.bytes_downloaded += bytes;
                }
                None => report.blobs_existing += 1,
            }
        }
        for image in &resolved.images {
            layout.write_blob(image.bytes())?;
        }
        let top = &resolved.top;
        let digest = layout.write_blob(top.bytes())?;
        let descriptor =
            Descriptor::new(top.media_type(), digest.clone(), top.bytes().len() as u64);
        layout.add_manifest(descriptor, ref_name)?;
        report.digest = Some(digest);
        Ok(report)
    }

    /// Pushes the image named `ref_name` in a layout (or its only image) to
    /// `name:reference`: blobs the registry lacks are uploaded from their
    /// files (streamed, verified against their digests before the upload
    /// commits), then child manifests by digest and the top manifest with
    /// its exact bytes. Returns what was pushed.
    pub async fn push_from_layout(
        &self,
        layout: &OciLayout,
        ref_name: Option<&str>,
        name: &RepositoryName,
        reference: &TagOrDigest,
        concurrency: usize,
    ) -> Result<CopyReport> {
        let what = format!("push of {} to {name}", layout.root().display());
        let top = layout.read_manifest(&layout.find(ref_name)?)?;
        let images = if top.is_index() {
            top.manifests()
                .iter()
                .map(|child| layout.read_manifest(child))
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![top.clone()]
        };
        for image in &images {
            check_storable(image, &what)?;
        }
        let resolved = Resolved { top, images };
        let options = CopyOptions::default().concurrency(concurrency);
        self.write_image(
            name,
            reference,
            &resolved,
            BlobSource::Layout(layout),
            &options,
        )
        .await
    }
}

/// A file as a stream of 1 MiB chunks.
fn file_stream(
    file: tokio::fs::File,
    path: PathBuf,
) -> impl futures::Stream<Item = Result<bytes::Bytes>> + Send {
    use tokio::io::AsyncReadExt;
    futures::stream::try_unfold((file, path), |(mut file, path)| async move {
        let mut buf = bytes::BytesMut::with_capacity(1 << 20);
        let n = file.read_buf(&mut buf).await.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((buf.freeze(), (file, path))))
    })
}
