//! Authentication against real registries (distribution 2.8.2): htpasswd
//! over TLS, and bearer tokens from the harness's token server (see
//! `tests/registry/secure.rs` for its ACL). The mock-based counterpart,
//! for what a real registry will not do on demand, is `tests/it/auth_mock.rs`.
//!
//! Tests that count token requests use a `TokenFlow` with a `client_id` of
//! their own and count only those requests, since every test of this binary
//! shares one token server.
//!
//! What 2.8.2 does, as checked in `registry_2_8_2_token_auth_facts`:
//! * no or non-Bearer credentials: 401, `Bearer realm=..,service=..` and
//!   `UNAUTHORIZED` / `authentication required` (detail `null`);
//! * a valid token without the scope: 401 with `scope=".."` and
//!   `error="insufficient_scope"` in the challenge, `UNAUTHORIZED` /
//!   `authentication required` with the missing access records as detail
//!   (`[{"Type":"repository","Class":"","Name":"alice/app","Action":"pull"}]`);
//!   never `DENIED`;
//! * an expired or malformed token: 401 with `error="invalid_token"` (and
//!   the `scope` the request needed); `exp` is checked with 60 s of leeway;
//! * `aud` must be a JSON string (an array is refused);
//! * `GET /v2/` needs a valid token but no access at all, so an anonymous
//!   token opens it.

use crate::registry;

use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use dockreg::auth::{
    Basic, Credential, CredentialChain, CredentialSource, DockerConfig, TokenFlow,
};
use dockreg::http::RetryConfig;
use dockreg::models::ErrorCode;
use dockreg::{Client, Digest, Error, RepositoryName, TagOrDigest};
use futures::TryStreamExt;
use registry::{HtpasswdRegistry, SecureImage, TokenRegistry, HTPASSWD_REALM, TOKEN_SERVICE};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn v1() -> TagOrDigest {
    "v1".parse().unwrap()
}

/// Reads an image's manifest and returns its digest.
async fn manifest_digest(client: &Client, image: &SecureImage) -> dockreg::Result<String> {
    let m = client.manifest(&name(&image.repo), &v1()).await?;
    Ok(m.digest()?.to_string())
}

async fn tags(client: &Client, repo: &str) -> dockreg::Result<Vec<String>> {
    client.tags(&name(repo)).try_collect().await
}

async fn catalog(client: &Client) -> dockreg::Result<Vec<String>> {
    client.catalog().try_collect().await
}

/// A token flow with credentials and a `client_id` of its own.
fn flow(user: &str, password: &str, client_id: &str) -> TokenFlow {
    TokenFlow::new(Some(Credential::password(user, password))).client_id(client_id)
}

fn token_client(reg: &TokenRegistry, auth: impl dockreg::auth::Authenticator + 'static) -> Client {
    reg.client_builder().authenticator(auth).build().unwrap()
}

/// The registry's refusal of a scope: 401 `UNAUTHORIZED`, "authentication
/// required", the missing access record as detail.
fn assert_scope_denied(err: &Error, repo: &str, action: &str) {
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::Unauthorized), "{err}");
    let e = &err.registry_errors()[0];
    assert_eq!(e.message, "authentication required");
    let detail = e.detail.as_ref().expect("access records as detail");
    assert!(
        detail
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Name"] == repo && r["Action"] == action),
        "{detail}"
    );
    assert!(
        err.to_string()
            .contains("401 Unauthorized: UNAUTHORIZED: authentication required"),
        "{err}"
    );
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A failed TLS handshake: an `Error::Http` (itself, or the last failure a
/// retry wrapper gave up on) whose causes name the certificate problem.
fn assert_tls_failure(err: &Error) {
    assert!(err.status().is_none(), "{err:?}");
    let mut chain = Vec::new();
    let mut http = false;
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        // A boxed cause shows up as a `Box<Error>`.
        let cause = e
            .downcast_ref::<Error>()
            .or_else(|| e.downcast_ref::<Box<Error>>().map(|b| &**b));
        http |= matches!(cause, Some(Error::Http { .. }));
        chain.push(e.to_string());
        source = e.source();
    }
    assert!(http, "no Error::Http in {err:?}");
    let chain = chain.join(" / ").to_lowercase();
    assert!(
        chain.contains("certificate") || chain.contains("issuer"),
        "{chain}"
    );
}

// ---------------------------------------------------------------------------
// htpasswd over TLS
// ---------------------------------------------------------------------------

#[tokio::test]
async fn htpasswd_ping_without_credentials_gets_a_basic_challenge() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let client = reg.client_builder().build().unwrap();
    let ping = client.ping().await.unwrap();
    assert!(ping.needs_auth(), "{ping:?}");
    assert!(ping.auth_required());
    assert!(!ping.is_ok());
    assert!(ping.auth_error.is_none(), "{ping:?}");
    assert_eq!(ping.api_version.as_deref(), Some("registry/2.0"));
    let challenge = ping.challenge().unwrap();
    assert!(challenge.is_basic(), "{challenge}");
    assert_eq!(challenge.realm(), Some(HTPASSWD_REALM));

    // Reads without credentials: the registry's 401, typed.
    let err = tags(&client, "alice/app").await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::Unauthorized));
}

