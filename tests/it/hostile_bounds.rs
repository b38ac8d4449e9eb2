//! Bounded everything: a hostile registry, or a hostile Docker config, cannot
//! make dockreg fetch an unbounded fan-out of manifests, stream a blob of no
//! known size until the disk is full, run a credential helper by path, wait
//! for one forever, read its answer whole, or start one per request.

use crate::mock;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockreg::auth::DockerConfig;
use dockreg::http::{Limits, RetryConfig};
use dockreg::models::{media_type, Platform};
use dockreg::transfer::CopyOptions;
use dockreg::{Client, Digest, Error, RepositoryName, TagOrDigest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every test ends within this, so a hang fails instead of blocking.
const DEADLINE: Duration = Duration::from_secs(20);

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn tag(s: &str) -> TagOrDigest {
    s.parse().unwrap()
}

fn client_with(server_uri: &str, limits: Limits) -> Client {
    Client::builder(server_uri)
        .retry(RetryConfig::disabled())
        .limits(limits)
        .build()
        .unwrap()
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {DEADLINE:?}"))
}

/// The requests a mock received whose path contains `part`.
async fn requests_to(server: &MockServer, part: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().contains(part))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
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

// ---------------------------------------------------------------------------
// Index children and layers

/// `n` distinct descriptors of `media_type`, of blobs that hold `"{what} {i}"`.
fn descriptors(n: usize, media_type: &str, what: &str) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let bytes = format!("{what} {i}");
            serde_json::json!({
                "mediaType": media_type,
                "digest": Digest::sha256(bytes.as_bytes()).to_string(),
                "size": bytes.len(),
            })
        })
        .collect()
}

/// An OCI index naming `n` distinct linux/amd64 children.
fn index_of(n: usize) -> Vec<u8> {
    let mut manifests = descriptors(n, media_type::OCI_MANIFEST, "child");
    for m in &mut manifests {
        m["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    }
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": manifests,
    }))
    .unwrap()
}

/// An OCI image manifest with `n` distinct layers.
fn image_with_layers(n: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": descriptors(1, media_type::OCI_CONFIG, "config")[0],
        "layers": descriptors(n, media_type::OCI_LAYER, "layer"),
    }))
    .unwrap()
}

/// An unsigned schema 1 manifest with `n` `fsLayers`.
fn schema1_with_layers(n: usize) -> Vec<u8> {
    let fs_layers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "blobSum": Digest::sha256(format!("layer {i}").as_bytes()).to_string()
            })
        })
        .collect();
    let history: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"v1Compatibility": format!("{{\"id\":\"{i}\"}}")}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 1,
        "name": "a",
        "tag": "v1",
        "architecture": "amd64",
        "fsLayers": fs_layers,
        "history": history,
    }))
    .unwrap()
}

async fn serve_manifest(server: &MockServer, reference: &str, content_type: &str, body: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/manifests/{reference}")))
        .respond_with(mock::json(200, content_type, body))
        .mount(server)
        .await;
}

/// Copies `a:v1` from `client` to `b:v1` on `dest`, expecting a failure.
async fn copy_to(client: &Client, dest: &MockServer) -> Error {
    within(
        "copy_image",
        client.copy_image(
            &name("a"),
            &tag("v1"),
            &mock::client(dest),
            &name("b"),
            &tag("v1"),
            &CopyOptions::default(),
        ),
    )
    .await
    .unwrap_err()
}

fn assert_too_large(err: &Error, limit: u64) {
    assert!(
        matches!(err, Error::TooLarge { limit: l, .. } if *l == limit),
        "expected TooLarge with limit {limit}, got {err:?}"
    );
}

fn assert_too_many(err: &Error, limit: u64) {
    assert!(
        matches!(err, Error::TooMany { limit: l, count, .. } if *l == limit && *count > limit),
        "expected TooMany with limit {limit}, got {err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("more than the limit of {limit}")),
        "{err}"
    );
}

