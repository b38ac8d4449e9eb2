//! `Repository`, the per-repository handle: every call against the real
//! registry, what it accepts (`&str`, `Tag`, `Digest`, `TagOrDigest`,
//! `Reference`), what it refuses before any request, and its typed results
//! (`Tag` and `RepositoryName` items, `PushedBlob`, `Mount`).

use crate::mock;
use crate::registry;

use bytes::Bytes;
use dockreg::api::PushOutcome;
use dockreg::models::{media_type, Descriptor, Manifest, Platform};
use dockreg::repository::{
    BlobPushOptions, LayoutPullOptions, LayoutPushOptions, Mount, PushedBlob, ReportOptions,
};
use dockreg::transfer::{CopyOptions, OciLayout};
use dockreg::{Client, Digest, Error, Reference, Repository, RepositoryName, Tag, TagOrDigest};
use futures::{stream, StreamExt, TryStreamExt};
use wiremock::matchers::{method, path};
use wiremock::Mock;

const CREATED: &str = "2024-01-02T03:04:05Z";

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

/// An OCI image built and pushed through the handle: a config, one layer,
/// the manifest under `tags`.
struct Image {
    manifest: Manifest,
    digest: Digest,
    config: PushedBlob,
    layer: PushedBlob,
    layer_bytes: Vec<u8>,
}

async fn push_image(repo: &Repository, label: &str, tags: &[&str]) -> Image {
    let config_json = format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{CREATED}","config":{{"Labels":{{"label":"{label}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    let config = repo.push_blob(config_json.into_bytes()).await.unwrap();
    let layer_bytes = format!("layer of {label}").repeat(1000).into_bytes();
    let layer = repo.push_blob(layer_bytes.clone()).await.unwrap();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": config.descriptor(media_type::OCI_CONFIG),
        "layers": [layer.descriptor(media_type::OCI_LAYER)],
    });
    let manifest = Manifest::from_bytes(
        serde_json::to_vec(&body).unwrap(),
        Some(media_type::OCI_MANIFEST),
    )
    .unwrap();
    let mut digest = None;
    for t in tags {
        digest = Some(repo.put_manifest(*t, &manifest).await.unwrap());
    }
    Image {
        digest: digest.unwrap_or_else(|| manifest.digest().unwrap()),
        manifest,
        config,
        layer,
        layer_bytes,
    }
}

// ---- getting a handle ------------------------------------------------------

