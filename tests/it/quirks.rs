//! Registry profiles: each hosted registry's documented behaviour, replayed
//! by wiremock as its issue threads show it (headers, status codes, bodies),
//! and what dockreg does with it. A registry reached by its public name
//! (`ghcr.io`, `registry-1.docker.io`, ...) is the mock, through reqwest's
//! name override, so that host-specific answers are tested too.

use base64::Engine as _;
use dockreg::http::RetryConfig;
use dockreg::{Client, Error};
use futures::TryStreamExt;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{mock, registry};

const ENVELOPE_UNAUTHORIZED: &str =
    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;

/// A client for `host` (a public registry name) that reaches the mock
/// server instead, over plain http on the mock's port.
fn client_as(host: &str, server: &MockServer) -> Client {
    let addr = *server.address();
    let http = dockreg::reqwest::Client::builder()
        .resolve(host, addr)
        .build()
        .expect("reqwest client");
    Client::builder(format!("{host}:{}", addr.port()))
        .plain_http(true)
        .http_client(http)
        .retry(RetryConfig::disabled())
        .danger_allow_insecure_realm(true)
        .build()
        .expect("client")
}

/// Every tag of `name`, following the Link pages; `what` names the
/// expectation when it fails.
async fn all_tags(client: &Client, name: &str, what: &str) -> Vec<String> {
    client
        .repository(name)
        .expect("repo")
        .tags()
        .map_ok(|t| t.to_string())
        .try_collect()
        .await
        .expect(what)
}

/// The error of deleting a manifest of `repo` on `host`, which answers
/// every `DELETE` with 405 `UNSUPPORTED` as Docker Hub and GHCR do.
async fn refused_delete(host: &str, repo: &str) -> Error {
    let server = mock::server().await;
    Mock::given(method("DELETE"))
        .respond_with(mock::json(
            405,
            "application/json",
            r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#,
        ))
        .mount(&server)
        .await;
    let client = client_as(host, &server);
    let repo = client.repository(repo).expect("repo");
    let (_, digest) = oci_manifest();
    repo.delete_manifest(digest.as_str())
        .await
        .expect_err("405")
}

fn oci_manifest() -> (Vec<u8>, String) {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let digest = dockreg::Digest::sha256(&body).to_string();
    (body, digest)
}

fn manifest_response(body: &[u8], digest: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body.to_vec(), "application/vnd.oci.image.manifest.v1+json")
        .insert_header("Docker-Content-Digest", digest)
}

// ---------------------------------------------------------------- Docker Hub

#[test]
fn docker_hub_references_reach_registry_1_as_library_images() {
    let r: dockreg::Reference = "alpine".parse().expect("parse");
    assert_eq!(r.registry(), "docker.io");
    assert_eq!(r.registry_host(), "registry-1.docker.io");
    assert_eq!(r.repository().as_str(), "library/alpine");
    assert_eq!(r.to_string(), "docker.io/library/alpine");
    let r: dockreg::Reference = "index.docker.io/grafana/grafana:11.0.0"
        .parse()
        .expect("parse");
    assert_eq!(r.registry(), "docker.io");
    assert_eq!(r.repository().as_str(), "grafana/grafana");
    let client = Client::builder(r.registry_host()).build().expect("client");
    assert_eq!(client.base_url().as_str(), "https://registry-1.docker.io/");
}

