//! A hostile OCI layout directory: planted symlinks at temporary names,
//! blobs that are symlinks, devices, FIFOs or lies, a huge `index.json`,
//! digests that try to name paths outside the layout, and sha512 blobs.
//! The registries are wiremock servers that record what reaches them.

use crate::mock;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockreg::digest::Algorithm;
use dockreg::models::{media_type, Descriptor};
use dockreg::transfer::Platforms;
use dockreg::transfer::{OciLayout, PullReport};
use dockreg::{Digest, Error, RepositoryName, TagOrDigest};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn reference(s: &str) -> TagOrDigest {
    s.parse().unwrap()
}

/// Runs `fut` on a thread and runtime of its own and gives up after
/// `secs`: a read that blocks a thread for ever (a FIFO, `/dev/zero`)
/// fails the test instead of hanging it.
fn bounded<T: Send + 'static>(
    secs: u64,
    what: &str,
    fut: impl Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(rt.block_on(fut));
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: no answer within {secs} s"))
}

/// A file outside the layout that must come through untouched.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

const PRECIOUS: &[u8] = b"precious: must never be truncated or overwritten\n";

fn victim() -> Victim {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    std::fs::write(&path, PRECIOUS).unwrap();
    Victim { _dir: dir, path }
}

impl Victim {
    fn assert_intact(&self) {
        assert_eq!(
            String::from_utf8_lossy(&std::fs::read(&self.path).unwrap()),
            String::from_utf8_lossy(PRECIOUS),
            "the victim file was written through a planted symlink"
        );
    }
}

/// How many counter values to plant names for: far more than the writes
/// one test binary makes.
const PLANTED: u64 = 128;

/// Plants symlinks to `target` at every name the earlier temporary-file
/// schemes would have used beside `dest`, in this process: the layout's
/// `DEST.tmp-PID-N` (from `Path::with_extension`) and the download's
/// `.DEST.PID-N.dockreg-part`.
fn plant_old_temp_names(dest: &Path, target: &Path) {
    let pid = std::process::id();
    let file = dest.file_name().unwrap().to_string_lossy().into_owned();
    for n in 0..PLANTED {
        let layout_tmp = dest.with_extension(format!("tmp-{pid}-{n}"));
        let download_tmp = dest.with_file_name(format!(".{file}.{pid}-{n}.dockreg-part"));
        for planted in [layout_tmp, download_tmp] {
            std::os::unix::fs::symlink(target, &planted).unwrap();
        }
    }
}

/// Whether `path` is a regular file itself (not a symlink to one).
fn is_plain_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// An image: a config, one layer, an OCI manifest naming them.
struct Image {
    config: Vec<u8>,
    layer: Vec<u8>,
    layer_digest: Digest,
    manifest: Vec<u8>,
    manifest_digest: Digest,
}

fn manifest_json(config: &[u8], layer_digest: &Digest, layer_size: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {
            "mediaType": media_type::OCI_CONFIG,
            "digest": Digest::sha256(config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": media_type::OCI_LAYER_TAR,
            "digest": layer_digest.to_string(),
            "size": layer_size,
        }],
    }))
    .unwrap()
}

fn image(layer_algorithm: Algorithm) -> Image {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"the one layer of the test image".repeat(100);
    let layer_digest = Digest::compute(layer_algorithm, &layer);
    let manifest = manifest_json(&config, &layer_digest, layer.len() as u64);
    Image {
        manifest_digest: Digest::sha256(&manifest),
        config,
        layer,
        layer_digest,
        manifest,
    }
}

