//! OCI artifacts, the way ORAS makes them: a set of files pushed as one OCI
//! image manifest with an `artifactType`, each file a layer named by its
//! `org.opencontainers.image.title` annotation, the config the empty
//! descriptor (`application/vnd.oci.empty.v1+json`, the two bytes `{}`),
//! and optionally a `subject`, which makes the artifact a referrer of that
//! manifest (an SBOM of an image, say).
//!
//! A pull writes each titled layer into a directory, verified against its
//! digest and size, through a temporary file renamed into place: a file
//! that fails verification leaves nothing at its destination. Titles are
//! relative paths of plain components: an empty one, an absolute one, one
//! with a `..` or `.` component, an empty component, a backslash, a control
//! character, or a title named twice is refused before any byte moves, on
//! push and on pull. A pull never follows a symlink inside the directory:
//! a symlink where a file or a directory is to go is an error.
//!
//! ```no_run
//! use dockreg::artifact::Artifact;
//! # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
//! let sbom = Artifact::new("application/spdx+json").file("sbom.spdx.json", "target/sbom.json");
//! let pushed = repo.attach("v1", &sbom).await?;                // a referrer of team/app:v1
//! let pulled = repo.pull_artifact(&pushed.digest, "out").await?; // out/sbom.spdx.json
//! # let _ = pulled; Ok(()) }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use futures::Stream;
use serde::Serialize;

use crate::api::DEFAULT_CHUNK_SIZE;
use crate::client::Client;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::Error;
use crate::models::{media_type, Descriptor, ImageManifest, Manifest, ManifestBody};
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::Result;

/// The annotation that names a layer's file.
pub const TITLE: &str = "org.opencontainers.image.title";

/// The media type a file gets when none is given (ORAS's default).
pub const DEFAULT_FILE_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// One file of an [`Artifact`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArtifactFile {
    /// Its name in the artifact (`org.opencontainers.image.title`): a
    /// relative path, see [`check_title`].
    pub title: String,
    /// Where it is read from.
    pub path: PathBuf,
    /// Its layer's media type.
    pub media_type: String,
}

/// An artifact to push: its type, files, annotations and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Artifact {
    /// The manifest's `artifactType`.
    pub artifact_type: String,
    /// The files, one layer each, in order.
    pub files: Vec<ArtifactFile>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The manifest it refers to, if any.
    pub subject: Option<Descriptor>,
}

impl Artifact {
    /// An artifact of `artifact_type`, with no file yet (it is then one
    /// empty layer, as the image spec recommends).
    pub fn new(artifact_type: impl Into<String>) -> Artifact {
        Artifact {
            artifact_type: artifact_type.into(),
            files: Vec::new(),
            annotations: BTreeMap::new(),
            subject: None,
        }
    }

    /// Adds the file at `path`, named `title`, of
    /// [`DEFAULT_FILE_MEDIA_TYPE`].
    pub fn file(self, title: impl Into<String>, path: impl Into<PathBuf>) -> Artifact {
        self.file_of_type(title, path, DEFAULT_FILE_MEDIA_TYPE)
    }

    /// Adds the file at `path`, named `title`, of `media_type`.
    pub fn file_of_type(
        mut self,
        title: impl Into<String>,
        path: impl Into<PathBuf>,
        media_type: impl Into<String>,
    ) -> Artifact {
        self.files.push(ArtifactFile {
            title: title.into(),
            path: path.into(),
            media_type: media_type.into(),
        });
        self
    }

    /// Adds a manifest annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Artifact {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Makes the artifact a referrer of the manifest `subject` describes
    /// (see [`Manifest::descriptor`]).
    pub fn subject(mut self, subject: Descriptor) -> Artifact {
        self.subject = Some(subject);
        self
    }

    /// Checks every title ([`check_title`]) and that none repeats.
    pub fn check(&self) -> Result<()> {
        if self.artifact_type.trim().is_empty() {
            return Err(Error::invalid(
                "artifact type",
                &self.artifact_type,
                "an artifact needs a type, for example application/spdx+json",
            ));
        }
        let mut seen = HashSet::new();
        for f in &self.files {
            check_title(&f.title)?;
            if !seen.insert(f.title.as_str()) {
                return Err(Error::invalid(
                    "artifact file title",
                    &f.title,
                    "named twice",
                ));
            }
        }
        Ok(())
    }
}

/// What [`Repository::push_artifact`](crate::Repository::push_artifact)
/// pushed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PushedArtifact {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest.
    pub manifest: Manifest,
}

