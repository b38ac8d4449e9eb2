//! Deleting tags, manifests and blobs against the real registry (deletion
//! enabled in the shared one), and the clear error of a registry that has
//! deletion disabled.

use crate::registry;

use dockreg::models::ErrorCode;
use dockreg::{Digest, Error, RepositoryName, Tag, TagOrDigest};
use futures::TryStreamExt;
use registry::{media, Registry, RegistryConfig};
use reqwest::StatusCode;
use serde_json::json;

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

fn by_digest(d: &Digest) -> TagOrDigest {
    TagOrDigest::Digest(d.clone())
}

/// An image pushed with the raw API for a test of its own.
pub(crate) struct Image {
    pub(crate) manifest: Digest,
    pub(crate) config: Digest,
    pub(crate) layer: Digest,
}

/// Pushes a tiny schema 2 image (its own layer and config, told apart by
/// `label`) to `repo` and tags it with every tag of `tags`.
pub(crate) fn push_image(reg: &Registry, repo: &str, label: &str, tags: &[&str]) -> Image {
    let layer = registry::tiny_layer(&[("etc/label.txt", label.as_bytes())]);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"label": label}},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": label}],
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }))
    .unwrap();
    let config_digest = reg.push_blob(repo, config.clone());
    let layer_digest = reg.push_blob(repo, layer.gz.clone());
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_V2,
        "config": {"mediaType": media::DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": media::DOCKER_LAYER, "size": layer.gz.len(), "digest": layer_digest}],
    }))
    .unwrap();
    let digest = registry::sha256_digest(&manifest);
    for t in tags {
        let got = reg.put_manifest(repo, t, media::DOCKER_MANIFEST_V2, manifest.clone());
        assert_eq!(got, digest);
    }
    if tags.is_empty() {
        reg.put_manifest(repo, &digest, media::DOCKER_MANIFEST_V2, manifest);
    }
    Image {
        manifest: digest.parse().unwrap(),
        config: config_digest.parse().unwrap(),
        layer: layer_digest.parse().unwrap(),
    }
}

async fn tags_of(client: &dockreg::Client, repo: &RepositoryName) -> Vec<String> {
    let mut tags: Vec<String> = client.tags(repo).try_collect().await.unwrap();
    tags.sort();
    tags
}

#[tokio::test]
async fn deleting_a_tag_takes_every_tag_of_its_digest() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "delete/shared-digest";
    let shared = push_image(reg, repo_name, "shared", &["a", "b"]);
    let other = push_image(reg, repo_name, "other", &["keep"]);
    let client = reg.client();
    let repo = name(repo_name);
    assert_eq!(tags_of(&client, &repo).await, ["a", "b", "keep"]);

    // Know beforehand what goes with it.
    assert_eq!(
        client
            .tags_with_digest(&repo, &shared.manifest, 4)
            .await
            .unwrap(),
        ["a", "b"]
    );
    assert_eq!(
        client
            .tags_with_digest(&repo, &other.manifest, 1)
            .await
            .unwrap(),
        ["keep"]
    );

    let deleted = client.delete_tag(&repo, &tag("a")).await.unwrap();
    assert_eq!(deleted, shared.manifest);

    assert_eq!(tags_of(&client, &repo).await, ["keep"]);
    assert_eq!(registry::skopeo_list_tags(reg, repo_name), ["keep"]);
    let err = client
        .manifest(&repo, &by_digest(&shared.manifest))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::ManifestUnknown));
    for gone in ["a", "b"] {
        let err = client
            .manifest_digest(&repo, &gone.parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{gone}: {err:?}");
    }
    assert!(client
        .tags_with_digest(&repo, &shared.manifest, 4)
        .await
        .unwrap()
        .is_empty());
    // The other image is untouched; the deleted one's blobs stay until the
    // registry's garbage collection.
    assert_eq!(
        client
            .manifest_digest(&repo, &"keep".parse().unwrap())
            .await
            .unwrap(),
        other.manifest
    );
    assert!(client.blob_exists(&repo, &shared.layer).await.unwrap());
    assert!(client.blob_exists(&repo, &shared.config).await.unwrap());

    // The tag is gone, so deleting it again is "not found".
    let err = client.delete_tag(&repo, &tag("b")).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn a_manifest_deleted_by_digest_is_gone() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "delete/by-digest";
    let tagged = push_image(reg, repo_name, "tagged", &["v1"]);
    let untagged = push_image(reg, repo_name, "untagged", &[]);
    let client = reg.client();
    let repo = name(repo_name);

    for image in [&tagged, &untagged] {
        assert_eq!(
            client
                .manifest_digest(&repo, &by_digest(&image.manifest))
                .await
                .unwrap(),
            image.manifest
        );
        client
            .delete_manifest(&repo, &image.manifest)
            .await
            .unwrap();
        let err = client
            .manifest(&repo, &by_digest(&image.manifest))
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let raw = reg.raw(
            "HEAD",
            &format!("/v2/{repo}/manifests/{}", image.manifest),
            &[("Accept", media::DOCKER_MANIFEST_V2)],
        );
        assert_eq!(raw.status, 404);

        // A second delete: the registry no longer knows it.
        let err = client
            .delete_manifest(&repo, &image.manifest)
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    }
    let err = client
        .manifest(&repo, &"v1".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        err.is_not_found(),
        "the tag went with its manifest: {err:?}"
    );
    assert!(tags_of(&client, &repo).await.is_empty());
}

