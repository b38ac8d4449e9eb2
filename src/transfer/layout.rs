//! OCI image layout directories (`oci-layout`, `index.json`,
//! `blobs/ALG/HEX`), as `skopeo copy ... oci:DIR` and `umoci` read and write
//! them: pull an image into one, push an image out of one.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::api::{persist_beside, temp_beside};
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::http::Limits;
use crate::local_fs::{is_symlink_refusal, open_no_follow};
use crate::models::{Descriptor, ImageIndex, Manifest, ManifestBody};
use crate::verify::{Verifier, VerifyingStream};

use super::image::Resolved;
use crate::Result;

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// Largest `index.json` read from a layout: 8 MiB, room for some 30,000
/// entries. A larger one is refused with [`Error::TooLarge`], unread.
pub const INDEX_LIMIT: u64 = 8 << 20;
/// Blobs pushed from a layout from this size on are hashed on a thread of
/// their own while they stream.
const BACKGROUND_HASH_MIN: u64 = 4 << 20;

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

/// Writes a file atomically and durably: a new temp file beside it (a
/// random name, created exclusively, so neither a concurrent writer nor a
/// planted symlink is ever written through), flushed, renamed over `path`,
/// and the directory flushed.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = temp_beside(path).map_err(io(path))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_data())
        .map_err(io(path))?;
    persist_beside(temp.into_temp_path(), path, true)
}

/// Opens a file of the layout for reading, refusing anything but a regular
/// file: a symlink is not followed (`O_NOFOLLOW`), a FIFO is not waited on
/// (`O_NONBLOCK`), and the type is checked again on the opened handle, so a
/// file swapped in meanwhile cannot slip through. Returns the file and its
/// length.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64)> {
    let not_regular = || {
        Error::invalid(
            "OCI layout file",
            &path.display().to_string(),
            "not a regular file (symlinks, devices, FIFOs and directories are refused)",
        )
    };
    // Checked before opening too: a device is not even opened.
    if !std::fs::symlink_metadata(path)
        .map_err(io(path))?
        .file_type()
        .is_file()
    {
        return Err(not_regular());
    }
    let file = match open_no_follow(path) {
        Ok(file) => file,
        Err(e) if is_symlink_refusal(&e) => return Err(not_regular()),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    if !meta.file_type().is_file() {
        return Err(not_regular());
    }
    Ok((file, meta.len()))
}

/// A regular file of the layout, whole, refused unread past `limit` bytes.
fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    if len > limit {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            limit,
        });
    }
    // At most `len` bytes, whatever the file grows to meanwhile.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes).map_err(io(path))?;
    Ok(bytes)
}

