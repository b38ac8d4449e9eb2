//! The one transfer engine (`dockreg::transfer::copy`): every direction
//! (registry and OCI layout, either end) reports each blob to an observer;
//! a second run skips what is there; two repositories of one registry
//! mount; a source of one's own is a `Source`; a transfer dropped half-way
//! leaves no upload session open on the real registry.

use crate::registry;
use crate::uploads::open_uploads;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use dockreg::models::{media_type, Descriptor, ImageManifest, Manifest};
use dockreg::transfer::{
    copy, BlobBytes, BlobRef, Event, LayoutImage, OciLayout, Platforms, RegistryImage, Resolved,
    Source, TransferOptions, TransferReport,
};
use dockreg::{Client, Digest, RepositoryName, TagOrDigest};
use futures::StreamExt;

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn reference(s: &str) -> TagOrDigest {
    s.parse().unwrap()
}

/// Options whose observer records every event.
fn recording() -> (TransferOptions, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let options = TransferOptions::default()
        .concurrency(3)
        .observer(move |e: &Event| sink.lock().unwrap().push(e.clone()));
    (options, events)
}

/// What the events say happened to each blob: its last event, and the
/// bytes its last `Progress` reported.
fn by_blob(events: &[Event]) -> BTreeMap<Digest, (String, Option<u64>)> {
    let mut out: BTreeMap<Digest, (String, Option<u64>)> = BTreeMap::new();
    for e in events {
        let (digest, kind) = match e {
            Event::BlobStarted { digest, .. } => (digest, "started"),
            Event::Progress { digest, done, .. } => {
                out.entry(digest.clone()).or_default().1 = Some(*done);
                continue;
            }
            Event::Mounted { digest } => (digest, "mounted"),
            Event::Skipped { digest } => (digest, "skipped"),
            Event::BlobDone { digest, .. } => (digest, "done"),
            Event::Done { .. } | Event::Retried { .. } => continue,
            other => panic!("unexpected event {other:?}"),
        };
        out.entry(digest.clone()).or_default().0 = kind.to_owned();
    }
    out
}

/// Runs one copy with a recording observer and checks the events against
/// the report: every blob ends as `want` ("done": with a final `Progress`
/// of its size), and the last event is `Done` with the report's digest.
async fn checked(
    source: &dyn Source,
    target: &dyn dockreg::transfer::Target,
    sizes: &BTreeMap<Digest, u64>,
    want: &str,
) -> TransferReport {
    let (options, events) = recording();
    let report = copy(source, target, &options).await.unwrap();
    let events = events.lock().unwrap().clone();
    let seen = by_blob(&events);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        sizes.keys().collect::<Vec<_>>(),
        "{events:?}"
    );
    for (digest, (last, progress)) in &seen {
        assert_eq!(last, want, "{digest}: {events:?}");
        if want == "done" {
            assert_eq!(*progress, Some(sizes[digest]), "{digest}: {events:?}");
        } else {
            assert_eq!(*progress, None, "{digest}: {events:?}");
        }
    }
    assert_eq!(
        events.last(),
        Some(&Event::Done {
            digest: report.digest.clone().unwrap()
        })
    );
    let counted = match want {
        "done" => report.blobs_uploaded,
        "mounted" => report.blobs_mounted,
        _ => report.blobs_existing,
    };
    assert_eq!(counted, sizes.len(), "{report:?}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_direction_goes_through_one_engine_and_reports_each_blob() {
    let reg = registry::shared().expect("the shared registry");
    let images = reg.seed_skopeo_images();
    let image = &images.oci;
    let client = reg.client();
    let (src_name, src_ref) = (name(&image.name), reference(&image.tag));
    let mut sizes = BTreeMap::new();
    let digests = image.layer_digests.iter().chain(image.config_digest.iter());
    for d in digests {
        let d: Digest = d.parse().unwrap();
        let size = client.blob_size(&src_name, &d).await.unwrap().unwrap();
        sizes.insert(d, size);
    }
    let want_digest: Digest = image.manifest_digest.parse().unwrap();
    let source = RegistryImage::new(&client, &src_name, &src_ref);

    // Registry to layout, then again: everything is there.
    let dir = tempfile::tempdir().unwrap();
    let first = OciLayout::create(dir.path().join("first")).unwrap();
    let to_first = LayoutImage::new(&first, Some("v1"));
    let report = checked(&source, &to_first, &sizes, "done").await;
    assert_eq!(report.digest, Some(want_digest.clone()));
    assert_eq!(report.bytes_uploaded, sizes.values().sum::<u64>());
    checked(&source, &to_first, &sizes, "skipped").await;

    // Layout to layout.
    let second = OciLayout::create(dir.path().join("second")).unwrap();
    let to_second = LayoutImage::new(&second, Some("copied"));
    let report = checked(&to_first, &to_second, &sizes, "done").await;
    assert_eq!(report.digest, Some(want_digest.clone()));
    for d in sizes.keys() {
        assert!(second.has_blob(d), "{d}");
    }

    // Layout to a new repository, then within the registry: mounted.
    let (pushed, pushed_ref) = (name("transfer/from-layout"), reference("v1"));
    let to_registry = RegistryImage::new(&client, &pushed, &pushed_ref);
    let report = checked(&to_second, &to_registry, &sizes, "done").await;
    assert_eq!(report.digest, Some(want_digest.clone()));
    let (mounted, mounted_ref) = (name("transfer/mounted"), reference("v1"));
    let to_mounted = RegistryImage::new(&client, &mounted, &mounted_ref);
    let report = checked(&to_registry, &to_mounted, &sizes, "mounted").await;
    assert_eq!(report.bytes_uploaded, 0);
    assert_eq!(
        client
            .manifest_digest(&mounted, &mounted_ref)
            .await
            .unwrap(),
        want_digest
    );

    // Reports are data a CI job can print.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["digest"], want_digest.as_str());
    assert_eq!(json["blobs_mounted"], sizes.len());
}