#[tokio::test]
async fn a_handle_takes_every_form_of_name_and_sends_nothing() {
    let server = mock::server().await;
    let client = mock::client(&server);
    let name: RepositoryName = "team/app".parse().unwrap();
    for repo in [
        client.repository("team/app").unwrap(),
        client.repository(String::from("team/app")).unwrap(),
        client.repository(&name).unwrap(),
        client.repository(name.clone()).unwrap(),
    ] {
        assert_eq!(repo.name(), &name);
        assert_eq!(repo.client().base_url(), client.base_url());
        let shown = format!("{repo:?}");
        assert!(shown.contains("team/app"), "{shown}");
    }
    let other = client.repository("team/other").unwrap();
    assert_eq!(
        client.repository(&other).unwrap().name().as_str(),
        "team/other"
    );
    for bad in ["Team/App", "", "team//app", "team/app/"] {
        let err = client.repository(bad).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reference_gives_a_handle_and_its_target() {
    let server = mock::server().await;
    let client = mock::client(&server);
    let host = server.address().to_string();
    let r: Reference = format!("{host}/team/app:v1").parse().unwrap();
    let (repo, target) = client.repository_for(&r).unwrap();
    assert_eq!(repo.name().as_str(), "team/app");
    assert_eq!(target, TagOrDigest::Tag(tag("v1")));
    assert_eq!(repo.reference("v1").unwrap(), r);

    let pinned: Reference = format!("{host}/team/app:v1@sha256:{}", "a".repeat(64))
        .parse()
        .unwrap();
    let (_, target) = client.repository_for(&pinned).unwrap();
    assert!(target.as_digest().is_some(), "the digest pins: {target:?}");
    let bare: Reference = format!("{host}/team/app").parse().unwrap();
    assert_eq!(client.repository_for(&bare).unwrap().1.as_str(), "latest");

    // Another registry's reference is refused: this client's settings are
    // for its own.
    let elsewhere: Reference = "registry.example.com/team/app:v1".parse().unwrap();
    let err = client.repository_for(&elsewhere).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let other_port: Reference = "127.0.0.1:1/team/app".parse().unwrap();
    assert!(client.repository_for(&other_port).is_err());

    // Without a client: one with default settings for the named registry.
    let (repo, target) = Client::for_reference(&r).unwrap();
    assert_eq!(repo.name().as_str(), "team/app");
    assert_eq!(target.as_str(), "v1");
    let hub: Reference = "busybox".parse().unwrap();
    let (repo, _) = Client::for_reference(&hub).unwrap();
    assert_eq!(repo.name().as_str(), "library/busybox");
    assert_eq!(
        repo.client().base_url().host_str(),
        Some("registry-1.docker.io")
    );
    assert_eq!(
        repo.reference("latest").unwrap().to_string(),
        "docker.io/library/busybox:latest"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_request() {
    let server = mock::server().await;
    let client = mock::client(&server);
    let repo = client.repository("team/app").unwrap();
    let good = Digest::sha256(b"x");
    let manifest = Manifest::from_bytes(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec(),
        None,
    )
    .unwrap();
    let other: Reference = "127.0.0.1:5000/team/other:v1".parse().unwrap();
    let platform = Platform::new("linux", "amd64");
    let invalid = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Invalid { .. }) => {}
        other => panic!("{what}: expected Error::Invalid, got {other:?}"),
    };
    invalid("manifest", repo.manifest("bad tag").await.map(drop));
    invalid("manifest", repo.manifest("sha256:beef").await.map(drop));
    invalid("manifest", repo.manifest(&other).await.map(drop));
    invalid("digest", repo.manifest_digest("-v1").await.map(drop));
    invalid(
        "platform",
        repo.manifest_for_platform("v1 ", &platform).await.map(drop),
    );
    invalid("put", repo.put_manifest("a/b", &manifest).await.map(drop));
    invalid(
        "put",
        repo.put_manifest(other.clone(), &manifest).await.map(drop),
    );
    invalid("rate", repo.rate_limit("").await.map(drop));
    invalid("untag", repo.delete_tag("v1:").await.map(drop));
    invalid("untag", repo.delete_tag("sha256:abc").await.map(drop));
    invalid("delete", repo.delete_manifest("v1").await);
    invalid("info", repo.tag_info(".v1", &platform).await.map(drop));
    invalid("with", repo.tags_with_digest("sha256:xyz").await.map(drop));
    invalid("stream", repo.blob_stream("md5:00").await.map(drop));
    invalid(
        "sized",
        repo.blob_stream_sized("x", Some(1)).await.map(drop),
    );
    invalid("size", repo.blob_size("sha256:").await.map(drop));
    invalid(
        "exists",
        repo.blob_exists(String::from("nope")).await.map(drop),
    );
    invalid("bytes", repo.blob_bytes("v1", 10).await.map(drop));
    invalid("delete blob", repo.delete_blob("latest").await);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob");
    invalid(
        "download",
        repo.download_blob("sha256", &dest).await.map(drop),
    );
    invalid(
        "download with",
        repo.download_blob_with("oops", None, &dest, |_, _| {})
            .await
            .map(drop),
    );
    assert!(!dest.exists());
    invalid(
        "mount",
        repo.mount_blob("sha256:1", "team/src").await.map(drop),
    );
    invalid(
        "mount from",
        repo.mount_blob(&good, "Team/Src").await.map(drop),
    );
    let dst = client.repository("team/dst").unwrap();
    let options = CopyOptions::default();
    invalid(
        "copy",
        repo.copy_image("bad tag", &dst, "v1", &options)
            .await
            .map(drop),
    );
    invalid(
        "copy to",
        repo.copy_image("v1", &dst, &other, &options)
            .await
            .map(drop),
    );
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    invalid(
        "pull",
        repo.pull_to_layout("v1?", &layout, &LayoutPullOptions::default())
            .await
            .map(drop),
    );
    invalid(
        "push",
        repo.push_from_layout(&layout, "v 1", &LayoutPushOptions::default())
            .await
            .map(drop),
    );
    invalid("reference", repo.reference("..").map(drop));
    let reached = server.received_requests().await.unwrap();
    assert!(reached.is_empty(), "requests sent: {reached:?}");
}

#[tokio::test]
async fn listing_entries_that_are_not_names_are_typed_errors() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"team/app","tags":["v1","not a tag","v2"]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"repositories":["team/app","Team/Upper","zeta"]}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let repo = client.repository("team/app").unwrap();

    let items: Vec<Result<Tag, Error>> = repo.tags().collect().await;
    assert_eq!(items.len(), 3, "the listing goes on after a bad entry");
    assert_eq!(items[0].as_ref().unwrap(), &tag("v1"));
    match &items[1] {
        Err(e @ Error::Protocol { .. }) => assert!(e.to_string().contains("not a tag"), "{e}"),
        other => panic!("expected Error::Protocol, got {other:?}"),
    }
    assert_eq!(items[2].as_ref().unwrap(), &tag("v2"));
    assert!(repo.tags().try_collect::<Vec<Tag>>().await.is_err());
    // A page with a bad entry fails whole.
    assert!(matches!(
        repo.tags_page(None, None).await,
        Err(Error::Protocol { .. })
    ));

    let names: Vec<Result<RepositoryName, Error>> = client.repositories().collect().await;
    assert_eq!(names.len(), 3);
    assert_eq!(names[0].as_ref().unwrap().as_str(), "team/app");
    assert!(
        matches!(&names[1], Err(Error::Protocol { .. })),
        "{:?}",
        names[1]
    );
    assert_eq!(names[2].as_ref().unwrap().as_str(), "zeta");
    let raw: Vec<String> = client
        .repositories()
        .into_untyped()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(raw, ["team/app", "Team/Upper", "zeta"]);
}

