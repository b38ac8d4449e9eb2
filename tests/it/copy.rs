//! `Client::copy_image`: within one registry (blobs mounted, no bytes move)
//! and between two real registries (every schema, digests unchanged, checked
//! with skopeo), multi-arch indexes whole or one platform, and what skopeo
//! makes of the copies.

use crate::registry;

use std::collections::BTreeSet;
use std::process::Command;

use dockreg::models::{media_type, Platform};
use dockreg::transfer::{CopyOptions, CopyReport, Platforms};
use dockreg::{Client, Digest, Error, RepositoryName, TagOrDigest};
use registry::PushedImage;

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn reference(s: &str) -> TagOrDigest {
    s.parse().unwrap()
}

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

/// The distinct blobs an image's manifest references (config and layers;
/// schema 1: its `fsLayers`) with their sizes as the source serves them.
async fn blobs_of(client: &Client, image: &PushedImage) -> Vec<(Digest, u64)> {
    let repo = name(&image.name);
    let mut digests: BTreeSet<Digest> = image.layer_digests.iter().map(|d| digest(d)).collect();
    if let Some(c) = &image.config_digest {
        digests.insert(digest(c));
    }
    let mut out = Vec::new();
    for d in digests {
        let size = client.blob_size(&repo, &d).await.unwrap().unwrap();
        out.push((d, size));
    }
    out
}

/// Runs skopeo (no policy file, no proxies) and returns stdout; panics with
/// its output when it fails.
fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---- within one registry ---------------------------------------------------

#[tokio::test]
async fn within_one_registry_every_blob_is_mounted() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    for image in [&images.oci, &images.docker, &images.schema1] {
        let dest_repo = format!("copy/within-{}", image.name.replace('/', "-"));
        let blobs = blobs_of(&client, image).await;
        let report = client
            .copy_image(
                &name(&image.name),
                &reference(&image.tag),
                &client,
                &name(&dest_repo),
                &reference("copied"),
                &CopyOptions::default(),
            )
            .await
            .unwrap();
        let source = digest(&image.manifest_digest);
        assert_eq!(report.digest.as_ref(), Some(&source), "{}", image.name);
        assert_eq!(report.manifests, 1);
        assert_eq!(report.blobs_mounted, blobs.len(), "{report:?}");
        assert_eq!(report.blobs_existing, 0, "{report:?}");
        assert_eq!(report.blobs_uploaded, 0, "{report:?}");
        assert_eq!(report.bytes_uploaded, 0, "{report:?}");
        for (d, size) in &blobs {
            assert_eq!(
                client.blob_size(&name(&dest_repo), d).await.unwrap(),
                Some(*size)
            );
        }
        let inspected = registry::skopeo_inspect(reg, &format!("{dest_repo}:copied"), false);
        assert_eq!(inspected["Digest"], source.as_str(), "{dest_repo}");
    }
}

// ---- between two registries ----------------------------------------------

/// Copies `image` from the shared registry to `dest_repo:v1` on the second
/// one and checks the report, the digest (also with skopeo), the blobs; then
/// copies it again, which must upload nothing.
async fn copy_across(image: &PushedImage, dest_repo: &str, options: &CopyOptions) -> CopyReport {
    let (src_reg, dst_reg) = (registry::shared().unwrap(), registry::second().unwrap());
    let (src, dst) = (src_reg.client(), dst_reg.client());
    let blobs = blobs_of(&src, image).await;
    let source = digest(&image.manifest_digest);
    let (src_repo, src_ref) = (name(&image.name), reference(&image.tag));
    let (dst_repo, dst_ref) = (name(dest_repo), reference("v1"));
    let copy = || src.copy_image(&src_repo, &src_ref, &dst, &dst_repo, &dst_ref, options);

    let report = copy().await.unwrap();
    assert_eq!(report.digest.as_ref(), Some(&source), "{}", image.name);
    assert_eq!(report.manifests, 1);
    assert_eq!(report.blobs_uploaded, blobs.len(), "{report:?}");
    assert_eq!(
        report.bytes_uploaded,
        blobs.iter().map(|(_, s)| s).sum::<u64>(),
        "{report:?}"
    );
    assert_eq!(report.blobs_mounted + report.blobs_existing, 0);

    let dest_ref = format!("{dest_repo}:v1");
    assert_eq!(
        dst.manifest_digest(&name(dest_repo), &reference("v1"))
            .await
            .unwrap(),
        source
    );
    let m = dst
        .manifest(&name(dest_repo), &reference("v1"))
        .await
        .unwrap();
    assert_eq!(m.media_type(), image.media_type);
    let inspected = registry::skopeo_inspect(dst_reg, &dest_ref, false);
    assert_eq!(inspected["Digest"], source.as_str(), "{dest_ref}");
    assert_eq!(inspected["Created"], image.created.as_str());
    for (d, size) in &blobs {
        let copied: Vec<u8> = dst
            .blob_bytes(&name(dest_repo), d, 1 << 20)
            .await
            .unwrap()
            .to_vec();
        assert_eq!(copied.len() as u64, *size);
        assert_eq!(Digest::sha256(&copied), *d);
    }

    // Again: the destination has everything.
    let again = copy().await.unwrap();
    assert_eq!(again.digest.as_ref(), Some(&source));
    assert_eq!(again.blobs_existing, blobs.len(), "{again:?}");
    assert_eq!(again.blobs_uploaded, 0, "{again:?}");
    assert_eq!(again.bytes_uploaded, 0, "{again:?}");
    assert_eq!(again.blobs_mounted, 0, "{again:?}");
    report
}

