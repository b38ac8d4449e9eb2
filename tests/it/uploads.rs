//! `/v2/NAME/blobs/uploads/`: monolithic and chunked pushes, upload
//! sessions, cancels and cross-repository mounts against the real registry;
//! relative Locations, `OCI-Chunk-Min-Length`, a broken chunk and a lying
//! digest header with a mock.

use crate::mock;
use crate::registry;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dockreg::api::{PushOutcome, DEFAULT_CHUNK_SIZE};
use dockreg::digest::Algorithm;
use dockreg::models::ErrorCode;
use dockreg::{Client, Digest, Error, RepositoryName};
use futures::{stream, Stream, StreamExt, TryStreamExt};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const OCTET: &str = "application/octet-stream";

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// `len` deterministic bytes that differ with `label` (so each test pushes
/// blobs of its own).
fn bytes_for(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut seed = Digest::sha256(label.as_bytes()).hex().as_bytes().to_vec();
    while out.len() < len {
        out.extend_from_slice(&seed);
        seed = Digest::sha256(&seed).hex().as_bytes().to_vec();
    }
    out.truncate(len);
    out
}

/// `data` as a stream of pieces of the given sizes, cycled.
fn pieces(data: &[u8], sizes: &[usize]) -> impl Stream<Item = dockreg::Result<Bytes>> + Send {
    let data = Bytes::copy_from_slice(data);
    let mut out = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        out.push(Ok(data.slice(at..end)));
        at = end;
    }
    stream::iter(out)
}

/// A stream that fails the test if it is ever polled.
fn untouchable() -> impl Stream<Item = dockreg::Result<Bytes>> + Send {
    stream::poll_fn(|_| -> std::task::Poll<Option<dockreg::Result<Bytes>>> {
        panic!("the stream was read although the registry has the blob")
    })
}

/// Reads a whole blob back through the client (verified on the way).
async fn read_back(client: &Client, repo: &RepositoryName, digest: &Digest) -> Vec<u8> {
    let chunks: Vec<Bytes> = client
        .blob_stream(repo, digest)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// The upload sessions the registry still keeps for `repo` (filesystem
/// driver: `docker/registry/v2/repositories/NAME/_uploads/UUID/`, with its
/// `startedat` and `data`). A commit removes the directory; a cancel in
/// registry 2.8.2 removes `startedat` and `data` but leaves an empty
/// `hashstates/` behind, which is not a session.
pub(crate) fn open_uploads(reg: &registry::Registry, repo: &str) -> Vec<String> {
    match std::fs::read_dir(uploads_dir(reg, repo)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("startedat").exists() || p.join("data").exists())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Where the registry keeps the upload sessions of `repo`.
fn uploads_dir(reg: &registry::Registry, repo: &str) -> PathBuf {
    reg.storage_root()
        .join("docker/registry/v2/repositories")
        .join(repo)
        .join("_uploads")
}

/// The sizes an upload session was seen to have.
type Sizes = Arc<Mutex<BTreeSet<u64>>>;

/// A callback for `Stream::inspect` that records, each time the client
/// pulls a piece, the size of every upload session's `data` file of `repo`
/// (the bytes the registry has received), and the set of sizes it saw.
fn session_sizes(
    reg: &registry::Registry,
    repo: &str,
) -> (Sizes, impl FnMut(&dockreg::Result<Bytes>) + Send) {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let sessions = uploads_dir(reg, repo);
    let record = Arc::clone(&seen);
    let watch = move |_: &dockreg::Result<Bytes>| {
        for entry in std::fs::read_dir(&sessions).into_iter().flatten() {
            if let Ok(meta) = std::fs::metadata(entry.unwrap().path().join("data")) {
                record.lock().unwrap().insert(meta.len());
            }
        }
    };
    (seen, watch)
}

/// `path?query` of an absolute URL, for the harness's raw requests.
fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

// ---- the real registry ----------------------------------------------------

#[tokio::test]
async fn a_monolithic_push_reads_back_and_a_second_push_sends_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/mono");
    let data = bytes_for("monolithic", 300_001);
    let digest = Digest::sha256(&data);
    assert_eq!(client.blob_size(&repo, &digest).await.unwrap(), None);

    let (descriptor, outcome) = client.push_blob(&repo, data.clone(), OCTET).await.unwrap();
    assert_eq!(outcome, PushOutcome::Uploaded);
    assert_eq!(descriptor.digest, digest);
    assert_eq!(descriptor.size, data.len() as u64);
    assert_eq!(descriptor.media_type, OCTET);
    assert_eq!(
        client.blob_size(&repo, &digest).await.unwrap(),
        Some(data.len() as u64)
    );
    assert!(read_back(&client, &repo, &digest).await == data);
    // What the registry itself serves, byte for byte.
    let raw = reg.get(&format!("/v2/{repo}/blobs/{digest}"), None);
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("docker-content-digest"), Some(digest.as_str()));
    assert!(raw.body == data);

    // Again: the HEAD finds it, nothing is uploaded.
    let (again, outcome) = client.push_blob(&repo, data.clone(), OCTET).await.unwrap();
    assert_eq!(outcome, PushOutcome::Exists);
    assert_eq!(again, descriptor);
    // The streaming push with the digest known does not even read its stream.
    let (d, size, outcome) = client
        .push_blob_stream(&repo, untouchable(), Some(&digest), DEFAULT_CHUNK_SIZE)
        .await
        .unwrap();
    assert_eq!(
        (d, size, outcome),
        (digest, data.len() as u64, PushOutcome::Exists)
    );
    assert!(
        open_uploads(reg, "uploads/mono").is_empty(),
        "no upload session left open: {:?}",
        open_uploads(reg, "uploads/mono")
    );
}

