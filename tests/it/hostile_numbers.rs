//! A registry that sends hostile numbers: `Retry-After` of u64::MAX seconds
//! or of a date in year 9999, an `OCI-Chunk-Min-Length` of a tebibyte,
//! upload `Range`s that overflow or run backwards, `Content-Length`s that
//! announce the whole limit and send a few bytes, resumes whose
//! `Content-Range` does not add up. Each ends in a typed error (or the
//! right answer), never a panic, an abort, a hang or an allocation sized by
//! the registry's word.

use crate::mock;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dockreg::api::PushOutcome;
use dockreg::http::{Limits, RetryConfig};
use dockreg::models::{media_type, Descriptor};
use dockreg::transfer::OciLayout;
use dockreg::{Client, Digest, Error, RepositoryName, TagOrDigest};
use futures::{stream, Stream, TryStreamExt};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---- the largest allocation this thread made ----------------------------

/// Notes the largest single allocation of each thread, so a test can tell
/// whether something was sized by a number the server sent.
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every call goes to `System` unchanged; `note` only touches a
// const-initialised thread-local `Cell` (no allocation, no destructor).
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns its output with the largest allocation this thread
/// made meanwhile. (`#[tokio::test]` runs the test's tasks on its thread.)
async fn largest_allocation<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let out = f.await;
    (out, LARGEST.with(Cell::get))
}

const MIB: usize = 1 << 20;

// ---- helpers ----------------------------------------------------------------

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// A retry policy with real retries and short waits (the mock client has
/// retries off).
fn retrying(server: &str) -> Client {
    Client::builder(server)
        .retry(RetryConfig::new(
            3,
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_secs(20),
        ))
        .build()
        .unwrap()
}

/// Fails the test instead of hanging it.
async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the client hung on a hostile number")
}

async fn received(server: &MockServer, verb: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb)
        .collect()
}

fn pieces(data: &[u8], size: usize) -> impl Stream<Item = dockreg::Result<Bytes>> + Send {
    let data = Bytes::copy_from_slice(data);
    let out: Vec<_> = (0..data.len())
        .step_by(size)
        .map(|at| Ok(data.slice(at..(at + size).min(data.len()))))
        .collect();
    stream::iter(out)
}

/// A server that answers its n-th connection with `answers[n]` (the last
/// one repeats) as raw bytes, then closes it: for headers that lie about
/// the body that follows. Returns its base URL and the request heads.
async fn raw_server(answers: Vec<Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answers[n.min(answers.len() - 1)].clone();
            n += 1;
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, heads)
}

fn answer(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

// ---- Retry-After ------------------------------------------------------------

/// A tag list that answers 503 with `retry_after` (after `delay`), then
/// (when `recover`) the list.
async fn tags_503(retry_after: &str, delay: Duration, recover: bool) -> MockServer {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", retry_after)
                .set_delay(delay),
        )
        .up_to_n_times(if recover { 1 } else { u64::MAX })
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"team/app","tags":["v1"]}"#,
        ))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

async fn tags(client: &Client) -> dockreg::Result<Vec<String>> {
    client.tags(&name("team/app")).try_collect().await
}

