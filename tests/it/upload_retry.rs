//! Upload requests go through the same retry policy as every request: a
//! chunk the registry refused whole (503) is sent again per
//! [`RetryConfig`], and `max_retries: 0` makes the first refusal final.

use crate::mock;

use std::time::Duration;

use bytes::Bytes;
use dockreg::http::RetryConfig;
use dockreg::{Client, Error, RepositoryName};
use futures::stream;
use reqwest::StatusCode;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BLOB: &[u8] = b"0123456789abcdef";

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// An upload session whose first `PATCH` is answered 503.
async fn refusing_once() -> MockServer {
    let server = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202).insert_header("location", "/v2/a/blobs/uploads/u1"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/a/blobs/uploads/u1"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/a/blobs/uploads/u1"))
        .respond_with(
            ResponseTemplate::new(202).insert_header("location", "/v2/a/blobs/uploads/u2"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/a/blobs/uploads/u2"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer, max_retries: u32) -> Client {
    Client::builder(server.uri())
        .retry(RetryConfig::new(
            max_retries,
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_secs(10),
        ))
        .build()
        .unwrap()
}

async fn patches(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .count()
}

async fn push(client: &Client) -> dockreg::Result<(dockreg::Digest, u64)> {
    let upload = client.start_upload(&name("a")).await?;
    upload
        .push_stream(
            stream::iter([Ok(Bytes::from_static(BLOB))]),
            None,
            BLOB.len(),
        )
        .await
}

#[tokio::test]
async fn a_refused_chunk_is_sent_again_per_the_retry_config() {
    let server = refusing_once().await;
    let (digest, size) = push(&client(&server, 2)).await.unwrap();
    assert_eq!(size, BLOB.len() as u64);
    assert_eq!(digest, dockreg::Digest::sha256(BLOB));
    assert_eq!(patches(&server).await, 2, "the refused chunk, then again");
}

#[tokio::test]
async fn without_retries_a_refused_chunk_fails_at_once() {
    let server = refusing_once().await;
    let err = push(&client(&server, 0)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Registry { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(patches(&server).await, 1, "no second PATCH");
}