#[tokio::test]
async fn a_40_mib_stream_goes_up_in_4_mib_chunks() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/chunked");
    // Not a multiple of the chunk size: ten PATCHes and a short final PUT.
    let size = (40 << 20) + 12_345;
    let data = registry::big_blob_bytes(size);
    let digest = Digest::sha256(&data);
    // Each time the client pulls a piece, note how many bytes the registry's
    // upload session holds on disk: it only grows by whole PATCHes.
    let (seen, watch) = session_sizes(reg, "uploads/chunked");
    let (got, got_size, outcome) = client
        .push_blob_stream(
            &repo,
            pieces(&data, &[1, 7_777, 65_537, 1_000_003, 333, 2_500_001])
                // An empty last piece, to look once more after the last PATCH.
                .chain(stream::iter([Ok(Bytes::new())]))
                .inspect(watch),
            None,
            4 << 20,
        )
        .await
        .unwrap();
    assert_eq!(outcome, PushOutcome::Uploaded);
    assert_eq!(got, digest);
    assert_eq!(got_size, size);
    let steps: Vec<u64> = (0..=10).map(|i| i * (4 << 20)).collect();
    assert_eq!(
        seen.lock().unwrap().iter().copied().collect::<Vec<_>>(),
        steps,
        "the registry received the blob 4 MiB at a time"
    );
    assert_eq!(client.blob_size(&repo, &digest).await.unwrap(), Some(size));
    assert!(read_back(&client, &repo, &digest).await == data);
    assert!(open_uploads(reg, "uploads/chunked").is_empty());
}

