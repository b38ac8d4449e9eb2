//! `/v2/NAME/manifests/REFERENCE`: every schema against the real registry,
//! compared with skopeo; lying registries with a mock.

use crate::mock;
use crate::registry;

use dockreg::models::media_type;
use dockreg::{Digest, Error, RepositoryName, TagOrDigest};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const DOCKER_V2: &[u8] = include_bytes!("../fixtures/docker-v2.json");
const OCI_INDEX: &[u8] = include_bytes!("../fixtures/oci-index.json");

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn tag(s: &str) -> TagOrDigest {
    s.parse().unwrap()
}

// ---- what only a mock does ----------------------------------------------

#[tokio::test]
async fn head_without_digest_header_falls_back_to_get_and_hash() {
    let server = mock::server().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", media_type::DOCKER_MANIFEST_V2),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(mock::json(200, media_type::DOCKER_MANIFEST_V2, DOCKER_V2))
        .expect(1)
        .mount(&server)
        .await;
    let digest = mock::client(&server)
        .manifest_digest(&name("a"), &tag("v1"))
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256(DOCKER_V2));
}

#[tokio::test]
async fn accept_lists_every_manifest_type() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/a/manifests/v1"))
        .and(|req: &wiremock::Request| {
            req.headers.get("accept").and_then(|v| v.to_str().ok())
                == Some(media_type::manifest_accept())
        })
        .respond_with(mock::json(200, media_type::OCI_INDEX, OCI_INDEX))
        .mount(&server)
        .await;
    let m = mock::client(&server)
        .manifest(&name("a"), &tag("v1"))
        .await
        .unwrap();
    assert!(m.is_index());
    for t in media_type::ALL_MANIFESTS {
        assert!(media_type::manifest_accept().contains(t), "{t}");
    }
}

