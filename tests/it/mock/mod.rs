//! A wiremock registry for what a real registry will not do: missing or lying
//! digest headers, lying bodies, malformed envelopes, hostile Links.
//!
//! Every server gets a catch-all route that answers 500 naming the unmocked
//! request, so a test that hits a route it did not mock fails loudly.
#![allow(dead_code)]

use dockreg::Client;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A mock server with the catch-all route mounted.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|req: &Request| {
            ResponseTemplate::new(500)
                .set_body_string(format!("unmocked route: {} {}", req.method, req.url))
        })
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// A client for the mock server. Retries are off: a mock's 5xx is the
/// case under test, not a passing fault (the fault tests cover retries).
pub fn client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .retry(dockreg::http::RetryConfig::disabled())
        .build()
        .expect("client for mock server")
}

/// A JSON response with a Content-Type.
pub fn json(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_ref().to_vec(), content_type)
}
