//! OCI 1.1 referrers: the Referrers API of a registry that has one
//! (wiremock: filters, pages, hostile answers, 404 = no API), the fallback
//! tag schema on the real CNCF registry (2.8.2 has no Referrers API), the
//! fallback index a push with `subject` keeps, copies that take referrers
//! along to a second real registry, and deletion with referrers.

use crate::delete::push_image;
use crate::{mock, registry};

use std::sync::{Arc, Mutex};

use dockreg::api::{referrers_tag, ReferrersSource};
use dockreg::artifact::Artifact;
use dockreg::models::{media_type, Descriptor, ImageManifest};
use dockreg::transfer::{CopyOptions, Event};
use dockreg::{Digest, Error, Manifest, Repository};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const SBOM: &str = "application/spdx+json";
const SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

fn sha(s: &str) -> Digest {
    Digest::sha256(s.as_bytes())
}

/// A referrer manifest of `subject`: the empty config, one empty layer,
/// `artifact_type`, and an annotation that tells it apart.
fn referrer(subject: &Descriptor, artifact_type: &str, label: &str) -> Manifest {
    let empty = Descriptor::new(media_type::OCI_EMPTY, Digest::sha256(b"{}"), 2);
    let mut m = ImageManifest::new(empty.clone(), vec![empty]);
    m.artifact_type = Some(artifact_type.to_owned());
    m.subject = Some(subject.clone());
    m.annotations
        .insert("org.example.label".to_owned(), label.to_owned());
    Manifest::from_image_manifest(&m).unwrap()
}

fn index_body(entries: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": entries,
    }))
    .unwrap()
}

fn entry(digest: &Digest, artifact_type: &str) -> serde_json::Value {
    json!({
        "mediaType": media_type::OCI_MANIFEST,
        "digest": digest,
        "size": 500,
        "artifactType": artifact_type,
        "annotations": {"org.example.label": artifact_type},
    })
}

// ---- a registry with the Referrers API (wiremock) ---------------------------

#[tokio::test]
async fn the_api_is_asked_and_filtered_here_when_the_registry_did_not_filter() {
    let server = mock::server().await;
    let subject = sha("subject");
    let (sbom, sig) = (sha("sbom"), sha("sig"));
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{subject}")))
        .and(query_param("artifactType", SBOM))
        .and(header("accept", media_type::OCI_INDEX))
        // No OCI-Filters-Applied: the registry ignored the filter.
        .respond_with(mock::json(
            200,
            media_type::OCI_INDEX,
            index_body(&[entry(&sbom, SBOM), entry(&sig, SIGNATURE)]),
        ))
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let list = repo.referrers(&subject, Some(SBOM)).await.unwrap();
    assert_eq!(list.source, ReferrersSource::Api);
    assert!(!list.filtered_by_registry);
    assert_eq!(list.manifests.len(), 1, "{list:?}");
    assert_eq!(list.manifests[0].digest, sbom);
    assert_eq!(list.manifests[0].artifact_type.as_deref(), Some(SBOM));
    assert_eq!(list.manifests[0].annotations["org.example.label"], SBOM);
}