#[tokio::test]
async fn unknown_digests_are_not_found() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "delete/unknown";
    push_image(reg, repo_name, "present", &["v1"]);
    let client = reg.client();
    let repo = name(repo_name);
    let never = Digest::sha256(b"never pushed anywhere");

    let err = client.delete_manifest(&repo, &never).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::ManifestUnknown), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("/v2/{repo_name}/manifests/{never}")),
        "{err}"
    );

    let err = client.delete_blob(&repo, &never).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::BlobUnknown), "{err:?}");

    let err = client
        .delete_tag(&repo, &tag("no-such-tag"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::ManifestUnknown), "{err:?}");
    // Nothing else went.
    assert_eq!(tags_of(&client, &repo).await, ["v1"]);
}

#[tokio::test]
async fn a_deleted_blob_is_gone_from_the_repository() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("delete/blob");
    let other = name("delete/blob-elsewhere");
    let data = b"a blob that will be deleted".repeat(1000);
    let (descriptor, _) = client
        .push_blob(&repo, data.clone(), "application/octet-stream")
        .await
        .unwrap();
    let digest = descriptor.digest;
    assert!(client
        .mount_blob(&other, &digest, &repo)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        client.blob_size(&repo, &digest).await.unwrap(),
        Some(data.len() as u64)
    );

    client.delete_blob(&repo, &digest).await.unwrap();

    assert_eq!(client.blob_size(&repo, &digest).await.unwrap(), None);
    let err = client
        .blob_bytes(&repo, &digest, 1 << 20)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::BlobUnknown));
    // Only this repository's link went: the repository it was mounted into
    // still serves it.
    assert_eq!(
        client.blob_bytes(&other, &digest, 1 << 20).await.unwrap(),
        data
    );
}