/// Docker Hub's challenge and token answer, as docker and skopeo see them:
/// realm on auth.docker.io, service registry.docker.io, a scope in the
/// challenge, `token` and `access_token` both set, rate-limit headers.
#[tokio::test]
async fn docker_hub_token_flow_and_rate_limit_headers() {
    let registry = mock::server().await;
    let auth = mock::server().await;
    let (body, digest) = oci_manifest();
    let challenge = format!(
        "Bearer realm=\"http://auth.docker.io:{}/token\",service=\"registry.docker.io\",\
         scope=\"repository:library/alpine:pull\"",
        auth.address().port()
    );
    // GET and HEAD (the rate-limit read is a HEAD, which Docker Hub does
    // not count).
    Mock::given(path("/v2/library/alpine/manifests/latest"))
        .and(header("authorization", "Bearer hub-token"))
        .respond_with(
            manifest_response(&body, &digest)
                .insert_header("ratelimit-limit", "100;w=21600")
                .insert_header("ratelimit-remaining", "76;w=21600")
                .insert_header("docker-ratelimit-source", "203.0.113.7"),
        )
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/library/alpine/manifests/latest"))
        .respond_with(
            mock::json(401, "application/json", ENVELOPE_UNAUTHORIZED)
                .insert_header("www-authenticate", challenge.as_str()),
        )
        .with_priority(10)
        .mount(&registry)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("service", "registry.docker.io"))
        .and(query_param("scope", "repository:library/alpine:pull"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": "hub-token",
            "access_token": "hub-token",
            "expires_in": 300,
        })))
        .expect(1)
        .mount(&auth)
        .await;

    let addr = *registry.address();
    let http = dockreg::reqwest::Client::builder()
        .resolve("registry-1.docker.io", addr)
        .resolve("auth.docker.io", *auth.address())
        .build()
        .expect("reqwest");
    let client = Client::builder(format!("registry-1.docker.io:{}", addr.port()))
        .plain_http(true)
        .http_client(http)
        .danger_allow_insecure_realm(true)
        .retry(RetryConfig::disabled())
        .build()
        .expect("client");
    let repo = client.repository("library/alpine").expect("repo");
    let manifest = repo
        .manifest("latest")
        .await
        .expect("manifest through the token");
    assert_eq!(manifest.digest().expect("digest").to_string(), digest);
    let limit = repo
        .rate_limit("latest")
        .await
        .expect("rate limit")
        .expect("headers present");
    assert_eq!(limit.limit, Some(100));
    assert_eq!(limit.remaining, Some(76));
    assert_eq!(limit.source.as_deref(), Some("203.0.113.7"));
    assert_eq!(limit.window.map(|w| w.as_secs()), Some(21600));
}

/// Docker Hub has no catalog: `_catalog` asks for `registry:catalog:*`,
/// and the token it gives is refused again.
#[tokio::test]
async fn docker_hub_has_no_catalog_and_says_where_to_look() {
    let server = mock::server().await;
    let challenge = format!(
        "Bearer realm=\"http://registry-1.docker.io:{}/token\",service=\"registry.docker.io\",\
         scope=\"registry:catalog:*\"",
        server.address().port()
    );
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(
            mock::json(
                401,
                "application/json",
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"registry","Class":"","Name":"catalog","Action":"*"}]}]}"#,
            )
            .insert_header("www-authenticate", challenge.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"token": "t", "expires_in": 300})),
        )
        .mount(&server)
        .await;
    let client = client_as("registry-1.docker.io", &server);
    let err = client
        .repositories()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("no catalog on Docker Hub");
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryHint { .. }), "{err:?}");
    assert!(text.contains("Docker Hub has no catalog"), "{text}");
    assert!(text.contains("hub.docker.com"), "{text}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
}

/// Docker Hub answers DELETE with 405: deletion is through Docker Hub's
/// own API, not the registry's.
#[tokio::test]
async fn docker_hub_delete_names_hubs_own_api() {
    let err = refused_delete("registry-1.docker.io", "me/app").await;
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryHint { .. }), "{err:?}");
    assert!(text.contains("hub.docker.com"), "{text}");
    assert!(!text.contains("storage.delete.enabled"), "{text}");
}

// ---------------------------------------------------------------- GHCR