/// A source registry serving `image` as `src:v1`.
async fn source(image: &Image) -> MockServer {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/src/manifests/v1"))
        .respond_with(
            mock::json(200, media_type::OCI_MANIFEST, &image.manifest)
                .insert_header("Docker-Content-Digest", image.manifest_digest.as_str()),
        )
        .mount(&server)
        .await;
    for blob in [&image.config, &image.layer] {
        let digest = if *blob == image.layer {
            image.layer_digest.clone()
        } else {
            Digest::sha256(blob)
        };
        Mock::given(method("GET"))
            .and(path(format!("/v2/src/blobs/{digest}")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(blob.clone()))
            .mount(&server)
            .await;
    }
    server
}

/// Pulls `src:v1` from the source into `layout` as `v1`.
async fn pull(server: &MockServer, layout: &OciLayout) -> PullReport {
    mock::client(server)
        .pull_to_layout(
            &name("src"),
            &reference("v1"),
            layout,
            Some("v1"),
            &Platforms::All,
            2,
        )
        .await
        .unwrap()
}

/// A push target for `dst` that has no blob, opens upload sessions and
/// accepts monolithic PUTs (echoing the digest asked for) and manifests.
/// Chunked PATCHes are left to the catch-all 500: no genuine blob of these
/// tests is large enough to need one.
async fn target() -> MockServer {
    let server = mock::server().await;
    Mock::given(method("HEAD"))
        .and(path_regex("^/v2/dst/blobs/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/dst/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202).insert_header("Location", "/v2/dst/blobs/uploads/session"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/dst/blobs/uploads/session"))
        .respond_with(|req: &Request| {
            let digest = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "digest")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            ResponseTemplate::new(201).insert_header("Docker-Content-Digest", digest.as_str())
        })
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/dst/blobs/uploads/session"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/v2/dst/manifests/"))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(201)
                .insert_header("Docker-Content-Digest", Digest::sha256(&req.body).as_str())
        })
        .mount(&server)
        .await;
    server
}

/// The bodies of the upload requests (PATCH and PUT) the target received.
async fn upload_bodies(server: &MockServer) -> Vec<Vec<u8>> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/v2/dst/blobs/uploads/"))
        .filter(|r| r.method.as_str() == "PATCH" || r.method.as_str() == "PUT")
        .map(|r| r.body)
        .collect()
}

/// A layout holding a config and a manifest that names one layer of
/// `layer_digest` and `layer_size`, tagged `v1`; the layer's file is left
/// to the test. Returns the layout and the config's bytes.
fn layout_naming(dir: &Path, layer_digest: &Digest, layer_size: u64) -> (OciLayout, Vec<u8>) {
    let layout = OciLayout::create(dir).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    layout.write_blob(&config).unwrap();
    let manifest = manifest_json(&config, layer_digest, layer_size);
    let digest = layout.write_blob(&manifest).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest, manifest.len() as u64);
    layout.add_manifest(descriptor, Some("v1")).unwrap();
    (layout, config)
}

/// Pushes `layout:v1` to the target as `dst:v1`, within a time bound.
fn push(layout: &OciLayout, server: &MockServer, what: &str) -> dockreg::Result<()> {
    let client = mock::client(server);
    let layout = layout.clone();
    bounded(20, what, async move {
        client
            .push_from_layout(&layout, Some("v1"), &name("dst"), &reference("v1"), 2)
            .await
            .map(drop)
    })
}

/// A hostile layer was refused, and the only blob bytes that reached the
/// registry are the genuine config's.
async fn assert_nothing_of_the_layer_uploaded(server: &MockServer, config: &[u8]) {
    for body in upload_bodies(server).await {
        assert!(
            body.is_empty() || body == config,
            "{} bytes of the hostile layer reached the registry",
            body.len()
        );
    }
}

/// More than one upload chunk (16 MiB by default): streamed as it was read,
/// a bad layer of this size would be PATCHed before its digest is known.
const LARGE: usize = (16 << 20) + 4096;

// ---------------------------------------------------------------- temp names

#[tokio::test]
async fn planted_symlinks_at_old_temp_names_do_not_redirect_layout_writes() {
    let victim = victim();
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let blob = b"a manifest-sized blob".to_vec();
    let digest = Digest::sha256(&blob);
    plant_old_temp_names(&layout.blob_path(&digest), &victim.path);
    plant_old_temp_names(&dir.path().join("index.json"), &victim.path);

    assert_eq!(layout.write_blob(&blob).unwrap(), digest);
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest.clone(), blob.len() as u64);
    layout.add_manifest(descriptor, Some("v1")).unwrap();

    victim.assert_intact();
    assert!(is_plain_file(&layout.blob_path(&digest)));
    assert_eq!(std::fs::read(layout.blob_path(&digest)).unwrap(), blob);
    assert!(is_plain_file(&dir.path().join("index.json")));
    assert_eq!(layout.find(Some("v1")).unwrap().digest, digest);
}