#[tokio::test]
async fn an_upload_session_reports_its_offset_and_finishes() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/session");
    let data = bytes_for("session", 100_000 + 2 + 250_000);
    let parts = [&data[..100_000], &data[100_000..100_002], &data[100_002..]];

    let mut upload = client.start_upload(&repo).await.unwrap();
    assert_eq!(upload.offset(), 0);
    assert_eq!(upload.location().host_str(), Some("127.0.0.1"));
    let mut written = 0u64;
    for part in parts {
        let before = upload.location().clone();
        upload
            .write_chunk(Bytes::copy_from_slice(part))
            .await
            .unwrap();
        written += part.len() as u64;
        assert_eq!(upload.offset(), written);
        assert_ne!(
            *upload.location(),
            before,
            "each PATCH answers a new Location"
        );
        // The registry agrees on how much it has.
        assert_eq!(upload.status().await.unwrap(), written);
        assert_eq!(upload.offset(), written);
    }
    assert_eq!(open_uploads(reg, "uploads/session").len(), 1);
    // Nothing is committed before finish().
    assert_eq!(
        client
            .blob_size(&repo, &Digest::sha256(&data))
            .await
            .unwrap(),
        None
    );

    let digest = upload.finish().await.unwrap();
    assert_eq!(digest, Digest::sha256(&data));
    assert_eq!(
        client.blob_size(&repo, &digest).await.unwrap(),
        Some(data.len() as u64)
    );
    assert!(read_back(&client, &repo, &digest).await == data);
    assert!(open_uploads(reg, "uploads/session").is_empty());
}

#[tokio::test]
async fn a_cancelled_upload_is_gone() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/cancel");
    let data = bytes_for("cancelled", 50_000);

    let mut upload = client.start_upload(&repo).await.unwrap();
    upload
        .write_chunk(Bytes::copy_from_slice(&data))
        .await
        .unwrap();
    let location = upload.location().clone();
    let before = reg.get(&path_and_query(&location), None);
    assert_eq!(before.status, 204, "upload status: {}", before.text());
    assert_eq!(before.header("range"), Some("0-49999"));
    assert_eq!(open_uploads(reg, "uploads/cancel").len(), 1);

    upload.cancel().await.unwrap();

    let after = reg.get(&path_and_query(&location), None);
    assert_eq!(after.status, 404, "{}", after.text());
    assert_eq!(after.json()["errors"][0]["code"], "BLOB_UPLOAD_UNKNOWN");
    assert!(open_uploads(reg, "uploads/cancel").is_empty());
    assert_eq!(
        client
            .blob_size(&repo, &Digest::sha256(&data))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_mount_from_another_repository_moves_no_bytes() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let (src, dst) = (name("uploads/mount-src"), name("uploads/mount-dst"));
    let data = bytes_for("mounted", 70_000);
    let (descriptor, _) = client.push_blob(&src, data.clone(), OCTET).await.unwrap();
    let digest = descriptor.digest;
    assert_eq!(client.blob_size(&dst, &digest).await.unwrap(), None);

    let mounted = client.mount_blob(&dst, &digest, &src).await.unwrap();
    assert!(mounted.is_none(), "201 Created: {mounted:?}");
    assert_eq!(
        client.blob_size(&dst, &digest).await.unwrap(),
        Some(data.len() as u64)
    );
    assert!(read_back(&client, &dst, &digest).await == data);
    assert!(open_uploads(reg, "uploads/mount-dst").is_empty());
}

#[tokio::test]
async fn a_mount_the_source_cannot_serve_becomes_an_upload() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let (src, dst) = (name("uploads/mount-empty"), name("uploads/mount-fallback"));
    // The source repository exists, but without this blob.
    client
        .push_blob(&src, bytes_for("something else", 10), OCTET)
        .await
        .unwrap();
    let data = bytes_for("not in the source", 90_000);
    let digest = Digest::sha256(&data);

    // Registry 2.8.2 answers 202 with a fresh upload session.
    let upload = client
        .mount_blob(&dst, &digest, &src)
        .await
        .unwrap()
        .expect("an upload session instead of a mount");
    assert_eq!(upload.offset(), 0);
    let (got, size) = upload
        .push_stream(pieces(&data, &[30_000]), Some(&digest), 32_768)
        .await
        .unwrap();
    assert_eq!((got, size), (digest.clone(), data.len() as u64));
    assert_eq!(
        client.blob_size(&dst, &digest).await.unwrap(),
        Some(data.len() as u64)
    );
    assert!(read_back(&client, &dst, &digest).await == data);
    assert_eq!(client.blob_size(&src, &digest).await.unwrap(), None);
}

