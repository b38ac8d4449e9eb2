//! Credentials and tokens against hostile servers: several wiremock servers
//! play registry A, registry B, a storage host and token realms, and each
//! tries to get credentials, tokens or secrets out of the client, or to
//! crash it with numbers and text.

use crate::mock;
use crate::registry;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dockreg::auth::{Authenticator, Basic, Credential, TokenFlow};
use dockreg::{Client, Digest, Error, RepositoryName};
use futures::TryStreamExt;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// Fails the test instead of hanging it.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: hung"))
}

async fn tags(client: &Client, repo: &str) -> dockreg::Result<Vec<String>> {
    bounded("tags", client.tags(&name(repo)).try_collect()).await
}

/// `Bearer realm="REALM/token",service=SERVICE,scope=SCOPE`, as a 401.
fn challenge(realm: &str, service: &str, scope: &str) -> ResponseTemplate {
    ResponseTemplate::new(401)
        .insert_header(
            "www-authenticate",
            format!(r#"Bearer realm="{realm}/token",service="{service}",scope="{scope}""#),
        )
        .set_body_raw(
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            "application/json",
        )
}

/// Hands out `token-1`, `token-2`, ... and counts the requests.
struct Tokens {
    count: Arc<AtomicUsize>,
    extra: serde_json::Value,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body = serde_json::json!({ "token": format!("token-{n}") });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), self.extra.as_object()) {
            body.extend(extra.clone());
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// A token endpoint at `/token` (any method) with extra response fields.
async fn token_endpoint(server: &MockServer, extra: serde_json::Value) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/token"))
        .respond_with(Tokens {
            count: count.clone(),
            extra,
        })
        .mount(server)
        .await;
    count
}