#[tokio::test]
async fn a_registry_that_filtered_says_so_and_unfiltered_lists_are_whole() {
    let server = mock::server().await;
    let subject = sha("subject");
    let (sbom, sig) = (sha("sbom"), sha("sig"));
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{subject}")))
        .and(query_param("artifactType", SBOM))
        .respond_with(
            mock::json(
                200,
                media_type::OCI_INDEX,
                index_body(&[entry(&sbom, SBOM)]),
            )
            .insert_header("OCI-Filters-Applied", "artifactType"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{subject}")))
        .respond_with(mock::json(
            200,
            media_type::OCI_INDEX,
            index_body(&[entry(&sbom, SBOM), entry(&sig, SIGNATURE)]),
        ))
        .with_priority(2)
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let filtered = repo.referrers(&subject, Some(SBOM)).await.unwrap();
    assert!(filtered.filtered_by_registry);
    assert_eq!(filtered.manifests.len(), 1);
    let all = repo.referrers(&subject, None).await.unwrap();
    assert!(!all.filtered_by_registry);
    assert_eq!(all.manifests.len(), 2);
}

#[tokio::test]
async fn api_pages_are_followed_and_a_link_loop_is_refused() {
    let server = mock::server().await;
    let subject = sha("subject");
    let first = format!("/v2/team/app/referrers/{subject}");
    Mock::given(method("GET"))
        .and(path(first.clone()))
        .and(query_param("page", "2"))
        .respond_with(
            mock::json(
                200,
                media_type::OCI_INDEX,
                index_body(&[entry(&sha("b"), SBOM)]),
            )
            // Back to the page just fetched.
            .insert_header("Link", format!("<{first}?page=2>; rel=\"next\"").as_str()),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(first.clone()))
        .respond_with(
            mock::json(
                200,
                media_type::OCI_INDEX,
                index_body(&[entry(&sha("a"), SBOM)]),
            )
            .insert_header("Link", format!("<{first}?page=2>; rel=\"next\"").as_str()),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let err = repo.referrers(&subject, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if reason.contains("already fetched")),
        "{err}"
    );

    // The same two pages, the second one the last.
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path(first.clone()))
        .and(query_param("page", "2"))
        .respond_with(mock::json(
            200,
            media_type::OCI_INDEX,
            index_body(&[entry(&sha("b"), SBOM)]),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(first.clone()))
        .respond_with(
            mock::json(
                200,
                media_type::OCI_INDEX,
                index_body(&[entry(&sha("a"), SBOM)]),
            )
            .insert_header("Link", format!("<{first}?page=2>; rel=\"next\"").as_str()),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let repo = mock::client(&server).repository("team/app").unwrap();
    let list = repo.referrers(&subject, None).await.unwrap();
    let digests: Vec<Digest> = list.manifests.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(digests, [sha("a"), sha("b")]);
}

#[tokio::test]
async fn hostile_api_answers_are_typed_errors() {
    let subject = sha("subject");
    let route = format!("/v2/team/app/referrers/{subject}");
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (mock::json(200, media_type::OCI_INDEX, "not json"), "decode"),
        (
            mock::json(200, media_type::OCI_INDEX, vec![b' '; 64 << 10]),
            "too large",
        ),
        (
            mock::json(
                200,
                media_type::OCI_INDEX,
                index_body(&vec![entry(&sha("x"), SBOM); 20]),
            ),
            "too many",
        ),
        (mock::json(500, "text/plain", "boom"), "500"),
    ];
    for (answer, says) in cases {
        let server = mock::server().await;
        Mock::given(method("GET"))
            .and(path(route.clone()))
            .respond_with(answer)
            .mount(&server)
            .await;
        let mut limits = dockreg::http::Limits::default();
        limits.manifest = 32 << 10;
        limits.index_children = 10;
        let client = dockreg::Client::builder(server.uri())
            .retry(dockreg::http::RetryConfig::disabled())
            .limits(limits)
            .build()
            .unwrap();
        let err = client
            .repository("team/app")
            .unwrap()
            .referrers(&subject, None)
            .await
            .unwrap_err();
        let shown = format!("{err:?} {err}").to_lowercase();
        let matched = match says {
            "decode" => matches!(err, Error::Decode { .. }),
            "too large" => matches!(err, Error::TooLarge { .. }),
            "too many" => matches!(err, Error::TooMany { .. }),
            _ => shown.contains(says),
        };
        assert!(matched, "{says}: {err:?}");
    }
}

#[tokio::test]
async fn no_api_means_the_fallback_tag_and_a_fallback_tag_that_is_no_index_is_refused() {
    let server = mock::server().await;
    let subject = sha("subject");
    let tag = referrers_tag(&subject);
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{subject}")))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/manifests/{tag}")))
        .respond_with(mock::json(
            200,
            media_type::OCI_INDEX,
            index_body(&[entry(&sha("a"), SBOM), entry(&sha("b"), SIGNATURE)]),
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let repo = client.repository("team/app").unwrap();
    let list = repo.referrers(&subject, Some(SIGNATURE)).await.unwrap();
    assert_eq!(list.source, ReferrersSource::FallbackTag);
    assert_eq!(list.manifests.len(), 1);
    assert_eq!(list.manifests[0].digest, sha("b"));

    // A 200 that is no index (a proxy's page for any path) is no API too.
    let html = sha("html");
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{html}")))
        .respond_with(mock::json(200, "text/html", "<html>login</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/team/app/manifests/{}",
            referrers_tag(&html)
        )))
        .respond_with(mock::json(
            200,
            media_type::OCI_INDEX,
            index_body(&[entry(&sha("c"), SBOM)]),
        ))
        .mount(&server)
        .await;
    let list = repo.referrers(&html, None).await.unwrap();
    assert_eq!(list.source, ReferrersSource::FallbackTag);
    assert_eq!(list.manifests[0].digest, sha("c"));

    // No fallback tag either: no referrers.
    let other = sha("other");
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{other}")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/team/app/manifests/{}",
            referrers_tag(&other)
        )))
        .respond_with(mock::json(
            404,
            "application/json",
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        ))
        .mount(&server)
        .await;
    let list = repo.referrers(&other, None).await.unwrap();
    assert!(list.manifests.is_empty());

    // A fallback tag that names an image manifest.
    let odd = sha("odd");
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/referrers/{odd}")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let image = referrer(
        &Descriptor::new(media_type::OCI_MANIFEST, sha("s"), 1),
        SBOM,
        "x",
    );
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/team/app/manifests/{}",
            referrers_tag(&odd)
        )))
        .respond_with(mock::json(200, media_type::OCI_MANIFEST, image.bytes()))
        .mount(&server)
        .await;
    let err = repo.referrers(&odd, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if reason.contains("not the OCI index")),
        "{err}"
    );
}

