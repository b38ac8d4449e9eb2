//! Fault injection against the real registry: a proxy (`tests/faults/`)
//! between the client and the registry resets, stalls, truncates and
//! corrupts bodies, answers 429/503 with `Retry-After`, HTML and plain-text
//! error pages, and lies in `Docker-Content-Digest`.
//!
//! What every test holds the client to: a read completes with the right
//! bytes or ends with a clear typed error; corrupted bytes are never
//! accepted; a failed or cancelled download leaves no file behind.

use crate::fault_proxy as faults;
use crate::registry;

use std::path::Path;
use std::time::{Duration, Instant};

use dockreg::http::RetryConfig;
use dockreg::models::ErrorCode;
use dockreg::{Client, Digest, Error, RepositoryName, TagOrDigest};
use faults::{Fault, FaultProxy, Rule};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;

/// The big blob of the brief: 64 MiB.
const BIG: u64 = 64 << 20;
/// A blob big enough to arrive in many chunks, small enough to be quick.
const MID: u64 = 8 << 20;
const MIB: u64 = 1 << 20;

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// Retries that keep the tests fast: 3 retries, 50 ms doubling to 500 ms.
fn fast_retry() -> RetryConfig {
    RetryConfig::new(
        3,
        Duration::from_millis(50),
        Duration::from_millis(500),
        Duration::from_secs(20),
    )
}

/// A client that goes through the proxy.
fn client(proxy: &FaultProxy) -> Client {
    client_with(proxy, Duration::from_secs(10), fast_retry())
}

fn client_with(proxy: &FaultProxy, read_timeout: Duration, retry: RetryConfig) -> Client {
    Client::builder(&proxy.host)
        .read_timeout(read_timeout)
        .retry(retry)
        .build()
        .expect("client for the fault proxy")
}

/// The files in a directory, to prove a failed download left nothing.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Checks that `path` holds the blob fixture of `size` bytes, byte for byte
/// (independent of dockreg's own hashing, and cheaper than hashing again in
/// a debug build).
fn assert_holds_blob(path: &Path, size: u64) {
    let on_disk = std::fs::read(path).unwrap();
    assert_eq!(on_disk.len() as u64, size, "{}", path.display());
    assert!(
        on_disk == registry::big_blob_bytes(size),
        "{} holds other bytes than the blob",
        path.display()
    );
}

/// The blob of `size` bytes in `faults/blob-SIZE`, and its digest.
fn blob(reg: &registry::Registry, size: u64) -> (RepositoryName, Digest) {
    let b = reg.seed_big_blob(&format!("faults/blob-{size}"), size);
    (name(&b.repo), b.digest.parse().unwrap())
}

/// A repository with one tag (`tag-0000`) of a small schema 2 manifest.
fn tagged(reg: &registry::Registry) -> (RepositoryName, TagOrDigest, Digest) {
    let t = reg.seed_many_tags("faults/tags", 1);
    (
        name(&t.repo),
        t.tags[0].parse().unwrap(),
        t.manifest_digest.parse().unwrap(),
    )
}

/// The `N` of each `Range: bytes=N-` the proxy saw.
fn range_starts(proxy: &FaultProxy) -> Vec<u64> {
    proxy
        .ranges()
        .iter()
        .map(|r| {
            r.strip_prefix("bytes=")
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not an open range from a byte: {r:?}"))
        })
        .collect()
}

/// Downloads through `client`, checking that progress only moves forward.
async fn download(
    client: &Client,
    repo: &RepositoryName,
    digest: &Digest,
    size: u64,
    target: &Path,
) -> dockreg::Result<u64> {
    let mut last = 0;
    client
        .download_blob_with(repo, digest, Some(size), target, |done, total| {
            assert!(done >= last, "progress went back from {last} to {done}");
            assert!(done <= size, "progress {done} past the size {size}");
            assert_eq!(total, Some(size));
            last = done;
        })
        .await
}