#[tokio::test]
async fn a_stream_that_does_not_hash_to_the_expected_digest_commits_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/mismatch");
    let data = bytes_for("the actual bytes", 200_000);
    let actual = Digest::sha256(&data);
    let promised = Digest::sha256(b"what the caller promised");

    // Chunks of 64 KiB: three PATCHes reach the registry before the end.
    let (seen, watch) = session_sizes(reg, "uploads/mismatch");
    let err = client
        .push_blob_stream(
            &repo,
            pieces(&data, &[10_000])
                .chain(stream::iter([Ok(Bytes::new())]))
                .inspect(watch),
            Some(&promised),
            65_536,
        )
        .await
        .unwrap_err();
    assert!(
        seen.lock().unwrap().contains(&(3 * 65_536)),
        "bytes did reach the registry before the mismatch: {:?}",
        seen.lock().unwrap()
    );
    match &err {
        Error::DigestMismatch {
            expected,
            actual: got,
            ..
        } => {
            assert_eq!(*expected, promised);
            assert_eq!(*got, actual);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(err.is_verification_failure());
    for d in [&promised, &actual] {
        assert_eq!(client.blob_size(&repo, d).await.unwrap(), None, "{d}");
        let head = reg.raw("HEAD", &format!("/v2/{repo}/blobs/{d}"), &[]);
        assert_eq!(head.status, 404, "{d}");
    }
    assert!(
        open_uploads(reg, "uploads/mismatch").is_empty(),
        "the upload was cancelled: {:?}",
        open_uploads(reg, "uploads/mismatch")
    );
}

#[tokio::test]
async fn a_session_the_registry_dropped_is_not_found() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/dropped");
    let mut upload = client.start_upload(&repo).await.unwrap();
    upload
        .write_chunk(Bytes::from(bytes_for("dropped", 5_000)))
        .await
        .unwrap();
    // The session goes away behind the client's back (expired, or cancelled
    // by someone else).
    let gone = reg.raw("DELETE", &path_and_query(upload.location()), &[]);
    assert_eq!(gone.status, 204, "{}", gone.text());

    let err = upload.status().await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&ErrorCode::BlobUploadUnknown));
    // A 404 is an answer, not a broken connection: no retry, the same error.
    let err = upload
        .write_chunk(Bytes::from(bytes_for("more", 5_000)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::BlobUploadUnknown), "{err:?}");
    let err = upload.finish().await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn empty_blobs_and_whole_chunks_close_with_an_empty_put() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/edges");
    let empty = Digest::sha256(b"");

    let (descriptor, outcome) = client.push_blob(&repo, Vec::new(), OCTET).await.unwrap();
    assert_eq!((descriptor.digest, descriptor.size), (empty.clone(), 0));
    assert_eq!(outcome, PushOutcome::Uploaded);
    assert_eq!(client.blob_size(&repo, &empty).await.unwrap(), Some(0));
    // An empty stream: no PATCH at all, a PUT of nothing.
    let (d, size, _) = client
        .push_blob_stream(&name("uploads/edges-stream"), stream::empty(), None, 1024)
        .await
        .unwrap();
    assert_eq!((d, size), (empty.clone(), 0));
    assert_eq!(
        client
            .blob_size(&name("uploads/edges-stream"), &empty)
            .await
            .unwrap(),
        Some(0)
    );

    // Exactly three chunks: three PATCHes, then a PUT without a body.
    let data = bytes_for("whole chunks", 3 * 65_536);
    let (seen, watch) = session_sizes(reg, "uploads/edges");
    let (d, size, _) = client
        .push_blob_stream(
            &repo,
            pieces(&data, &[50_000])
                .chain(stream::iter([Ok(Bytes::new())]))
                .inspect(watch),
            None,
            65_536,
        )
        .await
        .unwrap();
    assert_eq!(
        (d.clone(), size),
        (Digest::sha256(&data), data.len() as u64)
    );
    assert_eq!(
        seen.lock().unwrap().iter().copied().collect::<Vec<_>>(),
        [0, 65_536, 2 * 65_536, 3 * 65_536]
    );
    assert!(read_back(&client, &repo, &d).await == data);
}