/// `GET /v2/REPO/tags/list`: 200 with `Bearer token-*`, else the challenge.
async fn tags_behind(registry: &MockServer, repo: &str, realm: &str, service: &str) {
    let list = format!("/v2/{repo}/tags/list");
    let body = format!(r#"{{"name":"{repo}","tags":["v1"]}}"#);
    let (realm, service) = (realm.to_owned(), service.to_owned());
    let scope = format!("repository:{repo}:pull");
    Mock::given(path(list.clone()))
        .respond_with(move |req: &Request| {
            let bearer = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer token-"));
            if bearer {
                ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json")
            } else {
                challenge(&realm, &service, &scope)
            }
        })
        .mount(registry)
        .await;
}

/// The blob `sha256("layer")` of repository `a`, whose GET the registry
/// redirects (307) to `location`.
async fn blob_redirected_to(registry: &MockServer, location: String) -> Digest {
    let digest = Digest::sha256(b"layer");
    Mock::given(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(307).insert_header("location", location))
        .mount(registry)
        .await;
    digest
}

fn authorizations(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .map(|v| v.to_str().unwrap_or("?").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Challenges from another origin
// ---------------------------------------------------------------------------

/// A blob redirected to storage whose 401 names a realm of its own: the
/// client must neither fetch a token there (with the user's credentials)
/// nor remember that realm as the registry's.
#[tokio::test]
async fn a_401_from_a_storage_host_is_not_answered() {
    let registry = mock::server().await;
    let storage = mock::server().await;
    let evil = mock::server().await;
    token_endpoint(&evil, serde_json::json!({})).await;
    let digest = blob_redirected_to(&registry, format!("{}/storage/blob", storage.uri())).await;
    Mock::given(path("/storage/blob"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            format!(r#"Bearer realm="{}/token",service="evil""#, evil.uri()),
        ))
        .mount(&storage)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":["v1"]}"#, "application/json"),
        )
        .mount(&registry)
        .await;
    let client = Client::builder(registry.uri())
        .authenticator(Basic::new("user", "hunter2"))
        .retry(dockreg::http::RetryConfig::disabled())
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let err = bounded(
        "download",
        client.download_blob(&name("a"), &digest, dir.path().join("blob")),
    )
    .await
    .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let at_evil = evil.received_requests().await.unwrap();
    assert!(
        at_evil.is_empty(),
        "the storage host's realm was asked for a token: {:?}",
        authorizations(&at_evil)
    );

    // Nor is the storage's realm now taken for the registry's.
    assert_eq!(tags(&client, "a").await.unwrap(), ["v1"]);
    assert!(evil.received_requests().await.unwrap().is_empty());
    let sent = authorizations(&registry.received_requests().await.unwrap());
    assert!(sent.is_empty(), "registry got {sent:?}");
    let at_storage = authorizations(&storage.received_requests().await.unwrap());
    assert!(at_storage.is_empty(), "storage got {at_storage:?}");
}

// ---------------------------------------------------------------------------
// 2. Token cache keys
// ---------------------------------------------------------------------------

/// One authenticator shared by the clients of registries A and B: B names
/// A's realm, service and scope, and must not be handed the token cached
/// for A.
#[tokio::test]
async fn a_shared_authenticator_keeps_each_registrys_tokens_apart() {
    let realm = mock::server().await;
    let fetches = token_endpoint(&realm, serde_json::json!({"expires_in": 300})).await;
    let a = mock::server().await;
    let b = mock::server().await;
    tags_behind(&a, "app", &realm.uri(), "registry-a").await;
    tags_behind(&b, "app", &realm.uri(), "registry-a").await;
    let shared: Arc<dyn Authenticator> = Arc::new(Basic::new("user", "pass"));
    let client = |server: &MockServer| {
        Client::builder(server.uri())
            .shared_authenticator(shared.clone())
            .retry(dockreg::http::RetryConfig::disabled())
            .build()
            .unwrap()
    };
    let (client_a, client_b) = (client(&a), client(&b));
    assert_eq!(tags(&client_a, "app").await.unwrap(), ["v1"]);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(tags(&client_b, "app").await.unwrap(), ["v1"]);

    let at_b = authorizations(&b.received_requests().await.unwrap());
    assert!(
        !at_b.iter().any(|a| a == "Bearer token-1"),
        "registry B was handed registry A's cached token: {at_b:?}"
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "B's token is its own fetch"
    );
    // A keeps its own token.
    assert_eq!(tags(&client_a, "app").await.unwrap(), ["v1"]);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let at_a = authorizations(&a.received_requests().await.unwrap());
    assert!(!at_a.iter().any(|a| a == "Bearer token-2"), "{at_a:?}");
}

// ---------------------------------------------------------------------------
// 3. Token requests and redirects; realms with userinfo
// ---------------------------------------------------------------------------

/// The token realm answers the OAuth2 POST with 307/308 to another host:
/// the form (refresh token or password) must not be sent there.
#[tokio::test]
async fn a_token_post_is_never_resent_to_another_host() {
    for (status, credential, oauth2_password, secret) in [
        (
            307,
            Credential::identity_token("refresh-secret"),
            false,
            "refresh-secret",
        ),
        (
            308,
            Credential::password("user", "pass-secret"),
            true,
            "pass-secret",
        ),
    ] {
        let registry = mock::server().await;
        let realm = mock::server().await;
        let evil = mock::server().await;
        token_endpoint(&evil, serde_json::json!({})).await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/token", evil.uri())),
            )
            .mount(&realm)
            .await;
        tags_behind(&registry, "a", &realm.uri(), "svc").await;
        let client = Client::builder(registry.uri())
            .authenticator(TokenFlow::new(Some(credential)).oauth2_password(oauth2_password))
            .retry(dockreg::http::RetryConfig::disabled())
            .build()
            .unwrap();
        let result = tags(&client, "a").await;
        let at_evil = evil.received_requests().await.unwrap();
        let leaked: Vec<String> = at_evil
            .iter()
            .map(|r| format!("{} {}", r.method, String::from_utf8_lossy(&r.body)))
            .collect();
        assert!(
            at_evil.is_empty(),
            "{status}: the other host got {leaked:?}"
        );
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{status}: {err:?}");
        assert!(err.to_string().contains("redirect"), "{err}");
        assert!(!format!("{err} {err:?}").contains(secret), "{err:?}");
    }

    // Control: a realm that answers the POST gets the form in one piece,
    // with its length, and the token is used.
    let registry = mock::server().await;
    let realm = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|req: &Request| {
            let form = String::from_utf8_lossy(&req.body).into_owned();
            let length = req
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let chunked = req.headers.contains_key("transfer-encoding");
            if form.contains("refresh_token=refresh-secret")
                && length == Some(req.body.len())
                && !chunked
            {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "token-post"}))
            } else {
                ResponseTemplate::new(400).set_body_string(format!("{length:?} {chunked} {form}"))
            }
        })
        .expect(1)
        .mount(&realm)
        .await;
    tags_behind(&registry, "a", &realm.uri(), "svc").await;
    let client = Client::builder(registry.uri())
        .authenticator(TokenFlow::new(Some(Credential::identity_token(
            "refresh-secret",
        ))))
        .build()
        .unwrap();
    assert_eq!(tags(&client, "a").await.unwrap(), ["v1"]);
}