#[tokio::test]
async fn a_wrong_digest_header_is_a_mismatch() {
    let server = mock::server().await;
    let lie = Digest::sha256(b"something else");
    Mock::given(method("GET"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(
            mock::json(200, media_type::DOCKER_MANIFEST_V2, DOCKER_V2)
                .insert_header("docker-content-digest", lie.as_str()),
        )
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest(&name("a"), &tag("v1"))
        .await
        .unwrap_err();
    match err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, lie);
            assert_eq!(actual, Digest::sha256(DOCKER_V2));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_does_not_hash_to_the_requested_digest_is_refused() {
    let server = mock::server().await;
    let asked = Digest::sha256(b"the manifest we asked for");
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/manifests/{asked}")))
        .respond_with(mock::json(200, media_type::DOCKER_MANIFEST_V2, DOCKER_V2))
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest(&name("a"), &TagOrDigest::Digest(asked.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { ref expected, .. } if *expected == asked),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_head_digest_that_disagrees_with_the_asked_digest_is_refused() {
    let server = mock::server().await;
    let asked = Digest::sha256(DOCKER_V2);
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/a/manifests/{asked}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("docker-content-digest", Digest::sha256(b"x").as_str()),
        )
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest_digest(&name("a"), &TagOrDigest::Digest(asked))
        .await
        .unwrap_err();
    assert!(err.is_verification_failure(), "{err:?}");
}

#[tokio::test]
async fn a_malformed_digest_header_is_a_protocol_error() {
    let server = mock::server().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("docker-content-digest", "sha256:NOTHEX"),
        )
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest_digest(&name("a"), &tag("v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("sha256:NOTHEX"), "{err}");
}

#[tokio::test]
async fn an_oversized_manifest_is_refused_without_reading_it_all() {
    let server = mock::server().await;
    let huge = format!(r#"{{"schemaVersion":2,"pad":"{}"}}"#, "x".repeat(9 << 20));
    Mock::given(method("GET"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(mock::json(200, media_type::OCI_MANIFEST, huge))
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest(&name("a"), &tag("v1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 8 << 20),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_media_type_is_a_protocol_error() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/a/manifests/v1"))
        .respond_with(mock::json(
            200,
            "application/vnd.example.thing+json",
            br#"{"schemaVersion":2}"#,
        ))
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .manifest(&name("a"), &tag("v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("application/vnd.example.thing+json"),
        "{err}"
    );
}

#[test]
fn bad_references_are_refused_before_any_request() {
    for bad in ["Team/App", "a..b", "a//b", "-a"] {
        assert!(
            matches!(bad.parse::<RepositoryName>(), Err(Error::Invalid { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        "sha256:abc".parse::<TagOrDigest>(),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        "x".repeat(129).parse::<TagOrDigest>(),
        Err(Error::Invalid { .. })
    ));
}

// ---- the real registry ----------------------------------------------------

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

#[tokio::test]
async fn every_schema_reads_with_the_registry_and_skopeo_digests() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    for (image, media_type) in [
        (&images.oci, media_type::OCI_MANIFEST),
        (&images.docker, media_type::DOCKER_MANIFEST_V2),
        (&images.schema1, media_type::DOCKER_MANIFEST_V1_SIGNED),
    ] {
        let repo = name(&image.name);
        let expected = digest(&image.manifest_digest);
        let m = client.manifest(&repo, &tag(&image.tag)).await.unwrap();
        assert_eq!(m.media_type(), media_type, "{}", image.name);
        assert_eq!(m.digest().unwrap(), expected, "{}", image.name);
        assert_eq!(
            client
                .manifest_digest(&repo, &tag(&image.tag))
                .await
                .unwrap(),
            expected
        );
        let by_digest = client
            .manifest(&repo, &TagOrDigest::Digest(expected.clone()))
            .await
            .unwrap();
        assert_eq!(by_digest.digest().unwrap(), expected);
        let layers: Vec<String> = m.layer_digests().iter().map(|d| d.to_string()).collect();
        let mut pushed = image.layer_digests.clone();
        let mut ours = layers.clone();
        pushed.sort();
        pushed.dedup();
        ours.sort();
        ours.dedup();
        assert_eq!(ours, pushed, "{}", image.name);

        let skopeo = registry::skopeo_inspect(reg, &format!("{}:{}", image.name, image.tag), false);
        assert_eq!(skopeo["Digest"], expected.as_str(), "{}", image.name);
        let config = client.image_config(&repo, &m).await.unwrap();
        assert_eq!(
            config.created.as_deref(),
            Some(registry::SKOPEO_IMAGE_CREATED)
        );
        assert_eq!(skopeo["Created"], registry::SKOPEO_IMAGE_CREATED);
        assert_eq!(config.architecture, "amd64");
        assert_eq!(skopeo["Architecture"], "amd64");
        assert_eq!(config.os, "linux");
        assert_eq!(skopeo["Os"], "linux");
    }
}

#[tokio::test]
async fn a_signed_schema1_digest_is_over_its_payload() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    let image = &images.schema1;
    let m = client
        .manifest(&name(&image.name), &tag(&image.tag))
        .await
        .unwrap();
    assert!(matches!(
        m.body(),
        dockreg::models::ManifestBody::Schema1 { signed: true, .. }
    ));
    let expected = digest(&image.manifest_digest);
    assert_eq!(m.digest().unwrap(), expected);
    assert_ne!(
        Digest::sha256(m.bytes()),
        expected,
        "the body itself hashes differently"
    );
    // The registry re-signs on every GET: another fetch has other bytes, same digest.
    let again = client
        .manifest(&name(&image.name), &TagOrDigest::Digest(expected.clone()))
        .await
        .unwrap();
    assert_eq!(again.digest().unwrap(), expected);
}

#[tokio::test]
async fn an_index_resolves_to_each_platform() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();
    let multi = &images.multi;
    let repo = name(&multi.name);
    let index = client.manifest(&repo, &tag(&multi.tag)).await.unwrap();
    assert!(index.is_index());
    assert_eq!(index.media_type(), media_type::OCI_INDEX);
    assert_eq!(index.digest().unwrap(), digest(&multi.index_digest));
    assert_eq!(index.manifests().len(), multi.manifests.len());

    for entry in &multi.manifests {
        let mut platform = dockreg::models::Platform::new(&entry.os, &entry.architecture);
        if let Some(v) = &entry.variant {
            platform = platform.with_variant(v);
        }
        let m = client
            .manifest_for_platform(&repo, &tag(&multi.tag), &platform)
            .await
            .unwrap();
        assert_eq!(
            m.digest().unwrap(),
            digest(&entry.manifest_digest),
            "{platform}"
        );
        let config = client.image_config(&repo, &m).await.unwrap();
        assert_eq!(config.architecture, entry.architecture);
        assert_eq!(m.config().unwrap().digest, digest(&entry.config_digest));
    }

    let err = client
        .manifest_for_platform(&repo, &tag(&multi.tag), &"linux/s390x".parse().unwrap())
        .await
        .unwrap_err();
    match &err {
        Error::NoMatchingPlatform { available, .. } => {
            assert!(
                available.contains("linux/amd64") && available.contains("linux/arm64"),
                "{available}"
            )
        }
        other => panic!("expected NoMatchingPlatform, got {other:?}"),
    }
    let err = client.image_config(&repo, &index).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn report_facts_for_many_tags_match_what_was_pushed() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_report_repo("report/app", 30);
    let client = reg.client();
    let repo = name(&seeded.repo);
    for entry in &seeded.entries {
        let m = client.manifest(&repo, &tag(&entry.tag)).await.unwrap();
        assert_eq!(m.digest().unwrap(), digest(&entry.manifest_digest));
        assert_eq!(m.config().unwrap().digest, digest(&entry.config_digest));
        let config = client.image_config(&repo, &m).await.unwrap();
        assert_eq!(config.created.as_deref(), Some(entry.created.as_str()));
        assert!(config.created_at().is_some());
    }
}

#[tokio::test]
async fn unknown_tags_and_repositories_are_not_found() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    for (repo, reference) in [("no/such/repo", "v1"), ("no/such/repo", "latest")] {
        let err = client
            .manifest(&name(repo), &tag(reference))
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert_eq!(
            err.code(),
            Some(&dockreg::models::ErrorCode::ManifestUnknown)
        );
        assert!(
            err.to_string()
                .contains(&format!("/v2/{repo}/manifests/{reference}")),
            "{err}"
        );
        let err = client
            .manifest_digest(&name(repo), &tag(reference))
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
    }
}

#[tokio::test]
async fn tag_report_lists_every_tag_oldest_first() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_report_repo("report/app", 30);
    let client = reg.client();
    let platform = dockreg::models::Platform::new("linux", "amd64");
    let rows = client
        .tag_report(&name(&seeded.repo), &platform, 8)
        .await
        .unwrap()
        .complete()
        .unwrap();
    let mut expected: Vec<(String, String, String)> = seeded
        .entries
        .iter()
        .map(|e| (e.created.clone(), e.tag.clone(), e.manifest_digest.clone()))
        .collect();
    expected.sort();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.created.clone().unwrap(),
                r.tag.to_string(),
                r.digest.to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(rows
        .iter()
        .all(|r| r.media_type == media_type::DOCKER_MANIFEST_V2));
    assert!(rows
        .iter()
        .all(|r| r.platform.as_ref().map(ToString::to_string).as_deref() == Some("linux/amd64")));

    // A multi-platform tag: the index digest, the chosen platform's date.
    let images = reg.seed_skopeo_images();
    let multi = client
        .tag_info(
            &name(&images.multi.name),
            &images.multi.tag.parse().unwrap(),
            &"linux/arm64/v8".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(multi.digest, digest(&images.multi.index_digest));
    assert_eq!(multi.media_type, media_type::OCI_INDEX);
    assert_eq!(multi.platform.unwrap().architecture, "arm64");
}

// ---- a report with bad tags ---------------------------------------------

const IMAGE_CONFIG: &[u8] = include_bytes!("../fixtures/image-config.json");

/// A registry whose `team/app` lists `good`, `gone` (its manifest answers
/// 404: deleted since the listing) and `odd` (a media type nobody knows).
async fn registry_with_bad_tags() -> wiremock::MockServer {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"team/app","tags":["odd","good","gone"]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/manifests/good"))
        .respond_with(mock::json(200, media_type::DOCKER_MANIFEST_V2, DOCKER_V2))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/manifests/gone"))
        .respond_with(mock::json(
            404,
            "application/json",
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":null}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/manifests/odd"))
        .respond_with(mock::json(
            200,
            "application/vnd.example.unheard-of+json",
            r#"{"schemaVersion":7,"what":"nobody knows"}"#,
        ))
        .mount(&server)
        .await;
    let config_digest = "sha256:c6cbd5bb730263d531b241161f1ddabca3f9dca6ade21eb7b73b3792bda21a4e";
    Mock::given(method("GET"))
        .and(path(format!("/v2/team/app/blobs/{config_digest}")))
        .respond_with(mock::json(200, "application/octet-stream", IMAGE_CONFIG))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn tag_report_gives_one_error_row_per_bad_tag() {
    let server = registry_with_bad_tags().await;
    let client = mock::client(&server);
    let platform = dockreg::models::Platform::new("linux", "amd64");
    let report = client
        .tag_report(&name("team/app"), &platform, 4)
        .await
        .expect("the listing worked: a report, whatever the tags");

    let good: Vec<&str> = report.rows.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(good, ["good"], "{report:?}");
    let row = &report.rows[0];
    assert_eq!(
        row.digest,
        Digest::sha256(DOCKER_V2),
        "the good row is whole"
    );
    assert_eq!(
        row.created.as_deref(),
        Some("2026-11-23T17:19:11.370534263Z")
    );

    let failed: Vec<&str> = report.errors.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(failed, ["gone", "odd"], "{report:?}");
    assert!(
        report.errors[0].error.is_not_found(),
        "{:?}",
        report.errors[0]
    );
    assert!(
        !report.errors[1].error.is_not_found(),
        "{:?}",
        report.errors[1]
    );

    // All or nothing, for a caller that wants it: the first bad tag.
    let err = report.complete().unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn the_report_example_prints_good_rows_and_names_bad_tags_on_stderr() {
    let Some(report) = registry::example("report") else {
        return;
    };
    let server = registry_with_bad_tags().await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    let repo = format!("{host}/team/app");
    for json in [false, true] {
        let mut args = vec![repo.as_str(), "--plain-http"];
        if json {
            args.push("--json");
        }
        let out = tokio::task::spawn_blocking({
            let (report, args) = (
                report.clone(),
                args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
            );
            move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                registry::run_example(&report, &args, &[], "")
            }
        })
        .await
        .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");
        let digest = Digest::sha256(DOCKER_V2).to_string();
        if json {
            let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(line["tag"], "good");
            assert_eq!(line["digest"], digest.as_str());
        } else {
            assert_eq!(
                stdout.trim(),
                format!("good {digest} 2026-11-23T17:19:11.370534263Z")
            );
        }
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{stderr}");
        assert!(lines[0].starts_with("error: gone: "), "{stderr}");
        assert!(lines[0].contains("MANIFEST_UNKNOWN"), "{stderr}");
        assert!(lines[1].starts_with("error: odd: "), "{stderr}");
        assert_eq!(lines[2], "error: 2 of 3 tags could not be read", "{stderr}");
    }
}
