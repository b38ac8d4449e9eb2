//! `/v2/NAME/blobs/DIGEST`: verified streams and downloads against the real
//! registry (a blob of 64 MiB), lying bodies with a mock.

use crate::mock;
use crate::registry;

use dockreg::{Digest, Error, RepositoryName};
use futures::TryStreamExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// The files in a directory, to prove a failed download left nothing.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_lying_body_fails_and_leaves_nothing_behind() {
    let server = mock::server().await;
    let promised = Digest::sha256(b"the real layer");
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/blobs/{promised}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"the fake layer".to_vec()))
        .mount(&server)
        .await;
    let client = mock::client(&server);

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer.tar.gz");
    let err = client
        .download_blob(&name("a"), &promised, &target)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { ref expected, .. } if *expected == promised),
        "{err:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );

    // An existing file at the destination is left untouched.
    std::fs::write(&target, b"keep me").unwrap();
    client
        .download_blob(&name("a"), &promised, &target)
        .await
        .unwrap_err();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert_eq!(entries(dir.path()), ["layer.tar.gz"]);

    // The stream yields the bytes, then the mismatch as its last item.
    let stream = client.blob_stream(&name("a"), &promised).await.unwrap();
    let err = stream.try_collect::<Vec<_>>().await.unwrap_err();
    assert!(err.is_verification_failure());
}

#[tokio::test]
async fn a_body_longer_than_its_descriptor_is_cut_off() {
    let server = mock::server().await;
    let body = vec![7u8; 4096];
    let digest = Digest::sha256(&body);
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let err = mock::client(&server)
        .download_blob_with(
            &name("a"),
            &digest,
            Some(100),
            dir.path().join("x"),
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SizeMismatch { expected: 100, .. }),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn blob_size_is_none_for_a_missing_blob() {
    let server = mock::server().await;
    let digest = Digest::sha256(b"x");
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    assert_eq!(client.blob_size(&name("a"), &digest).await.unwrap(), None);
    assert!(!client.blob_exists(&name("a"), &digest).await.unwrap());
}

#[tokio::test]
async fn blob_bytes_refuses_more_than_its_limit() {
    let server = mock::server().await;
    let body = vec![1u8; 10_000];
    let digest = Digest::sha256(&body);
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let err = client
        .blob_bytes(&name("a"), &digest, 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    assert_eq!(
        client
            .blob_bytes(&name("a"), &digest, 10_000)
            .await
            .unwrap(),
        body
    );
}

// ---- the real registry ----------------------------------------------------

#[tokio::test]
async fn a_64_mib_blob_downloads_verified() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let big = reg.seed_big_blob("blobs/big", 64 << 20);
    let client = reg.client();
    let repo = name(&big.repo);
    let digest: Digest = big.digest.parse().unwrap();

    assert_eq!(
        client.blob_size(&repo, &digest).await.unwrap(),
        Some(big.size)
    );
    assert!(client.blob_exists(&repo, &digest).await.unwrap());

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");
    let mut calls = 0u64;
    let written = client
        .download_blob_with(&repo, &digest, Some(big.size), &target, |done, total| {
            calls += 1;
            assert!(done <= big.size && total == Some(big.size));
        })
        .await
        .unwrap();
    assert_eq!(written, big.size);
    assert!(calls > 0);
    assert_eq!(std::fs::metadata(&target).unwrap().len(), big.size);
    let on_disk = std::fs::read(&target).unwrap();
    assert_eq!(Digest::sha256(&on_disk), digest);
    assert!(
        on_disk == registry::big_blob_bytes(big.size),
        "same bytes as pushed"
    );
    assert_eq!(entries(dir.path()), ["big.bin"], "no temp file left");

    // The stream gives the same bytes, chunk by chunk.
    let mut stream = client.blob_stream(&repo, &digest).await.unwrap();
    assert_eq!(stream.size(), Some(big.size));
    let mut hasher = dockreg::digest::Hasher::new(dockreg::digest::Algorithm::Sha256);
    while let Some(chunk) = stream.try_next().await.unwrap() {
        hasher.update(&chunk);
    }
    assert_eq!(hasher.finish(), digest);
    assert_eq!(stream.bytes_read(), big.size);
}

#[tokio::test]
async fn a_wrong_expected_size_is_refused_before_reading() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    let repo = name(&images.docker.name);
    let layer: Digest = images.docker.layer_digests[0].parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .download_blob_with(&repo, &layer, Some(1), dir.path().join("l"), |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SizeMismatch { expected: 1, .. }),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn a_missing_blob_is_not_found_and_leaves_no_file() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    let repo = name(&images.oci.name);
    let missing = Digest::sha256(b"not in this registry");
    assert_eq!(client.blob_size(&repo, &missing).await.unwrap(), None);
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .download_blob(&repo, &missing, dir.path().join("x"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&dockreg::models::ErrorCode::BlobUnknown));
    assert!(entries(dir.path()).is_empty());

    // A destination whose directory does not exist is an I/O error naming it.
    let layer: Digest = images.oci.layer_digests[0].parse().unwrap();
    let err = client
        .download_blob(&repo, &layer, dir.path().join("no/such/dir/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}
