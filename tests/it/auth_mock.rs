//! Authentication against a mock registry and token server: what a real
//! registry will not do on demand (counting token fetches, hostile
//! redirects, failing token servers, expiring tokens).

use crate::mock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dockreg::auth::{Basic, BearerToken, Credential, DockerConfig, TokenFlow};
use dockreg::{Client, Digest, Error, RepositoryName};
use futures::TryStreamExt;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// The registry's 401 for a Bearer realm on `server`.
fn bearer_challenge(server: &MockServer, scope: Option<&str>) -> ResponseTemplate {
    let mut value = format!(
        r#"Bearer realm="{}/token",service="mock-registry""#,
        server.uri()
    );
    if let Some(scope) = scope {
        value.push_str(&format!(r#",scope="{scope}""#));
    }
    ResponseTemplate::new(401)
        .insert_header("www-authenticate", value)
        .set_body_raw(
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
            "application/json",
        )
}

/// Hands out `token-1`, `token-2`, ... and counts the requests.
struct TokenServer {
    count: Arc<AtomicUsize>,
    expires_in: u64,
}

impl Respond for TokenServer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": format!("token-{n}"),
            "expires_in": self.expires_in,
        }))
    }
}

async fn token_server(server: &MockServer, expires_in: u64) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(TokenServer {
            count: count.clone(),
            expires_in,
        })
        .mount(server)
        .await;
    count
}

/// Tags of `a` answer only to `Bearer token-N` for any N; others get the challenge.
async fn tags_behind_tokens(server: &MockServer) {
    Mock::given(path("/v2/a/tags/list"))
        .and(header_exists("authorization"))
        .respond_with(|req: &Request| {
            let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
            if auth.starts_with("Bearer token-") {
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"name":"a","tags":["v1"]}"#, "application/json")
            } else {
                ResponseTemplate::new(403)
            }
        })
        .mount(server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(server, Some("repository:a:pull")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn concurrent_requests_share_one_token_fetch() {
    let server = mock::server().await;
    let fetches = token_server(&server, 300).await;
    tags_behind_tokens(&server).await;
    let client = mock::client(&server);
    let reads = (0..16).map(|_| {
        let client = client.clone();
        async move { client.tags(&name("a")).try_collect::<Vec<_>>().await }
    });
    for tags in futures::future::join_all(reads).await {
        assert_eq!(tags.unwrap(), ["v1"]);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "16 reads, one token");

    // The challenge is now known: the next read sends the cached token at once.
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let unauthenticated = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v2/a/tags/list" && !r.headers.contains_key("authorization"))
        .count();
    assert!(unauthenticated <= 16, "{unauthenticated}");
}

#[tokio::test]
async fn the_token_request_names_service_and_merged_scopes() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("service", "mock-registry"))
        .and(query_param("scope", "repository:a:pull,push"))
        .and(header("authorization", "Basic dXNlcjpwYXNz"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "token-x"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header("authorization", "Bearer token-x"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":[]}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, Some("repository:a:push")))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .authenticator(Basic::new("user", "pass"))
        .build()
        .unwrap();
    let tags: Vec<String> = client.tags(&name("a")).try_collect().await.unwrap();
    assert!(tags.is_empty());
}

#[tokio::test]
async fn a_refused_token_is_refetched_once_never_in_a_loop() {
    let server = mock::server().await;
    let fetches = token_server(&server, 300).await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, Some("repository:a:pull")))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let err = client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.code(), Some(&dockreg::models::ErrorCode::Unauthorized));
    let registry_hits = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v2/a/tags/list")
            .count()
    };
    assert_eq!(registry_hits().await, 2, "one request, one retry");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // With the cached token refused, exactly one new token and one retry.
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(registry_hits().await, 4);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_expired_token_is_refreshed() {
    let server = mock::server().await;
    let fetches = token_server(&server, 1).await;
    tags_behind_tokens(&server).await;
    let client = mock::client(&server);
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "expired token refreshed");
}