#[tokio::test]
async fn a_registry_that_processed_the_subject_gets_no_fallback_tag() {
    let server = mock::server().await;
    let subject = Descriptor::new(media_type::OCI_MANIFEST, sha("subject"), 10);
    let manifest = referrer(&subject, SBOM, "api");
    let digest = manifest.digest().unwrap();
    Mock::given(method("PUT"))
        .and(path(format!("/v2/team/app/manifests/{digest}")))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Docker-Content-Digest", digest.as_str())
                .insert_header("OCI-Subject", subject.digest.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Any fallback read or write would hit the catch-all 500.
    let repo = mock::client(&server).repository("team/app").unwrap();
    let pushed = repo.put_manifest(&digest, &manifest).await.unwrap();
    assert_eq!(pushed, digest);
}

// ---- the real registry: no Referrers API, the fallback tag ------------------

async fn fallback_entries(repo: &Repository, subject: &Digest) -> Option<Vec<Descriptor>> {
    match repo.manifest(referrers_tag(subject).as_str()).await {
        Ok(m) => {
            assert_eq!(m.media_type(), media_type::OCI_INDEX);
            Some(m.manifests().to_vec())
        }
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{e}"),
    }
}

/// Pushes the empty blob `{}` that referrer manifests name.
async fn push_empty(repo: &Repository) {
    repo.push_blob(&b"{}"[..]).await.unwrap();
}

#[tokio::test]
async fn a_push_with_subject_keeps_the_fallback_index() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let name = "referrers/push";
    let image = push_image(reg, name, "referrers-push", &["v1"]);
    let repo = reg.client().repository(name).unwrap();
    push_empty(&repo).await;
    let subject = repo.manifest("v1").await.unwrap().descriptor().unwrap();
    assert_eq!(subject.digest, image.manifest);

    let sbom = referrer(&subject, SBOM, "one");
    let sbom_digest = sbom.digest().unwrap();
    repo.put_manifest(&sbom_digest, &sbom).await.unwrap();
    let entries = fallback_entries(&repo, &subject.digest)
        .await
        .expect("the push made the fallback tag");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].digest, sbom_digest);
    assert_eq!(entries[0].media_type, media_type::OCI_MANIFEST);
    assert_eq!(entries[0].size, sbom.bytes().len() as u64);
    assert_eq!(entries[0].artifact_type.as_deref(), Some(SBOM));
    assert_eq!(entries[0].annotations["org.example.label"], "one");

    // A second referrer is added; pushing the first again adds nothing.
    let sig = referrer(&subject, SIGNATURE, "two");
    repo.put_manifest(&sig.digest().unwrap(), &sig)
        .await
        .unwrap();
    repo.put_manifest(&sbom_digest, &sbom).await.unwrap();
    let entries = fallback_entries(&repo, &subject.digest).await.unwrap();
    let digests: Vec<&Digest> = entries.iter().map(|d| &d.digest).collect();
    assert_eq!(digests, [&sbom_digest, &sig.digest().unwrap()]);

    let list = repo.referrers(&subject.digest, None).await.unwrap();
    assert_eq!(list.source, ReferrersSource::FallbackTag);
    assert_eq!(list.manifests, entries);
    let only = repo
        .referrers(&subject.digest, Some(SIGNATURE))
        .await
        .unwrap();
    assert_eq!(only.manifests.len(), 1);
    assert_eq!(only.manifests[0].digest, sig.digest().unwrap());
    // A manifest without referrers has none.
    let none = repo.referrers(&sbom_digest, None).await.unwrap();
    assert!(none.manifests.is_empty());
}