fn assert_503(result: dockreg::Result<Vec<String>>) {
    let err = result.expect_err("a 503 whose Retry-After passes the budget");
    assert_eq!(
        err.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_retry_after_of_u64_max_seconds_after_a_second_is_a_503() {
    let server = tags_503("18446744073709551615", Duration::from_millis(1_100), false).await;
    let client = retrying(&server.uri());
    let started = Instant::now();
    assert_503(within(10, tags(&client)).await);
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
    assert_eq!(received(&server, "GET").await.len(), 1, "not waited for");
}

#[tokio::test]
async fn a_retry_after_of_u64_max_seconds_at_once_is_a_503() {
    let server = tags_503("18446744073709551615", Duration::ZERO, false).await;
    let client = retrying(&server.uri());
    assert_503(within(10, tags(&client)).await);
    // The default policy too: its one-minute budget is no closer to 2^64 s.
    let client = Client::builder(server.uri()).build().unwrap();
    assert_503(within(10, tags(&client)).await);
    // Past u64: still "a very long time", not "no hint".
    let server = tags_503("99999999999999999999999", Duration::ZERO, false).await;
    assert_503(within(10, tags(&retrying(&server.uri()))).await);
    assert_eq!(received(&server, "GET").await.len(), 1);
}

#[tokio::test]
async fn a_retry_after_date_in_year_9999_is_a_503() {
    let server = tags_503(
        "Fri, 31 Dec 9999 23:59:59 GMT",
        Duration::from_millis(1_100),
        false,
    )
    .await;
    assert_503(within(10, tags(&retrying(&server.uri()))).await);
    assert_eq!(received(&server, "GET").await.len(), 1);
}

#[tokio::test]
async fn a_retry_after_date_in_the_past_retries_at_once() {
    let server = tags_503("Sun, 06 Nov 1994 08:49:37 GMT", Duration::ZERO, true).await;
    let started = Instant::now();
    let tags = within(10, tags(&retrying(&server.uri()))).await.unwrap();
    assert_eq!(tags, ["v1"]);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(received(&server, "GET").await.len(), 2);
}

// ---- OCI-Chunk-Min-Length ---------------------------------------------------

const UPLOAD: &str = "/v2/a/blobs/uploads/u";

/// An upload endpoint whose POST answers `OCI-Chunk-Min-Length: min`.
async fn chunk_min_registry(min: &str) -> MockServer {
    let server = mock::server().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", UPLOAD)
                .insert_header("oci-chunk-min-length", min),
        )
        .mount(&server)
        .await;
    for verb in ["PATCH", "DELETE"] {
        Mock::given(method(verb))
            .and(path(UPLOAD))
            .respond_with(ResponseTemplate::new(if verb == "PATCH" {
                202
            } else {
                204
            }))
            .mount(&server)
            .await;
    }
    server
}

async fn accept_puts(server: &MockServer, digest: &Digest) {
    Mock::given(method("PUT"))
        .and(path(UPLOAD))
        .and(query_param("digest", digest.as_str()))
        .respond_with(
            ResponseTemplate::new(201).insert_header("docker-content-digest", digest.as_str()),
        )
        .mount(server)
        .await;
}

/// Pushes `data` to `a` from a stream, asking for 1000-byte chunks.
async fn push_in_chunks(
    client: &Client,
    data: &[u8],
) -> dockreg::Result<(Digest, u64, PushOutcome)> {
    within(
        10,
        client.push_blob_stream(&name("a"), pieces(data, 1_000), None, 1_000),
    )
    .await
}

fn assert_chunk_min_refused(err: &Error, limit: u64) {
    assert!(
        matches!(err, Error::TooLarge { limit: l, .. } if *l == limit),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("1099511627776"),
        "the registry's demand: {text}"
    );
    assert!(text.contains("OCI-Chunk-Min-Length"), "{text}");
    assert!(text.contains(&limit.to_string()), "the cap: {text}");
}

#[tokio::test]
async fn a_tebibyte_chunk_minimum_fails_a_stream_push_with_a_typed_error() {
    let server = chunk_min_registry("1099511627776").await;
    let data = vec![7u8; 3_000];
    let client = mock::client(&server);
    let err = push_in_chunks(&client, &data).await.unwrap_err();
    assert_chunk_min_refused(&err, 256 << 20);
    assert!(received(&server, "PATCH").await.is_empty());
    assert!(received(&server, "PUT").await.is_empty());
    assert_eq!(
        received(&server, "DELETE").await.len(),
        1,
        "the session is cancelled"
    );
}

#[tokio::test]
async fn a_tebibyte_chunk_minimum_fails_a_layout_push_with_a_typed_error() {
    let server = chunk_min_registry("1099511627776").await;
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("img")).unwrap();
    let layer = vec![1u8; 5_000];
    let layer_digest = layout.write_blob(&layer).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = layout.write_blob(config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": media_type::OCI_LAYER, "digest": layer_digest, "size": layer.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = layout.write_blob(&manifest).unwrap();
    layout
        .add_manifest(
            Descriptor::new(
                media_type::OCI_MANIFEST,
                manifest_digest,
                manifest.len() as u64,
            ),
            Some("v1"),
        )
        .unwrap();
    let target: TagOrDigest = "v1".parse().unwrap();
    let err = within(
        10,
        mock::client(&server).push_from_layout(&layout, Some("v1"), &name("a"), &target, 2),
    )
    .await
    .unwrap_err();
    assert_chunk_min_refused(&err, 256 << 20);
    assert!(
        received(&server, "PUT").await.is_empty(),
        "nothing committed"
    );
}

#[tokio::test]
async fn a_chunk_minimum_over_a_lowered_cap_is_refused() {
    let server = chunk_min_registry("1099511627776").await;
    let mut limits = Limits::default();
    limits.chunk_min = 1 << 20;
    let client = Client::builder(server.uri())
        .retry(RetryConfig::disabled())
        .limits(limits)
        .build()
        .unwrap();
    let data = vec![7u8; 3_000];
    let err = push_in_chunks(&client, &data).await.unwrap_err();
    assert_chunk_min_refused(&err, 1 << 20);
}

#[tokio::test]
async fn a_chunk_minimum_under_the_cap_is_not_allocated_up_front() {
    // 200 MiB: honoured (under the 256 MiB cap), but a 3000-byte blob needs
    // no 200 MiB buffer; it goes up in the closing PUT.
    let server = chunk_min_registry(&(200 * MIB).to_string()).await;
    let data = vec![9u8; 3_000];
    let digest = Digest::sha256(&data);
    accept_puts(&server, &digest).await;
    let client = mock::client(&server);
    let (pushed, largest) = largest_allocation(push_in_chunks(&client, &data)).await;
    let (got, size, outcome) = pushed.unwrap();
    assert_eq!((got, size, outcome), (digest, 3_000, PushOutcome::Uploaded));
    assert!(
        largest < 16 * MIB,
        "an allocation of {largest} bytes for a 3000-byte blob"
    );
    let puts = received(&server, "PUT").await;
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].body, data);
}