// ---- broken bodies ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_body_resumes_with_a_range_request() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, BIG);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::ResetMidBody { after: 8 * MIB })
            .get("/blobs/")
            .times(1),
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");

    let written = download(&client(&proxy), &repo, &digest, BIG, &target)
        .await
        .unwrap();

    assert_eq!(written, BIG);
    assert_holds_blob(&target, BIG);
    assert_eq!(entries(dir.path()), ["big.bin"], "no temp file left");
    assert_eq!(proxy.faults_applied(), 1);
    let gets = proxy.matching("GET", "/blobs/");
    assert_eq!(gets.len(), 2, "one resume: {gets:?}");
    assert_eq!(gets[0].range, None);
    let starts = range_starts(&proxy);
    assert_eq!(starts.len(), 1, "{:?}", proxy.ranges());
    assert!(
        starts[0] > 0 && starts[0] <= 8 * MIB,
        "resumed from byte {} after a reset at {}",
        starts[0],
        8 * MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_on_every_attempt_gives_up_and_leaves_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, BIG);
    let proxy = FaultProxy::start(&reg.host).await;
    // The first answer breaks after 1 MiB (so a partial temp file exists),
    // every resume right after its headers.
    proxy.set(
        Rule::new(Fault::ResetMidBody { after: MIB })
            .get("/blobs/")
            .times(1),
    );
    proxy.push(Rule::new(Fault::ResetMidBody { after: 0 }).get("/blobs/"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");

    let err = download(&client(&proxy), &repo, &digest, BIG, &target)
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::RetriesExhausted { .. }),
        "expected RetriesExhausted, got {err:?}"
    );
    assert!(err.to_string().contains("gave up after"), "{err}");
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );
    // Every resume asked for the same rest of the blob.
    let starts = range_starts(&proxy);
    assert!(!starts.is_empty(), "no resume was tried");
    assert!(
        starts
            .iter()
            .all(|s| *s == starts[0] && *s > 0 && *s <= MIB),
        "{starts:?}"
    );
    // Bounded: the first GET plus at most 4 resumes of at most 4 attempts.
    let gets = proxy.count("GET", "/blobs/");
    assert!((2..=17).contains(&gets), "{gets} GETs");

    // A file already at the destination is left as it was.
    std::fs::write(&target, b"keep me").unwrap();
    proxy.reset_log();
    download(&client(&proxy), &repo, &digest, BIG, &target)
        .await
        .unwrap_err();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert_eq!(entries(dir.path()), ["big.bin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_times_out_and_resumes() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Stall {
            after: 2 * MIB,
            for_: Duration::from_secs(5),
        })
        .get("/blobs/")
        .times(1),
    );
    let client = client_with(&proxy, Duration::from_secs(1), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let written = download(&client, &repo, &digest, MID, &target)
        .await
        .unwrap();

    assert_eq!(written, MID);
    assert_holds_blob(&target, MID);
    assert_eq!(entries(dir.path()), ["mid.bin"]);
    // The read timeout fired (the stall lasts longer than it) and the
    // transfer went on from where it stopped.
    let starts = range_starts(&proxy);
    assert_eq!(starts.len(), 1, "{:?}", proxy.ranges());
    assert!(starts[0] > 0 && starts[0] <= 2 * MIB, "{starts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_resumed_never_accepted_short() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    // Every answer, the resumes included, ends cleanly 3 MiB into its body
    // while its Content-Length promises more.
    proxy.set(Rule::new(Fault::Truncate { after: 3 * MIB }).get("/blobs/"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let written = download(&client(&proxy), &repo, &digest, MID, &target)
        .await
        .unwrap();

    assert_eq!(written, MID);
    assert_holds_blob(&target, MID);
    assert_eq!(entries(dir.path()), ["mid.bin"]);
    // A clean close delivers every byte sent: the resumes start exactly at
    // the cuts.
    assert_eq!(range_starts(&proxy), [3 * MIB, 6 * MIB]);

    // The stream gives the same bytes.
    let mut stream = client(&proxy).blob_stream(&repo, &digest).await.unwrap();
    let mut hasher = dockreg::digest::Hasher::new(dockreg::digest::Algorithm::Sha256);
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.unwrap());
    }
    assert_eq!(hasher.finish(), digest);
    assert_eq!(stream.bytes_read(), MID);
}

#[tokio::test]
async fn a_body_cut_before_its_first_byte_every_time_gives_up() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::Truncate { after: 0 }).get("/blobs/"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let err = download(&client(&proxy), &repo, &digest, MID, &target)
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 4, .. }),
        "expected 4 attempts without progress, got {err:?}"
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    assert_eq!(proxy.count("GET", "/blobs/"), 4);
    assert!(proxy.ranges().is_empty(), "nothing arrived to resume from");
}