#[tokio::test]
async fn a_failing_token_server_is_a_typed_error_without_secrets() {
    let server = mock::server().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"details":"incorrect username or password"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, None))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .authenticator(Basic::new("user", "hunter2"))
        .build()
        .unwrap();
    let err = client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("/token"), "{shown}");
    assert!(shown.contains("incorrect username or password"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("dXNlcjpodW50ZXIy"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_token_response_without_a_token_is_a_protocol_error() {
    let server = mock::server().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"expires_in": 60})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, None))
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn basic_challenges_get_basic_credentials_once() {
    let server = mock::server().await;
    Mock::given(path("/v2/"))
        .and(header("authorization", "Basic dXNlcjpwYXNz"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Basic realm="Registry Realm""#),
        )
        .mount(&server)
        .await;
    let good = Client::builder(server.uri())
        .authenticator(Basic::new("user", "pass"))
        .build()
        .unwrap();
    let ping = good.ping().await.unwrap();
    assert!(ping.is_ok() && ping.auth_required() && ping.auth_error.is_none());
    assert!(ping.challenge().unwrap().is_basic());
    // The scheme is known now: the next request carries Basic at once.
    Mock::given(path("/v2/_catalog"))
        .and(header("authorization", "Basic dXNlcjpwYXNz"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"repositories":["a"]}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = good.catalog_page(None, None).await.unwrap();
    assert_eq!(page.items, ["a"]);
    let catalog_hits = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v2/_catalog")
        .count();
    assert_eq!(
        catalog_hits, 1,
        "no 401 round trip once the scheme is known"
    );

    let bad = Client::builder(server.uri())
        .authenticator(Basic::new("user", "wrong"))
        .build()
        .unwrap();
    let ping = bad.ping().await.unwrap();
    assert!(ping.needs_auth(), "wrong password: the 401 comes back");
    assert!(ping.challenge().unwrap().is_basic());
}

#[tokio::test]
async fn a_static_token_goes_only_to_the_registry() {
    let storage = MockServer::start().await;
    let server = mock::server().await;
    let digest = Digest::sha256(b"layer");
    Mock::given(path(format!("/v2/a/blobs/{digest}")))
        .and(header("authorization", "Bearer static-token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/storage/blob?sig=1", storage.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/storage/blob"))
        .respond_with(|req: &Request| {
            if req.headers.contains_key("authorization") {
                ResponseTemplate::new(400).set_body_string("credentials leaked to storage")
            } else {
                ResponseTemplate::new(200).set_body_bytes(b"layer".to_vec())
            }
        })
        .mount(&storage)
        .await;
    let client = Client::builder(server.uri())
        .authenticator(BearerToken::new("static-token").unwrap())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let size = client
        .download_blob(&name("a"), &digest, dir.path().join("blob"))
        .await
        .unwrap();
    assert_eq!(size, 5);
    let at_storage = storage.received_requests().await.unwrap();
    assert_eq!(at_storage.len(), 1);
    assert!(!at_storage[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn identity_tokens_use_the_oauth2_post_and_fall_back_to_get() {
    let server = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|req: &Request| {
            let form = String::from_utf8_lossy(&req.body).into_owned();
            if form.contains("grant_type=refresh_token")
                && form.contains("refresh_token=my-identity-token")
                && form.contains("service=mock-registry")
                && form.contains("scope=repository%3Aa%3Apull")
                && form.contains("client_id=dockreg")
            {
                ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"access_token": "token-post", "expires_in": 300}),
                )
            } else {
                ResponseTemplate::new(400).set_body_string(format!("bad form: {form}"))
            }
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header("authorization", "Bearer token-post"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":["v1"]}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, None))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .authenticator(TokenFlow::new(Some(Credential::identity_token(
            "my-identity-token",
        ))))
        .build()
        .unwrap();
    let tags: Vec<String> = client.tags(&name("a")).try_collect().await.unwrap();
    assert_eq!(tags, ["v1"]);

    // A token server without the OAuth2 endpoint: POST 405, then GET.
    let server = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(405))
        .expect(1)
        .mount(&server)
        .await;
    let fetches = token_server(&server, 300).await;
    tags_behind_tokens(&server).await;
    let client = Client::builder(server.uri())
        .authenticator(TokenFlow::new(Some(Credential::identity_token(
            "my-identity-token",
        ))))
        .build()
        .unwrap();
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_oauth2_password_grant_keeps_the_refresh_token() {
    let server = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|req: &Request| {
            let form = String::from_utf8_lossy(&req.body).into_owned();
            let token = if form.contains("grant_type=password") && form.contains("username=user") {
                "token-from-password"
            } else if form.contains("grant_type=refresh_token")
                && form.contains("refresh_token=rt-1")
            {
                "token-from-refresh"
            } else {
                return ResponseTemplate::new(400).set_body_string(form);
            };
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": token, "refresh_token": "rt-1", "expires_in": 300
            }))
        })
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":[]}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/b/tags/list"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"b","tags":[]}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, None))
        .mount(&server)
        .await;
    let flow = TokenFlow::new(Some(Credential::password("user", "pass"))).oauth2_password(true);
    let client = Client::builder(server.uri())
        .authenticator(flow)
        .build()
        .unwrap();
    client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    client
        .tags(&name("b"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let forms: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(forms.len(), 2, "{forms:?}");
    assert!(forms[0].contains("grant_type=password"));
    assert!(forms[1].contains("grant_type=refresh_token"), "{forms:?}");
}

#[tokio::test]
async fn docker_config_credentials_reach_the_token_server() {
    let server = mock::server().await;
    let host = server.address().to_string();
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(header("authorization", "Basic Y2k6czNjcjN0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "token-cfg"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header("authorization", "Bearer token-cfg"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":["v1"]}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(bearer_challenge(&server, None))
        .mount(&server)
        .await;
    let config = DockerConfig::from_json(
        format!(r#"{{"auths":{{"http://{host}":{{"auth":"Y2k6czNjcjN0"}}}}}}"#).as_bytes(),
    )
    .unwrap();
    let client = Client::builder(server.uri())
        .authenticator(config)
        .build()
        .unwrap();
    let tags: Vec<String> = client.tags(&name("a")).try_collect().await.unwrap();
    assert_eq!(tags, ["v1"]);
}