#[tokio::test]
async fn an_oci_image_copies_across_registries_and_skopeo_reads_it_back() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let images = reg.seed_skopeo_images();
    copy_across(&images.oci, "copy/oci", &CopyOptions::default()).await;

    // skopeo takes what we copied into an OCI layout, digest unchanged.
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let target = format!("oci:{}:v1", layout.display());
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{}/copy/oci:v1", dst_reg.host),
        &target,
    ]);
    let inspected: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &target])).unwrap();
    assert_eq!(inspected["Digest"], images.oci.manifest_digest.as_str());
    assert_eq!(
        inspected["Labels"][registry::SKOPEO_IMAGE_LABEL.0],
        registry::SKOPEO_IMAGE_LABEL.1
    );
}

#[tokio::test]
async fn a_docker_schema2_image_copies_across_registries_in_small_chunks() {
    let (Some(reg), Some(_)) = (registry::shared(), registry::second()) else {
        return;
    };
    let images = reg.seed_skopeo_images();
    // Chunks of 100 bytes: every layer goes up in several PATCHes.
    let mut options = CopyOptions::default().concurrency(2);
    options.chunk_size = 100;
    copy_across(&images.docker, "copy/docker", &options).await;
}

#[tokio::test]
async fn a_signed_schema1_image_copies_across_registries() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let images = reg.seed_skopeo_images();
    copy_across(&images.schema1, "copy/schema1", &CopyOptions::default()).await;
    let m = dst_reg
        .client()
        .manifest(&name("copy/schema1"), &reference("v1"))
        .await
        .unwrap();
    assert_eq!(m.media_type(), media_type::DOCKER_MANIFEST_V1_SIGNED);
    assert!(matches!(
        m.body(),
        dockreg::models::ManifestBody::Schema1 { signed: true, .. }
    ));
}

#[tokio::test]
async fn a_whole_index_copies_with_its_children() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let multi = reg.seed_skopeo_images().multi;
    let (src, dst) = (reg.client(), dst_reg.client());
    let dest_repo = name("copy/multi-all");
    let report = src
        .copy_image(
            &name(&multi.name),
            &reference(&multi.tag),
            &dst,
            &dest_repo,
            &reference("v1"),
            &CopyOptions::default(),
        )
        .await
        .unwrap();
    let index_digest = digest(&multi.index_digest);
    assert_eq!(report.digest.as_ref(), Some(&index_digest));
    assert_eq!(report.manifests, 3, "the index and both children");
    assert_eq!(report.blobs_uploaded, 4, "two configs, two layers");

    let index = dst.manifest(&dest_repo, &reference("v1")).await.unwrap();
    assert!(index.is_index());
    assert_eq!(index.media_type(), media_type::OCI_INDEX);
    assert_eq!(index.digest().unwrap(), index_digest);
    for child in &multi.manifests {
        let d = digest(&child.manifest_digest);
        let m = dst
            .manifest(&dest_repo, &TagOrDigest::Digest(d.clone()))
            .await
            .unwrap();
        assert_eq!(m.digest().unwrap(), d);
        for blob in [&child.config_digest, &child.layer_digest] {
            assert!(dst.blob_exists(&dest_repo, &digest(blob)).await.unwrap());
        }
        let inspected = registry::skopeo_inspect(
            dst_reg,
            &format!("copy/multi-all@{}", child.manifest_digest),
            false,
        );
        assert_eq!(inspected["Architecture"], child.architecture.as_str());
    }
    let raw = registry::skopeo_inspect(dst_reg, "copy/multi-all:v1", true);
    let listed: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    let pushed: Vec<&str> = multi
        .manifests
        .iter()
        .map(|m| m.manifest_digest.as_str())
        .collect();
    assert_eq!(listed, pushed);
}