#[tokio::test]
async fn a_truncated_manifest_is_an_error_not_a_short_manifest() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Truncate { after: 10 })
            .get("/manifests/")
            .times(1),
    );
    // Without retries the cut body is an error (with them, it is fetched
    // again: a_small_body_broken_once_is_retried).
    let client = client_with(&proxy, Duration::from_secs(10), RetryConfig::disabled());

    let err = client.manifest(&repo, &tag).await.unwrap_err();
    assert!(
        matches!(err, Error::Http { .. } | Error::RetriesExhausted { .. }),
        "expected a transport error, got {err:?}"
    );
    // The next attempt (no fault left) reads it whole and verified.
    let m = client.manifest(&repo, &tag).await.unwrap();
    assert_eq!(m.digest().unwrap(), digest);
}

/// `RetryConfig` retries connection failures and timeouts of `GET`s, and
/// `retryable_error` counts a broken body (`is_body`, `is_decode`) as one;
/// but a manifest or tag-list body is read after `send_any` returned, by
/// `read_limited`, outside the retry loop.
#[tokio::test]
async fn a_small_body_broken_once_is_retried() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let client = client_with(&proxy, Duration::from_secs(1), fast_retry());
    for fault in [
        Fault::Truncate { after: 10 },
        Fault::ResetMidBody { after: 10 },
        Fault::Stall {
            after: 10,
            for_: Duration::from_secs(3),
        },
    ] {
        proxy.set(Rule::new(fault.clone()).get("/manifests/").times(1));
        proxy.reset_log();
        let got = client.manifest(&repo, &tag).await;
        assert_eq!(
            got.as_ref().ok().map(|m| m.digest().unwrap()),
            Some(digest.clone()),
            "{fault:?}: {got:?}"
        );
        assert_eq!(proxy.count("GET", "/manifests/"), 2, "{fault:?}");

        proxy.set(Rule::new(fault.clone()).get("/tags/list").times(1));
        let tags: Vec<String> = client.tags(&repo).try_collect().await.unwrap_or_else(|e| {
            panic!("{fault:?}: the tag list failed: {e:?}");
        });
        // Other tests add tags to this repository; ours must be listed.
        assert!(tags.contains(&tag.to_string()), "{fault:?}: {tags:?}");
    }
}