/// What [`Repository::pull_artifact`](crate::Repository::pull_artifact)
/// wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PulledArtifact {
    /// The manifest's digest.
    pub digest: Digest,
    /// Its artifact type.
    pub artifact_type: Option<String>,
    /// The files written, in manifest order.
    pub files: Vec<PathBuf>,
    /// Bytes written.
    pub bytes: u64,
}

/// Checks a file title: a relative path of plain components separated by
/// `/`. Refused with [`Error::Invalid`]: an empty title, an absolute one, a
/// `.` or `..` component, an empty component (`a//b`, a trailing `/`), a
/// backslash, a `:` in the first component (a Windows drive), a control
/// character.
///
/// ```
/// use dockreg::artifact::check_title;
/// assert!(check_title("sbom/app.spdx.json").is_ok());
/// for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b", "C:x"] {
///     assert!(check_title(bad).is_err(), "{bad}");
/// }
/// ```
pub fn check_title(title: &str) -> Result<()> {
    let refuse = |reason: &str| Err(Error::invalid("artifact file title", title, reason));
    if title.is_empty() {
        return refuse("empty");
    }
    if title.starts_with('/') {
        return refuse("an absolute path");
    }
    if title.contains('\\') {
        return refuse("a backslash, which is a separator on Windows");
    }
    if title.chars().any(char::is_control) {
        return refuse("a control character");
    }
    for (i, part) in title.split('/').enumerate() {
        match part {
            "" => return refuse("an empty path component"),
            "." | ".." => return refuse("a . or .. component, which leaves its directory"),
            p if i == 0 && p.contains(':') => return refuse("a drive or scheme prefix"),
            _ => {}
        }
    }
    Ok(())
}

/// The digest and size of a local file, read off the runtime.
async fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let io = |source| Error::Io {
            path: owned.clone(),
            source,
        };
        let mut file = std::fs::File::open(&owned).map_err(io)?;
        let mut hasher = Hasher::new(Algorithm::Sha256);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size = size.saturating_add(n as u64);
        }
        Ok((hasher.finish(), size))
    })
    .await
    .map_err(|e| Error::protocol(path.display().to_string(), format!("task failed: {e}")))?
}

/// A local file as a stream of chunks.
async fn file_stream(path: &Path) -> Result<impl Stream<Item = Result<Bytes>> + Send> {
    use tokio::io::AsyncReadExt;
    let owned = path.to_owned();
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|source| Error::Io {
            path: owned.clone(),
            source,
        })?;
    Ok(futures::stream::try_unfold(file, move |mut file| {
        let owned = owned.clone();
        async move {
            let mut buf = vec![0u8; 1 << 20];
            let n = file.read(&mut buf).await.map_err(|source| Error::Io {
                path: owned,
                source,
            })?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        }
    }))
}

/// Makes the directories of `title` below `dir` without following a
/// symlink, and returns the file's path; a symlink or a non-directory on
/// the way, or a symlink or directory at the file's place, is refused.
fn prepare_destination(dir: &Path, title: &str) -> Result<PathBuf> {
    let refuse = |path: &Path, reason: &str| {
        Error::invalid("artifact destination", &path.display().to_string(), reason)
    };
    let parts: Vec<&str> = title.split('/').collect();
    let mut at = dir.to_owned();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        debug_assert!(matches!(
            Path::new(part).components().next(),
            Some(Component::Normal(_))
        ));
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refuse(&at, "is a symlink, which a pull never follows"))
            }
            Ok(meta) if last && meta.is_dir() => return Err(refuse(&at, "is a directory")),
            Ok(meta) if !last && !meta.is_dir() => {
                return Err(refuse(&at, "is in the way of a directory"))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    std::fs::create_dir(&at).map_err(|source| Error::Io {
                        path: at.clone(),
                        source,
                    })?;
                }
            }
            Err(source) => return Err(Error::Io { path: at, source }),
        }
    }
    Ok(at)
}