// ---- the real registry -------------------------------------------------------

#[tokio::test]
async fn tags_manifests_and_reports_through_the_handle() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let repo = client.repository("handle/app").unwrap();
    let image = push_image(&repo, "app", &["v1", "v2", "v3"]).await;

    // 2.8.2 sends the tags unsorted and ignores `n` (tests/tags.rs).
    let sorted = |mut t: Vec<Tag>| {
        t.sort();
        t
    };
    let tags: Vec<Tag> = sorted(repo.tags().try_collect().await.unwrap());
    assert_eq!(tags, [tag("v1"), tag("v2"), tag("v3")]);
    let paged: Vec<Tag> = repo.tags().page_size(1).try_collect().await.unwrap();
    assert_eq!(sorted(paged), tags);
    let page = repo.tags_page(Some(2), None).await.unwrap();
    assert_eq!(sorted(page.items), tags);

    // Every input form reaches the same manifest.
    let r = repo.reference("v1").unwrap();
    assert_eq!(r.to_string(), format!("{}/handle/app:v1", reg.host));
    for m in [
        repo.manifest("v1").await.unwrap(),
        repo.manifest(tag("v1")).await.unwrap(),
        repo.manifest(&image.digest).await.unwrap(),
        repo.manifest(image.digest.as_str()).await.unwrap(),
        repo.manifest(TagOrDigest::Tag(tag("v2"))).await.unwrap(),
        repo.manifest(&r).await.unwrap(),
    ] {
        assert_eq!(m.bytes(), image.manifest.bytes());
    }
    assert_eq!(repo.manifest_digest("v1").await.unwrap(), image.digest);
    assert_eq!(repo.manifest_digest(&tags[2]).await.unwrap(), image.digest);
    let amd64 = Platform::new("linux", "amd64");
    let m = repo.manifest_for_platform("v1", &amd64).await.unwrap();
    assert_eq!(m.bytes(), image.manifest.bytes());
    let config = repo.image_config(&m).await.unwrap();
    assert_eq!(config.created.as_deref(), Some(CREATED));
    // The CNCF registry sends no rate-limit headers.
    assert_eq!(repo.rate_limit("v1").await.unwrap(), None);

    let with: Vec<Tag> = repo.tags_with_digest(&image.digest).await.unwrap();
    assert_eq!(with, tags);
    let info = repo.tag_info("v2", &amd64).await.unwrap();
    assert_eq!((info.tag.as_str(), &info.digest), ("v2", &image.digest));
    assert_eq!(info.created.as_deref(), Some(CREATED));
    let report = repo
        .tag_report(&ReportOptions::default().concurrency(2).platform(amd64))
        .await
        .unwrap()
        .complete()
        .unwrap();
    let names: Vec<&str> = report.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(names, ["v1", "v2", "v3"]);
    assert!(report.iter().all(|t| t.digest == image.digest));

    // The catalog, typed.
    let all: Vec<RepositoryName> = client.repositories().try_collect().await.unwrap();
    assert!(all.contains(repo.name()), "{all:?}");
}