/// The realm's GET redirected to another origin is not followed either.
#[tokio::test]
async fn a_token_get_follows_no_redirect_to_another_origin() {
    let registry = mock::server().await;
    let realm = mock::server().await;
    let evil = mock::server().await;
    token_endpoint(&evil, serde_json::json!({})).await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{}/token", evil.uri())),
        )
        .mount(&realm)
        .await;
    tags_behind(&registry, "a", &realm.uri(), "svc").await;
    let client = Client::builder(registry.uri())
        .authenticator(Basic::new("user", "pass"))
        .retry(dockreg::http::RetryConfig::disabled())
        .build()
        .unwrap();
    let err = tags(&client, "a").await.unwrap_err();
    let at_evil = evil.received_requests().await.unwrap();
    assert!(
        at_evil.is_empty(),
        "the redirect was followed: {:?}",
        authorizations(&at_evil)
    );
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("redirect"), "{err}");

    // A redirect within the realm's origin is still followed.
    let realm = mock::server().await;
    let fetches = token_endpoint(&realm, serde_json::json!({})).await;
    Mock::given(path("/old/token"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/token"))
        .mount(&realm)
        .await;
    let registry = mock::server().await;
    tags_behind(&registry, "a", &format!("{}/old", realm.uri()), "svc").await;
    let client = Client::builder(registry.uri())
        .authenticator(Basic::new("user", "pass"))
        .build()
        .unwrap();
    assert_eq!(tags(&client, "a").await.unwrap(), ["v1"]);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

/// `Bearer realm="http://user:pass@host/token"`: reqwest would send the
/// userinfo as Basic credentials of the registry's choosing. Refused.
#[tokio::test]
async fn a_realm_with_userinfo_is_refused() {
    let registry = mock::server().await;
    let realm = mock::server().await;
    let fetches = token_endpoint(&realm, serde_json::json!({})).await;
    let with_userinfo = realm.uri().replacen("http://", "http://planted:creds@", 1);
    tags_behind(&registry, "a", &with_userinfo, "svc").await;
    for authenticator in [
        Arc::new(Basic::new("user", "pass")) as Arc<dyn Authenticator>,
        Arc::new(dockreg::auth::Anonymous::new()),
    ] {
        let client = Client::builder(registry.uri())
            .shared_authenticator(authenticator)
            .retry(dockreg::http::RetryConfig::disabled())
            .build()
            .unwrap();
        let err = tags(&client, "a").await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
        assert!(err.to_string().contains("credentials"), "{err}");
        assert!(!err.to_string().contains("creds"), "{err}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 0, "the realm was asked");
}

// ---------------------------------------------------------------------------
// 4. An injected reqwest::Client
// ---------------------------------------------------------------------------

/// An injected client follows whatever its own policy follows; dockreg
/// still refuses an answer that came down from https to plain http.
#[tokio::test]
async fn an_injected_http_client_still_refuses_https_to_plain_http() {
    let plain = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "down", "tags": ["leaked"]})),
        )
        .mount(&plain)
        .await;
    let Some(server) = registry::HtpasswdRegistry::start_https_redirector(&plain.uri()) else {
        return;
    };
    let ca = reqwest::Certificate::from_pem(server.ca_pem()).unwrap();
    let injected = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let client = Client::builder(&server.base_url)
        .http_client(injected)
        .retry(dockreg::http::RetryConfig::disabled())
        .build()
        .unwrap();
    // Control: https to https is followed.
    assert_eq!(tags(&client, "up").await.unwrap(), ["followed"]);
    let result = tags(&client, "down").await;
    let err = result.expect_err("data from a plain-http redirect target was used");
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("redirect from https to plain http refused"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// 5. Referer
// ---------------------------------------------------------------------------

/// A redirect target learns nothing of the registry URL it came from.
#[tokio::test]
async fn redirect_targets_see_no_referer() {
    let registry = mock::server().await;
    let storage = mock::server().await;
    let digest = blob_redirected_to(&registry, format!("{}/storage/blob", storage.uri())).await;
    Mock::given(path("/storage/blob"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"layer".to_vec()))
        .mount(&storage)
        .await;
    let client = mock::client(&registry);
    let bytes = bounded("blob", client.blob_bytes(&name("a"), &digest, 1 << 20))
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"layer");
    let at_storage = storage.received_requests().await.unwrap();
    assert_eq!(at_storage.len(), 1);
    let referer = at_storage[0].headers.get("referer");
    assert!(referer.is_none(), "storage saw Referer {referer:?}");
}

// ---------------------------------------------------------------------------
// 6. Presigned URLs in errors
// ---------------------------------------------------------------------------

const SIGNED: &str = "X-Amz-Credential=AKIDcred&X-Amz-Signature=s3cr3tsig&sig=azur3sas";

fn assert_no_signature(err: &Error) {
    let shown = format!("{err} | {err:?}");
    for secret in ["s3cr3tsig", "azur3sas", "AKIDcred"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

/// Storage reached by a presigned URL fails (and echoes the signature, as
/// S3's SignatureDoesNotMatch does): the error keeps neither.
#[tokio::test]
async fn errors_keep_no_presigned_query_strings() {
    let registry = mock::server().await;
    let storage = mock::server().await;
    let location = format!("{}/storage/blob?{SIGNED}", storage.uri());
    let digest = blob_redirected_to(&registry, location).await;
    Mock::given(path("/storage/blob"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "<Error><Code>SignatureDoesNotMatch</Code>\
             <SignatureProvided>s3cr3tsig</SignatureProvided></Error>",
            "application/xml",
        ))
        .mount(&storage)
        .await;
    let client = mock::client(&registry);
    let err = bounded("blob", client.blob_bytes(&name("a"), &digest, 1 << 20))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err:?}");
    assert!(err.to_string().contains("/storage/blob"), "{err}");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert_no_signature(&err);

    // Storage that cannot be reached at all: a transport error.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let registry = mock::server().await;
    let location = format!("http://127.0.0.1:{closed}/storage/blob?{SIGNED}");
    blob_redirected_to(&registry, location).await;
    let client = mock::client(&registry);
    let err = bounded("blob", client.blob_bytes(&name("a"), &digest, 1 << 20))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    assert_no_signature(&err);
}

// ---------------------------------------------------------------------------
// 7. Terminal control sequences in registry text
// ---------------------------------------------------------------------------

const HOSTILE: &str = "\x1b[2J\x1b]0;pwned\x07\r\u{202e}evil\u{9b}";

fn assert_inert(err: &Error) {
    let shown = err.to_string();
    let bad = shown
        .chars()
        .find(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(c));
    assert!(bad.is_none(), "{bad:?} in {shown:?}");
    assert!(
        shown.contains("pwned"),
        "the text is kept, escaped: {shown:?}"
    );
}

#[tokio::test]
async fn registry_text_cannot_drive_the_terminal() {
    let registry = mock::server().await;
    let envelope = serde_json::json!({"errors": [{
        "code": format!("EVIL{HOSTILE}"),
        "message": format!("denied{HOSTILE}"),
        "detail": HOSTILE,
    }]});
    Mock::given(path("/v2/envelope/tags/list"))
        .respond_with(ResponseTemplate::new(403).set_body_json(envelope))
        .mount(&registry)
        .await;
    Mock::given(path("/v2/raw/tags/list"))
        .respond_with(
            ResponseTemplate::new(502).set_body_raw(format!("bad gateway{HOSTILE}"), "text/plain"),
        )
        .mount(&registry)
        .await;
    let client = mock::client(&registry);
    let err = tags(&client, "envelope").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert_inert(&err);
    // The data itself is kept as sent, for programs.
    assert!(err.registry_errors()[0].message.contains('\x1b'));
    let err = tags(&client, "raw").await.unwrap_err();
    assert_inert(&err);
}

// ---------------------------------------------------------------------------
// 8. Token lifetimes
// ---------------------------------------------------------------------------

/// Lifetimes no clock can hold, negative, zero or fractional, and
/// `issued_at` far in the future or the past: the token is used, nothing
/// panics, and a huge lifetime is capped rather than trusted forever.
#[tokio::test]
async fn hostile_token_lifetimes_neither_panic_nor_overflow() {
    let cases = [
        serde_json::json!({"expires_in": u64::MAX}),
        serde_json::json!({"expires_in": u64::MAX, "issued_at": "0001-01-01T00:00:00Z"}),
        serde_json::json!({"expires_in": u64::MAX, "issued_at": "9999-12-31T23:59:59Z"}),
        serde_json::json!({"expires_in": -1}),
        serde_json::json!({"expires_in": i64::MIN}),
        serde_json::json!({"expires_in": 0}),
        serde_json::json!({"expires_in": 1e300}),
        serde_json::json!({"expires_in": "300"}),
        serde_json::json!({"expires_in": 300, "issued_at": "9999-12-31T23:59:59Z"}),
        serde_json::json!({"expires_in": 300, "issued_at": "0001-01-01T00:00:00Z"}),
    ];
    for case in cases {
        let server = mock::server().await;
        let fetches = token_endpoint(&server, case.clone()).await;
        tags_behind(&server, "a", &server.uri(), "svc").await;
        let client = mock::client(&server);
        let first = tags(&client, "a").await;
        assert_eq!(first.unwrap_or_else(|e| panic!("{case}: {e}")), ["v1"]);
        let second = tags(&client, "a").await;
        assert_eq!(second.unwrap_or_else(|e| panic!("{case}: {e}")), ["v1"]);
        let fetched = fetches.load(Ordering::SeqCst);
        assert!(fetched <= 2, "{case}: {fetched} fetches");
        if case["expires_in"] == u64::MAX && case.get("issued_at").is_none() {
            assert_eq!(fetched, 1, "{case}: a capped lifetime is still a long one");
        }
    }
}