/// Even a public pull needs an anonymous token from ghcr.io/token.
#[tokio::test]
async fn ghcr_public_pulls_take_an_anonymous_token() {
    let server = mock::server().await;
    let (body, digest) = oci_manifest();
    let challenge = format!(
        "Bearer realm=\"http://ghcr.io:{}/token\",service=\"ghcr.io\",scope=\"repository:user/image:pull\"",
        server.address().port()
    );
    Mock::given(method("GET"))
        .and(path("/v2/owner/tool/manifests/v1"))
        .and(header("authorization", "Bearer djE6b3duZXIvdG9vbDoxNzAw"))
        .respond_with(manifest_response(&body, &digest))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/owner/tool/manifests/v1"))
        .respond_with(
            mock::json(
                401,
                "application/json",
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
            .insert_header("www-authenticate", challenge.as_str()),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("scope", "repository:owner/tool:pull"))
        .and(query_param("service", "ghcr.io"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"token": "djE6b3duZXIvdG9vbDoxNzAw"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_as("ghcr.io", &server);
    let manifest = client
        .repository("owner/tool")
        .expect("repo")
        .manifest("v1")
        .await
        .expect("anonymous token, then the manifest");
    assert_eq!(manifest.digest().expect("digest").to_string(), digest);
}

/// GHCR answers DELETE with 405 UNSUPPORTED: deletion only works through
/// the GitHub Packages API.
#[tokio::test]
async fn ghcr_delete_names_the_github_packages_api() {
    let err = refused_delete("ghcr.io", "owner/tool").await;
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryHint { .. }), "{err:?}");
    assert!(text.contains("use the GitHub Packages API"), "{text}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(405));
}

// ---------------------------------------------------------------- ECR

/// ECR's challenge is Basic; the user is `AWS` and the password a 12 h
/// token from `aws ecr get-login-password`.
#[tokio::test]
async fn ecr_basic_challenge_with_the_aws_user() {
    let server = mock::server().await;
    let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let (body, digest) = oci_manifest();
    // "AWS:ecr-token" in Basic.
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/v1"))
        .and(header("authorization", "Basic QVdTOmVjci10b2tlbg=="))
        .respond_with(manifest_response(&body, &digest))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Not Authorized\n")
                .insert_header(
                    "www-authenticate",
                    format!("Basic realm=\"https://{host}/\",service=\"ecr.amazonaws.com\"")
                        .as_str(),
                ),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    let addr = *server.address();
    let http = dockreg::reqwest::Client::builder()
        .resolve(host, addr)
        .build()
        .expect("reqwest");
    let client = Client::builder(format!("{host}:{}", addr.port()))
        .plain_http(true)
        .http_client(http)
        .retry(RetryConfig::disabled())
        .authenticator(dockreg::auth::Basic::new("AWS", "ecr-token"))
        .build()
        .expect("client");
    let manifest = client
        .repository("app")
        .expect("repo")
        .manifest("v1")
        .await
        .expect("Basic with AWS");
    assert_eq!(manifest.digest().expect("digest").to_string(), digest);
}

/// An expired ECR token is a 403 with a plain-text body; the error keeps
/// the text and says how to get a new token.
#[tokio::test]
async fn ecr_expired_token_says_how_to_get_a_new_one() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/v1"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "Your authorization token has expired. Reauthenticate and try again.",
            "text/plain; charset=utf-8",
        ))
        .mount(&server)
        .await;
    let client = client_as("123456789012.dkr.ecr.eu-west-1.amazonaws.com", &server);
    let err = client
        .repository("app")
        .expect("repo")
        .manifest("v1")
        .await
        .expect_err("403");
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryHint { .. }), "{err:?}");
    assert!(
        text.contains("Your authorization token has expired"),
        "{text}"
    );
    assert!(text.contains("aws ecr get-login-password"), "{text}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
}

/// ECR answers a chunk's PATCH with 201 (not 202), and a manifest PUT
/// without `Location`.
#[tokio::test]
async fn ecr_patch_201_and_a_manifest_put_without_location() {
    let server = mock::server().await;
    let data = vec![7u8; 3000];
    let digest = dockreg::Digest::sha256(&data);
    Mock::given(method("HEAD"))
        .and(path_regex_blob())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/app/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("Location", "/v2/app/blobs/uploads/ecr-upload-1")
                .insert_header("Range", "0-0")
                .insert_header("Docker-Upload-UUID", "ecr-upload-1"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/app/blobs/uploads/ecr-upload-1"))
        .respond_with(|req: &Request| {
            let end = req.body.len().saturating_sub(1);
            ResponseTemplate::new(201)
                .insert_header("Location", "/v2/app/blobs/uploads/ecr-upload-1")
                .insert_header("Range", format!("0-{end}").as_str())
        })
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/app/blobs/uploads/ecr-upload-1"))
        .and(query_param("digest", digest.to_string().as_str()))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Docker-Content-Digest", digest.to_string().as_str()),
        )
        .mount(&server)
        .await;
    let (body, manifest_digest) = oci_manifest();
    Mock::given(method("PUT"))
        .and(path("/v2/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Docker-Content-Digest", manifest_digest.as_str()),
        )
        .mount(&server)
        .await;
    let client = client_as("123456789012.dkr.ecr.eu-west-1.amazonaws.com", &server);
    let repo = client.repository("app").expect("repo");
    let mut upload = repo.start_upload().await.expect("POST");
    upload
        .write_chunk(data.clone().into())
        .await
        .expect("PATCH answered 201");
    let pushed = upload.finish().await.expect("PUT");
    assert_eq!(pushed, digest);
    let manifest =
        dockreg::Manifest::from_bytes(body, Some("application/vnd.oci.image.manifest.v1+json"))
            .expect("manifest");
    let put = repo
        .put_manifest("v1", &manifest)
        .await
        .expect("PUT without Location");
    assert_eq!(put.to_string(), manifest_digest);
}