#[tokio::test]
async fn a_failing_stream_cancels_the_upload() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/failing");
    let data = bytes_for("half of it", 150_000);
    let broken = std::io::Error::other("the source went away");
    let source = pieces(&data, &[10_000]).chain(stream::iter([Err(Error::Io {
        path: "/the/source".into(),
        source: broken,
    })]));
    let (seen, watch) = session_sizes(reg, "uploads/failing");
    let err = client
        .push_blob_stream(&repo, source.inspect(watch), None, 65_536)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.to_str() == Some("/the/source")),
        "the stream's own error: {err:?}"
    );
    assert!(
        seen.lock().unwrap().contains(&(2 * 65_536)),
        "two chunks had gone up: {:?}",
        seen.lock().unwrap()
    );
    assert!(
        open_uploads(reg, "uploads/failing").is_empty(),
        "the upload was cancelled: {:?}",
        open_uploads(reg, "uploads/failing")
    );
    assert_eq!(
        client
            .blob_size(&repo, &Digest::sha256(&data))
            .await
            .unwrap(),
        None
    );
}

// ---- what only a mock does ----------------------------------------------

/// The requests the mock received with `method`, in order.
async fn received(server: &MockServer, verb: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb)
        .collect()
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `202 Accepted` with an upload `Location` (and `Range` once bytes arrived).
fn accepted(location: &str) -> ResponseTemplate {
    ResponseTemplate::new(202)
        .insert_header("location", location)
        .insert_header("docker-upload-uuid", "u")
}

/// `201 Created` for the final PUT, announcing `digest`.
fn created(digest: &Digest) -> ResponseTemplate {
    ResponseTemplate::new(201).insert_header("docker-content-digest", digest.as_str())
}