#[tokio::test]
async fn a_download_beside_planted_temp_names_lands_and_leaves_the_victim_alone() {
    let victim = victim();
    let body = b"layer bytes".repeat(1000);
    let digest = Digest::sha256(&body);
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/a/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .mount(&server)
        .await;
    let client = dockreg::Client::builder(server.uri())
        .retry(dockreg::http::RetryConfig::disabled())
        .sync_downloads(true)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer.tar");
    plant_old_temp_names(&dest, &victim.path);

    let written = client
        .download_blob(&name("a"), &digest, &dest)
        .await
        .unwrap();

    assert_eq!(written, body.len() as u64);
    assert!(is_plain_file(&dest));
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    victim.assert_intact();
}

#[tokio::test]
async fn a_pull_into_a_layout_with_planted_temp_names_leaves_the_victim_alone() {
    let victim = victim();
    let image = image(Algorithm::Sha256);
    let server = source(&image).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let config_digest = Digest::sha256(&image.config);
    for d in [&config_digest, &image.layer_digest, &image.manifest_digest] {
        plant_old_temp_names(&layout.blob_path(d), &victim.path);
    }
    plant_old_temp_names(&dir.path().join("index.json"), &victim.path);

    let report = pull(&server, &layout).await;

    assert_eq!(report.digest.as_ref(), Some(&image.manifest_digest));
    victim.assert_intact();
    for (d, bytes) in [
        (&config_digest, &image.config),
        (&image.layer_digest, &image.layer),
        (&image.manifest_digest, &image.manifest),
    ] {
        assert!(
            is_plain_file(&layout.blob_path(d)),
            "{d} is not a plain file"
        );
        assert_eq!(std::fs::read(layout.blob_path(d)).unwrap(), *bytes);
    }
}

// ------------------------------------------------------- what a blob may be

#[tokio::test]
async fn a_blob_symlinked_to_a_private_file_is_refused_before_any_byte_is_uploaded() {
    let private_dir = tempfile::tempdir().unwrap();
    let private = private_dir.path().join("id_rsa");
    let secret = b"-----BEGIN PRIVATE KEY----- not for the registry ".repeat(LARGE / 48 + 1);
    std::fs::write(&private, &secret).unwrap();
    let claimed = Digest::sha256(b"whatever the index says");
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &claimed, secret.len() as u64);
    std::os::unix::fs::symlink(&private, layout.blob_path(&claimed)).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a symlinked blob").unwrap_err();

    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("regular file"), "{err}");
    assert_nothing_of_the_layer_uploaded(&server, &config).await;
}

#[tokio::test]
async fn a_blob_symlinked_to_dev_zero_is_refused_before_any_byte_is_uploaded() {
    let claimed = Digest::sha256(b"an endless layer");
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &claimed, LARGE as u64);
    std::os::unix::fs::symlink("/dev/zero", layout.blob_path(&claimed)).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a /dev/zero blob").unwrap_err();

    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_nothing_of_the_layer_uploaded(&server, &config).await;
}

#[tokio::test]
async fn a_fifo_blob_is_refused_without_waiting_for_a_writer() {
    let claimed = Digest::sha256(b"a layer nobody writes");
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &claimed, 1024);
    let fifo = layout.blob_path(&claimed);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let server = target().await;

    let started = Instant::now();
    let err = push(&layout, &server, "push of a FIFO blob").unwrap_err();

    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_nothing_of_the_layer_uploaded(&server, &config).await;
}

#[tokio::test]
async fn a_directory_where_a_blob_should_be_is_refused() {
    let claimed = Digest::sha256(b"a directory");
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &claimed, 4096);
    std::fs::create_dir(layout.blob_path(&claimed)).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a directory blob").unwrap_err();

    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_nothing_of_the_layer_uploaded(&server, &config).await;
}

#[tokio::test]
async fn a_blob_whose_bytes_do_not_match_its_digest_is_refused_before_upload() {
    let genuine = vec![1u8; LARGE];
    let claimed = Digest::sha256(&genuine);
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &claimed, LARGE as u64);
    // The same size, other bytes.
    std::fs::write(layout.blob_path(&claimed), vec![2u8; LARGE]).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a lying blob").unwrap_err();

    assert!(
        matches!(err, Error::DigestMismatch { ref expected, .. } if *expected == claimed),
        "{err:?}"
    );
    assert_nothing_of_the_layer_uploaded(&server, &config).await;
}