impl Client {
    /// Pushes `artifact` to `name`, under `tag` or else by digest; see
    /// [`Repository::push_artifact`](crate::Repository::push_artifact).
    pub async fn push_artifact(
        &self,
        name: &RepositoryName,
        artifact: &Artifact,
        tag: Option<&Tag>,
    ) -> Result<PushedArtifact> {
        artifact.check()?;
        let mut layers = Vec::with_capacity(artifact.files.len());
        for f in &artifact.files {
            let (digest, size) = hash_file(&f.path).await?;
            if self.blob_size(name, &digest).await? != Some(size) {
                let stream = file_stream(&f.path).await?;
                self.push_blob_stream(name, stream, Some(&digest), DEFAULT_CHUNK_SIZE)
                    .await?;
            }
            layers.push(
                Descriptor::new(f.media_type.clone(), digest, size)
                    .with_annotation(TITLE, &f.title),
            );
        }
        let (empty, _) = self
            .push_blob(name, &b"{}"[..], media_type::OCI_EMPTY)
            .await?;
        if layers.is_empty() {
            layers.push(empty.clone());
        }
        let mut model = ImageManifest::new(empty, layers);
        model.media_type = Some(media_type::OCI_MANIFEST.to_owned());
        model.artifact_type = Some(artifact.artifact_type.clone());
        model.subject = artifact.subject.clone();
        model.annotations = artifact.annotations.clone();
        let manifest = Manifest::from_image_manifest(&model)?;
        let reference = match tag {
            Some(t) => TagOrDigest::Tag(t.clone()),
            None => TagOrDigest::Digest(manifest.digest()?),
        };
        let digest = self.put_manifest(name, &reference, &manifest).await?;
        Ok(PushedArtifact { digest, manifest })
    }

    /// Pulls the artifact `reference` of `name` into `dir`; see
    /// [`Repository::pull_artifact`](crate::Repository::pull_artifact).
    pub async fn pull_artifact(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        dir: &Path,
    ) -> Result<PulledArtifact> {
        let manifest = self.manifest(name, reference).await?;
        let what = format!("artifact {name}:{reference}");
        let image = match manifest.body() {
            ManifestBody::OciManifest(m) | ManifestBody::DockerV2(m) => m,
            _ => {
                return Err(Error::protocol(
                    what,
                    format!("a {} is not an artifact's manifest", manifest.media_type()),
                ))
            }
        };
        // Every title checked before a byte moves.
        let mut files: Vec<(&str, &Descriptor)> = Vec::new();
        let mut seen = HashSet::new();
        for layer in &image.layers {
            let Some(title) = layer.annotations.get(TITLE) else {
                continue;
            };
            check_title(title).map_err(|e| {
                Error::protocol(
                    what.clone(),
                    format!("the manifest names a file badly: {e}"),
                )
            })?;
            if !seen.insert(title.as_str()) {
                return Err(Error::protocol(
                    what,
                    format!("the manifest names the file {title:?} twice"),
                ));
            }
            files.push((title, layer));
        }
        let root = dir.to_owned();
        tokio::task::spawn_blocking(move || std::fs::create_dir_all(&root))
            .await
            .map_err(|e| Error::protocol(what.clone(), format!("task failed: {e}")))?
            .map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
        let mut written = Vec::new();
        let mut bytes = 0u64;
        for (title, layer) in files {
            let (root, title_owned) = (dir.to_owned(), title.to_owned());
            let path =
                tokio::task::spawn_blocking(move || prepare_destination(&root, &title_owned))
                    .await
                    .map_err(|e| Error::protocol(what.clone(), format!("task failed: {e}")))??;
            let n = self
                .download_blob_with(name, &layer.digest, Some(layer.size), &path, |_, _| {})
                .await?;
            bytes = bytes.saturating_add(n);
            written.push(path);
        }
        Ok(PulledArtifact {
            digest: manifest.digest()?,
            artifact_type: manifest.artifact_type().map(str::to_owned),
            files: written,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_that_escape_are_refused() {
        for good in ["a", "a.txt", "dir/a.txt", "..a", "a..", "x/.hidden"] {
            check_title(good).unwrap();
        }
        for bad in [
            "", "/a", "..", ".", "./a", "a/..", "a/../b", "a//b", "a/", "a\\b", "..\\a", "C:a",
            "a\nb",
        ] {
            let e = check_title(bad).unwrap_err();
            assert!(matches!(e, Error::Invalid { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn duplicates_and_typeless_artifacts_are_refused() {
        let a = Artifact::new("t").file("a", "x").file("a", "y");
        assert!(a.check().unwrap_err().to_string().contains("twice"));
        assert!(Artifact::new(" ").check().is_err());
        Artifact::new("t")
            .file("a", "x")
            .file("b", "x")
            .check()
            .unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn destinations_never_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let e = prepare_destination(dir.path(), "link/x").unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        assert!(prepare_destination(dir.path(), "f").is_err());
        let p = prepare_destination(dir.path(), "sub/deeper/file").unwrap();
        assert_eq!(p, dir.path().join("sub/deeper/file"));
        assert!(dir.path().join("sub/deeper").is_dir());
        assert!(prepare_destination(dir.path(), "sub").is_err());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }
}