#[tokio::test]
async fn htpasswd_basic_credentials_read_tags_manifests_and_blobs() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let client = reg
        .client_builder()
        .authenticator(Basic::new("alice", "alice-pass"))
        .build()
        .unwrap();
    let ping = client.ping().await.unwrap();
    assert!(ping.is_ok(), "{ping:?}");
    assert!(ping.challenge().unwrap().is_basic());
    assert_eq!(client.base_url().scheme(), "https");

    for image in reg.images().all() {
        assert_eq!(tags(&client, &image.repo).await.unwrap(), ["v1"]);
        let m = client.manifest(&name(&image.repo), &v1()).await.unwrap();
        assert_eq!(m.digest().unwrap().to_string(), image.manifest_digest);
        assert_eq!(m.media_type(), image.media_type);
        assert_eq!(&m.bytes()[..], &image.manifest[..]);
        let config = client
            .blob_bytes(&name(&image.repo), &m.config().unwrap().digest, 1 << 20)
            .await
            .unwrap();
        assert_eq!(&config[..], &image.config[..]);
    }
    assert_eq!(catalog(&client).await.unwrap(), reg.images().repos());

    // htpasswd knows users, not permissions: bob reads alice's repository.
    let bob = reg
        .client_builder()
        .authenticator(Basic::new("bob", "bob-pass"))
        .build()
        .unwrap();
    assert_eq!(
        manifest_digest(&bob, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
}

#[tokio::test]
async fn htpasswd_wrong_password_is_unauthorized() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let client = reg
        .client_builder()
        .authenticator(Basic::new("alice", "not-alices-password"))
        .build()
        .unwrap();
    let ping = client.ping().await.unwrap();
    assert!(ping.needs_auth(), "{ping:?}");
    assert!(ping.challenge().unwrap().is_basic());

    let err = tags(&client, "alice/app").await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::Unauthorized));
    assert_eq!(err.registry_errors()[0].message, "authentication required");
    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("not-alices-password"), "{shown}");
    assert!(
        !shown.contains(&b64("alice:not-alices-password")),
        "{shown}"
    );

    // An unknown user fares no better.
    let client = reg
        .client_builder()
        .authenticator(Basic::new("mallory", "alice-pass"))
        .build()
        .unwrap();
    assert!(tags(&client, "alice/app")
        .await
        .unwrap_err()
        .is_unauthorized());
}

#[tokio::test]
async fn htpasswd_tls_needs_the_ca_or_the_danger_flag() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    // Without the CA: the handshake fails, an HTTP (transport) error that
    // names the certificate problem.
    let client = Client::builder(&reg.base_url)
        .authenticator(Basic::new("alice", "alice-pass"))
        .build()
        .unwrap();
    // (The client may retry first and wrap the last Error::Http.)
    let err = client.ping().await.unwrap_err();
    assert_tls_failure(&err);
    let err = tags(&client, "alice/app").await.unwrap_err();
    assert_tls_failure(&err);

    // A bundle without a certificate is refused when the client is built.
    let err = Client::builder(&reg.base_url)
        .root_certificate_pem(b"not a certificate")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Build(_)), "{err:?}");

    // With verification off it works (test registries only).
    let client = Client::builder(&reg.base_url)
        .authenticator(Basic::new("alice", "alice-pass"))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert!(client.ping().await.unwrap().is_ok());
    assert_eq!(tags(&client, "alice/app").await.unwrap(), ["v1"]);

    // With the CA from its file, verification on, it works too.
    let client = Client::builder(&reg.base_url)
        .root_certificate_pem(&std::fs::read(reg.ca_path()).unwrap())
        .authenticator(Basic::new("alice", "alice-pass"))
        .build()
        .unwrap();
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
}

#[tokio::test]
async fn htpasswd_skopeo_sees_the_same_tags_and_digest() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let client = reg
        .client_builder()
        .authenticator(Basic::new("alice", "alice-pass"))
        .build()
        .unwrap();
    let image = &reg.images().alice;
    let ours_tags = tags(&client, &image.repo).await.unwrap();
    let ours_digest = manifest_digest(&client, image).await.unwrap();

    // Verified TLS with the CA in --cert-dir.
    let cert_dir = reg.cert_dir();
    let listed = registry::skopeo_json(&[
        "list-tags",
        "--creds",
        "alice:alice-pass",
        "--cert-dir",
        cert_dir.to_str().unwrap(),
        &format!("docker://{}/{}", reg.host, image.repo),
    ]);
    let theirs: Vec<&str> = listed["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(theirs, ours_tags);

    // Unverified TLS.
    let inspected = registry::skopeo_json(&[
        "inspect",
        "--creds",
        "alice:alice-pass",
        "--tls-verify=false",
        &format!("docker://{}/{}:v1", reg.host, image.repo),
    ]);
    assert_eq!(inspected["Digest"], ours_digest.as_str());
    assert_eq!(inspected["Digest"], image.manifest_digest.as_str());
    assert_eq!(inspected["Layers"][0], image.layer_digest.as_str());
}