#[tokio::test]
async fn a_monolithic_push_ignores_a_tebibyte_chunk_minimum() {
    // push_blob sends one PUT: no chunks, no chunk minimum to honour.
    let server = chunk_min_registry("1099511627776").await;
    let data = vec![3u8; 2_000];
    let digest = Digest::sha256(&data);
    accept_puts(&server, &digest).await;
    let (descriptor, outcome) = within(
        10,
        mock::client(&server).push_blob(&name("a"), data.clone(), OCTET),
    )
    .await
    .unwrap();
    assert_eq!(
        (descriptor.digest, outcome),
        (digest, PushOutcome::Uploaded)
    );
}

const OCTET: &str = "application/octet-stream";

// ---- upload status Range ----------------------------------------------------

/// An upload session whose status (`GET`) answers `Range: range`, and whose
/// PATCHes are accepted (after `patch_delay`).
async fn status_registry(range: &str, patch_delay: Duration) -> MockServer {
    let server = mock::server().await;
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", UPLOAD))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(UPLOAD))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", UPLOAD)
                .set_delay(patch_delay),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(UPLOAD))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("location", "/v2/a/blobs/uploads/elsewhere")
                .insert_header("range", range),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_upload_status_range_ending_at_u64_max_is_a_protocol_error() {
    let server = status_registry("0-18446744073709551615", Duration::ZERO).await;
    let client = mock::client(&server);
    let mut upload = client.start_upload(&name("a")).await.unwrap();
    let err = within(10, upload.status()).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("18446744073709551615"), "{err}");
    assert_eq!(upload.offset(), 0);
}