#[tokio::test]
async fn one_platform_of_an_index_copies_as_a_plain_manifest() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let multi = reg.seed_skopeo_images().multi;
    let arm64 = multi
        .manifests
        .iter()
        .find(|m| m.architecture == "arm64")
        .unwrap();
    let amd64 = multi
        .manifests
        .iter()
        .find(|m| m.architecture == "amd64")
        .unwrap();
    let (src, dst) = (reg.client(), dst_reg.client());
    let dest_repo = name("copy/multi-arm64");
    let platform: Platform = "linux/arm64/v8".parse().unwrap();
    let report = src
        .copy_image(
            &name(&multi.name),
            &reference(&multi.tag),
            &dst,
            &dest_repo,
            &reference("v1"),
            &CopyOptions::default().platform(platform),
        )
        .await
        .unwrap();
    let arm64_digest = digest(&arm64.manifest_digest);
    assert_eq!(report.digest.as_ref(), Some(&arm64_digest));
    assert_eq!(report.manifests, 1);
    assert_eq!(report.blobs_uploaded, 2, "{report:?}");

    assert_eq!(
        dst.manifest_digest(&dest_repo, &reference("v1"))
            .await
            .unwrap(),
        arm64_digest
    );
    let m = dst.manifest(&dest_repo, &reference("v1")).await.unwrap();
    assert!(!m.is_index());
    assert_eq!(m.media_type(), media_type::OCI_MANIFEST);
    let config = dst.image_config(&dest_repo, &m).await.unwrap();
    assert_eq!(config.architecture, "arm64");
    // The other platform did not come along.
    let err = dst
        .manifest(
            &dest_repo,
            &TagOrDigest::Digest(digest(&amd64.manifest_digest)),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(!dst
        .blob_exists(&dest_repo, &digest(&amd64.layer_digest))
        .await
        .unwrap());
    let inspected = registry::skopeo_inspect(dst_reg, "copy/multi-arm64:v1", false);
    assert_eq!(inspected["Digest"], arm64.manifest_digest.as_str());
    assert_eq!(inspected["Architecture"], "arm64");
}

#[tokio::test]
async fn a_platform_the_index_lacks_is_refused_and_nothing_is_written() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let multi = reg.seed_skopeo_images().multi;
    let (src, dst) = (reg.client(), dst_reg.client());
    let dest_repo = name("copy/multi-s390x");
    let mut options = CopyOptions::default();
    options.platforms = Platforms::One("linux/s390x".parse().unwrap());
    let err = src
        .copy_image(
            &name(&multi.name),
            &reference(&multi.tag),
            &dst,
            &dest_repo,
            &reference("v1"),
            &options,
        )
        .await
        .unwrap_err();
    match &err {
        Error::NoMatchingPlatform {
            platform,
            available,
            ..
        } => {
            assert_eq!(platform, "linux/s390x");
            assert!(available.contains("linux/amd64"), "{available}");
            assert!(available.contains("linux/arm64"), "{available}");
        }
        other => panic!("expected NoMatchingPlatform, got {other:?}"),
    }
    let err = dst
        .manifest_digest(&dest_repo, &reference("v1"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    for child in &multi.manifests {
        assert!(!dst
            .blob_exists(&dest_repo, &digest(&child.layer_digest))
            .await
            .unwrap());
    }
}

#[tokio::test]
async fn a_copy_uploads_only_what_the_destination_lacks() {
    let (Some(reg), Some(dst_reg)) = (registry::shared(), registry::second()) else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let (src, dst) = (reg.client(), dst_reg.client());
    let dest_repo = name("copy/partial");
    let copy = |image: &PushedImage| {
        let (from, tag) = (name(&image.name), reference(&image.tag));
        let dest_tag = reference(&image.name.replace('/', "-"));
        let (src, dst, dest_repo) = (src.clone(), dst.clone(), dest_repo.clone());
        async move {
            src.copy_image(
                &from,
                &tag,
                &dst,
                &dest_repo,
                &dest_tag,
                &CopyOptions::default(),
            )
            .await
            .unwrap()
        }
    };
    let first = copy(&images.oci).await;
    let oci_blobs: BTreeSet<Digest> = blobs_of(&src, &images.oci)
        .await
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(first.blobs_uploaded, oci_blobs.len());

    // The Docker image skopeo made of the same layout shares its layers.
    let docker_blobs = blobs_of(&src, &images.docker).await;
    let shared = docker_blobs
        .iter()
        .filter(|(d, _)| oci_blobs.contains(d))
        .count();
    assert!(shared > 0, "the fixtures share layers");
    let second = copy(&images.docker).await;
    assert_eq!(second.blobs_existing, shared, "{second:?}");
    assert_eq!(second.blobs_uploaded, docker_blobs.len() - shared);
    assert_eq!(
        second.bytes_uploaded,
        docker_blobs
            .iter()
            .filter(|(d, _)| !oci_blobs.contains(d))
            .map(|(_, s)| s)
            .sum::<u64>()
    );
    assert_eq!(
        second.digest.as_ref(),
        Some(&digest(&images.docker.manifest_digest))
    );
    let mut tags: Vec<String> = futures::TryStreamExt::try_collect(dst.tags(&dest_repo))
        .await
        .unwrap();
    tags.sort();
    assert_eq!(tags, ["docker-image", "oci-image"]);
}