/// A `config.json` as `docker login HOST` writes it: the key is the
/// registry host, `auth` is base64 of `user:password`.
fn docker_login_config(dir: &Path, host: &str, user: &str, password: &str) {
    let config = json!({"auths": {host: {"auth": b64(&format!("{user}:{password}"))}}});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

/// An environment of its own for a credential chain, the process's untouched.
fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

#[tokio::test]
async fn htpasswd_credential_chain_walks_flags_environment_and_docker_login() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let alice = &reg.images().alice;
    let dir = tempfile::tempdir().unwrap();
    docker_login_config(dir.path(), &reg.host, "alice", "alice-pass");
    let docker = dir.path().to_str().unwrap().to_owned();
    let read = |chain: CredentialChain| {
        let client = reg.client_builder().authenticator(chain).build().unwrap();
        async move { manifest_digest(&client, alice).await }
    };

    // The Docker config alone: `docker login` credentials for this host.
    let chain =
        CredentialChain::from_env_with(env_of(&[("DOCKER_CONFIG", docker.clone())])).unwrap();
    let config_path = dir.path().join("config.json");
    assert_eq!(
        chain.source(),
        &CredentialSource::DockerConfig {
            path: Some(config_path.clone())
        }
    );
    assert_eq!(
        chain.credential_for(&reg.host).await.unwrap(),
        Some(Credential::password("alice", "alice-pass"))
    );
    assert_eq!(read(chain).await.unwrap(), alice.manifest_digest);

    // The environment comes first: bob's password is wrong for alice...
    let wrong = env_of(&[
        ("DOCKER_CONFIG", docker.clone()),
        ("REGISTRY_USERNAME", "alice".to_owned()),
        ("REGISTRY_PASSWORD", "wrong".to_owned()),
    ]);
    let chain = CredentialChain::from_env_with(wrong).unwrap();
    assert_eq!(chain.source().to_string(), "user alice (REGISTRY_USERNAME)");
    let err = read(chain).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");

    // ... and explicit credentials come before the environment.
    let chain = CredentialChain::builder()
        .credentials("alice", "alice-pass")
        .env_with(env_of(&[
            ("DOCKER_CONFIG", docker.clone()),
            ("REGISTRY_USERNAME", "alice".to_owned()),
            ("REGISTRY_PASSWORD", "wrong".to_owned()),
        ]))
        .build()
        .unwrap();
    assert_eq!(read(chain).await.unwrap(), alice.manifest_digest);

    // A config that names another host: anonymous here, refused.
    docker_login_config(dir.path(), "registry.example.com", "alice", "alice-pass");
    let chain = CredentialChain::from_env_with(env_of(&[("DOCKER_CONFIG", docker)])).unwrap();
    assert_eq!(chain.credential_for(&reg.host).await.unwrap(), None);
    let err = read(chain).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
}

// ---------------------------------------------------------------------------
// Bearer tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn token_anonymous_pulls_public_but_not_alice() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    // The default authenticator is Anonymous.
    let client = reg.client_builder().build().unwrap();
    let ping = client.ping().await.unwrap();
    // /v2/ wants a token, any token: an anonymous one opens it.
    assert!(ping.is_ok(), "{ping:?}");
    let challenge = ping.challenge().unwrap();
    assert!(challenge.is_bearer());
    assert_eq!(challenge.realm(), Some(reg.realm().as_str()));
    assert_eq!(challenge.service(), Some(TOKEN_SERVICE));

    let public = &reg.images().public;
    assert_eq!(
        manifest_digest(&client, public).await.unwrap(),
        public.manifest_digest
    );
    assert_eq!(tags(&client, &public.repo).await.unwrap(), ["v1"]);

    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    assert_scope_denied(&err, "alice/app", "pull");
    let err = tags(&client, "alice/app").await.unwrap_err();
    assert_scope_denied(&err, "alice/app", "pull");
    let err = catalog(&client).await.unwrap_err();
    assert_scope_denied(&err, "catalog", "*");

    // The token server granted the denied scope with no actions: not an error.
    let asked: Vec<_> = reg
        .server
        .requests()
        .into_iter()
        .filter(|r| r.user.is_none() && r.scopes == ["repository:alice/app:pull"])
        .collect();
    assert!(!asked.is_empty());
    for r in asked {
        assert_eq!(r.status, 200);
        assert_eq!(r.granted, ["repository:alice/app:"]);
    }
}

#[tokio::test]
async fn token_bob_cannot_read_alice() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let bob = token_client(reg, Basic::new("bob", "bob-pass"));
    assert!(bob.ping().await.unwrap().is_ok());
    assert_eq!(
        manifest_digest(&bob, &reg.images().bob).await.unwrap(),
        reg.images().bob.manifest_digest
    );
    let err = manifest_digest(&bob, &reg.images().alice)
        .await
        .unwrap_err();
    assert_scope_denied(&err, "alice/app", "pull");
    // bob may only pull bob/*: not even public/*.
    let err = tags(&bob, "public/app").await.unwrap_err();
    assert_scope_denied(&err, "public/app", "pull");
    // No registry:catalog:* for bob: the catalog is refused, not empty.
    let err = catalog(&bob).await.unwrap_err();
    assert_scope_denied(&err, "catalog", "*");
}

#[tokio::test]
async fn token_alice_reads_her_repository_and_the_catalog() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let alice = token_client(reg, flow("alice", "alice-pass", "alice-reads"));
    assert!(alice.ping().await.unwrap().is_ok());
    let image = &reg.images().alice;
    assert_eq!(tags(&alice, &image.repo).await.unwrap(), ["v1"]);
    let m = alice.manifest(&name(&image.repo), &v1()).await.unwrap();
    assert_eq!(m.digest().unwrap().to_string(), image.manifest_digest);
    let layer = &m.layers()[0].digest;
    assert_eq!(layer.to_string(), image.layer_digest);
    assert!(alice.blob_exists(&name(&image.repo), layer).await.unwrap());
    assert_eq!(
        manifest_digest(&alice, &reg.images().public).await.unwrap(),
        reg.images().public.manifest_digest
    );
    // 2.8.2 lists every repository to whoever holds registry:catalog:*.
    assert_eq!(catalog(&alice).await.unwrap(), reg.images().repos());
    let err = manifest_digest(&alice, &reg.images().bob)
        .await
        .unwrap_err();
    assert_scope_denied(&err, "bob/app", "pull");

    // What the token server was asked and granted.
    let requests = reg.server.requests_from("alice-reads");
    assert!(requests.iter().all(|r| r.method == "GET"
        && r.status == 200
        && r.user.as_deref() == Some("alice")
        && r.param("service") == Some(TOKEN_SERVICE)));
    let granted = |scope: &str| {
        requests
            .iter()
            .find(|r| r.scopes == [scope])
            .unwrap_or_else(|| panic!("no token asked for {scope}: {requests:#?}"))
            .granted
            .clone()
    };
    assert_eq!(
        granted("repository:alice/app:pull"),
        ["repository:alice/app:pull"]
    );
    assert_eq!(granted("registry:catalog:*"), ["registry:catalog:*"]);
    assert_eq!(granted("repository:bob/app:pull"), ["repository:bob/app:"]);
}

