//! Removing one tag alone (`Repository::untag`) against the real registry:
//! the other tags of its digest keep the image, the placeholder it pushes
//! is gone afterwards, a sole tag takes its manifest, and a registry that
//! refuses the method says what to do. Plus the `delete` example end to end.

use crate::delete::push_image;
use crate::{mock, registry};

use dockreg::api::Untagged;
use dockreg::{Digest, Error, Tag};
use futures::TryStreamExt;
use registry::RegistryConfig;
use reqwest::StatusCode;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

async fn tags_of(repo: &dockreg::Repository) -> Vec<String> {
    let mut tags: Vec<String> = repo
        .tags()
        .map_ok(|t| t.to_string())
        .try_collect()
        .await
        .unwrap();
    tags.sort();
    tags
}

#[tokio::test]
async fn untag_removes_one_tag_and_the_other_tags_keep_the_image() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "untag/shared";
    let shared = push_image(reg, repo_name, "untag-shared", &["a", "b", "c"]);
    let other = push_image(reg, repo_name, "untag-other", &["keep"]);
    let repo = reg.client().repository(repo_name).unwrap();

    let plan = repo.untag_plan("a").await.unwrap();
    assert_eq!(
        plan,
        Untagged::TagOnly {
            tag: tag("a"),
            digest_kept: shared.manifest.clone(),
            other_tags: vec![tag("b"), tag("c")],
            placeholder: None,
        }
    );
    assert_eq!(
        tags_of(&repo).await,
        ["a", "b", "c", "keep"],
        "a plan changes nothing"
    );

    let done = repo.untag("a").await.unwrap();
    let Untagged::TagOnly {
        tag: gone,
        digest_kept,
        other_tags,
        placeholder: Some(placeholder),
    } = &done
    else {
        panic!("expected the tag alone to go: {done:?}");
    };
    assert_eq!(gone, &tag("a"));
    assert_eq!(digest_kept, &shared.manifest);
    assert_eq!(other_tags, &[tag("b"), tag("c")]);
    assert_ne!(placeholder, &shared.manifest);

    // a is gone; b and c still name the image, which still pulls.
    assert_eq!(tags_of(&repo).await, ["b", "c", "keep"]);
    assert_eq!(listed(reg, repo_name), ["b", "c", "keep"]);
    let err = repo.manifest_digest("a").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    for kept in ["b", "c"] {
        let inspected = registry::skopeo_inspect(reg, &format!("{repo_name}:{kept}"), false);
        assert_eq!(inspected["Digest"], shared.manifest.to_string(), "{kept}");
        assert_eq!(inspected["Labels"]["label"], "untag-shared", "{kept}");
    }
    let manifest = repo.manifest(&shared.manifest).await.unwrap();
    assert_eq!(manifest.digest().unwrap(), shared.manifest);
    assert_eq!(repo.manifest_digest("keep").await.unwrap(), other.manifest);

    // The placeholder is deleted.
    let err = repo.manifest(placeholder).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let raw = reg.raw(
        "GET",
        &format!("/v2/{repo_name}/manifests/{placeholder}"),
        &[],
    );
    assert_eq!(raw.status, 404);

    // Again on b: c is left; then c is the only tag and takes the manifest.
    let done = repo.untag("b").await.unwrap();
    assert!(!done.deletes_manifest(), "{done:?}");
    assert_eq!(tags_of(&repo).await, ["c", "keep"]);
    let plan = repo.untag_plan("c").await.unwrap();
    assert_eq!(
        plan,
        Untagged::Manifest {
            tag: tag("c"),
            digest: shared.manifest.clone(),
        }
    );
    assert_eq!(repo.untag("c").await.unwrap(), plan);
    assert_eq!(tags_of(&repo).await, ["keep"]);
    let err = repo.manifest(&shared.manifest).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn untag_of_a_sole_tag_deletes_its_manifest() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "untag/sole";
    let image = push_image(reg, repo_name, "untag-sole", &["only"]);
    let other = push_image(reg, repo_name, "untag-sole-other", &["other"]);
    let repo = reg.client().repository(repo_name).unwrap();

    let done = repo.untag("only").await.unwrap();
    assert_eq!(
        done,
        Untagged::Manifest {
            tag: tag("only"),
            digest: image.manifest.clone(),
        }
    );
    assert_eq!(tags_of(&repo).await, ["other"]);
    let err = repo.manifest(&image.manifest).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(repo.manifest_digest("other").await.unwrap(), other.manifest);

    // An unknown tag is "not found", before anything is touched.
    let err = repo.untag("no-such-tag").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = repo.untag("bad tag").await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn untag_on_a_registry_with_deletion_disabled_says_so_and_changes_nothing() {
    let Some(reg) = registry::start(RegistryConfig {
        delete_enabled: false,
        ..Default::default()
    }) else {
        return;
    };
    let repo_name = "nodelete/untag";
    let shared = push_image(&reg, repo_name, "nodelete-shared", &["a", "b"]);
    let sole = push_image(&reg, repo_name, "nodelete-sole", &["sole"]);
    let repo = reg.client().repository(repo_name).unwrap();

    for (t, digest) in [("a", &shared.manifest), ("sole", &sole.manifest)] {
        let err = repo.untag(t).await.unwrap_err();
        assert!(
            matches!(err, Error::DeletionDisabled { .. }),
            "{t}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("storage.delete.enabled"), "{message}");
        assert_eq!(err.status(), Some(StatusCode::METHOD_NOT_ALLOWED));
        // The tag was not moved onto a placeholder.
        assert_eq!(&repo.manifest_digest(t).await.unwrap(), digest, "{t}");
    }
    assert_eq!(tags_of(&repo).await, ["a", "b", "sole"]);
    let inspected = registry::skopeo_inspect(&reg, &format!("{repo_name}:a"), false);
    assert_eq!(inspected["Digest"], shared.manifest.to_string());
}

/// A registry (mocked) where `app` has tags `a` and `b` of one digest.
async fn shared_digest_server() -> (wiremock::MockServer, Digest) {
    let server = mock::server().await;
    let digest = Digest::sha256(b"the shared manifest");
    for t in ["a", "b"] {
        Mock::given(method("HEAD"))
            .and(path(format!("/v2/app/manifests/{t}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Docker-Content-Digest", digest.to_string())
                    .insert_header("Content-Type", dockreg::models::media_type::OCI_MANIFEST),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v2/app/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"app","tags":["a","b"]}"#,
        ))
        .mount(&server)
        .await;
    // The empty blob is there already.
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/app/blobs/{}", Digest::sha256(b"{}"))))
        .respond_with(ResponseTemplate::new(200).insert_header("Content-Length", "2"))
        .mount(&server)
        .await;
    (server, digest)
}

fn manifest_unknown() -> ResponseTemplate {
    mock::json(
        404,
        "application/json",
        r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
    )
}

#[tokio::test]
async fn a_denied_placeholder_push_is_a_typed_error_and_nothing_is_deleted() {
    let (server, _digest) = shared_digest_server().await;
    // The deletion check only: no DELETE follows the refused PUT.
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v2/app/manifests/sha256:[0-9a-f]{64}$"))
        .respond_with(manifest_unknown())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/app/manifests/a"))
        .respond_with(mock::json(
            403,
            "application/json",
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("app").unwrap();
    let err = repo.untag("a").await.unwrap_err();
    assert!(matches!(err, Error::UntagPushDenied { .. }), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    let message = err.to_string();
    for needle in ["app:a", "push rights", "by digest", "403", "DENIED"] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

#[tokio::test]
async fn a_placeholder_that_cannot_be_deleted_is_named() {
    let (server, digest) = shared_digest_server().await;
    // The check finds nothing; the real delete then fails.
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v2/app/manifests/sha256:[0-9a-f]{64}$"))
        .respond_with(manifest_unknown())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v2/app/manifests/sha256:[0-9a-f]{64}$"))
        .respond_with(ResponseTemplate::new(500).set_body_string("storage backend down"))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/app/manifests/a"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("app").unwrap();
    let err = repo.untag("a").await.unwrap_err();
    let Error::UntagIncomplete {
        placeholder, kept, ..
    } = &err
    else {
        panic!("expected UntagIncomplete: {err:?}");
    };
    assert_eq!(kept, &digest);
    let message = err.to_string();
    for needle in [
        "app:a".to_owned(),
        format!("placeholder manifest {placeholder}"),
        format!("delete app@{placeholder}"),
        "storage backend down".to_owned(),
    ] {
        assert!(message.contains(&needle), "{needle:?} not in {message}");
    }
    // The placeholder's digest is the one that was PUT under the tag.
    let requests = server.received_requests().await.unwrap();
    let put = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT")
        .expect("a PUT");
    assert_eq!(&Digest::sha256(&put.body), placeholder);
}

/// The tags skopeo lists, sorted (the registry lists them in storage order).
fn listed(reg: &registry::Registry, repo: &str) -> Vec<String> {
    let mut tags = registry::skopeo_list_tags(reg, repo);
    tags.sort();
    tags
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_delete(args: &[&str]) -> (String, String) {
    let example = registry::example("delete").unwrap();
    let out = registry::run_example(&example, args, &[], "");
    assert!(
        out.status.success(),
        "delete {args:?} exited {:?}: {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_delete_example_removes_a_tag_alone_and_deletes_by_digest_with_digest() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo_name = "untag/example";
    let image = push_image(reg, repo_name, "untag-example", &["a", "b", "c"]);
    let d = image.manifest.to_string();
    let at = |t: &str| format!("{}/{repo_name}:{t}", reg.host);

    let (out, _) = run_delete(&[&at("a"), "--dry-run"]);
    assert_eq!(
        out,
        format!("would remove tag {repo_name}:a; {repo_name}@{d} stays (tags: b, c)\n")
    );
    assert_eq!(listed(reg, repo_name), ["a", "b", "c"]);

    let (out, _) = run_delete(&[&at("a")]);
    assert_eq!(
        out,
        format!("removed tag {repo_name}:a; {repo_name}@{d} stays (tags: b, c)\n")
    );
    assert_eq!(listed(reg, repo_name), ["b", "c"]);
    let inspected = registry::skopeo_inspect(reg, &format!("{repo_name}:b"), false);
    assert_eq!(inspected["Digest"], d);

    let (out, _) = run_delete(&[&at("b"), "--json", "--dry-run"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"action": "untag", "repository": repo_name, "digest": d,
            "tags": ["b"], "kept_tags": ["c"], "deleted": false})
    );

    // --digest: the manifest and every tag of it.
    let (out, _) = run_delete(&[&at("b"), "--digest", "--dry-run"]);
    assert_eq!(
        out,
        format!(
            "would delete {repo_name}@{d} (tags: b, c)\nc share the digest of b and would go too (--digest)\n"
        )
    );
    let (out, err) = run_delete(&[&at("b"), "--digest", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"action": "delete", "repository": repo_name, "digest": d,
            "tags": ["b", "c"], "kept_tags": [], "deleted": true})
    );
    assert!(err.contains("garbage-collect"), "{err}");
    let raw = reg.raw("GET", &format!("/v2/{repo_name}/manifests/{d}"), &[]);
    assert_eq!(raw.status, 404);

    // A sole tag takes its manifest; so does NAME@DIGEST.
    let sole = push_image(reg, repo_name, "untag-example-sole", &["sole"]);
    let (out, _) = run_delete(&[&at("sole")]);
    assert!(
        out.starts_with(&format!(
            "deleted {repo_name}@{} (tags: sole)\n",
            sole.manifest
        )),
        "{out}"
    );
    let by_digest = push_image(reg, repo_name, "untag-example-digest", &["x", "y"]);
    let (out, _) = run_delete(&[&format!("{}/{repo_name}@{}", reg.host, by_digest.manifest)]);
    assert!(
        out.starts_with(&format!(
            "deleted {repo_name}@{} (tags: x, y)\n",
            by_digest.manifest
        )),
        "{out}"
    );
}