#[tokio::test]
async fn blobs_through_the_handle() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = reg.client().repository("handle/blobs").unwrap();
    let image = push_image(&repo, "blobs", &[]).await;
    let layer = &image.layer;
    assert_eq!(layer.outcome, PushOutcome::Uploaded);
    assert_eq!(image.config.outcome, PushOutcome::Uploaded);
    assert!(repo.blob_exists(&image.config.digest).await.unwrap());
    assert_eq!(layer.size, image.layer_bytes.len() as u64);
    assert_eq!(layer.digest, Digest::sha256(&image.layer_bytes));
    assert_eq!(
        layer.descriptor(media_type::OCI_LAYER),
        Descriptor::new(media_type::OCI_LAYER, layer.digest.clone(), layer.size)
    );
    // Again: already there.
    let again = repo.push_blob(image.layer_bytes.clone()).await.unwrap();
    assert_eq!(again.outcome, PushOutcome::Exists);
    assert_eq!((&again.digest, again.size), (&layer.digest, layer.size));

    assert_eq!(
        repo.blob_size(&layer.digest).await.unwrap(),
        Some(layer.size)
    );
    assert!(repo.blob_exists(layer.digest.as_str()).await.unwrap());
    let bytes = repo.blob_bytes(&layer.digest, 1 << 20).await.unwrap();
    assert!(bytes == image.layer_bytes);
    let streamed: Vec<Bytes> = repo
        .blob_stream(layer.digest.clone())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(streamed.concat() == image.layer_bytes);
    let sized = repo
        .blob_stream_sized(&layer.digest, Some(layer.size))
        .await
        .unwrap();
    assert_eq!(sized.size(), Some(layer.size));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer");
    assert_eq!(
        repo.download_blob(&layer.digest, &path).await.unwrap(),
        layer.size
    );
    assert!(std::fs::read(&path).unwrap() == image.layer_bytes);
    let mut seen = 0;
    let path2 = dir.path().join("layer2");
    repo.download_blob_with(&layer.digest, Some(layer.size), &path2, |n, _| seen = n)
        .await
        .unwrap();
    assert_eq!(seen, layer.size);

    // A stream: uploaded in chunks, then (digest known) not even read.
    let data = b"streamed blob ".repeat(5000);
    let digest = Digest::sha256(&data);
    let chunks = stream::iter(
        data.chunks(10_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let pushed = repo
        .push_blob_stream(chunks, &BlobPushOptions::default().chunk_size(32 * 1024))
        .await
        .unwrap();
    assert_eq!(
        (pushed.digest.clone(), pushed.size, pushed.outcome),
        (digest.clone(), data.len() as u64, PushOutcome::Uploaded)
    );
    let untouchable = stream::poll_fn(|_| -> std::task::Poll<Option<dockreg::Result<Bytes>>> {
        panic!("the stream was read")
    });
    let pushed = repo
        .push_blob_stream(
            untouchable,
            &BlobPushOptions::default().digest(digest.clone()),
        )
        .await
        .unwrap();
    assert_eq!(pushed.outcome, PushOutcome::Exists);
    assert_eq!(pushed.size, data.len() as u64);

    // An upload session fed by hand.
    let mut upload = repo.start_upload().await.unwrap();
    upload
        .write_chunk(Bytes::from_static(b"by hand"))
        .await
        .unwrap();
    let by_hand = upload.finish().await.unwrap();
    assert_eq!(by_hand, Digest::sha256(b"by hand"));

    repo.delete_blob(&by_hand).await.unwrap();
    assert!(!repo.blob_exists(&by_hand).await.unwrap());
}

#[tokio::test]
async fn mounts_are_mounted_or_started() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let src = client.repository("handle/mount-src").unwrap();
    let dst = client.repository("handle/mount-dst").unwrap();
    let pushed = src
        .push_blob(b"mounted through the handle".to_vec())
        .await
        .unwrap();
    assert!(!dst.blob_exists(&pushed.digest).await.unwrap());

    let mount = dst.mount_blob(&pushed.digest, &src).await.unwrap();
    assert!(mount.is_mounted(), "{mount:?}");
    assert!(matches!(mount, Mount::Mounted));
    assert_eq!(
        dst.blob_size(&pushed.digest).await.unwrap(),
        Some(pushed.size)
    );

    // The source lacks this one: the registry opens a session instead.
    let missing = Digest::sha256(b"not in the source");
    match dst.mount_blob(&missing, "handle/mount-src").await.unwrap() {
        Mount::Started(upload) => {
            assert_eq!(upload.offset(), 0);
            upload.cancel().await.unwrap();
        }
        Mount::Mounted => panic!("a blob the source does not have was mounted"),
    }
    let upload = dst
        .mount_blob(missing.as_str(), src.name())
        .await
        .unwrap()
        .into_upload()
        .expect("a session");
    upload.cancel().await.unwrap();
    assert!(!dst.blob_exists(&missing).await.unwrap());
}