#[tokio::test]
async fn token_wrong_password_is_refused_by_the_token_server() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let client = token_client(reg, flow("alice", "wrong-pass", "wrong-password"));
    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    // The token server's 401, with its URL and message; no secret shown.
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(matches!(&err, Error::Registry { url, .. } if url.starts_with(&reg.realm())));
    assert_eq!(
        err.registry_errors()[0].message,
        "invalid username or password"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("wrong-pass") && !shown.contains(&b64("alice:wrong-pass")));
    // ping reports the failure as auth_error.
    let ping = client.ping().await.unwrap();
    assert!(ping.needs_auth(), "{ping:?}");
    assert!(ping.auth_error.as_ref().unwrap().is_unauthorized());
    let requests = reg.server.requests_from("wrong-password");
    assert!(requests.len() >= 2);
    assert!(requests
        .iter()
        .all(|r| r.status == 401 && r.token.is_none()));
}

#[tokio::test]
async fn token_sixteen_concurrent_reads_cost_one_token_fetch() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let client = token_client(reg, flow("alice", "alice-pass", "concurrent-16"));
    let image = &reg.images().alice;
    let reads = (0..16).map(|_| {
        let client = client.clone();
        async move { manifest_digest(&client, image).await }
    });
    for digest in futures::future::join_all(reads).await {
        assert_eq!(digest.unwrap(), image.manifest_digest);
    }
    assert_eq!(reg.server.count("concurrent-16", "GET"), 1);
    assert_eq!(reg.server.count("concurrent-16", "POST"), 0);

    // The token is cached: 16 more, one after the other, fetch nothing.
    for _ in 0..16 {
        assert_eq!(
            manifest_digest(&client, image).await.unwrap(),
            image.manifest_digest
        );
    }
    let requests = reg.server.requests_from("concurrent-16");
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].scopes, ["repository:alice/app:pull"]);
}

#[tokio::test]
async fn token_short_lifetime_is_refreshed() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    reg.server.set_expires_in("refresh-2s", 2);
    let client = token_client(reg, flow("alice", "alice-pass", "refresh-2s"));
    let image = &reg.images().alice;
    let started = Instant::now();
    let mut reads = 0;
    while started.elapsed() < Duration::from_millis(4500) {
        assert_eq!(
            manifest_digest(&client, image).await.unwrap(),
            image.manifest_digest
        );
        reads += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let requests = reg.server.requests_from("refresh-2s");
    assert!(
        requests.iter().all(|r| r.expires_in == Some(2)),
        "{requests:#?}"
    );
    let fetches = requests.len();
    // More than one token over 4.5 s of 2 s tokens (about one a second
    // at most: `issued_at` has whole seconds), but not one per read.
    assert!(fetches >= 2, "{fetches} token fetches for {reads} reads");
    assert!(
        fetches <= 6 && fetches < reads,
        "{fetches} token fetches for {reads} reads"
    );
    // Each refresh is a new token.
    let mut tokens: Vec<_> = requests.iter().map(|r| r.token.clone()).collect();
    tokens.dedup();
    assert_eq!(tokens.len(), fetches);
}

#[tokio::test]
async fn token_oauth2_password_post_then_refresh_token() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let auth = TokenFlow::new(Some(Credential::password("alice", "alice-pass")))
        .oauth2_password(true)
        .client_id("oauth2-post");
    let client = token_client(reg, auth);
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
    // A second scope, then a third.
    assert_eq!(
        manifest_digest(&client, &reg.images().public)
            .await
            .unwrap(),
        reg.images().public.manifest_digest
    );
    assert_eq!(catalog(&client).await.unwrap(), reg.images().repos());

    assert_eq!(reg.server.count("oauth2-post", "GET"), 0);
    assert_eq!(reg.server.count("oauth2-post", "POST"), 3);
    let requests = reg.server.requests_from("oauth2-post");
    let first = &requests[0];
    assert_eq!(first.grant_type(), Some("password"));
    assert_eq!(first.param("username"), Some("alice"));
    assert_eq!(first.param("access_type"), Some("offline"));
    assert_eq!(first.param("service"), Some(TOKEN_SERVICE));
    assert_eq!(first.scopes, ["repository:alice/app:pull"]);
    assert!(first.header("authorization").is_none());
    let refresh = first.refresh_token.clone().expect("a refresh token issued");
    for later in &requests[1..] {
        assert_eq!(later.grant_type(), Some("refresh_token"));
        assert_eq!(later.param("refresh_token"), Some(refresh.as_str()));
        assert!(later.param("password").is_none(), "{later:?}");
        assert!(later.header("authorization").is_none());
        assert_eq!(later.user.as_deref(), Some("alice"));
        assert_eq!(later.status, 200);
    }
    assert_eq!(requests[1].scopes, ["repository:public/app:pull"]);
    assert_eq!(requests[2].scopes, ["registry:catalog:*"]);
}