fn path_regex_blob() -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex("^/v2/app/blobs/sha256:")
}

// ---------------------------------------------------------------- Quay

/// Quay pages tags by 50 with an opaque `next_page` in a relative Link and
/// ignores `last`.
#[tokio::test]
async fn quay_pages_of_50_with_an_opaque_next_page() {
    let server = mock::server().await;
    let tags: Vec<String> = (0..120).map(|i| format!("build-{i:03}")).collect();
    let pages: Vec<&[String]> = tags.chunks(50).collect();
    let tokens = ["gAAAAABn1", "gAAAAABn2"];
    for (i, page) in pages.iter().enumerate() {
        let mut response = ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "name": "org/app",
            "tags": page,
        }));
        if let Some(next) = tokens.get(i) {
            response = response.insert_header(
                "Link",
                format!("</v2/org/app/tags/list?n=50&next_page={next}>; rel=\"next\"").as_str(),
            );
        }
        let mut mock = Mock::given(method("GET")).and(path("/v2/org/app/tags/list"));
        mock = if i == 0 {
            mock.and(query_param_is_missing("next_page"))
        } else {
            mock.and(query_param("next_page", tokens[i - 1]))
        };
        mock.respond_with(response).expect(1).mount(&server).await;
    }
    let client = client_as("quay.io", &server);
    let got = all_tags(&client, "org/app", "three pages").await;
    assert_eq!(got, tags);
}

/// Quay's `_catalog` needs a bearer token even for what is public.
#[tokio::test]
async fn quay_catalog_through_a_bearer_token() {
    let server = mock::server().await;
    let challenge = format!(
        "Bearer realm=\"http://quay.io:{}/v2/auth\",service=\"quay.io\"",
        server.address().port()
    );
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .and(header("authorization", "Bearer quay-catalog"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "repositories": ["org/app", "org/tool"],
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(
            mock::json(401, "application/json", ENVELOPE_UNAUTHORIZED)
                .insert_header("www-authenticate", challenge.as_str()),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/auth"))
        .and(query_param("scope", "registry:catalog:*"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "quay-catalog"})),
        )
        .mount(&server)
        .await;
    let client = client_as("quay.io", &server);
    let names: Vec<String> = client
        .repositories()
        .map_ok(|n| n.to_string())
        .try_collect()
        .await
        .expect("catalog");
    assert_eq!(names, ["org/app", "org/tool"]);
}

// ---------------------------------------------------------------- Harbor

/// Harbor lists `_catalog` for system administrators only.
#[tokio::test]
async fn harbor_catalog_is_admin_only_and_says_so() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(mock::json(
            401,
            "application/json; charset=utf-8",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to list catalog: unauthorized to list catalog"}]}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let err = client
        .repositories()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("not an admin");
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryHint { .. }), "{err:?}");
    assert!(text.contains("system administrators"), "{text}");
    assert!(text.contains("/api/v2.0/"), "{text}");
}

// ---------------------------------------------------------------- Artifactory