#[tokio::test]
async fn copies_layouts_and_deletes_through_the_handle() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = reg.client();
    let src = client.repository("handle/copy-src").unwrap();
    let image = push_image(&src, "copy", &["v1"]).await;

    let dst = client.repository("handle/copy-dst").unwrap();
    let report = src
        .copy_image("v1", &dst, "copied", &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.digest.as_ref(), Some(&image.digest));
    assert_eq!(report.blobs_mounted, 2);
    assert_eq!(dst.manifest_digest("copied").await.unwrap(), image.digest);

    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let pulled = src
        .pull_to_layout(
            "v1",
            &layout,
            &LayoutPullOptions::default().ref_name("v1").concurrency(2),
        )
        .await
        .unwrap();
    assert_eq!(pulled.digest.as_ref(), Some(&image.digest));
    assert_eq!(pulled.blobs_uploaded, 2);
    assert!(layout.has_blob(&image.layer.digest));

    let back = client.repository("handle/from-layout").unwrap();
    let pushed = back
        .push_from_layout(&layout, "v1", &LayoutPushOptions::default().ref_name("v1"))
        .await
        .unwrap();
    assert_eq!(pushed.digest.as_ref(), Some(&image.digest));
    assert_eq!(pushed.blobs_uploaded, 2);
    assert_eq!(back.manifest_digest("v1").await.unwrap(), image.digest);

    // Delete: a tag (its digest back), then a manifest by digest.
    let gone = dst.delete_tag("copied").await.unwrap();
    assert_eq!(gone, image.digest);
    assert!(dst.manifest("copied").await.unwrap_err().is_not_found());
    back.delete_manifest(&image.digest).await.unwrap();
    assert!(back.manifest_digest("v1").await.unwrap_err().is_not_found());
    let left: Vec<Tag> = back.tags().try_collect().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_reference_reaches_the_registry_it_names() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let repo = reg.client().repository("handle/by-reference").unwrap();
    let image = push_image(&repo, "by-reference", &["v1"]).await;
    let reference: Reference = format!("{}/handle/by-reference:v1", reg.host)
        .parse()
        .unwrap();

    let (repo, target) = Client::for_reference(&reference).unwrap();
    assert_eq!(repo.manifest_digest(&target).await.unwrap(), image.digest);
    let (repo, target) = reg.client().repository_for(&reference).unwrap();
    assert_eq!(
        repo.manifest(target).await.unwrap().bytes(),
        image.manifest.bytes()
    );
}

/// `ReportOptions::filter` keeps tags out before anything is fetched, and
/// the observer hears each tag listed and each tag read, in that order.
#[test]
fn a_report_filters_before_fetching_and_tells_its_observer() {
    use std::sync::{Arc, Mutex};
    let Some(reg) = registry::shared() else {
        return;
    };
    let tags = ["keep-1", "keep-2", "skip-1"];
    crate::delete::push_image(reg, "report/observed", "observed", &tags);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let heard = seen.clone();
    let options = dockreg::repository::ReportOptions::default()
        .filter(|tag| tag.starts_with("keep-"))
        .observer(move |event| {
            let line = match event {
                dockreg::api::ReportEvent::Listed { tag } => format!("listed {tag}"),
                dockreg::api::ReportEvent::Read { tag, ok } => format!("read {tag} {ok}"),
                _ => "other".to_owned(),
            };
            heard.lock().unwrap().push(line);
        });
    let repo = reg.client().repository("report/observed").unwrap();
    let report = registry::run_async(
        std::time::Duration::from_secs(60),
        repo.tag_report(&options),
    )
    .unwrap();
    let mut reported: Vec<String> = report.rows.iter().map(|r| r.tag.to_string()).collect();
    reported.sort();
    assert_eq!(reported, ["keep-1", "keep-2"]);
    let mut events = seen.lock().unwrap().clone();
    for tag in ["keep-1", "keep-2"] {
        let listed = events
            .iter()
            .position(|e| *e == format!("listed {tag}"))
            .expect("listed");
        let read = events
            .iter()
            .position(|e| *e == format!("read {tag} true"))
            .expect("read");
        assert!(listed < read, "{events:?}");
    }
    events.sort();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(!events.iter().any(|e| e.contains("skip-1")), "{events:?}");
}