/// Gets a refresh token from the token server the way `docker login` does.
async fn login_for_refresh_token(reg: &TokenRegistry) -> String {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pass"),
            ("service", TOKEN_SERVICE),
            ("client_id", "identity-login"),
            ("access_type", "offline"),
        ])
        .finish();
    let response = reqwest::Client::new()
        .post(reg.realm())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    body["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn token_identity_token_issued_by_the_server_works() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let refresh = login_for_refresh_token(reg).await;
    let auth = TokenFlow::new(Some(Credential::identity_token(refresh.as_str())))
        .client_id("identity-token");
    let client = token_client(reg, auth);
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
    assert_eq!(reg.server.count("identity-token", "GET"), 0);
    let requests = reg.server.requests_from("identity-token");
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].grant_type(), Some("refresh_token"));
    assert_eq!(requests[0].param("refresh_token"), Some(refresh.as_str()));
    assert_eq!(requests[0].user.as_deref(), Some("alice"));

    // The same token as Docker stores it: `identitytoken` in the config.
    let host = reg.host.as_str();
    let config = json!({"auths": {host: {"auth": b64("alice:"), "identitytoken": refresh}}});
    let client = token_client(
        reg,
        DockerConfig::from_json(config.to_string().as_bytes()).unwrap(),
    );
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );

    // A refresh token the server never issued: its 401, typed.
    let auth =
        TokenFlow::new(Some(Credential::identity_token("rt-made-up"))).client_id("identity-bogus");
    let client = token_client(reg, auth);
    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(matches!(&err, Error::Registry { url, .. } if url.starts_with(&reg.realm())));
    assert!(!format!("{err} {err:?}").contains("rt-made-up"));
    assert_eq!(reg.server.requests_from("identity-bogus")[0].status, 401);
}

/// Puts `tests/fixtures` (home of `docker-credential-dockreg-test`) first
/// on PATH, once.
fn credential_helper_on_path() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let old = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(fixtures).chain(std::env::split_paths(&old)))
                .unwrap();
        std::env::set_var("PATH", path);
    });
}

#[tokio::test]
async fn token_docker_config_with_a_credential_helper() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    credential_helper_on_path();
    assert!(registry::find_program("docker-credential-dockreg-test").is_some());
    let config = json!({"credHelpers": {reg.host.as_str(): "dockreg-test"}});
    let auth = DockerConfig::from_json(config.to_string().as_bytes()).unwrap();
    assert_eq!(
        auth.credential_for(&reg.host).await.unwrap(),
        Some(Credential::password("alice", "alice-pass"))
    );
    let client = token_client(reg, auth);
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
    assert_eq!(catalog(&client).await.unwrap(), reg.images().repos());

    // The helper knows no other server: no credentials, not an error.
    let other =
        DockerConfig::from_json(br#"{"credHelpers":{"registry.example.com":"dockreg-test"}}"#)
            .unwrap();
    assert_eq!(
        other.credential_for("registry.example.com").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn token_docker_config_with_auths() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let config = json!({"auths": {
        format!("http://{}/v2/", reg.host): {"auth": b64("alice:alice-pass")},
        "other.example.com": {"auth": b64("bob:bob-pass")},
    }});
    let client = token_client(
        reg,
        DockerConfig::from_json(config.to_string().as_bytes()).unwrap(),
    );
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
    let err = manifest_digest(&client, &reg.images().bob)
        .await
        .unwrap_err();
    assert_scope_denied(&err, "bob/app", "pull");

    // Credentials stored for another registry only: anonymous here.
    let config = json!({"auths": {"other.example.com": {"auth": b64("alice:alice-pass")}}});
    let client = token_client(
        reg,
        DockerConfig::from_json(config.to_string().as_bytes()).unwrap(),
    );
    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    assert_scope_denied(&err, "alice/app", "pull");
}

#[tokio::test]
async fn token_skopeo_sees_the_same_digest() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let client = token_client(reg, Basic::new("alice", "alice-pass"));
    let image = &reg.images().alice;
    let ours = manifest_digest(&client, image).await.unwrap();
    let inspected = registry::skopeo_json(&[
        "inspect",
        "--creds",
        "alice:alice-pass",
        "--tls-verify=false",
        &format!("docker://{}/{}:v1", reg.host, image.repo),
    ]);
    assert_eq!(inspected["Digest"], ours.as_str());
    assert_eq!(inspected["Layers"][0], image.layer_digest.as_str());
    let listed = registry::skopeo_json(&[
        "list-tags",
        "--creds",
        "alice:alice-pass",
        "--tls-verify=false",
        &format!("docker://{}/{}", reg.host, image.repo),
    ]);
    assert_eq!(
        listed["Tags"],
        json!(tags(&client, &image.repo).await.unwrap())
    );
    // skopeo went through the same token server, as alice.
    assert!(reg.server.requests().iter().any(|r| r
        .header("user-agent")
        .is_some_and(|ua| !ua.starts_with("dockreg"))
        && r.user.as_deref() == Some("alice")
        && r.scopes.contains(&"repository:alice/app:pull".to_string())));
}