// ---- corrupted bytes ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_is_a_digest_mismatch_and_leaves_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::FlipByte { at: 5 * MIB }).get("/blobs/"));
    let client = client(&proxy);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let err = download(&client, &repo, &digest, MID, &target)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { ref expected, ref actual, .. }
            if *expected == digest && *actual != digest),
        "{err:?}"
    );
    assert!(err.is_verification_failure());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));

    // The same through download_blob, onto an existing file: kept as it was.
    std::fs::write(&target, b"keep me").unwrap();
    let err = client
        .download_blob(&repo, &digest, &target)
        .await
        .unwrap_err();
    assert!(err.is_verification_failure(), "{err:?}");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert_eq!(entries(dir.path()), ["mid.bin"]);

    // A stream consumer gets every byte, then the mismatch as the last item.
    let stream = client.blob_stream(&repo, &digest).await.unwrap();
    let items: Vec<dockreg::Result<bytes::Bytes>> = stream.collect().await;
    let (last, data) = items.split_last().expect("items");
    let received: usize = data.iter().map(|c| c.as_ref().unwrap().len()).sum();
    assert_eq!(received as u64, MID);
    match last {
        Err(e @ Error::DigestMismatch { expected, .. }) => {
            assert_eq!(*expected, digest);
            assert!(e.is_verification_failure());
        }
        other => panic!("the last item should be the mismatch, got {other:?}"),
    }
    // No retry hides a corruption: one GET per read.
    assert_eq!(proxy.count("GET", "/blobs/"), 3);

    // A corruption in the resumed part is caught just the same.
    proxy.set(
        Rule::new(Fault::ResetMidBody { after: 2 * MIB })
            .get("/blobs/")
            .times(1),
    );
    proxy.push(Rule::new(Fault::FlipByte { at: 100 }).get("/blobs/"));
    proxy.reset_log();
    let err = download(&client, &repo, &digest, MID, &target)
        .await
        .unwrap_err();
    assert!(err.is_verification_failure(), "{err:?}");
    assert_eq!(range_starts(&proxy).len(), 1, "{:?}", proxy.ranges());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert_eq!(entries(dir.path()), ["mid.bin"]);
}

#[tokio::test]
async fn a_flipped_digit_in_a_manifest_is_a_digest_mismatch() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let client = client(&proxy);
    // A hex digit of the config digest: the JSON stays valid.
    let original = client.manifest(&repo, &tag).await.unwrap();
    let text = String::from_utf8(original.bytes().to_vec()).unwrap();
    let at = text.find("sha256:").expect("a digest in the manifest") + 7;
    proxy.set(Rule::new(Fault::FlipByte { at: at as u64 }).get("/manifests/"));

    for reference in [tag.clone(), TagOrDigest::Digest(digest.clone())] {
        let err = client.manifest(&repo, &reference).await.unwrap_err();
        assert!(
            matches!(err, Error::DigestMismatch { ref actual, .. } if *actual != digest),
            "{reference}: {err:?}"
        );
        assert!(err.is_verification_failure());
    }
}

// ---- retried statuses -----------------------------------------------------

#[tokio::test]
async fn a_503_with_retry_after_is_retried_until_it_succeeds() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Status {
            code: 503,
            retry_after: Some("1".into()),
        })
        .get("/manifests/")
        .times(2),
    );
    let started = Instant::now();

    let m = client(&proxy).manifest(&repo, &tag).await.unwrap();

    assert_eq!(m.digest().unwrap(), digest);
    let gets = proxy.matching("GET", "/manifests/");
    assert_eq!(gets.len(), 3, "two retries: {gets:?}");
    // Retry-After: 1 was waited for each time (lower bounds only).
    for pair in gets.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    }
    assert!(started.elapsed() >= Duration::from_millis(1900));
}

#[tokio::test]
async fn a_429_forever_gives_up_after_four_attempts() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, _) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Status {
            code: 429,
            retry_after: None,
        })
        .path("/manifests/"),
    );

    let err = client(&proxy).manifest(&repo, &tag).await.unwrap_err();

    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(err.code(), Some(&ErrorCode::TooManyRequests));
    assert!(
        matches!(&err, Error::RetriesExhausted { source, .. }
            if matches!(**source, Error::Registry { .. })),
        "the last failure is the registry's answer: {err:?}"
    );
    assert_eq!(proxy.count("GET", "/manifests/"), 4);
}