#[tokio::test]
async fn a_fallback_tag_that_is_not_an_index_fails_the_push_without_panic() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let name = "referrers/odd-fallback";
    let image = push_image(reg, name, "referrers-odd", &["v1"]);
    // Someone tagged an image under the subject's fallback tag.
    push_image(
        reg,
        name,
        "referrers-odd-squatter",
        &[referrers_tag(&image.manifest).as_str()],
    );
    let repo = reg.client().repository(name).unwrap();
    push_empty(&repo).await;
    let subject = repo.manifest("v1").await.unwrap().descriptor().unwrap();
    let sbom = referrer(&subject, SBOM, "odd");
    let err = repo
        .put_manifest(&sbom.digest().unwrap(), &sbom)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if reason.contains("was pushed")),
        "{err}"
    );
    let err = repo.referrers(&image.manifest, None).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn deleting_with_referrers_plans_first_then_takes_them_and_their_tags() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let name = "referrers/delete";
    let image = push_image(reg, name, "referrers-delete", &["v1"]);
    let keep = push_image(reg, name, "referrers-keep", &["keep"]);
    let repo = reg.client().repository(name).unwrap();
    push_empty(&repo).await;
    let subject = repo.manifest("v1").await.unwrap().descriptor().unwrap();
    let sbom = referrer(&subject, SBOM, "sbom");
    repo.put_manifest(&sbom.digest().unwrap(), &sbom)
        .await
        .unwrap();
    // A signature of the SBOM: a referrer of a referrer.
    let sig = referrer(&sbom.descriptor().unwrap(), SIGNATURE, "sig");
    repo.put_manifest(&sig.digest().unwrap(), &sig)
        .await
        .unwrap();
    // A referrer of the kept image, which stays.
    let kept_subject = repo.manifest("keep").await.unwrap().descriptor().unwrap();
    let kept_sbom = referrer(&kept_subject, SBOM, "kept");
    repo.put_manifest(&kept_sbom.digest().unwrap(), &kept_sbom)
        .await
        .unwrap();

    let plan = repo.delete_plan(&image.manifest).await.unwrap();
    let planned: Vec<Digest> = plan.referrers.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(planned, [sig.digest().unwrap(), sbom.digest().unwrap()]);
    let tags: Vec<String> = plan
        .fallback_tags
        .iter()
        .map(|f| f.tag.to_string())
        .collect();
    assert_eq!(
        tags,
        [
            referrers_tag(&image.manifest).to_string(),
            referrers_tag(&sbom.digest().unwrap()).to_string()
        ]
    );
    assert_eq!(plan.subject, None);
    assert_eq!(plan.manifests(), 5);
    // The plan changed nothing.
    assert!(repo.manifest_digest("v1").await.is_ok());
    assert!(repo.manifest(&sig.digest().unwrap()).await.is_ok());

    let done = repo.delete_with_referrers(&image.manifest).await.unwrap();
    assert_eq!(done, plan);
    for gone in [
        image.manifest.clone(),
        sbom.digest().unwrap(),
        sig.digest().unwrap(),
    ] {
        let err = repo.manifest(&gone).await.unwrap_err();
        assert!(err.is_not_found(), "{gone}: {err}");
    }
    for t in &tags {
        let err = repo.manifest_digest(t.as_str()).await.unwrap_err();
        assert!(err.is_not_found(), "{t}: {err}");
    }
    assert_eq!(repo.manifest_digest("keep").await.unwrap(), keep.manifest);
    let kept = repo.referrers(&keep.manifest, None).await.unwrap();
    assert_eq!(kept.manifests.len(), 1);

    // Deleting a referrer alone takes it out of its subject's fallback
    // index; the last one takes the tag.
    let second = referrer(&kept_subject, SIGNATURE, "second");
    repo.put_manifest(&second.digest().unwrap(), &second)
        .await
        .unwrap();
    let plan = repo
        .delete_plan(&kept_sbom.digest().unwrap())
        .await
        .unwrap();
    assert_eq!(plan.subject.as_ref(), Some(&keep.manifest));
    assert!(plan.referrers.is_empty() && plan.fallback_tags.is_empty());
    repo.apply_delete_plan(&plan).await.unwrap();
    let left = fallback_entries(&repo, &keep.manifest).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].digest, second.digest().unwrap());
    repo.delete_with_referrers(&second.digest().unwrap())
        .await
        .unwrap();
    assert_eq!(fallback_entries(&repo, &keep.manifest).await, None);
    assert_eq!(repo.manifest_digest("keep").await.unwrap(), keep.manifest);
}