#[tokio::test]
async fn token_secrets_go_only_where_they_belong() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    // Reach the registry through a relay that records what it is sent.
    let proxy = reg.recording_proxy();
    let client = Client::builder(&proxy.host)
        .authenticator(flow("alice", "alice-pass", "secrets"))
        .build()
        .unwrap();
    assert!(client.ping().await.unwrap().is_ok());
    for image in [&reg.images().alice, &reg.images().public] {
        assert_eq!(
            manifest_digest(&client, image).await.unwrap(),
            image.manifest_digest
        );
    }
    assert_eq!(catalog(&client).await.unwrap(), reg.images().repos());
    let err = tags(&client, "bob/app").await.unwrap_err();
    assert_scope_denied(&err, "bob/app", "pull");

    // Token server: Basic credentials, never a Bearer token.
    let basic = format!("Basic {}", b64("alice:alice-pass"));
    let to_token_server = reg.server.requests_from("secrets");
    assert!(to_token_server.len() >= 4, "{to_token_server:#?}");
    for r in &to_token_server {
        assert_eq!(r.header("authorization"), Some(basic.as_str()), "{r:?}");
    }
    let issued: Vec<String> = to_token_server
        .iter()
        .filter_map(|r| r.token.clone())
        .collect();
    // No client of this binary ever sent the token server a Bearer token.
    for r in reg.server.requests() {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(!auth.to_ascii_lowercase().starts_with("bearer"), "{r:?}");
    }

    // Registry: only Bearer tokens the token server issued, never Basic.
    let to_registry = proxy.requests();
    assert!(to_registry.len() >= 5, "{to_registry:#?}");
    let mut bearer = 0;
    for r in &to_registry {
        for (k, v) in &r.headers {
            assert!(
                !v.contains("alice-pass") && !v.contains(&b64("alice:alice-pass")),
                "{k}: {v}"
            );
        }
        match r.header("authorization") {
            None => {}
            Some(v) => {
                let token = v.strip_prefix("Bearer ").unwrap_or_else(|| panic!("{r:?}"));
                assert!(issued.iter().any(|t| t == token), "{r:?}");
                bearer += 1;
            }
        }
    }
    assert!(bearer >= 4, "{to_registry:#?}");
}

#[tokio::test]
async fn token_tls_registry_with_a_plain_http_realm() {
    let Some(reg) = registry::start_token(true) else {
        return;
    };
    assert!(reg.base_url.starts_with("https://"));
    // Credentials are not sent to a plain-http realm for an https registry.
    let client = reg
        .client_builder()
        .authenticator(flow("alice", "alice-pass", "tls-realm"))
        .build()
        .unwrap();
    let err = manifest_digest(&client, &reg.images().alice)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("plain http"), "{err}");
    assert!(reg.server.requests().is_empty());

    // Opting in lets them go.
    let client = reg
        .client_builder()
        .authenticator(flow("alice", "alice-pass", "tls-realm"))
        .danger_allow_insecure_realm(true)
        .build()
        .unwrap();
    assert_eq!(
        manifest_digest(&client, &reg.images().alice).await.unwrap(),
        reg.images().alice.manifest_digest
    );
    let requests = reg.server.requests_from("tls-realm");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].user.as_deref(), Some("alice"));
}

#[test]
fn registry_2_8_2_token_auth_facts() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let challenge = format!(
        r#"Bearer realm="{}",service="{TOKEN_SERVICE}""#,
        reg.realm()
    );
    let envelope = |r: &registry::RawResponse| r.json()["errors"][0].clone();

    // Nothing, or Basic credentials: the bare challenge.
    for headers in [
        vec![],
        vec![(
            "Authorization",
            format!("Basic {}", b64("alice:alice-pass")),
        )],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = reg.raw("GET", "/v2/", &headers);
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some(challenge.as_str()));
        assert_eq!(
            envelope(&r),
            json!({"code": "UNAUTHORIZED", "message": "authentication required", "detail": null})
        );
    }

    let with = |token: &str, path: &str| {
        let auth = format!("Bearer {token}");
        reg.raw("GET", path, &[("Authorization", auth.as_str())])
    };
    // A token without access opens /v2/ and nothing else.
    let empty = reg.server.mint("nobody", json!([]), 60);
    assert_eq!(with(&empty, "/v2/").status, 200);
    let r = with(&empty, "/v2/alice/app/tags/list");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(
                r#"{},scope="repository:alice/app:pull",error="insufficient_scope""#,
                challenge
            )
            .as_str()
        )
    );
    assert_eq!(
        envelope(&r),
        json!({"code": "UNAUTHORIZED", "message": "authentication required",
               "detail": [{"Type": "repository", "Class": "", "Name": "alice/app", "Action": "pull"}]})
    );
    let r = with(&empty, "/v2/_catalog");
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .ends_with(r#",scope="registry:catalog:*",error="insufficient_scope""#));

    // The access a token carries is what the registry checks.
    let pull = json!([{"type": "repository", "name": "alice/app", "actions": ["pull"]}]);
    let ok = reg.server.mint("alice", pull.clone(), 60);
    let r = with(&ok, "/v2/alice/app/tags/list");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["tags"], json!(["v1"]));

    // exp is checked with 60 s of leeway.
    let late = reg.server.mint("alice", pull.clone(), -30);
    assert_eq!(with(&late, "/v2/alice/app/tags/list").status, 200);
    let expired = reg.server.mint("alice", pull.clone(), -120);
    let r = with(&expired, "/v2/alice/app/tags/list");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(r#"{challenge},scope="repository:alice/app:pull",error="invalid_token""#)
                .as_str()
        )
    );
    assert_eq!(envelope(&r)["code"], "UNAUTHORIZED");

    // Malformed, wrong audience, wrong issuer, audience as an array: invalid.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |aud: serde_json::Value, iss: &str| {
        json!({"iss": iss, "sub": "alice", "aud": aud, "exp": now + 60, "nbf": now,
               "iat": now, "jti": format!("facts-{now}"), "access": pull})
    };
    for (token, what) in [
        ("not-a-jwt".to_string(), "garbage"),
        (
            reg.server
                .sign_claims(&claims(json!("other-service"), registry::TOKEN_ISSUER)),
            "audience",
        ),
        (
            reg.server
                .sign_claims(&claims(json!(TOKEN_SERVICE), "someone-else")),
            "issuer",
        ),
        (
            reg.server
                .sign_claims(&claims(json!([TOKEN_SERVICE]), registry::TOKEN_ISSUER)),
            "audience array",
        ),
    ] {
        let r = with(&token, "/v2/alice/app/tags/list");
        assert_eq!(r.status, 401, "{what}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .ends_with(r#"error="invalid_token""#),
            "{what}: {:?}",
            r.header("www-authenticate")
        );
    }
    // ... while the same claims with a string audience are fine.
    let good = reg
        .server
        .sign_claims(&claims(json!(TOKEN_SERVICE), registry::TOKEN_ISSUER));
    assert_eq!(with(&good, "/v2/alice/app/tags/list").status, 200);
}