#[tokio::test]
async fn a_blob_longer_or_shorter_than_its_descriptor_is_refused_before_upload() {
    for actual in [LARGE + 1, LARGE - 1] {
        let genuine = vec![3u8; LARGE];
        let claimed = Digest::sha256(&genuine);
        let dir = tempfile::tempdir().unwrap();
        let (layout, config) = layout_naming(dir.path(), &claimed, LARGE as u64);
        std::fs::write(layout.blob_path(&claimed), vec![3u8; actual]).unwrap();
        let server = target().await;

        let err = push(&layout, &server, "push of a mis-sized blob").unwrap_err();

        assert!(
            matches!(err, Error::SizeMismatch { expected, actual: got, .. }
                if expected == LARGE as u64 && got == actual as u64),
            "{err:?}"
        );
        assert_nothing_of_the_layer_uploaded(&server, &config).await;
    }
}

#[tokio::test]
async fn a_genuine_layout_pushes_to_the_recording_target() {
    // The control for the refusals above: the same target takes a layout
    // that tells the truth.
    let layer = b"a true layer".repeat(64);
    let digest = Digest::sha256(&layer);
    let dir = tempfile::tempdir().unwrap();
    let (layout, config) = layout_naming(dir.path(), &digest, layer.len() as u64);
    std::fs::write(layout.blob_path(&digest), &layer).unwrap();
    let server = target().await;

    push(&layout, &server, "push of a genuine layout").unwrap();

    let mut bodies = upload_bodies(&server).await;
    bodies.sort();
    let mut expected = vec![config, layer];
    expected.sort();
    assert_eq!(bodies, expected);
}

// ------------------------------------------------ index.json and manifests

#[tokio::test]
async fn a_huge_sparse_index_json_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let index = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("index.json"))
        .unwrap();
    index.set_len(1 << 30).unwrap();
    drop(index);

    let started = Instant::now();
    let err = layout.index().unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let server = target().await;
    let err = push(&layout, &server, "push from a huge index").unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_index_json_or_manifest_that_is_not_a_regular_file_is_refused() {
    // index.json a FIFO: refused without waiting for a writer.
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let index = dir.path().join("index.json");
    std::fs::remove_file(&index).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&index)
        .status()
        .unwrap();
    assert!(made.success());
    let reading = layout.clone();
    let err = bounded(10, "index.json as a FIFO", async move { reading.index() }).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");

    // A manifest blob that is a symlink to /dev/zero: refused, not read.
    let manifest = Digest::sha256(b"an endless manifest");
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", layout.blob_path(&manifest)).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, manifest, 1024);
    layout.add_manifest(descriptor, Some("v1")).unwrap();
    let server = target().await;
    let err = push(&layout, &server, "push of a /dev/zero manifest").unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_manifest_of_another_size_than_its_descriptor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let bytes = manifest_json(b"{}", &Digest::sha256(b"layer"), 5);
    let digest = layout.write_blob(&bytes).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest, bytes.len() as u64 - 1);
    layout.add_manifest(descriptor, Some("v1")).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a mis-sized manifest").unwrap_err();

    assert!(matches!(err, Error::SizeMismatch { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_index_in_a_layout_naming_too_many_children_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let most = dockreg::http::Limits::default().index_children;
    // Children that do not exist: reading even one would fail otherwise.
    let children: Vec<serde_json::Value> = (0..=most)
        .map(|i| {
            serde_json::json!({
                "mediaType": media_type::OCI_MANIFEST,
                "digest": Digest::sha256(&i.to_be_bytes()).to_string(),
                "size": 100,
            })
        })
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": children,
    }))
    .unwrap();
    let digest = layout.write_blob(&index).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_INDEX, digest, index.len() as u64);
    layout.add_manifest(descriptor, Some("v1")).unwrap();
    let server = target().await;

    let err = push(&layout, &server, "push of a huge index").unwrap_err();

    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == most),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn digests_in_index_json_cannot_name_paths_outside_the_layout() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"outside the layout").unwrap();
    let hostile = [
        "sha256:../../../../../../../../etc/passwd".to_owned(),
        format!(
            "sha256:../../../../{}",
            outside.path().join("secret").display()
        ),
        format!("../..:{}", "a".repeat(64)),
        format!("sha256:{}/../x", "a".repeat(58)),
        format!("sha256:/{}", "a".repeat(63)),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha256:{}\u{0}", "a".repeat(63)),
    ];
    for digest in hostile {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type::OCI_MANIFEST,
                "digest": digest,
                "size": 18,
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }],
        });
        std::fs::write(
            dir.path().join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();

        let err = layout.find(Some("v1")).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{digest}: {err:?}");
        let server = target().await;
        let err = push(&layout, &server, "push of a hostile digest").unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{digest}: {err:?}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }
}

