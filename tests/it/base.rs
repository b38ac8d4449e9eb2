//! `GET /v2/`: ping against the real registry, and the answers only a mock gives.

use crate::mock;
use crate::registry;

use dockreg::Error;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn ping_real_registry() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = dockreg::Client::builder(&reg.host).build().unwrap();
    let ping = client.ping().await.unwrap();
    assert_eq!(
        client.base_url().scheme(),
        "http",
        "loopback tries https, then keeps http for a plain-http registry"
    );
    assert!(ping.is_ok());
    assert_eq!(ping.api_version.as_deref(), Some("registry/2.0"));
    assert!(ping.challenges.is_empty());
}

#[tokio::test]
async fn ping_reports_the_challenge_on_401() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("docker-distribution-api-version", "registry/2.0")
                .insert_header(
                    "www-authenticate",
                    r#"Bearer realm="https://auth.example.com/token",service="registry.example.com""#,
                )
                .set_body_raw(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    let ping = mock::client(&server).ping().await.unwrap();
    assert!(ping.needs_auth());
    assert!(ping.auth_required());
    assert!(!ping.is_ok());
    // The anonymous token flow was tried: its realm does not resolve here.
    assert!(ping.auth_error.is_some());
    let c = ping.challenge().unwrap();
    assert!(c.is_bearer());
    assert_eq!(c.realm(), Some("https://auth.example.com/token"));
    assert_eq!(c.service(), Some("registry.example.com"));
}

#[tokio::test]
async fn ping_of_a_server_without_the_v2_api_is_not_found() {
    let server = mock::server().await;
    Mock::given(path("/v2/"))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found\n"))
        .mount(&server)
        .await;
    let err = mock::client(&server).ping().await.unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("/v2/"), "{err}");
}

#[tokio::test]
async fn html_from_a_proxy_is_kept_as_capped_text() {
    let server = mock::server().await;
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "x".repeat(100_000)
    );
    Mock::given(path("/v2/"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .mount(&server)
        .await;
    let err = mock::client(&server).ping().await.unwrap_err();
    match &err {
        Error::Registry {
            status,
            errors,
            body: Some(body),
            method,
            ..
        } => {
            assert_eq!(status.as_u16(), 502);
            assert!(errors.is_empty());
            assert!(body.starts_with("<html><head><title>502 Bad Gateway"));
            assert!(body.len() <= 4096, "raw body is capped, got {}", body.len());
            assert_eq!(method, "GET");
        }
        other => panic!("expected a registry error, got {other:?}"),
    }
    assert!(err.to_string().contains("502 Bad Gateway"));
}

#[tokio::test]
async fn malformed_error_envelope_falls_back_to_raw_text() {
    let server = mock::server().await;
    Mock::given(path("/v2/"))
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            r#"{"errors":[{"code":42,"message":["not","a","string"]}]"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let err = mock::client(&server).ping().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert!(err.code().is_none());
    assert!(err.to_string().contains(r#""code":42"#), "{err}");
}

#[tokio::test]
async fn connection_refused_is_an_http_error_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = dockreg::Client::builder(format!("127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = client.ping().await.unwrap_err();
    // Connection failures are retried, then reported with the last one.
    match &err {
        Error::RetriesExhausted { attempts, source } => {
            assert_eq!(*attempts, 4, "the default policy: 1 + 3 retries");
            assert!(matches!(**source, Error::Http { .. }), "{source:?}");
        }
        other => panic!("expected retries to give up, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}/v2/")),
        "{err}"
    );
}

#[test]
fn bad_registry_is_refused_before_any_request() {
    for bad in [
        "",
        "http://r.example.com/some/path",
        "ftp://r",
        "r.example.com:70000",
    ] {
        let err = dockreg::Client::builder(bad).build().unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
    }
}