#[tokio::test]
async fn hostile_upload_status_ranges_leave_the_upload_as_it_was() {
    for range in [
        "5-3",
        "0-",
        "-5",
        "abc",
        "0-abc",
        "0-+5",
        "0--1",
        "1-10",
        "0-99", // 100 bytes, of none sent
        "0-18446744073709551614",
        "0-18446744073709551615",
        "bytes=0-99999999999999999999",
    ] {
        let server = status_registry(range, Duration::ZERO).await;
        let client = mock::client(&server);
        let mut upload = client.start_upload(&name("a")).await.unwrap();
        let before = upload.location().clone();
        let err = within(10, upload.status())
            .await
            .expect_err(&format!("Range: {range} on an empty upload"));
        assert!(matches!(err, Error::Protocol { .. }), "{range}: {err:?}");
        assert_eq!(upload.offset(), 0, "{range}");
        assert_eq!(upload.location(), &before, "{range}");
    }
}

#[tokio::test]
async fn an_upload_status_may_not_take_back_or_exceed_what_was_sent() {
    for (range, verdict) in [
        ("0-999", Ok(1_000)),
        ("0-499", Err("fewer than acknowledged")),
        ("0-1000", Err("more than sent")),
    ] {
        let server = status_registry(range, Duration::ZERO).await;
        let client = mock::client(&server);
        let mut upload = client.start_upload(&name("a")).await.unwrap();
        upload
            .write_chunk(Bytes::from(vec![1u8; 1_000]))
            .await
            .unwrap();
        assert_eq!(upload.offset(), 1_000);
        let got = within(10, upload.status()).await;
        match verdict {
            Ok(n) => {
                assert_eq!(got.unwrap(), n, "{range}");
                assert_eq!(upload.location().path(), "/v2/a/blobs/uploads/elsewhere");
            }
            Err(why) => {
                let err = got.expect_err(why);
                assert!(matches!(err, Error::Protocol { .. }), "{range}: {err:?}");
                assert_eq!(upload.offset(), 1_000, "{range}");
                assert_eq!(upload.location().path(), UPLOAD, "{range}");
            }
        }
    }
}

#[tokio::test]
async fn a_broken_chunk_whose_status_overflows_is_a_protocol_error() {
    // The first PATCH outlasts the client's timeout: the upload's status
    // is asked, and overflows.
    let server = status_registry("0-18446744073709551615", Duration::from_secs(2)).await;
    let client = Client::builder(server.uri())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let data = vec![5u8; 4_500];
    let err = within(
        10,
        client.push_blob_stream(&name("a"), pieces(&data, 4_500), None, 4_000),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(
        received(&server, "PUT").await.is_empty(),
        "nothing committed"
    );
}

// ---- Content-Length ---------------------------------------------------------

// (hyper keeps the two largest u64 values as markers of its own and refuses
// them before dockreg sees them; the largest it passes on is u64::MAX - 2.)

#[tokio::test]
async fn a_manifest_announcing_its_whole_limit_is_not_allocated_up_front() {
    // 8 MiB announced (the manifest limit), 20 bytes sent.
    let lie = answer(
        "200 OK",
        &[
            ("content-type", media_type::OCI_MANIFEST.to_string()),
            ("content-length", (8 * MIB).to_string()),
        ],
        br#"{"schemaVersion": 2"#,
    );
    let (url, _) = raw_server(vec![lie]).await;
    let client = Client::builder(url)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let (result, largest) = largest_allocation(within(
        10,
        client.manifest(&name("a"), &"v1".parse().unwrap()),
    ))
    .await;
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "a short body: {err:?}");
    assert!(largest < 4 * MIB, "an allocation of {largest} bytes for 20");
}