#[tokio::test]
async fn a_retry_after_http_date_is_honoured() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    // An HTTP date 3 s after the answer: at least 2 s once truncated.
    proxy.set(
        Rule::new(Fault::StatusUntil {
            code: 503,
            wait: Duration::from_secs(3),
        })
        .get("/manifests/")
        .times(1),
    );

    let m = client(&proxy).manifest(&repo, &tag).await.unwrap();
    assert_eq!(m.digest().unwrap(), digest);
    let gets = proxy.matching("GET", "/manifests/");
    assert_eq!(gets.len(), 2, "{gets:?}");
    let gap = gets[1].at - gets[0].at;
    // The 50 ms backoff alone would retry at once: the date was waited for.
    assert!(gap >= Duration::from_millis(1000), "retried after {gap:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, _) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Status {
            code: 503,
            retry_after: Some("3600".into()),
        })
        .path("/manifests/"),
    );

    let client = client(&proxy);
    let err = tokio::time::timeout(Duration::from_secs(30), client.manifest(&repo, &tag))
        .await
        .expect("an hour's Retry-After past a 20 s budget must not be waited for")
        .unwrap_err();

    assert_eq!(
        err.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(&ErrorCode::Unavailable));
    assert_eq!(proxy.count("GET", "/manifests/"), 1);
}

#[tokio::test]
async fn an_upload_post_answered_503_is_retried_per_the_retry_config() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Status {
            code: 503,
            retry_after: Some("0".into()),
        })
        .method("POST")
        .path("/blobs/uploads/"),
    );
    let client = client(&proxy);
    let repo = name("faults/uploads");

    // A 503 says the registry took none of the POST: it is sent again, as
    // every request is, until the retries are used up.
    let err = client.start_upload(&repo).await.unwrap_err();
    assert!(
        matches!(&err, Error::RetriesExhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.code(), Some(&ErrorCode::Unavailable));
    assert_eq!(proxy.count("POST", "/blobs/uploads/"), 4);

    // Without retries the first answer is the error.
    let once = client_with(&proxy, Duration::from_secs(10), RetryConfig::disabled());
    let err = once.start_upload(&repo).await.unwrap_err();
    assert!(
        matches!(err, Error::Registry { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE),
        "the registry's answer, not RetriesExhausted: {err:?}"
    );
    assert_eq!(proxy.count("POST", "/blobs/uploads/"), 5);

    let data = b"a blob pushed through a failing proxy".to_vec();
    let err = client
        .push_blob(&repo, data.clone(), "application/octet-stream")
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(proxy.count("POST", "/blobs/uploads/"), 9);

    // With the proxy healed the same push goes through it, start to end.
    proxy.clear();
    let (descriptor, _) = client
        .push_blob(&repo, data.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(descriptor.digest, Digest::sha256(&data));
    assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 1);
}

#[tokio::test]
async fn a_manifest_put_answered_503_is_retried() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    let client = client(&proxy);
    let manifest = client.manifest(&repo, &tag).await.unwrap();
    proxy.set(
        Rule::new(Fault::Status {
            code: 503,
            retry_after: None,
        })
        .method("PUT")
        .path("/manifests/")
        .times(1),
    );

    let pushed = client
        .put_manifest(&repo, &"retried".parse().unwrap(), &manifest)
        .await
        .unwrap();

    assert_eq!(pushed, digest);
    assert_eq!(proxy.count("PUT", "/manifests/retried"), 2);
    let direct = reg
        .client()
        .manifest_digest(&repo, &"retried".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(direct, digest);
}

// ---- error pages that are not the registry's --------------------------------

#[tokio::test]
async fn an_html_error_page_is_a_registry_error_with_a_capped_body() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, _) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::Html { code: 403 }).get("/manifests/"));
    let client = client(&proxy);
    let page = faults::html_page(403);

    let err = client.manifest(&repo, &tag).await.unwrap_err();
    match &err {
        Error::Registry {
            status,
            errors,
            body: Some(body),
            ..
        } => {
            assert_eq!(*status, StatusCode::FORBIDDEN);
            assert!(errors.is_empty(), "{errors:?}");
            assert!(page.starts_with(body.as_str()), "the start of the page");
            assert!(body.contains("<h1>403 Forbidden</h1>"), "{body}");
            assert!(
                body.len() < page.len() && body.len() <= 4096,
                "capped: {} of {} bytes kept",
                body.len(),
                page.len()
            );
        }
        other => panic!("expected Error::Registry with the page, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("403 Forbidden"), "{shown}");
    assert!(shown.len() < 1024, "the message is capped too: {shown}");
    assert_eq!(proxy.count("GET", "/manifests/"), 1, "403 is not retried");

    // A 502 page is retried, then reported the same way.
    proxy.set(Rule::new(Fault::Html { code: 502 }).get("/manifests/"));
    proxy.reset_log();
    let err = client.manifest(&repo, &tag).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
    match &err {
        Error::RetriesExhausted {
            attempts: 4,
            source,
        } => assert!(
            matches!(&**source, Error::Registry { body: Some(b), .. } if b.contains("502 Bad Gateway")),
            "{source:?}"
        ),
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(proxy.count("GET", "/manifests/"), 4);
}

#[tokio::test]
async fn a_plain_text_500_keeps_its_text() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, _) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::NotJson).get("/manifests/"));

    let once = client_with(&proxy, Duration::from_secs(10), RetryConfig::disabled());
    let err = once.manifest(&repo, &tag).await.unwrap_err();
    match &err {
        Error::Registry {
            status,
            errors,
            body,
            ..
        } => {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(errors.is_empty());
            assert_eq!(body.as_deref(), Some(faults::NOT_JSON_BODY));
        }
        other => panic!("expected Error::Registry, got {other:?}"),
    }
    assert!(err.code().is_none());
    assert!(err.to_string().contains("upstream exploded"), "{err}");
    assert_eq!(proxy.count("GET", "/manifests/"), 1);

    let err = client(&proxy).manifest(&repo, &tag).await.unwrap_err();
    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(err.to_string().contains("upstream exploded"), "{err}");
    assert_eq!(proxy.count("GET", "/manifests/"), 5);
}