#[tokio::test]
async fn relative_locations_are_resolved_against_the_request() {
    let server = mock::server().await;
    let data = bytes_for("relative", 2_500);
    let digest = Digest::sha256(&data);
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(accepted("/v2/a/blobs/uploads/u1?_state=one"))
        .expect(1)
        .mount(&server)
        .await;
    // Relative to /v2/a/blobs/uploads/u1: a sibling path.
    Mock::given(method("PATCH"))
        .and(path("/v2/a/blobs/uploads/u1"))
        .and(query_param("_state", "one"))
        .respond_with(accepted("u2?_state=two"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/a/blobs/uploads/u2"))
        .and(query_param("_state", "two"))
        .respond_with(accepted("/v2/a/blobs/uploads/u3?_state=three"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/a/blobs/uploads/u3"))
        .and(query_param("_state", "three"))
        .and(query_param("digest", digest.as_str()))
        .respond_with(created(&digest))
        .expect(1)
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let (got, size, outcome) = client
        .push_blob_stream(&name("a"), pieces(&data, &[999]), None, 1_000)
        .await
        .unwrap();
    assert_eq!((got, size, outcome), (digest, 2_500, PushOutcome::Uploaded));
    let puts = received(&server, "PUT").await;
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].body, &data[2_000..]);
    let patches = received(&server, "PATCH").await;
    assert_eq!(patches[0].body, &data[..1_000]);
    assert_eq!(patches[1].body, &data[1_000..2_000]);
}

#[tokio::test]
async fn a_registry_minimum_chunk_length_is_honoured() {
    let server = mock::server().await;
    let data = bytes_for("min chunk", 3_500);
    let digest = Digest::sha256(&data);
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(
            accepted("/v2/a/blobs/uploads/u").insert_header("oci-chunk-min-length", "1000"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/a/blobs/uploads/u"))
        .respond_with(accepted("/v2/a/blobs/uploads/u"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/a/blobs/uploads/u"))
        .and(query_param("digest", digest.as_str()))
        .respond_with(created(&digest))
        .expect(1)
        .mount(&server)
        .await;
    let client = mock::client(&server);
    // Asked for 100-byte chunks, sent in pieces of 77: the registry's 1000 wins.
    let (got, size, _) = client
        .push_blob_stream(&name("a"), pieces(&data, &[77]), None, 100)
        .await
        .unwrap();
    assert_eq!((got, size), (digest, 3_500));
    let patches = received(&server, "PATCH").await;
    let sizes: Vec<usize> = patches.iter().map(|r| r.body.len()).collect();
    assert_eq!(sizes, [1_000, 1_000, 1_000]);
    let ranges: Vec<Option<String>> = patches.iter().map(|r| header(r, "content-range")).collect();
    assert_eq!(
        ranges,
        [
            Some("0-999".to_string()),
            Some("1000-1999".to_string()),
            Some("2000-2999".to_string())
        ]
    );
    let puts = received(&server, "PUT").await;
    assert_eq!(puts[0].body, &data[3_000..]);
}

/// Pushes 4500 bytes in chunks of 4000 through a mock whose first PATCH
/// hangs past the client's 300 ms timeout; the upload's status then reports
/// `range` (what the registry stored of the broken chunk, as distribution
/// says it: 204, inclusive `Range`, `Location`). Checks the result and
/// returns the PATCHes and the PUT the mock received.
async fn push_through_a_broken_chunk(data: &[u8], range: &str) -> (Vec<Request>, Request) {
    let server = mock::server().await;
    let digest = Digest::sha256(data);
    let upload = "/v2/a/blobs/uploads/u";
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(accepted(upload))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(upload))
        .respond_with(accepted(upload).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(upload))
        .respond_with(accepted(upload))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(upload))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("location", upload)
                .insert_header("range", range)
                .insert_header("docker-upload-uuid", "u"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(upload))
        .and(query_param("digest", digest.as_str()))
        .respond_with(created(&digest))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (got, size, outcome) = client
        .push_blob_stream(&name("a"), pieces(data, &[4_500]), None, 4_000)
        .await
        .unwrap_or_else(|e| panic!("push with the status saying {range}: {e}"));
    assert_eq!(
        (got, size, outcome),
        (digest, data.len() as u64, PushOutcome::Uploaded)
    );
    let mut puts = received(&server, "PUT").await;
    assert_eq!(puts.len(), 1);
    (received(&server, "PATCH").await, puts.remove(0))
}

fn ranges(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| header(r, "content-range").unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_broken_chunk_is_resumed_from_what_the_registry_has() {
    let data = bytes_for("resumed", 4_500);

    // The registry stored 1000 of the chunk's 4000 bytes: only the rest
    // goes again.
    let (patches, put) = push_through_a_broken_chunk(&data, "0-999").await;
    assert_eq!(ranges(&patches), ["0-3999", "1000-3999"]);
    assert_eq!(patches[0].body, &data[..4_000]);
    assert_eq!(patches[1].body, &data[1_000..4_000], "only the remainder");
    assert_eq!(put.body, &data[4_000..]);

    // It stored the whole chunk, only the answer was lost: nothing again.
    let (patches, put) = push_through_a_broken_chunk(&data, "0-3999").await;
    assert_eq!(ranges(&patches), ["0-3999"]);
    assert_eq!(put.body, &data[4_000..]);

    // It stored nothing ("0-0"): the whole chunk again.
    let (patches, put) = push_through_a_broken_chunk(&data, "0-0").await;
    assert_eq!(ranges(&patches), ["0-3999", "0-3999"]);
    assert_eq!(patches[1].body, &data[..4_000]);
    assert_eq!(put.body, &data[4_000..]);
}

#[tokio::test]
async fn a_status_beyond_the_broken_chunk_is_a_protocol_error() {
    let server = mock::server().await;
    let upload = "/v2/a/blobs/uploads/u";
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(accepted(upload))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(upload))
        .respond_with(accepted(upload).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    // More than was ever sent: the client cannot trust this upload.
    Mock::given(method("GET"))
        .and(path(upload))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("location", upload)
                .insert_header("range", "0-9999"),
        )
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let data = bytes_for("beyond", 4_500);
    let err = client
        .push_blob_stream(&name("a"), pieces(&data, &[4_500]), None, 4_000)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("10000"), "{err}");
    assert!(
        received(&server, "PUT").await.is_empty(),
        "nothing committed"
    );
}

#[tokio::test]
async fn a_put_announcing_another_digest_is_a_mismatch() {
    let server = mock::server().await;
    let data = bytes_for("lied about", 600);
    let ours = Digest::sha256(&data);
    let lie = Digest::sha256(b"something else entirely");
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/a/blobs/{ours}")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/a/blobs/uploads/"))
        .respond_with(accepted("/v2/a/blobs/uploads/u"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/a/blobs/uploads/u"))
        .and(query_param("digest", ours.as_str()))
        .respond_with(created(&lie))
        .expect(1)
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .push_blob(&name("a"), data, OCTET)
        .await
        .unwrap_err();
    match &err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(*expected, ours);
            assert_eq!(*actual, lie);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("/v2/a/blobs/uploads/u"), "{err}");
}

#[tokio::test]
async fn a_monolithic_push_of_a_blob_the_registry_has_sends_no_upload() {
    let server = mock::server().await;
    let data = bytes_for("already there", 321);
    let digest = Digest::sha256(&data);
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).insert_header("content-length", "321"))
        .expect(1)
        .mount(&server)
        .await;
    let (descriptor, outcome) = mock::client(&server)
        .push_blob(&name("a"), data, OCTET)
        .await
        .unwrap();
    assert_eq!(outcome, PushOutcome::Exists);
    assert_eq!(descriptor.digest, digest);
    // Only the HEAD reached the server (the catch-all would have logged more).
    let all = server.received_requests().await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].method.as_str(), "HEAD");
}