// ---- copy with referrers: the done-when check ------------------------------

#[tokio::test]
async fn an_attached_sbom_travels_with_the_image_to_a_second_registry() {
    let (Some(reg), Some(dst)) = (registry::shared(), registry::second()) else {
        return;
    };
    let name = "referrers/travel";
    let image = push_image(reg, name, "referrers-travel", &["v1"]);
    let src = reg.client().repository(name).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sbom_file = dir.path().join("sbom.json");
    std::fs::write(&sbom_file, br#"{"spdxVersion":"SPDX-2.3","name":"travel"}"#).unwrap();
    let attached = src
        .attach(
            "v1",
            &Artifact::new(SBOM)
                .file("sbom.spdx.json", &sbom_file)
                .annotation("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    // The SBOM is signed in turn: a referrer of a referrer.
    let sig_file = dir.path().join("sig");
    std::fs::write(&sig_file, b"signature bytes").unwrap();
    let signed = src
        .attach(
            &attached.digest,
            &Artifact::new(SIGNATURE).file("sig", &sig_file),
        )
        .await
        .unwrap();

    let dest_repo = dst.client().repository("mirror/travel").unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let heard = events.clone();
    let options = CopyOptions::default()
        .referrers(true)
        .observer(move |e: &Event| heard.lock().unwrap().push(e.clone()));
    let report = src
        .copy_image("v1", &dest_repo, "v1", &options)
        .await
        .unwrap();
    assert_eq!(report.digest.as_ref(), Some(&image.manifest));
    assert_eq!(report.referrers, 2, "{report:?}");
    assert_eq!(report.manifests, 3, "{report:?}");
    let copied: Vec<(Digest, Digest)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Referrer {
                subject, digest, ..
            } => Some((subject.clone(), digest.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        copied,
        [
            (image.manifest.clone(), attached.digest.clone()),
            (attached.digest.clone(), signed.digest.clone())
        ]
    );

    // The referrers listing at the destination lists the SBOM...
    let list = dest_repo.referrers(&image.manifest, None).await.unwrap();
    assert_eq!(list.source, ReferrersSource::FallbackTag);
    assert_eq!(list.manifests.len(), 1, "{list:?}");
    assert_eq!(list.manifests[0].digest, attached.digest);
    assert_eq!(list.manifests[0].artifact_type.as_deref(), Some(SBOM));
    let sigs = dest_repo.referrers(&attached.digest, None).await.unwrap();
    assert_eq!(sigs.manifests[0].digest, signed.digest);
    // ...which pulls back whole...
    let out = tempfile::tempdir().unwrap();
    let pulled = dest_repo
        .pull_artifact(&attached.digest, out.path())
        .await
        .unwrap();
    assert_eq!(pulled.artifact_type.as_deref(), Some(SBOM));
    assert_eq!(
        std::fs::read(out.path().join("sbom.spdx.json")).unwrap(),
        std::fs::read(&sbom_file).unwrap()
    );
    // ...skopeo sees the image, and the fallback tag exists.
    let inspected = registry::skopeo_inspect(dst, "mirror/travel:v1", false);
    assert_eq!(inspected["Digest"], image.manifest.to_string());
    let tags = registry::skopeo_list_tags(dst, "mirror/travel");
    assert!(
        tags.contains(&referrers_tag(&image.manifest).to_string()),
        "{tags:?}"
    );
    assert!(
        tags.contains(&referrers_tag(&attached.digest).to_string()),
        "{tags:?}"
    );

    // Copied again: nothing new, the fallback indexes unchanged.
    let again = src
        .copy_image(
            "v1",
            &dest_repo,
            "v1",
            &CopyOptions::default().referrers(true),
        )
        .await
        .unwrap();
    assert_eq!(again.referrers, 2);
    assert_eq!(again.blobs_uploaded, 0, "{again:?}");
    let list = dest_repo.referrers(&image.manifest, None).await.unwrap();
    assert_eq!(list.manifests.len(), 1);
}

#[tokio::test]
async fn a_copy_without_referrers_leaves_them_behind_and_layouts_carry_them() {
    let (Some(reg), Some(dst)) = (registry::shared(), registry::second()) else {
        return;
    };
    let name = "referrers/stay";
    let image = push_image(reg, name, "referrers-stay", &["v1"]);
    let src = reg.client().repository(name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    src.attach("v1", &Artifact::new(SBOM).file("f", &file))
        .await
        .unwrap();
    let dest_repo = dst.client().repository("mirror/stay").unwrap();
    let report = src
        .copy_image("v1", &dest_repo, "v1", &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.referrers, 0);
    let list = dest_repo.referrers(&image.manifest, None).await.unwrap();
    assert!(list.manifests.is_empty());

    // Into a layout the referrers go too (unnamed in index.json), and from
    // it on to a registry.
    let layout_dir = tempfile::tempdir().unwrap();
    let layout = dockreg::transfer::OciLayout::create(layout_dir.path()).unwrap();
    let mut options = dockreg::repository::LayoutOptions::default().ref_name("v1");
    options.transfer = CopyOptions::default().referrers(true);
    let pulled = src.pull_to_layout("v1", &layout, &options).await.unwrap();
    assert_eq!(pulled.referrers, 1);
    assert_eq!(layout.index().unwrap().manifests.len(), 2);
    let pushed = dest_repo
        .push_from_layout(&layout, "from-layout", &options)
        .await
        .unwrap();
    assert_eq!(pushed.digest.as_ref(), Some(&image.manifest));
    assert_eq!(pushed.referrers, 1);
    let list = dest_repo.referrers(&image.manifest, None).await.unwrap();
    assert_eq!(list.manifests.len(), 1);
    assert_eq!(list.manifests[0].artifact_type.as_deref(), Some(SBOM));
}

#[tokio::test]
async fn referrers_pushed_at_once_all_land_in_the_fallback_index() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let name = "referrers/at-once";
    push_image(reg, name, "referrers-at-once", &["v1"]);
    let repo = reg.client().repository(name).unwrap();
    push_empty(&repo).await;
    let subject = repo.manifest("v1").await.unwrap().descriptor().unwrap();
    let manifests: Vec<Manifest> = (0..8)
        .map(|i| referrer(&subject, SIGNATURE, &format!("sig-{i}")))
        .collect();
    let pushes = manifests.iter().map(|m| {
        let repo = repo.clone();
        async move { repo.put_manifest(&m.digest().unwrap(), m).await }
    });
    for pushed in futures::future::join_all(pushes).await {
        pushed.unwrap();
    }
    let entries = fallback_entries(&repo, &subject.digest).await.unwrap();
    assert_eq!(entries.len(), manifests.len(), "{entries:?}");
}