// ------------------------------------------------------------------ sha512

#[tokio::test]
async fn a_sha512_layer_pulls_into_a_layout_and_pushes_back_out() {
    let image = image(Algorithm::Sha512);
    let server = source(&image).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();

    let report = pull(&server, &layout).await;

    assert_eq!(report.digest.as_ref(), Some(&image.manifest_digest));
    assert_eq!(report.blobs_downloaded, 2);
    let stored = dir
        .path()
        .join("blobs/sha512")
        .join(image.layer_digest.hex());
    assert_eq!(layout.blob_path(&image.layer_digest), stored);
    assert_eq!(std::fs::read(&stored).unwrap(), image.layer);

    let target = target().await;
    push(&layout, &target, "push of a sha512 layer").unwrap();
    let puts: Vec<String> = target
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path() == "/v2/dst/blobs/uploads/session")
        .filter_map(|r| r.url.query().map(str::to_owned))
        .collect();
    assert!(
        puts.iter()
            .any(|q| q.contains(&image.layer_digest.to_string().replace(':', "%3A"))),
        "no PUT committed the sha512 layer: {puts:?}"
    );
    assert_eq!(upload_bodies(&target).await.len(), 2);
}

// ------------------------------------------ symlinked blob directories

/// Moves the layout's `blobs/SUB` (`""`: `blobs` itself) to a directory
/// outside it and leaves a symlink in its place. Returns the outside
/// directory (kept alive by the caller) and where the moved files now are.
fn symlink_away(layout: &OciLayout, sub: &str) -> (tempfile::TempDir, PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    let blobs = layout.root().join("blobs");
    let inside = if sub.is_empty() {
        blobs
    } else {
        blobs.join(sub)
    };
    let moved = outside.path().join("moved");
    std::fs::rename(&inside, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &inside).unwrap();
    (outside, moved)
}

/// A layout whose `blobs/` or `blobs/sha256/` is a symlink to a directory
/// elsewhere holding genuine files: nothing is read through it, the push
/// is refused before any byte goes up.
#[tokio::test]
async fn a_layout_whose_blob_directories_are_symlinks_is_not_read_through_them() {
    for sub in ["", "sha256"] {
        let layer = b"a true layer, elsewhere".repeat(64);
        let digest = Digest::sha256(&layer);
        let dir = tempfile::tempdir().unwrap();
        let (layout, _) = layout_naming(dir.path(), &digest, layer.len() as u64);
        std::fs::write(layout.blob_path(&digest), &layer).unwrap();
        let manifest = layout.find(Some("v1")).unwrap();
        let (_outside, _) = symlink_away(&layout, sub);
        let server = target().await;

        let err = push(&layout, &server, "push through a symlinked directory").unwrap_err();

        assert!(matches!(err, Error::Invalid { .. }), "blobs/{sub}: {err:?}");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(upload_bodies(&server).await.is_empty(), "blobs/{sub}");
        assert!(!layout.has_blob(&digest), "blobs/{sub}");
        let err = layout.read_blob(&manifest.digest, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "blobs/{sub}: {err:?}");
    }
}

/// A pull into a layout whose `blobs/` or `blobs/sha256/` is a symlink
/// writes nothing through it: the directory it points at stays as it was.
#[tokio::test]
async fn a_pull_into_a_layout_with_symlinked_blob_directories_writes_nothing_through_them() {
    let image = image(Algorithm::Sha256);
    let server = source(&image).await;
    for sub in ["", "sha256"] {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let (_outside, moved) = symlink_away(&layout, sub);
        let before = list(&moved);

        let err = mock::client(&server)
            .pull_to_layout(
                &name("src"),
                &reference("v1"),
                &layout,
                Some("v1"),
                &Platforms::All,
                2,
            )
            .await
            .unwrap_err();

        assert!(matches!(err, Error::Invalid { .. }), "blobs/{sub}: {err:?}");
        assert_eq!(
            list(&moved),
            before,
            "blobs/{sub}: written through the symlink"
        );
    }
}

/// Every file below `dir`, relative to it.
fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().to_owned());
        }
    }
    out.sort();
    out
}