// ---------------------------------------------------------------------------
// Mutual TLS (distribution 2.8.2 with http.tls.clientcas)
// ---------------------------------------------------------------------------

/// The default number of retries with short waits, so that a refused
/// handshake the client retries costs milliseconds.
fn fast_retry() -> RetryConfig {
    RetryConfig::new(
        3,
        Duration::from_millis(10),
        Duration::from_millis(50),
        Duration::from_secs(10),
    )
}

/// Every error of a chain (a boxed cause shows up as a `Box<Error>`), with
/// the joined, lower-cased text of all of them.
fn error_chain(err: &Error) -> (Vec<&Error>, String) {
    let mut errors = Vec::new();
    let mut text = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if let Some(cause) = e
            .downcast_ref::<Error>()
            .or_else(|| e.downcast_ref::<Box<Error>>().map(|b| &**b))
        {
            errors.push(cause);
        }
        text.push(e.to_string());
        source = e.source();
    }
    (errors, text.join(" / ").to_lowercase())
}

/// A handshake the registry aborted for want of a trusted client
/// certificate: `Error::Http`, or `RetriesExhausted` wrapping one, and no
/// HTTP status. Returns whether the message names the TLS alert.
///
/// Under TLS 1.3 the client finishes its side of the handshake before the
/// server checks the certificate, so the server's alert (`BadCertificate`
/// from 2.8.2) meets the first request. hyper then often reports only
/// "operation was canceled: connection closed" (reqwest#2649), now and then
/// "stream closed because of a broken pipe", which the client retries;
/// those forms are accepted here and pinned down by the ignored
/// `mtls_refusal_names_the_tls_alert_and_is_not_retried`.
fn assert_mtls_refused(err: &Error, what: &str) -> bool {
    assert!(err.status().is_none(), "{what}: {err:?}");
    let (errors, chain) = error_chain(err);
    match errors.as_slice() {
        [Error::Http { .. }] | [Error::RetriesExhausted { .. }, Error::Http { .. }] => {}
        _ => panic!("{what}: not a transport error: {err:?}"),
    }
    let named = chain.contains("received fatal alert: badcertificate");
    let masked = ["connection closed", "broken pipe", "connection reset"]
        .iter()
        .any(|m| chain.contains(m));
    assert!(named || masked, "{what}: {chain}");
    named
}

#[tokio::test]
async fn mtls_client_certificate_opens_the_registry() {
    let Some(reg) = HtpasswdRegistry::shared_mtls() else {
        return;
    };
    let image = reg.image();
    // The certificate then its key, as PKCS#8 and as SEC1.
    for (what, identity) in [
        ("PKCS#8 key", reg.identity_pem()),
        ("SEC1 key", reg.identity_pem_sec1()),
    ] {
        let client = reg
            .client_builder()
            .client_identity_pem(&identity)
            .build()
            .unwrap();
        let ping = client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(ping.is_ok(), "{what}: {ping:?}");
        assert_eq!(ping.api_version.as_deref(), Some("registry/2.0"));
        assert_eq!(tags(&client, &image.repo).await.unwrap(), ["v1"], "{what}");
        assert_eq!(
            manifest_digest(&client, image).await.unwrap(),
            image.manifest_digest,
            "{what}"
        );
        let config: Digest = image.config_digest.parse().unwrap();
        let bytes = client
            .blob_bytes(&name(&image.repo), &config, 1 << 20)
            .await
            .unwrap();
        assert_eq!(bytes, image.config, "{what}");
    }
}