#[tokio::test]
async fn an_index_over_the_children_limit_is_refused_before_any_child_is_fetched() {
    let server = mock::server().await;
    let dest = mock::server().await;
    serve_manifest(&server, "v1", media_type::OCI_INDEX, index_of(5000)).await;
    Mock::given(method("GET"))
        .and(path("/v2/a/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            br#"{"name":"a","tags":["v1"]}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let limit = Limits::default().index_children;
    assert!(limit < 5000);

    let err = within("manifest", client.manifest(&name("a"), &tag("v1")))
        .await
        .unwrap_err();
    assert_too_many(&err, limit);

    let linux = Platform::new("linux", "amd64");
    let err = within(
        "manifest_for_platform",
        client.manifest_for_platform(&name("a"), &tag("v1"), &linux),
    )
    .await
    .unwrap_err();
    assert_too_many(&err, limit);

    // The report reads: the one tag is its error row.
    let err = within("tag_report", client.tag_report(&name("a"), &linux, 4))
        .await
        .unwrap()
        .complete()
        .unwrap_err();
    assert_too_many(&err, limit);

    let err = copy_to(&client, &dest).await;
    assert_too_many(&err, limit);

    // Only the index itself was ever asked for; the destination saw nothing.
    let manifests = requests_to(&server, "/manifests/").await;
    assert!(
        manifests.iter().all(|r| r == "GET /v2/a/manifests/v1"),
        "children fetched: {:?}",
        &manifests[..manifests.len().min(5)]
    );
    assert_eq!(manifests.len(), 4, "{manifests:?}");
    assert!(requests_to(&dest, "/v2/").await.is_empty());
}

#[tokio::test]
async fn an_index_at_the_children_limit_is_accepted() {
    let server = mock::server().await;
    serve_manifest(&server, "v1", media_type::OCI_INDEX, index_of(3)).await;
    let mut limits = Limits::default();
    limits.index_children = 3;
    let client = client_with(&server.uri(), limits);
    let index = client.manifest(&name("a"), &tag("v1")).await.unwrap();
    assert_eq!(index.manifests().len(), 3);

    limits.index_children = 2;
    let client = client_with(&server.uri(), limits);
    let err = client.manifest(&name("a"), &tag("v1")).await.unwrap_err();
    assert_too_many(&err, 2);
}

#[tokio::test]
async fn a_manifest_over_the_layers_limit_is_refused_before_any_blob_is_asked_for() {
    let server = mock::server().await;
    let dest = mock::server().await;
    serve_manifest(
        &server,
        "v1",
        media_type::OCI_MANIFEST,
        image_with_layers(11),
    )
    .await;
    serve_manifest(
        &server,
        "ten",
        media_type::OCI_MANIFEST,
        image_with_layers(10),
    )
    .await;
    serve_manifest(
        &server,
        "s1",
        media_type::DOCKER_MANIFEST_V1,
        schema1_with_layers(11),
    )
    .await;
    let mut limits = Limits::default();
    limits.layers = 10;
    let client = client_with(&server.uri(), limits);

    let ten = client.manifest(&name("a"), &tag("ten")).await.unwrap();
    assert_eq!(ten.layers().len(), 10);

    let err = client.manifest(&name("a"), &tag("v1")).await.unwrap_err();
    assert_too_many(&err, 10);
    let err = client.manifest(&name("a"), &tag("s1")).await.unwrap_err();
    assert_too_many(&err, 10);

    let err = copy_to(&client, &dest).await;
    assert_too_many(&err, 10);
    assert!(requests_to(&server, "/blobs/").await.is_empty());
    assert!(requests_to(&dest, "/v2/").await.is_empty());

    // The default allows far more than any real image has.
    let client = mock::client(&server);
    assert_eq!(
        client
            .manifest(&name("a"), &tag("v1"))
            .await
            .unwrap()
            .layers()
            .len(),
        11
    );
}

// ---------------------------------------------------------------------------
// Blobs of no known size

/// How a [`RawServer`] answers a blob `HEAD`.
#[derive(Clone, Copy)]
enum Head {
    /// `200` with this `Content-Length`.
    Length(u64),
    /// `404`, as storage that refuses HEAD on a GET-signed URL might.
    NotFound,
}

/// A one-route HTTP/1.1 server that answers a blob `GET` with a chunked body
/// (no `Content-Length`: the size is not announced) and a `HEAD` as told.
/// Every request is logged as `METHOD PATH`.
struct RawServer {
    uri: String,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    async fn start(body: Arc<Vec<u8>>, head: Head) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let body = body.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request);
                    let mut words = line.split_whitespace();
                    let verb = words.next().unwrap_or("").to_owned();
                    let target = words.next().unwrap_or("").to_owned();
                    log.lock().unwrap().push(format!("{verb} {target}"));
                    let answer = match (verb.as_str(), head) {
                        ("HEAD", Head::Length(n)) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
                        ),
                        ("HEAD", Head::NotFound) => {
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .to_owned()
                        }
                        _ => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\
                              Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                            .to_owned(),
                    };
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    if verb == "GET" {
                        for chunk in body.chunks(64 << 10) {
                            let framed =
                                [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"]
                                    .concat();
                            if socket.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawServer { uri, seen, task }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Downloads `a@digest` into `dir/layer`, expecting a failure that leaves
/// `dir` empty.
async fn download_refused(client: &Client, digest: &Digest, dir: &Path) -> Error {
    let result = within(
        "download_blob",
        client.download_blob(&name("a"), digest, dir.join("layer")),
    )
    .await;
    let err = result.expect_err("the download was accepted");
    assert!(entries(dir).is_empty(), "left behind: {:?}", entries(dir));
    err
}

#[tokio::test]
async fn a_blob_of_no_known_size_stops_at_the_unsized_limit() {
    // 4 MiB, honest digest, sent chunked; the HEAD knows no size either.
    let body = Arc::new(vec![9u8; 4 << 20]);
    let digest = Digest::sha256(&body);
    let server = RawServer::start(body.clone(), Head::NotFound).await;
    let mut limits = Limits::default();
    limits.unsized_blob = 1 << 20;
    let client = client_with(&server.uri, limits);

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    let err = download_refused(&client, &digest, dir.path()).await;
    assert_too_large(&err, 1 << 20);

    // The stream itself stops there too.
    let stream = client.blob_stream(&name("a"), &digest).await.unwrap();
    let err = futures::TryStreamExt::try_collect::<Vec<_>>(stream)
        .await
        .unwrap_err();
    assert_too_large(&err, 1 << 20);

    // Within the limit, a body of no known size downloads and verifies.
    let mut limits = Limits::default();
    limits.unsized_blob = 4 << 20;
    let client = client_with(&server.uri, limits);
    let written = within(
        "download_blob",
        client.download_blob(&name("a"), &digest, &target),
    )
    .await
    .unwrap();
    assert_eq!(written, 4 << 20);
    assert_eq!(std::fs::read(&target).unwrap().len(), 4 << 20);
    assert!(server.seen().iter().any(|r| r.starts_with("HEAD ")));
}

#[tokio::test]
async fn a_chunked_body_longer_than_its_head_is_cut_off() {
    // The HEAD says 1000 bytes; the GET (chunked) sends 256 KiB, whose
    // digest is the one asked for.
    let body = Arc::new(vec![3u8; 256 << 10]);
    let digest = Digest::sha256(&body);
    let server = RawServer::start(body.clone(), Head::Length(1000)).await;
    let client = client_with(&server.uri, Limits::default());

    let dir = tempfile::tempdir().unwrap();
    let err = download_refused(&client, &digest, dir.path()).await;
    assert!(
        matches!(err, Error::SizeMismatch { expected: 1000, .. }),
        "{err:?}"
    );
    assert_eq!(
        server.seen(),
        [
            format!("GET /v2/a/blobs/{digest}"),
            format!("HEAD /v2/a/blobs/{digest}")
        ]
    );
}

// ---------------------------------------------------------------------------
// Credential helpers

/// Writes an executable `docker-credential-NAME` shell script into `dir`.
fn helper_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config_with_helper(registry: &str, helper: &str, dir: &Path) -> DockerConfig {
    let json = serde_json::json!({"credHelpers": {registry: helper}});
    DockerConfig::from_json(json.to_string().as_bytes())
        .unwrap()
        .helper_dir(dir)
}

#[tokio::test]
async fn a_helper_name_that_is_a_path_is_refused_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let helpers = root.path().join("helpers");
    // helpers/docker-credential-x/../../run is root/run: a program outside
    // the helper directory, which a name with slashes reaches.
    std::fs::create_dir_all(helpers.join("docker-credential-x")).unwrap();
    let marker = root.path().join("ran");
    {
        use std::os::unix::fs::PermissionsExt;
        let run = root.path().join("run");
        std::fs::write(
            &run,
            format!(
                "#!/bin/sh\ntouch '{}'\nprintf '{{\"Username\":\"u\",\"Secret\":\"s\"}}'\n",
                marker.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for bad in ["x/../../run", "..", ".", "", "a b", "a\\b", "x;id", "x/y"] {
        let config = config_with_helper("r.example.com", bad, &helpers);
        let err = within("credential_for", config.credential_for("r.example.com"))
            .await
            .expect_err(bad);
        assert!(
            matches!(err, Error::Invalid { what, ref input, .. }
                if what == "credential helper name" && input == bad),
            "{bad:?}: {err:?}"
        );
        assert!(
            !marker.exists(),
            "{bad:?} ran a program outside the helpers"
        );
    }
    // credsStore goes through the same check.
    let config = DockerConfig::from_json(br#"{"credsStore":"x/../../run"}"#)
        .unwrap()
        .helper_dir(&helpers);
    let err = config.credential_for("r.example.com").await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(!marker.exists());

    // A well-formed name runs.
    helper_script(
        &helpers,
        "good.name_1-x",
        r#"cat >/dev/null; printf '{"Username":"u","Secret":"s"}'"#,
    );
    let config = config_with_helper("r.example.com", "good.name_1-x", &helpers);
    assert_eq!(
        config.credential_for("r.example.com").await.unwrap(),
        Some(dockreg::auth::Credential::password("u", "s"))
    );
}

#[tokio::test]
async fn a_helper_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    helper_script(dir.path(), "sleepy", "exec sleep 60");
    let config = config_with_helper("r.example.com", "sleepy", dir.path())
        .helper_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = within("credential_for", config.credential_for("r.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("docker-credential-sleepy"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_helper_answer_past_the_cap_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    // 2 MiB of answer, then the helper keeps its stdout open for a minute:
    // reading to the end would wait for it.
    helper_script(
        dir.path(),
        "chatty",
        "cat >/dev/null; head -c 2097152 /dev/zero; exec sleep 60",
    );
    let config = config_with_helper("r.example.com", "chatty", dir.path());
    let started = Instant::now();
    let err = within("credential_for", config.credential_for("r.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A client for `server` whose Docker config names the helper `name`
/// (written into `dir`) for the server's host. The helper appends a line to
/// the returned counter file each time it runs, waits 300 ms (so concurrent
/// first requests overlap), then runs `then`.
fn client_with_counted_helper(
    server: &MockServer,
    dir: &Path,
    name: &str,
    then: &str,
) -> (Client, PathBuf) {
    let host = server.uri().trim_start_matches("http://").to_owned();
    let counter = dir.join("runs");
    helper_script(
        dir,
        name,
        &format!(
            "cat >/dev/null\necho run >> '{}'\nsleep 0.3\n{then}",
            counter.display()
        ),
    );
    let client = Client::builder(server.uri())
        .retry(RetryConfig::disabled())
        .authenticator(config_with_helper(&host, name, dir))
        .build()
        .unwrap();
    (client, counter)
}

/// How many times a counted helper ran.
fn runs(counter: &Path) -> usize {
    std::fs::read_to_string(counter).unwrap().lines().count()
}

/// Eight concurrent first requests (blob `HEAD`s) through `client`.
async fn eight_at_once(client: &Client, digest: &Digest) -> Vec<dockreg::Result<bool>> {
    let repo = name("a");
    let checks = (0..8).map(|_| client.blob_exists(&repo, digest));
    within("8 requests", futures::future::join_all(checks)).await
}

#[tokio::test]
async fn concurrent_first_requests_run_the_helper_once() {
    let server = mock::server().await;
    let digest = Digest::sha256(b"x");
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).insert_header("Content-Length", "1"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (client, counter) = client_with_counted_helper(
        &server,
        dir.path(),
        "counted",
        r#"printf '{"Username":"u","Secret":"s"}'"#,
    );
    for r in eight_at_once(&client, &digest).await {
        assert!(r.unwrap());
    }
    assert_eq!(runs(&counter), 1, "the helper ran {} times", runs(&counter));

    // Later requests reuse the answer too.
    assert!(client.blob_exists(&name("a"), &digest).await.unwrap());
    assert_eq!(runs(&counter), 1);
}

#[tokio::test]
async fn concurrent_first_requests_share_a_failed_lookup() {
    let server = mock::server().await;
    let digest = Digest::sha256(b"x");
    let dir = tempfile::tempdir().unwrap();
    let (client, counter) = client_with_counted_helper(
        &server,
        dir.path(),
        "broken",
        "echo 'keychain locked' >&2\nexit 3",
    );
    for r in eight_at_once(&client, &digest).await {
        let err = r.unwrap_err();
        assert!(err.to_string().contains("keychain locked"), "{err}");
    }
    assert_eq!(runs(&counter), 1, "the helper ran {} times", runs(&counter));
    // No request reached the registry without its credentials.
    assert!(requests_to(&server, "/v2/").await.is_empty());

    // A later request tries again: the failure is not kept for good.
    client.blob_exists(&name("a"), &digest).await.unwrap_err();
    assert_eq!(runs(&counter), 2);
}