// ---- lying headers ----------------------------------------------------------

#[tokio::test]
async fn a_wrong_digest_header_is_a_mismatch() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let lie: Digest = faults::OTHER_DIGEST.parse().unwrap();
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::WrongDigestHeader).path("/manifests/"));
    let client = client(&proxy);

    // GET by tag: the body is checked against the announced digest.
    let err = client.manifest(&repo, &tag).await.unwrap_err();
    match &err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(*expected, lie);
            assert_eq!(*actual, digest);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }

    // HEAD by digest: the announced digest must be the one asked for.
    let err = client
        .manifest_digest(&repo, &TagOrDigest::Digest(digest.clone()))
        .await
        .unwrap_err();
    match &err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(*expected, digest);
            assert_eq!(*actual, lie);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(err.is_verification_failure());
    assert_eq!(proxy.count("HEAD", "/manifests/"), 1);
}

// ---- resumes that go wrong ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_answered_with_the_whole_body_skips_what_it_had() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::ResetMidBody { after: 3 * MIB })
            .get("/blobs/")
            .times(1),
    );
    proxy.push(Rule::new(Fault::IgnoreRange).get("/blobs/"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let written = download(&client(&proxy), &repo, &digest, MID, &target)
        .await
        .unwrap();

    assert_eq!(written, MID);
    assert_holds_blob(&target, MID);
    assert_eq!(entries(dir.path()), ["mid.bin"]);
    assert_eq!(
        range_starts(&proxy).len(),
        1,
        "the resume asked for a range"
    );
}

#[tokio::test]
async fn a_resume_at_the_wrong_byte_is_refused() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, MID);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::ResetMidBody { after: 3 * MIB })
            .get("/blobs/")
            .times(1),
    );
    proxy.push(Rule::new(Fault::ShiftContentRange).get("/blobs/"));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mid.bin");

    let err = download(&client(&proxy), &repo, &digest, MID, &target)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("Content-Range"), "{err}");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