#[tokio::test]
async fn mtls_without_a_trusted_client_certificate_is_refused() {
    let Some(reg) = HtpasswdRegistry::shared_mtls() else {
        return;
    };
    let started = Instant::now();
    for (what, identity, registry_says) in [
        (
            "no client certificate",
            None,
            "tls: client didn't provide a certificate",
        ),
        (
            "a client certificate from another CA",
            Some(reg.untrusted_identity_pem()),
            "tls: failed to verify client certificate: x509: certificate signed by unknown \
             authority",
        ),
    ] {
        let mut builder = reg.client_builder().retry(fast_retry());
        if let Some(pem) = &identity {
            builder = builder.client_identity_pem(pem);
        }
        let client = builder.build().unwrap();
        let err = client.ping().await.expect_err(what);
        assert_mtls_refused(&err, what);
        let err = tags(&client, &reg.image().repo).await.expect_err(what);
        assert_mtls_refused(&err, what);
        // The registry refused the handshake, for the reason expected.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !reg.log().contains(registry_says) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = reg.log();
        assert!(log.contains(registry_says), "{what}: registry log:\n{log}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// What the refusal should look like: every refused request names the TLS
/// alert and costs one handshake. Fails today (see
/// `assert_mtls_refused`): most attempts end as "connection closed" and are
/// retried.
#[tokio::test]
#[ignore = "dockreg bug: a refused client certificate (TLS 1.3) mostly surfaces as a retried \
            \"connection closed\""]
async fn mtls_refusal_names_the_tls_alert_and_is_not_retried() {
    let Some(reg) = registry::HtpasswdRegistry::start_mtls() else {
        return;
    };
    let handshakes = || reg.log().matches("http: TLS handshake error").count();
    let mut masked = Vec::new();
    let mut calls = 0;
    for (what, identity) in [
        ("no client certificate", None),
        (
            "untrusted client certificate",
            Some(reg.untrusted_identity_pem()),
        ),
    ] {
        let mut builder = reg.client_builder().retry(fast_retry());
        if let Some(pem) = &identity {
            builder = builder.client_identity_pem(pem);
        }
        let client = builder.build().unwrap();
        for _ in 0..10 {
            let err = client.ping().await.expect_err(what);
            calls += 1;
            if !assert_mtls_refused(&err, what) {
                masked.push(format!("{what}: {err}"));
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let handshakes = handshakes();
    assert!(
        masked.is_empty() && handshakes == calls,
        "{calls} refused requests took {handshakes} handshakes; {} did not name the alert:\n{}",
        masked.len(),
        masked.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------

/// A redirect the client refused to follow: `Error::Http` (or a retry
/// wrapper around one) of kind redirect that says why.
fn assert_redirect_refused(err: &Error, what: &str) {
    assert!(err.status().is_none(), "{what}: {err:?}");
    let (errors, chain) = error_chain(err);
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, Error::Http { source, .. } if source.is_redirect())),
        "{what}: no refused redirect in {err:?}"
    );
    assert!(
        chain.contains("redirect from https to plain http refused"),
        "{what}: {chain}"
    );
}

#[tokio::test]
async fn https_redirect_to_plain_http_is_refused() {
    // The plain-http target answers anything, so a followed redirect would
    // succeed (and show up in its log).
    let plain = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "down", "tags": ["leaked"]})),
        )
        .mount(&plain)
        .await;
    let Some(server) = HtpasswdRegistry::start_https_redirector(&plain.uri()) else {
        return;
    };
    let client = Client::builder(&server.base_url)
        .root_certificate_pem(server.ca_pem())
        .build()
        .unwrap();
    assert!(client.ping().await.unwrap().is_ok());

    // Control: a redirect that stays on https is followed.
    assert_eq!(tags(&client, "up").await.unwrap(), ["followed"]);
    assert!(
        server.saw("GET /v2/landed/tags/list"),
        "{:?}",
        server.requests()
    );

    // Down to plain http: refused, whatever the endpoint.
    let err = tags(&client, "down").await.unwrap_err();
    assert_redirect_refused(&err, "tags");
    assert!(
        err.to_string()
            .contains(&format!("GET {}/v2/down/tags/list", server.base_url)),
        "{err}"
    );
    let err = client.manifest(&name("down"), &v1()).await.unwrap_err();
    assert_redirect_refused(&err, "manifest");
    let digest = Digest::sha256(b"a blob kept in storage");
    let err = client
        .blob_bytes(&name("down"), &digest, 1 << 20)
        .await
        .unwrap_err();
    assert_redirect_refused(&err, "blob");

    // The https server sent each redirect; the plain one saw nothing.
    for request in [
        "GET /v2/down/tags/list".to_string(),
        "GET /v2/down/manifests/v1".to_string(),
        format!("GET /v2/down/blobs/{digest}"),
    ] {
        assert!(server.saw(&request), "{request}: {:?}", server.requests());
    }
    let reached = plain.received_requests().await.unwrap();
    assert!(
        reached.is_empty(),
        "the plain-http target was reached: {reached:#?}"
    );
}

/// An upload `Location` is not a redirect, but it moves the transfer the
/// same way: from an https registry it must not lead to plain http.
#[tokio::test]
async fn https_upload_location_on_plain_http_is_refused() {
    let plain = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(202).insert_header("Location", "/v2/down/blobs/uploads/next"),
        )
        .mount(&plain)
        .await;
    let Some(server) = HtpasswdRegistry::start_https_redirector(&plain.uri()) else {
        return;
    };
    let client = Client::builder(&server.base_url)
        .root_certificate_pem(server.ca_pem())
        .build()
        .unwrap();
    let err = client.start_upload(&name("down")).await.unwrap_err();
    assert!(matches!(err, dockreg::Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("plain http"), "{err}");
    assert!(
        server.saw("POST /v2/down/blobs/uploads/"),
        "{:?}",
        server.requests()
    );
    let reached = plain.received_requests().await.unwrap();
    assert!(
        reached.is_empty(),
        "the plain-http target was reached: {reached:#?}"
    );
}