#[tokio::test]
async fn a_manifest_announcing_2_pow_64_bytes_is_too_large() {
    let lie = answer(
        "200 OK",
        &[
            ("content-type", media_type::OCI_MANIFEST.to_string()),
            ("content-length", (u64::MAX - 2).to_string()),
        ],
        b"{}",
    );
    let (url, _) = raw_server(vec![lie]).await;
    let client = Client::builder(url)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = within(10, client.manifest(&name("a"), &"v1".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_blob_announcing_its_whole_limit_is_not_allocated_up_front() {
    let data = b"0123456789";
    let digest = Digest::sha256(data);
    let lie = answer(
        "200 OK",
        &[("content-length", (16 * MIB).to_string())],
        data,
    );
    let (url, _) = raw_server(vec![lie]).await;
    let client = Client::builder(url)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let (result, largest) =
        largest_allocation(within(10, client.blob_bytes(&name("a"), &digest, 16 << 20))).await;
    assert!(result.is_err(), "a short body");
    assert!(largest < 4 * MIB, "an allocation of {largest} bytes for 10");
}

#[tokio::test]
async fn a_blob_announcing_2_pow_64_bytes_fails_a_download_cleanly() {
    let data = b"0123456789";
    let digest = Digest::sha256(data);
    let lie = answer(
        "200 OK",
        &[("content-length", (u64::MAX - 2).to_string())],
        data,
    );
    let (url, _) = raw_server(vec![lie]).await;
    let client = Client::builder(url)
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob");
    let err = within(10, client.download_blob(&name("a"), &digest, &dest))
        .await
        .unwrap_err();
    // Retries are off: the short body is the error itself, not a resume.
    assert!(
        matches!(err, Error::Http { .. }),
        "a short body, not resumed: {err:?}"
    );
    assert!(!dest.exists());
    let err = within(10, client.blob_bytes(&name("a"), &digest, 1 << 20))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

// ---- resumed downloads: Content-Range ---------------------------------------

/// A 10-byte blob whose first answer breaks after 4 bytes; the resume is
/// answered 206 with `content_range` and the bytes from 4 on. Returns the
/// download's result and the Range the resume asked for.
async fn resume_with(content_range: &str) -> (dockreg::Result<u64>, Option<String>) {
    let data = b"0123456789";
    let digest = Digest::sha256(data);
    let broken = answer("200 OK", &[("content-length", "10".into())], &data[..4]);
    let resumed = answer(
        "206 Partial Content",
        &[
            ("content-length", "6".into()),
            ("content-range", content_range.into()),
        ],
        &data[4..],
    );
    let (url, heads) = raw_server(vec![broken, resumed]).await;
    let client = retrying(&url);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob");
    let result = within(10, client.download_blob(&name("a"), &digest, &dest)).await;
    assert_eq!(dest.exists(), result.is_ok(), "{content_range}");
    let range = heads.lock().unwrap().get(1).and_then(|h| {
        h.lines()
            .find_map(|l| l.strip_prefix("range: ").map(str::to_owned))
    });
    (result, range)
}

#[tokio::test]
async fn a_resume_with_the_right_content_range_completes() {
    for good in ["bytes 4-9/10", "bytes 4-9/*"] {
        let (result, range) = resume_with(good).await;
        assert_eq!(result.unwrap(), 10, "{good}");
        assert_eq!(range.as_deref(), Some("bytes=4-"));
    }
}

#[tokio::test]
async fn a_resume_whose_content_range_does_not_add_up_is_refused() {
    for bad in [
        "bytes 4-2/10",                    // ends before it starts
        "bytes 4-18446744073709551615/10", // past the total
        "bytes 4-9/18446744073709551615",  // another total than announced
        "bytes 4-9/5",                     // ends past its own total
        "bytes 4-9/9",
        "bytes 4-9/11",
        "bytes 18446744073709551615-9/10",
        "bytes 4-99999999999999999999/10",
        "bytes x-9/10",
        "bytes 4-9",
        "bytes */10",
        "4-9/10",
    ] {
        let (result, _) = resume_with(bad).await;
        let err = result.expect_err(bad);
        assert!(matches!(err, Error::Protocol { .. }), "{bad}: {err:?}");
        assert!(err.to_string().contains("Content-Range"), "{bad}: {err}");
    }
}