// ---- cancellation -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_download_leaves_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, digest) = blob(reg, BIG);
    let proxy = FaultProxy::start(&reg.host).await;
    // A stall far into the body: the download cannot finish before it is
    // cancelled, whatever the machine's speed.
    let stall = || {
        Rule::new(Fault::Stall {
            after: 16 * MIB,
            for_: Duration::from_secs(20),
        })
        .get("/blobs/")
    };
    proxy.set(stall());
    let client = client_with(&proxy, Duration::from_secs(30), fast_retry());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");

    // Aborted as a task after the first progress callback.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = {
        let (client, repo, digest, target) =
            (client.clone(), repo.clone(), digest.clone(), target.clone());
        tokio::spawn(async move {
            let mut tx = Some(tx);
            client
                .download_blob_with(&repo, &digest, Some(BIG), &target, move |done, _| {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(done);
                    }
                })
                .await
        })
    };
    let first = rx.await.expect("a first progress callback");
    assert!(first > 0 && first < BIG);
    let during = entries(dir.path());
    assert!(
        during.len() == 1 && during[0].starts_with(".big.bin."),
        "a temp file while it runs: {during:?}"
    );
    task.abort();
    let joined = task.await;
    assert!(
        joined.as_ref().is_err_and(|e| e.is_cancelled()),
        "the download should have been cancelled: {joined:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );

    // Dropped as a future after the first progress callback.
    proxy.set(stall());
    let notify = tokio::sync::Notify::new();
    let mut during = None;
    tokio::select! {
        res = client.download_blob_with(&repo, &digest, Some(BIG), &target, |_, _| {
            if during.is_none() {
                during = Some(entries(dir.path()));
                notify.notify_one();
            }
        }) => panic!("the download should have been dropped, it ended: {res:?}"),
        _ = notify.notified() => {}
    }
    let during = during.expect("a progress callback");
    assert!(
        during.len() == 1 && during[0].starts_with(".big.bin."),
        "a temp file while it runs: {during:?}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );
}

// ---- connections that break before an answer --------------------------------

#[tokio::test]
async fn a_connection_reset_before_any_answer_is_retried() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(Rule::new(Fault::ResetEarly).get("/manifests/").times(2));
    let client = client(&proxy);

    let m = client.manifest(&repo, &tag).await.unwrap();
    assert_eq!(m.digest().unwrap(), digest);
    assert_eq!(proxy.count("GET", "/manifests/"), 3);

    // Every time: the retries run out, the last failure is the transport's.
    proxy.set(Rule::new(Fault::ResetEarly).get("/manifests/"));
    proxy.reset_log();
    let err = client.manifest(&repo, &tag).await.unwrap_err();
    match &err {
        Error::RetriesExhausted {
            attempts: 4,
            source,
        } => assert!(matches!(**source, Error::Http { .. }), "{source:?}"),
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(err.status(), None);
    assert_eq!(proxy.count("GET", "/manifests/"), 4);
}

#[tokio::test]
async fn a_lost_answer_to_an_upload_post_is_not_retried() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::LoseAnswer)
            .method("POST")
            .path("/blobs/uploads/"),
    );

    let err = client(&proxy)
        .start_upload(&name("faults/uploads"))
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Http { ref method, .. } if method == "POST"),
        "{err:?}"
    );
    assert_eq!(proxy.count("POST", "/blobs/uploads/"), 1);
}

/// A stream of `data` in 64 KiB pieces, as `push_blob_stream` takes it.
fn pieces(data: &[u8]) -> impl futures::Stream<Item = dockreg::Result<bytes::Bytes>> + Send {
    let v: Vec<_> = data
        .chunks(64 << 10)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(v)
}