/// A source of the test's own: an image of one config and one layer whose
/// layer yields its first chunk and then never another.
struct Stalling {
    config: Bytes,
    first_chunk: Bytes,
    manifest: Manifest,
}

impl Stalling {
    fn new() -> Stalling {
        let config = Bytes::from_static(br#"{"architecture":"amd64","os":"linux"}"#);
        let first_chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let config_desc = Descriptor::new(
            media_type::OCI_CONFIG,
            Digest::sha256(&config),
            config.len() as u64,
        );
        // The layer is said to be larger than what ever comes.
        let layer_desc = Descriptor::new(
            media_type::OCI_LAYER,
            Digest::sha256(b"a layer that never finishes"),
            1 << 20,
        );
        let manifest =
            Manifest::from_image_manifest(&ImageManifest::new(config_desc, vec![layer_desc]))
                .unwrap();
        Stalling {
            config,
            first_chunk,
            manifest,
        }
    }
}

#[async_trait]
impl Source for Stalling {
    fn describe(&self) -> String {
        "a stalling source".into()
    }

    async fn resolve(&self, _: &Platforms) -> dockreg::Result<Resolved> {
        Ok(Resolved {
            top: self.manifest.clone(),
            images: vec![self.manifest.clone()],
        })
    }

    async fn blob(&self, blob: &BlobRef) -> dockreg::Result<BlobBytes> {
        if blob.digest == Digest::sha256(&self.config) {
            return Ok(futures::stream::iter([Ok(self.config.clone())]).boxed());
        }
        let first = futures::stream::iter([Ok(self.first_chunk.clone())]);
        Ok(first.chain(futures::stream::pending()).boxed())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_dropped_half_way_leaves_no_upload_session_open() {
    let reg = registry::shared().expect("the shared registry");
    let client: Client = reg.client();
    let repo = "transfer/dropped";
    let (target_name, target_ref) = (name(repo), reference("v1"));
    let target = RegistryImage::new(&client, &target_name, &target_ref);
    let source = Stalling::new();
    let (options, events) = recording();
    let options = options.chunk_size(16 * 1024);

    // The layer's first chunks reach the registry; then the source stalls
    // and the caller gives up: the copy future is dropped.
    let copying = copy(&source, &target, &options);
    let stalled = tokio::time::timeout(Duration::from_secs(3), copying).await;
    assert!(stalled.is_err(), "the stalling copy ended: {stalled:?}");
    let started = events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::Progress { done, .. } if *done >= 64 * 1024));
    assert!(
        started,
        "the layer never began: {:?}",
        events.lock().unwrap()
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open = open_uploads(reg, repo);
        if open.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "upload sessions left open after the drop: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The config went up whole and stays: only the broken session went.
    assert_eq!(
        client
            .blob_size(&target_name, &Digest::sha256(&source.config))
            .await
            .unwrap(),
        Some(source.config.len() as u64)
    );
}

/// A source registry whose layer answers 503 once: the retry the pipeline
/// makes is heard by the observer as `Retried` for that blob, and the blob
/// then arrives whole.
#[tokio::test]
async fn a_retried_blob_request_is_reported_to_the_observer() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = crate::mock::server().await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = b"a layer served on the second try".to_vec();
    let (config_d, layer_d) = (Digest::sha256(&config), Digest::sha256(&layer));
    let manifest = Manifest::from_image_manifest(&ImageManifest::new(
        Descriptor::new(
            media_type::OCI_CONFIG,
            config_d.clone(),
            config.len() as u64,
        ),
        vec![Descriptor::new(
            media_type::OCI_LAYER,
            layer_d.clone(),
            layer.len() as u64,
        )],
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/v2/src/manifests/v1"))
        .respond_with(crate::mock::json(
            200,
            media_type::OCI_MANIFEST,
            manifest.bytes(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/blobs/{config_d}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(config.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/blobs/{layer_d}")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/blobs/{layer_d}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(layer.clone()))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .retry(dockreg::http::RetryConfig::new(
            3,
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_secs(20),
        ))
        .build()
        .unwrap();
    let (src, v1) = (name("src"), reference("v1"));
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let (options, events) = recording();
    let report = copy(
        &RegistryImage::new(&client, &src, &v1),
        &LayoutImage::new(&layout, Some("v1")),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(report.blobs_uploaded, 2, "{report:?}");
    let events = events.lock().unwrap().clone();
    let retried: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Retried { .. }))
        .collect();
    assert!(
        matches!(retried.as_slice(), [Event::Retried { digest, attempt: 1, reason, .. }]
            if *digest == layer_d && reason.contains("503")),
        "{events:?}"
    );
    assert!(layout.has_blob(&layer_d));
}