/// Artifactory's Link carries query parameters of its own; every one is
/// kept when following it.
#[tokio::test]
async fn artifactory_link_keeps_its_own_query_parameters() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/docker-local/app/tags/list"))
        .and(query_param_is_missing("last"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "docker-local/app", "tags": ["a", "b"]}))
                .insert_header(
                    "Link",
                    "</v2/docker-local/app/tags/list?last=b&n=2&repoKey=docker-local&pageToken=MTIz>; rel=\"next\"",
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/docker-local/app/tags/list"))
        .and(query_param("last", "b"))
        .and(query_param("n", "2"))
        .and(query_param("repoKey", "docker-local"))
        .and(query_param("pageToken", "MTIz"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "docker-local/app", "tags": ["c"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let got = all_tags(&client, "docker-local/app", "two pages").await;
    assert_eq!(got, ["a", "b", "c"]);
}

// ---------------------------------------------------------------- Nexus

/// On a Docker connector port, Nexus's Link carries its internal
/// `/repository/NAME/` prefix, a path that port answers 400 for
/// (sonatype/nexus-public#1011). The prefix is dropped.
#[tokio::test]
async fn nexus_link_with_the_internal_repository_prefix() {
    let server = mock::server().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/v2/renovate/renovate/tags/list"))
        .and(query_param_is_missing("last"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "renovate/renovate", "tags": ["32.1.0", "32.209.0-slim"]}))
                .insert_header(
                    "Link",
                    format!(
                        "<{base}/repository/docker-proxy-docker-hub/v2/renovate/renovate/tags/list?n=2&last=32.209.0-slim>; rel=\"next\""
                    )
                    .as_str(),
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/repository/"))
        .respond_with(ResponseTemplate::new(400).set_body_string("Bad Request"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/renovate/renovate/tags/list"))
        .and(query_param("last", "32.209.0-slim"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"name": "renovate/renovate", "tags": ["33.0.0"]}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let got = all_tags(&client, "renovate/renovate", "both pages").await;
    assert_eq!(got, ["32.1.0", "32.209.0-slim", "33.0.0"]);
}

// ---------------------------------------------------------------- GCR

/// gcr.io's `tags/list` (as Harbor's GCR adapter and gcrane document it):
/// beside `tags`, a `manifest` map of digest to size, media type, tags and
/// creation and upload times in milliseconds, as strings, with `"0"` for
/// no date. The report dates image tags from it with no request per tag;
/// an undated tag, and a tag two entries claim, are read from the
/// registry. `from_listing(false)` reads every tag.
#[tokio::test]
async fn gcr_tag_list_timestamps_spare_the_report_its_requests() {
    const LISTED: &str = "sha256:400ee2ed939df769d4681023810d2e4fb9479b8401d97003c710d0e20f7c49c6";
    const SHARED: &str = "sha256:0918630c0b6662e639a4344637f882be14ac53d355859e2e440ae676e0fa8288";
    const OTHER: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    let server = mock::server().await;
    let entry = |tags: &[&str], created: &str| {
        serde_json::json!({
            "imageSizeBytes": "763789", "layerId": "", "mediaType": V2,
            "tag": tags, "timeCreatedMs": created, "timeUploadedMs": "1597767277119",
        })
    };
    let body = serde_json::json!({
        "child": [],
        "manifest": {
            LISTED: entry(&["v1"], "1595895577054"),
            SHARED: entry(&["v2", "latest", "clash"], "1597767270000"),
            OTHER: entry(&["clash"], "1597767271000"),
            "sha256:0000000000000000000000000000000000000000000000000000000000000000":
                entry(&["undated"], "0"),
        },
        "name": "my-project/app",
        "tags": ["clash", "latest", "undated", "v1", "v2"],
    });
    Mock::given(method("GET"))
        .and(path("/v2/my-project/app/tags/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let (manifest, digest) = oci_manifest();
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/v2/my-project/app/manifests/",
        ))
        .respond_with(manifest_response(&manifest, &digest))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/v2/my-project/app/blobs/sha256:",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"{}".to_vec(), "application/octet-stream"),
        )
        .mount(&server)
        .await;
    let client = client_as("gcr.io", &server);
    let repo = client.repository("my-project/app").expect("repo");
    let manifests_asked = |requests: &[Request]| {
        let mut tags: Vec<String> = requests
            .iter()
            .filter_map(|r| r.url.path().strip_prefix("/v2/my-project/app/manifests/"))
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags
    };

    let report = repo
        .tag_report(&dockreg::repository::ReportOptions::default())
        .await
        .expect("report");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let rows: Vec<(String, String, Option<String>, bool)> = report
        .rows
        .iter()
        .map(|r| {
            (
                r.tag.to_string(),
                r.digest.to_string(),
                r.created.clone(),
                r.platform.is_some(),
            )
        })
        .collect();
    let dated = |tag: &str, digest: &str, created: &str| {
        (
            tag.to_owned(),
            digest.to_owned(),
            Some(created.to_owned()),
            false,
        )
    };
    let read = |tag: &str| (tag.to_owned(), digest.clone(), None, true);
    assert_eq!(
        rows,
        [
            dated("v1", LISTED, "2020-07-28T00:19:37.054Z"),
            dated("latest", SHARED, "2020-08-18T16:14:30Z"),
            dated("v2", SHARED, "2020-08-18T16:14:30Z"),
            read("clash"),
            read("undated"),
        ]
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(manifests_asked(&requests), ["clash", "undated"]);

    let before = requests.len();
    let report = repo
        .tag_report(&dockreg::repository::ReportOptions::default().from_listing(false))
        .await
        .expect("report without the listing's dates");
    assert_eq!(report.rows.len(), 5);
    assert!(report.rows.iter().all(|r| r.digest.to_string() == digest));
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        manifests_asked(&requests[before..]),
        ["clash", "latest", "undated", "v1", "v2"]
    );
}

/// A hostile listing in GCR's shape: one entry of the `manifest` map names
/// every one of 20,000 tags. Each row takes only its digest, type and date
/// from it (copying the entry per tag would hold 400 million tag strings).
#[tokio::test]
async fn gcr_shaped_entry_naming_every_tag_is_not_copied_per_tag() {
    const DIGEST: &str = "sha256:400ee2ed939df769d4681023810d2e4fb9479b8401d97003c710d0e20f7c49c6";
    let tags: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    let server = mock::server().await;
    let body = serde_json::json!({
        "manifest": {
            DIGEST: {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "tag": tags, "timeCreatedMs": "1595895577054",
            },
        },
        "name": "p/many",
        "tags": tags,
    });
    Mock::given(method("GET"))
        .and(path("/v2/p/many/tags/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let client = client_as("gcr.io", &server);
    let report = client
        .repository("p/many")
        .expect("repo")
        .tag_report(&dockreg::repository::ReportOptions::default())
        .await
        .expect("report");
    assert_eq!(report.rows.len(), tags.len());
    assert!(report
        .rows
        .iter()
        .all(|r| r.digest.to_string() == DIGEST && r.created.is_some()));
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "the listing alone");
}

// ---------------------------------------------------------------- Pulp

/// Pulp serves schema 1 as `application/x-troff-man` (the `.man`-like
/// extension of its stored file): the body tells what it is.
#[tokio::test]
async fn pulp_schema1_served_as_troff() {
    const SIGNED: &[u8] = include_bytes!("../fixtures/schema1-signed.json");
    const SIGNED_DIGEST: &str = include_str!("../fixtures/schema1-signed.digest");
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/s1/img/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(SIGNED.to_vec(), "application/x-troff-man")
                .insert_header("Docker-Content-Digest", SIGNED_DIGEST.trim()),
        )
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let manifest = client
        .repository("s1/img")
        .expect("repo")
        .manifest("v1")
        .await
        .expect("schema 1 by its body");
    assert_eq!(
        manifest.media_type(),
        "application/vnd.docker.distribution.manifest.v1+prettyjws"
    );
    assert_eq!(
        manifest.digest().expect("digest").to_string(),
        SIGNED_DIGEST.trim()
    );
}

// ---------------------------------------------------------------- OpenShift

/// Relays `req` to `127.0.0.1:port` as `path_and_query` over one
/// `Connection: close` HTTP/1.1 exchange, keeping its Host header (so that
/// the registry builds its URLs on the front's origin).
fn relay(port: u16, req: &Request, path_and_query: &str) -> ResponseTemplate {
    let mut head = format!("{} {path_and_query} HTTP/1.1\r\n", req.method);
    for (name, value) in &req.headers {
        let name = name.as_str();
        if matches!(name, "connection" | "content-length" | "transfer-encoding") {
            continue;
        }
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or("")));
    }
    let (status, headers, body) = exchange(port, head, &req.body);
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map_or("application/octet-stream", |(_, v)| v.as_str())
        .to_owned();
    let mut response = ResponseTemplate::new(status).set_body_raw(body, &content_type);
    for (k, v) in &headers {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "content-type"
        ) {
            response = response.append_header(k.as_str(), v.as_str());
        }
    }
    response
}

/// One `Connection: close` HTTP/1.1 exchange with `127.0.0.1:port`: `head`
/// (request line and headers, each ending in CRLF) and `body` out; status,
/// headers (names lower case) and the body (de-chunked) back.
fn exchange(port: u16, mut head: String, body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::{Read, Write};
    head.push_str(&format!(
        "connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect upstream");
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut answer = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        answer = dechunk(&answer);
    }
    (status, headers, answer)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..eol])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// OpenShift serves its token realm on the registry's own origin
/// (`/openshift/token`) and takes the user's OpenShift token as the Basic
/// password of any user name (seed 000: `curl -u openshift:TOKEN
/// ".../openshift/token?service=...&scope=repository:NS/NAME:pull,push"`);
/// its answer carries `token` and `access_token`. Here a front on one port
/// serves `/openshift/token` (relayed to the test token server as the user
/// the OpenShift token stands for) and relays everything else to a real
/// registry whose `auth.token.realm` is that front: pull and push end to end.
#[test]
fn openshift_realm_on_the_registrys_own_origin_end_to_end() {
    registry::require_programs(&["docker-registry", "openssl"]);
    const OPENSHIFT_TOKEN: &str = "sha256~Yd2l0aG91dC1hLXNjb3Bl";
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let front = runtime.block_on(MockServer::start());
    let realm = format!("{}/openshift/token", front.uri());
    let reg = registry::start_token_with_realm(false, Some(realm.clone()))
        .expect("a token registry (openssl)");
    let registry_port = reg.port();
    let token_port = reg.server.port();
    // "openshift:TOKEN" in Basic; the OpenShift token stands for alice.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("openshift:{OPENSHIFT_TOKEN}"))
    );
    let alice = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:alice-pass")
    );
    runtime.block_on(async {
        Mock::given(method("GET"))
            .and(path("/openshift/token"))
            .and(header("authorization", basic.as_str()))
            .respond_with(move |req: &Request| {
                // As the user the OpenShift token stands for; OpenShift
                // answers with both fields.
                let query = req.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                let body: serde_json::Value =
                    serde_json::from_slice(&token_answer(token_port, &query, &alice))
                        .expect("token JSON");
                let token = body["token"].as_str().unwrap_or("").to_owned();
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "token": token,
                    "access_token": token,
                    "expires_in": 300,
                }))
            })
            .mount(&front)
            .await;
        Mock::given(method("GET"))
            .and(path("/openshift/token"))
            .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
            .with_priority(10)
            .mount(&front)
            .await;
        Mock::given(wiremock::matchers::any())
            .respond_with(move |req: &Request| {
                let pq = match req.url.query() {
                    Some(q) => format!("{}?{q}", req.url.path()),
                    None => req.url.path().to_owned(),
                };
                relay(registry_port, req, &pq)
            })
            .with_priority(20)
            .mount(&front)
            .await;
    });

    let image = reg.images().alice.clone();
    let client = Client::builder(front.uri())
        .authenticator(dockreg::auth::Basic::new("openshift", OPENSHIFT_TOKEN))
        .build()
        .expect("client");
    let repo = client.repository(image.repo.as_str()).expect("repo");
    registry::run_async(std::time::Duration::from_secs(60), async {
        let digest = repo
            .manifest_digest(image.tag.as_str())
            .await
            .expect("pull through the OpenShift realm");
        assert_eq!(digest.to_string(), image.manifest_digest);
        let pushed = repo
            .push_blob(b"pushed through the openshift front".to_vec())
            .await
            .expect("push");
        assert!(repo.blob_exists(&pushed.digest).await.expect("HEAD blob"));
    });
    let token_requests = runtime
        .block_on(front.received_requests())
        .unwrap_or_default();
    let asked: Vec<&Request> = token_requests
        .iter()
        .filter(|r| r.url.path() == "/openshift/token")
        .collect();
    assert!(
        !asked.is_empty(),
        "no token request reached /openshift/token"
    );
    for r in &asked {
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(basic.as_str()),
            "the OpenShift token goes as the Basic password"
        );
    }
    assert!(
        asked
            .iter()
            .any(|r| r.url.query().unwrap_or("").contains("push")),
        "a push scope was asked: {:?}",
        asked.iter().map(|r| r.url.to_string()).collect::<Vec<_>>()
    );
}

/// The body the token server answers `GET /token?QUERY` with, asked with
/// `authorization`.
fn token_answer(port: u16, query: &str, authorization: &str) -> Vec<u8> {
    let head = format!(
        "GET /token{query} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: {authorization}\r\n"
    );
    exchange(port, head, b"").2
}
