//! OCI artifacts, ORAS style: files pushed as one manifest and pulled back
//! into a directory against the real registry, verified; hostile titles,
//! symlinks in the destination and lying blobs (wiremock) refused, with
//! nothing left half written.

use crate::{mock, registry};

use dockreg::artifact::{Artifact, TITLE};
use dockreg::models::{media_type, Descriptor, ImageManifest, ManifestBody};
use dockreg::{Digest, Error, Manifest, Repository};
use wiremock::matchers::{method, path};
use wiremock::Mock;

const TYPE: &str = "application/vnd.example.bundle.v1";

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Pushes a manifest whose layers carry `titles` (each layer the blob of
/// the title's own bytes) and returns its digest: what a hostile or
/// careless pusher may put in a registry.
async fn push_titled(repo: &Repository, titles: &[&str]) -> Digest {
    let empty = repo.push_blob(&b"{}"[..]).await.unwrap();
    let mut layers = Vec::new();
    for t in titles {
        let pushed = repo.push_blob(t.as_bytes().to_vec()).await.unwrap();
        layers.push(
            pushed
                .descriptor(media_type::OCI_LAYER_TAR)
                .with_annotation(TITLE, *t),
        );
    }
    let mut m = ImageManifest::new(empty.descriptor(media_type::OCI_EMPTY), layers);
    m.artifact_type = Some(TYPE.to_owned());
    let manifest = Manifest::from_image_manifest(&m).unwrap();
    let digest = manifest.digest().unwrap();
    repo.put_manifest(&digest, &manifest).await.unwrap();
    digest
}

#[tokio::test]
async fn files_push_as_one_artifact_and_pull_back_verified() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = reg.client().repository("artifact/bundle").unwrap();
    let src = tempfile::tempdir().unwrap();
    let readme = write(src.path(), "readme", b"read me\n");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let data = write(src.path(), "data.bin", &big);
    let artifact = Artifact::new(TYPE)
        .file("README.md", &readme)
        .file_of_type("data/blob.bin", &data, "application/octet-stream")
        .annotation("org.opencontainers.image.description", "a bundle");
    let pushed = repo.push_artifact(&artifact, Some("v1")).await.unwrap();
    assert_eq!(repo.manifest_digest("v1").await.unwrap(), pushed.digest);

    let m = repo.manifest("v1").await.unwrap();
    assert_eq!(m.media_type(), media_type::OCI_MANIFEST);
    let ManifestBody::OciManifest(body) = m.body() else {
        panic!("{m:?}")
    };
    assert_eq!(body.artifact_type.as_deref(), Some(TYPE));
    assert_eq!(body.config.media_type, media_type::OCI_EMPTY);
    assert_eq!(body.config.digest, Digest::sha256(b"{}"));
    assert_eq!(body.config.size, 2);
    assert_eq!(
        body.annotations["org.opencontainers.image.description"],
        "a bundle"
    );
    let titles: Vec<&str> = body
        .layers
        .iter()
        .map(|l| l.annotations[TITLE].as_str())
        .collect();
    assert_eq!(titles, ["README.md", "data/blob.bin"]);
    assert_eq!(body.layers[1].media_type, "application/octet-stream");
    assert_eq!(body.layers[1].digest, Digest::sha256(&big));
    assert!(body.subject.is_none());

    let out = tempfile::tempdir().unwrap();
    let pulled = repo.pull_artifact("v1", out.path()).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(pulled.artifact_type.as_deref(), Some(TYPE));
    assert_eq!(
        pulled.files,
        [
            out.path().join("README.md"),
            out.path().join("data/blob.bin")
        ]
    );
    assert_eq!(pulled.bytes, 8 + big.len() as u64);
    assert_eq!(
        std::fs::read(out.path().join("README.md")).unwrap(),
        b"read me\n"
    );
    assert_eq!(
        std::fs::read(out.path().join("data/blob.bin")).unwrap(),
        big
    );

    // Pushed again, nothing is uploaded twice and the digest is the same.
    let again = repo.push_artifact(&artifact, None).await.unwrap();
    assert_eq!(again.digest, pushed.digest);

    // An artifact without files is one empty layer.
    let bare = repo
        .push_artifact(&Artifact::new(TYPE), Some("bare"))
        .await
        .unwrap();
    assert_eq!(bare.manifest.layers().len(), 1);
    assert_eq!(bare.manifest.layers()[0].media_type, media_type::OCI_EMPTY);
    let out = tempfile::tempdir().unwrap();
    let pulled = repo.pull_artifact("bare", out.path()).await.unwrap();
    assert!(pulled.files.is_empty());
}

#[tokio::test]
async fn titles_that_escape_are_refused_before_any_byte_moves() {
    // A push: refused before any request (the mock answers nothing).
    let server = mock::server().await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f", b"x");
    for bad in ["../up", "/abs", "a/../../b", "", "a\\b"] {
        let err = repo
            .push_artifact(&Artifact::new(TYPE).file(bad, &f), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err}");
    }
    let err = repo
        .push_artifact(&Artifact::new(TYPE).file("a", &f).file("a", &f), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());

    // A pull of what another client pushed: refused, nothing written.
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = reg.client().repository("artifact/hostile").unwrap();
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    for titles in [
        &["ok", "../escaped"][..],
        &["/tmp/absolute"],
        &["ok", "sub/../../x"],
        &["twice", "twice"],
        &["ok", "a//b"],
    ] {
        let digest = push_titled(&repo, titles).await;
        let err = repo.pull_artifact(&digest, &out).await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{titles:?}: {err}");
        assert!(!out.exists(), "{titles:?}: nothing is written");
        assert!(!parent.path().join("escaped").exists());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_pull_never_follows_a_symlink_in_the_destination() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = reg.client().repository("artifact/symlink").unwrap();
    let digest = push_titled(&repo, &["sub/file", "top"]).await;
    let outside = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), out.path().join("sub")).unwrap();
    let err = repo.pull_artifact(&digest, out.path()).await.unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

    let out = tempfile::tempdir().unwrap();
    let target = outside.path().join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::fs::create_dir(out.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(&target, out.path().join("sub/file")).unwrap();
    let err = repo.pull_artifact(&digest, out.path()).await.unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
}

#[tokio::test]
async fn a_blob_that_lies_leaves_nothing_at_its_destination() {
    let server = mock::server().await;
    let good = b"the real bytes".to_vec();
    let layer = Descriptor::new(media_type::OCI_LAYER_TAR, Digest::sha256(&good), 14)
        .with_annotation(TITLE, "file.txt");
    let empty = Descriptor::new(media_type::OCI_EMPTY, Digest::sha256(b"{}"), 2);
    let mut m = ImageManifest::new(empty, vec![layer.clone()]);
    m.artifact_type = Some(TYPE.to_owned());
    let manifest = Manifest::from_image_manifest(&m).unwrap();
    Mock::given(method("GET"))
        .and(path("/v2/team/app/manifests/v1"))
        .respond_with(mock::json(200, media_type::OCI_MANIFEST, manifest.bytes()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/blobs/{}", layer.digest)))
        .respond_with(mock::json(
            200,
            "application/octet-stream",
            b"the fake bytes",
        ))
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = repo.pull_artifact("v1", out.path()).await.unwrap_err();
    assert!(err.is_verification_failure(), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