#[tokio::test]
async fn a_registry_with_deletion_disabled_says_how_to_enable_it() {
    let Some(reg) = registry::start(RegistryConfig {
        delete_enabled: false,
        ..Default::default()
    }) else {
        return;
    };
    let repo_name = "nodelete/app";
    let image = push_image(&reg, repo_name, "kept", &["v1", "v2"]);
    let client = reg.client();
    let repo = name(repo_name);

    let err = client
        .delete_manifest(&repo, &image.manifest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DeletionDisabled { .. }), "{err:?}");
    let message = err.to_string();
    for needle in [
        "storage.delete.enabled",
        "REGISTRY_STORAGE_DELETE_ENABLED",
        &format!("/v2/{repo_name}/manifests/{}", image.manifest),
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert_eq!(err.status(), Some(StatusCode::METHOD_NOT_ALLOWED));
    assert_eq!(err.code(), Some(&ErrorCode::Unsupported));
    assert!(!err.is_not_found());

    // What the registry itself answers, for the record.
    let raw = reg.raw(
        "DELETE",
        &format!("/v2/{repo_name}/manifests/{}", image.manifest),
        &[],
    );
    assert_eq!(raw.status, 405);
    assert_eq!(raw.json()["errors"][0]["code"], "UNSUPPORTED");

    let err = client.delete_tag(&repo, &tag("v1")).await.unwrap_err();
    assert!(matches!(err, Error::DeletionDisabled { .. }), "{err:?}");
    let err = client.delete_blob(&repo, &image.layer).await.unwrap_err();
    assert!(matches!(err, Error::DeletionDisabled { .. }), "{err:?}");
    assert!(err.to_string().contains("/blobs/"), "{err}");

    // Nothing was deleted.
    assert_eq!(tags_of(&client, &repo).await, ["v1", "v2"]);
    assert_eq!(
        client
            .tags_with_digest(&repo, &image.manifest, 2)
            .await
            .unwrap(),
        ["v1", "v2"]
    );
    assert_eq!(
        client
            .manifest(&repo, &by_digest(&image.manifest))
            .await
            .unwrap()
            .digest()
            .unwrap(),
        image.manifest
    );
    for blob in [&image.layer, &image.config] {
        assert!(client.blob_exists(&repo, blob).await.unwrap(), "{blob}");
    }
    let mut listed = registry::skopeo_list_tags(&reg, repo_name);
    listed.sort();
    assert_eq!(listed, ["v1", "v2"]);
}

#[tokio::test]
async fn a_retention_plan_keeps_what_shares_a_kept_digest_and_apply_deletes_the_rest() {
    use dockreg::retention::{Action, Policy};
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "delete/retention";
    // Every image is dated 2024-01-01: the newest first is by tag.
    let first = push_image(reg, repo_name, "first", &["a1"]);
    let second = push_image(reg, repo_name, "second", &["b1", "b2"]);
    let client = reg.client();
    let repo = name(repo_name);
    let actions = |plan: &dockreg::retention::Plan| -> Vec<(String, Action)> {
        plan.tags
            .iter()
            .map(|t| (t.tag.clone(), t.action))
            .collect()
    };

    // Keep 2: b2 goes past the newest two, but shares b1's digest.
    let plan = Policy::default()
        .keep(2)
        .plan(&client.repository(&repo).unwrap())
        .await
        .unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("a1".to_owned(), Action::Keep),
            ("b1".to_owned(), Action::Keep),
            ("b2".to_owned(), Action::Keep)
        ]
    );
    assert_eq!(
        plan.tags[2].reason.to_string(),
        "shares its digest with kept tag b1, though not among the newest 2"
    );
    assert!(plan.manifests.is_empty());
    assert_eq!(plan.freed_bytes, 0);

    // Keep 1: the second image goes with both its tags; its blobs are freed.
    let policy = Policy::default().keep(1);
    let plan = policy
        .plan(&client.repository(&repo).unwrap())
        .await
        .unwrap();
    // A plan is for its own repository only.
    let other = client.repository("retention/other").unwrap();
    let err = policy.apply(&other, &plan).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(
        actions(&plan),
        [
            ("a1".to_owned(), Action::Keep),
            ("b1".to_owned(), Action::Delete),
            ("b2".to_owned(), Action::Delete)
        ]
    );
    assert_eq!(plan.manifests, std::slice::from_ref(&second.manifest));
    let config = client.blob_size(&repo, &second.config).await.unwrap();
    let layer = client.blob_size(&repo, &second.layer).await.unwrap();
    assert_eq!(plan.freed_bytes, config.unwrap() + layer.unwrap());
    assert_eq!(
        tags_of(&client, &repo).await,
        ["a1", "b1", "b2"],
        "a plan deletes nothing"
    );

    policy
        .apply(&client.repository(&repo).unwrap(), &plan)
        .await
        .unwrap();
    assert_eq!(tags_of(&client, &repo).await, ["a1"]);
    assert!(client
        .manifest(&repo, &by_digest(&first.manifest))
        .await
        .is_ok());
    // Applying again: what is already gone counts as deleted.
    policy
        .apply(&client.repository(&repo).unwrap(), &plan)
        .await
        .unwrap();
}