#[tokio::test]
async fn a_chunk_that_never_reached_the_registry_is_sent_again() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&reg.host).await;
    // The second PATCH breaks before the registry sees it.
    proxy.set(Rule::new(Fault::Pass).method("PATCH").times(1));
    proxy.push(Rule::new(Fault::ResetEarly).method("PATCH").times(1));
    let repo = name("faults/chunks");
    let data = registry::big_blob_bytes(3 * MIB + 11);

    let (digest, size, _) = client(&proxy)
        .push_blob_stream(&repo, pieces(&data), None, MIB as usize)
        .await
        .unwrap();

    assert_eq!(digest, Digest::sha256(&data));
    assert_eq!(size, data.len() as u64);
    // Three chunks, one of them twice, after asking the upload's status.
    assert_eq!(proxy.count("PATCH", "/blobs/uploads/"), 4);
    assert_eq!(proxy.count("GET", "/blobs/uploads/"), 1);
    let stored = reg
        .client()
        .blob_bytes(&repo, &digest, 8 * MIB)
        .await
        .unwrap();
    assert!(stored == data, "the registry holds the bytes pushed");
}

#[tokio::test]
async fn a_lost_answer_to_a_chunk_ends_cleanly() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let proxy = FaultProxy::start(&reg.host).await;
    // The registry takes the second chunk; its answer is lost.
    proxy.set(Rule::new(Fault::Pass).method("PATCH").times(1));
    proxy.push(Rule::new(Fault::LoseAnswer).method("PATCH").times(1));
    let repo = name("faults/chunks");
    let data = registry::big_blob_bytes(3 * MIB + 13);
    let digest = Digest::sha256(&data);

    let result = client(&proxy)
        .push_blob_stream(&repo, pieces(&data), None, MIB as usize)
        .await;

    // distribution 2.8 cancels an upload asked about with a stale `_state`
    // (the Location from before the lost answer): "upload resumed at wrong
    // offset", 404 BLOB_UPLOAD_INVALID. The push cannot go on; what matters
    // is that it says so and that nothing half-pushed is committed.
    let direct = reg.client();
    match result {
        Ok((pushed, size, _)) => {
            assert_eq!((pushed, size), (digest.clone(), data.len() as u64));
            let stored = direct.blob_bytes(&repo, &digest, 8 * MIB).await.unwrap();
            assert!(stored == data);
        }
        Err(err) => {
            assert!(
                matches!(
                    err,
                    Error::Registry { .. } | Error::Http { .. } | Error::Protocol { .. }
                ),
                "{err:?}"
            );
            assert!(!direct.blob_exists(&repo, &digest).await.unwrap());
            assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 0, "never closed");
        }
    }
}

// ---- a stalled body and the in-flight limit ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_does_not_hold_an_in_flight_place() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let (blob_repo, blob_digest) = blob(reg, MID);
    let (repo, tag, digest) = tagged(reg);
    let proxy = FaultProxy::start(&reg.host).await;
    proxy.set(
        Rule::new(Fault::Stall {
            after: MIB,
            for_: Duration::from_secs(60),
        })
        .get("/blobs/"),
    );
    let client = Client::builder(&proxy.host)
        .max_in_flight(1)
        .read_timeout(Duration::from_secs(60))
        .retry(fast_retry())
        .build()
        .unwrap();

    let mut stream = client.blob_stream(&blob_repo, &blob_digest).await.unwrap();
    let first = stream.next().await.expect("a first chunk").unwrap();
    assert!(!first.is_empty());
    // The body is stalled for a minute; the one place is free all the same.
    let m = tokio::time::timeout(Duration::from_secs(30), client.manifest(&repo, &tag))
        .await
        .expect("a request waited for a stalled body's place")
        .unwrap();
    assert_eq!(m.digest().unwrap(), digest);
    assert!(stream.bytes_read() < MID, "still stalled");
}