// ---- digests of other algorithms -------------------------------------------

/// A blob addressed by sha512 goes up in chunks and reads back: the bytes
/// are hashed with the algorithm of the digest they must match, and a
/// stream that does not match it commits nothing.
#[tokio::test]
async fn a_sha512_blob_is_pushed_in_chunks_and_a_lying_stream_commits_nothing() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = name("uploads/sha512");
    let data = bytes_for("sha512", 300_001);
    let digest = Digest::compute(Algorithm::Sha512, &data);
    let (got, size, outcome) = client
        .push_blob_stream(
            &repo,
            pieces(&data, &[65_536, 1_000]),
            Some(&digest),
            100_000,
        )
        .await
        .expect("a sha512 blob pushed from a stream");
    assert_eq!(
        (got, size, outcome),
        (digest.clone(), 300_001, PushOutcome::Uploaded)
    );
    assert_eq!(
        client.blob_size(&repo, &digest).await.unwrap(),
        Some(300_001)
    );
    assert!(read_back(&client, &repo, &digest).await == data);

    let other = bytes_for("not sha512", 1_000);
    let err = client
        .push_blob_stream(&repo, pieces(&other, &[300]), Some(&digest.clone()), 512)
        .await;
    // The registry has the blob already: nothing is read or sent.
    assert_eq!(err.unwrap().2, PushOutcome::Exists);
    let fresh = Digest::compute(Algorithm::Sha512, b"never sent");
    let err = client
        .push_blob_stream(&repo, pieces(&other, &[300]), Some(&fresh), 512)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DigestMismatch { ref actual, .. } if actual.algorithm() == Algorithm::Sha512),
        "{err:?}"
    );
    assert_eq!(client.blob_size(&repo, &fresh).await.unwrap(), None);

    // Bytes already written by hand were hashed as sha256: refused, cancelled.
    let mut upload = client.start_upload(&repo).await.unwrap();
    upload
        .write_chunk(Bytes::from_static(b"by hand"))
        .await
        .unwrap();
    let err = upload
        .push_stream(pieces(b"rest", &[4]), Some(&fresh), 512)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(open_uploads(reg, "uploads/sha512").is_empty());
}