/// Refuses a file whose length is not the size its descriptor gives.
fn check_size(path: &Path, expected: Option<u64>, actual: u64) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(Error::SizeMismatch {
            what: path.display().to_string(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

impl OciLayout {
    /// Opens a layout directory, creating it (and `oci-layout`,
    /// `index.json`, `blobs/`) when missing. A directory that has other
    /// files but no `oci-layout` is refused rather than written into, and
    /// so is one whose `blobs/` or `blobs/sha256/` is a symlink.
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
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let layout = OciLayout { root: root.clone() };
        layout.make_blob_dirs(Algorithm::Sha256)?;
        layout.check_blob_dirs(Algorithm::Sha256)?;
        let marker = root.join(LAYOUT_FILE);
        if !marker.exists() {
            write_atomic(&marker, LAYOUT_VERSION.as_bytes())?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            write_atomic(&index, br#"{"schemaVersion":2,"manifests":[]}"#)?;
        }
        Ok(layout)
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

    /// Whether the layout has a blob: a regular file at its path, in real
    /// directories (a symlink, for the file or for `blobs/` or
    /// `blobs/ALG/`, does not count; the file is not re-hashed).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_file(digest).is_ok_and(|path| {
            std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
        })
    }

    /// A blob's path, once `blobs/` and `blobs/ALG/` are known to be
    /// directories of the layout itself, not symlinks to directories
    /// elsewhere: nothing is read or written through them. (Checked before
    /// each open, not atomically with it: a directory swapped for a symlink
    /// in between is not seen, but what is read is still hashed against its
    /// digest before a byte goes anywhere.)
    fn blob_file(&self, digest: &Digest) -> Result<PathBuf> {
        self.check_blob_dirs(digest.algorithm())?;
        Ok(self.blob_path(digest))
    }

    /// Refuses `blobs/` or `blobs/ALG/` when it is a symlink or not a
    /// directory.
    fn check_blob_dirs(&self, algorithm: Algorithm) -> Result<()> {
        let blobs = self.root.join("blobs");
        let algorithm = blobs.join(algorithm.as_str());
        for dir in [&blobs, &algorithm] {
            let meta = std::fs::symlink_metadata(dir).map_err(io(dir))?;
            if !meta.file_type().is_dir() {
                return Err(Error::invalid(
                    "OCI layout directory",
                    &dir.display().to_string(),
                    "a symlink or not a directory: blobs/ and blobs/ALG/ must be \
                     directories of the layout itself",
                ));
            }
        }
        Ok(())
    }

    /// Where a blob is to be written: its path, with the directory of its
    /// algorithm (`blobs/sha512/`, ...) created when missing; refused when
    /// `blobs/` or that directory is a symlink.
    pub(crate) fn blob_destination(&self, digest: &Digest) -> Result<PathBuf> {
        self.make_blob_dirs(digest.algorithm())?;
        self.blob_file(digest)
    }

    /// Creates `blobs/` and `blobs/ALG/` where missing, one at a time:
    /// `create_dir` does not follow a symlink at the name it creates (it
    /// finds it there), so nothing is created through one; what exists is
    /// checked by [`OciLayout::blob_file`].
    fn make_blob_dirs(&self, algorithm: Algorithm) -> Result<()> {
        let blobs = self.root.join("blobs");
        for dir in [blobs.clone(), blobs.join(algorithm.as_str())] {
            match std::fs::create_dir(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(io(&dir)(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes bytes as a blob and returns their digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256(bytes);
        let path = self.blob_destination(&digest)?;
        if !self.has_blob(&digest) {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Reads a small blob (a manifest, a config), verified against its
    /// digest. Only a regular file is read (not a symlink, device or FIFO),
    /// in `blobs/` and `blobs/ALG/` directories that are not symlinks, and
    /// one past `limit` bytes is refused unread.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        self.read_verified(digest, None, limit)
    }

    /// Like [`OciLayout::read_blob`], also refusing a file of another length
    /// than the descriptor's `size`.
    fn read_verified(&self, digest: &Digest, size: Option<u64>, limit: u64) -> Result<Vec<u8>> {
        let path = self.blob_file(digest)?;
        let bytes = read_regular(&path, limit)?;
        check_size(&path, size, bytes.len() as u64)?;
        digest.verify(&bytes, &path.display().to_string())?;
        Ok(bytes)
    }

    /// The layout's `index.json`: a regular file of at most [`INDEX_LIMIT`]
    /// bytes.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = read_regular(&path, INDEX_LIMIT)?;
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

    /// A blob's file as a stream of chunks, to upload: checked before the
    /// first byte is yielded, and verified again as it streams.
    ///
    /// Only a regular file is opened (see [`open_regular`]); its length must
    /// be `size` (the descriptor's, when known), and the whole file is
    /// hashed against `digest` first, so no byte of a file that is not the
    /// blob reaches a registry. The stream then yields exactly that many
    /// bytes, hashing them once more: a file changed in place meanwhile
    /// ends the stream with an error before its upload commits.
    pub(crate) async fn blob_file_stream(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<impl futures::Stream<Item = Result<bytes::Bytes>> + Send + 'static> {
        // The path as shown; `blob_file` checks its directories off the
        // runtime's threads.
        let path = self.blob_path(digest);
        let what = path.display().to_string();
        let checking = (self.clone(), digest.clone(), what.clone());
        let (file, len) = tokio::task::spawn_blocking(move || {
            let (layout, digest, what) = checking;
            let path = layout.blob_file(&digest)?;
            let (mut file, len) = open_regular(&path)?;
            check_size(&path, size, len)?;
            let mut verifier = Verifier::new(what, digest, Some(len));
            let mut buf = vec![0; 1 << 20];
            let mut reader = (&mut file).take(len);
            loop {
                let n = reader.read(&mut buf).map_err(io(&path))?;
                if n == 0 {
                    break;
                }
                verifier.update(&buf[..n])?;
            }
            verifier.finish()?;
            file.rewind().map_err(io(&path))?;
            Ok::<_, Error>((file, len))
        })
        .await
        .map_err(|e| Error::protocol(&what, format!("the hashing task failed: {e}")))??;
        use tokio::io::AsyncReadExt as _;
        let file = tokio::fs::File::from_std(file).take(len);
        let stream = VerifyingStream::new(
            Box::pin(file_stream(file, path)),
            Verifier::new(what, digest.clone(), Some(len)),
        );
        Ok(if len >= BACKGROUND_HASH_MIN {
            stream.in_background()
        } else {
            stream
        })
    }

    /// A manifest the layout holds: its file checked against the
    /// descriptor's size and digest, refused past `limit` bytes.
    fn read_manifest(&self, descriptor: &Descriptor, limit: u64) -> Result<Manifest> {
        let bytes = self.read_verified(&descriptor.digest, Some(descriptor.size), limit)?;
        Manifest::from_bytes(bytes, Some(&descriptor.media_type))
    }
}

/// Refuses what an OCI layout cannot hold: a schema 1 manifest.
pub(super) fn check_storable(manifest: &Manifest, what: &str) -> Result<()> {
    if let ManifestBody::Schema1 { .. } = manifest.body() {
        return Err(Error::protocol(
            what,
            "a Docker schema 1 manifest cannot be stored in an OCI image layout",
        ));
    }
    Ok(())
}

impl OciLayout {
    /// The image `ref_name` names in `index.json` (or its only image), with
    /// an index's children, every file checked against its descriptor and
    /// bounded by `limits`.
    pub(crate) fn resolve(&self, ref_name: Option<&str>, limits: &Limits) -> Result<Resolved> {
        let what = format!("the image in {}", self.root().display());
        let top = self.read_manifest(&self.find(ref_name)?, limits.manifest)?;
        let images = if top.is_index() {
            let children = top.manifests();
            let most = limits.index_children;
            if children.len() as u64 > most {
                return Err(Error::TooLarge {
                    what: format!("{what}: an index of {} manifests", children.len()),
                    limit: most,
                });
            }
            children
                .iter()
                .map(|child| self.read_manifest(child, limits.manifest))
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![top.clone()]
        };
        // A layout cannot hold schema 1; one that does anyway is refused.
        for image in &images {
            check_storable(image, &what)?;
        }
        Ok(Resolved { top, images })
    }
}

/// Runs file work on a layout (reads, writes, fsync) on tokio's blocking
/// threads, off the runtime's own.
pub(super) async fn off_runtime<T: Send + 'static>(
    layout: &OciLayout,
    work: impl FnOnce(&OciLayout) -> Result<T> + Send + 'static,
) -> Result<T> {
    let owned = layout.clone();
    tokio::task::spawn_blocking(move || work(&owned))
        .await
        .map_err(|e| {
            Error::protocol(
                layout.root().display().to_string(),
                format!("the file task failed: {e}"),
            )
        })?
}

/// A file as a stream of 1 MiB chunks.
fn file_stream(
    file: impl tokio::io::AsyncRead + Unpin + Send,
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
