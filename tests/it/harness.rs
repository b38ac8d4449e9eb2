//! Tests of the integration-test harness itself (`tests/registry/`): they
//! start real registries, seed every fixture, and check the content with
//! plain HTTP and with skopeo. They also pin down how the registry the
//! client is tested against (CNCF distribution 2.8.2, Debian's
//! `docker-registry`) actually behaves:
//!
//! Catalog (`GET /v2/_catalog`):
//! * Without `n` it returns at most 100 repositories (the default page
//!   size) and a `Link` header when there are more; a bad `n` (`-1`, `abc`)
//!   behaves like no `n`; `n=0` returns `{"repositories":[]}` and no Link.
//! * `n` above 1000 (the default `catalog.maxentries`) is refused:
//!   `n=1001` answers `400 Bad Request` with body
//!   `{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested","detail":{"n":1001}}]}`.
//! * The Link header is RELATIVE (path and query only), its query has `last`
//!   before `n`, `last` is percent-encoded, and `rel` is quoted:
//!   `Link: </v2/_catalog?last=many%2Frepo-0097&n=100>; rel="next"`.
//! * No Link on the last page, also when the last page is exactly `n` long.
//! * Repositories that hold only blobs (no manifest) are listed too.
//!
//! Tags (`GET /v2/NAME/tags/list`):
//! * NOT paginated: `n` and `last` are ignored, all tags come in one
//!   response without a Link header (1,100 tags here), and they are NOT
//!   sorted (filesystem order): the client must sort them itself.
//! * Unknown repository: `404` with
//!   `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"NAME"}}]}`.
//!
//! Manifests:
//! * HEAD (with a matching Accept) answers `200` with `Content-Length` (the
//!   manifest's size), `Content-Type`, `Docker-Content-Digest` and
//!   `Etag: "sha256:..."` (quoted digest), and no body.
//! * An OCI manifest or index fetched (GET or HEAD, by tag or by digest)
//!   without its media type in Accept: `404` with
//!   `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI manifest found, but accept header does not support OCI manifests"}]}`
//!   (index: `"OCI index found, but accept header does not support OCI indexes"`).
//! * A schema 2 manifest fetched BY TAG without schema 2 in Accept (no
//!   Accept, or `*/*`) is converted on the fly to a signed schema 1
//!   manifest (`application/vnd.docker.distribution.manifest.v1+prettyjws`)
//!   with another digest; by digest it is served as pushed. A schema 1
//!   manifest is served as schema 1 whatever the Accept.
//! * Signed schema 1 manifests are re-signed by the registry on every GET:
//!   the body changes from one GET to the next, `Docker-Content-Digest` is
//!   the digest of the payload without the signatures (not of the body).
//! * Unknown tag, also in an unknown repository: `404`
//!   `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}`.
//!
//! Blobs and uploads:
//! * HEAD/GET of a blob: `Content-Length`, `Content-Type:
//!   application/octet-stream`, `Docker-Content-Digest`, `Accept-Ranges:
//!   bytes`, `Etag`, `Cache-Control: max-age=31536000`; `Range: bytes=a-b`
//!   gets `206` with `Content-Range: bytes a-b/SIZE`.
//! * A blob of another repository: `404` `BLOB_UNKNOWN`.
//! * `POST .../blobs/uploads/` answers `202` with an ABSOLUTE `Location`
//!   (`http://127.0.0.1:PORT/v2/NAME/blobs/uploads/UUID?_state=...`),
//!   `Range: 0-0`, `Docker-Upload-Uuid`. A mount whose source lacks the
//!   blob silently starts a normal upload (`202`), a good one answers `201`.
//!
//! Config switches:
//! * `storage.delete.enabled: false`: DELETE of a manifest or blob answers
//!   `405` `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`.
//! * `compatibility.schema1.enabled: false`: a signed schema 1 push answers
//!   `500` `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{}}]}`
//!   (logged as "manifest schema v1 unsupported"). Schema 2 manifests are
//!   STILL converted to schema 1 on a GET by tag without schema 2 in Accept.
//! * Either way, that conversion fails when the image config has no
//!   `history`: `400` `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}`.
//!   (All the harness's fixtures have a history, so they convert.)

use crate::registry;

use std::io::Read;
use std::time::Instant;

use registry::{media, RegistryConfig};
use sha2::{Digest as _, Sha256};

/// Follows `Link` headers from `first` and returns every page's JSON and Link.
fn pages(reg: &registry::Registry, first: &str) -> Vec<(serde_json::Value, Option<String>)> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let r = reg.get(&path, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        let link = r.header("link").map(str::to_string);
        next = link.as_deref().map(|l| {
            let target = l
                .strip_prefix('<')
                .and_then(|l| l.split_once('>'))
                .map(|(t, rest)| {
                    assert_eq!(rest, "; rel=\"next\"", "Link form: {l}");
                    t
                })
                .unwrap_or_else(|| panic!("unexpected Link form: {l}"));
            assert!(target.starts_with("/v2/"), "Link is relative: {l}");
            target.to_string()
        });
        out.push((r.json(), link));
        assert!(out.len() < 100, "pagination does not end");
    }
    out
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn catalog_of_many_repositories() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let t = Instant::now();
    let seeded = reg.seed_many_repos(1200);
    eprintln!("seed_many_repos(1200): {:?}", t.elapsed());
    assert_eq!(seeded.names.len(), 1200);
    assert_eq!(seeded.names[0], "many/repo-0000");
    assert_eq!(seeded.names[1199], "many/repo-1199");

    // Without n: the first 100 and a Link.
    let r = reg.get("/v2/_catalog", None);
    assert_eq!(r.status, 200);
    let first = strings(&r.json()["repositories"]);
    assert_eq!(first.len(), 100, "default page size");
    let link = r.header("link").expect("Link without n").to_string();
    let last = &first[99];
    assert_eq!(
        link,
        format!(
            "</v2/_catalog?last={}&n=100>; rel=\"next\"",
            last.replace('/', "%2F")
        )
    );

    // n=1000: 1000 entries and a Link of the exact documented form.
    let r = reg.get("/v2/_catalog?n=1000", None);
    assert_eq!(r.status, 200);
    let page = strings(&r.json()["repositories"]);
    assert_eq!(page.len(), 1000);
    let link = r.header("link").expect("Link with n=1000");
    assert!(
        link.starts_with("</v2/_catalog?last=") && link.ends_with("&n=1000>; rel=\"next\""),
        "{link}"
    );

    // n=1001: refused.
    let r = reg.get("/v2/_catalog?n=1001", None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"PAGINATION_NUMBER_INVALID\",\"message\":\"invalid number of results requested\",\"detail\":{\"n\":1001}}]}\n"
    );
    assert!(r.header("link").is_none());

    // A bad n is ignored (default page size).
    for bad in ["-1", "abc"] {
        let r = reg.get(&format!("/v2/_catalog?n={bad}"), None);
        assert_eq!(r.status, 200);
        assert_eq!(strings(&r.json()["repositories"]).len(), 100, "n={bad}");
        assert!(r.header("link").unwrap().ends_with("&n=100>; rel=\"next\""));
    }

    // n=0: empty, no Link.
    let r = reg.get("/v2/_catalog?n=0", None);
    assert_eq!(r.text(), "{\"repositories\":[]}\n");
    assert!(r.header("link").is_none());

    // Walking the Links with n=1000 and with the default size sees all.
    for start in ["/v2/_catalog?n=1000", "/v2/_catalog"] {
        let pages = pages(reg, start);
        assert!(pages.last().unwrap().1.is_none());
        let all: Vec<String> = pages
            .iter()
            .flat_map(|(v, _)| strings(&v["repositories"]))
            .collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted, "catalog is sorted");
        let many: Vec<String> = all.into_iter().filter(|n| n.starts_with("many/")).collect();
        assert_eq!(many, seeded.names, "from {start}");
    }

    // Every repository has the one manifest.
    let name = &seeded.names[777];
    let r = reg.get(
        &format!("/v2/{name}/manifests/latest"),
        Some(media::DOCKER_MANIFEST_V2),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("docker-content-digest"),
        Some(seeded.manifest_digest.as_str())
    );
    assert_eq!(r.body.len() as u64, seeded.manifest_size);
}

#[test]
fn many_tags_in_one_repository() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let t = Instant::now();
    let seeded = reg.seed_many_tags("tags/app", 1100);
    eprintln!("seed_many_tags(1100): {:?}", t.elapsed());
    assert_eq!(seeded.tags.len(), 1100);

    // tags/list is not paginated: n and last are ignored, no Link.
    for path in [
        "/v2/tags/app/tags/list",
        "/v2/tags/app/tags/list?n=10",
        "/v2/tags/app/tags/list?n=10&last=tag-0100",
    ] {
        let r = reg.get(path, None);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("link").is_none(),
            "{path}: Link {:?}",
            r.header("link")
        );
        let v = r.json();
        assert_eq!(v["name"], "tags/app");
        let mut tags = strings(&v["tags"]);
        assert_eq!(tags.len(), 1100, "{path}");
        tags.sort();
        assert_eq!(tags, seeded.tags);
    }

    let mut skopeo_tags = registry::skopeo_list_tags(reg, "tags/app");
    skopeo_tags.sort();
    assert_eq!(skopeo_tags, seeded.tags);

    let r = reg.get("/v2/nope/nope/tags/list", None);
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\",\"detail\":{\"name\":\"nope/nope\"}}]}\n"
    );

    // All tags point at the one manifest.
    let h = reg.raw(
        "HEAD",
        "/v2/tags/app/manifests/tag-1099",
        &[("Accept", media::DOCKER_MANIFEST_V2)],
    );
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("docker-content-digest"),
        Some(seeded.manifest_digest.as_str())
    );
}

#[tokio::test]
async fn report_repository_from_async_test() {
    let Some(reg) = registry::shared() else {
        return;
    };
    // Seeding blocks this thread but runs on its own runtime: fine here.
    let t = Instant::now();
    let seeded = reg.seed_report_repo("report/app", 30);
    eprintln!("seed_report_repo(30): {:?}", t.elapsed());
    assert_eq!(seeded.entries.len(), 30);
    let tags: Vec<&str> = seeded.entries.iter().map(|e| e.tag.as_str()).collect();
    let mut sorted_tags = tags.clone();
    sorted_tags.sort();
    assert_eq!(tags, sorted_tags);
    let created: Vec<&str> = seeded.entries.iter().map(|e| e.created.as_str()).collect();
    let mut sorted_created = created.clone();
    sorted_created.sort();
    assert_ne!(created, sorted_created, "created dates are shuffled");
    assert_eq!(sorted_created[0], "2021-01-01T00:00:00Z");
    assert_eq!(sorted_created[29], "2021-01-02T05:00:00Z");

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for e in &seeded.entries {
        let resp = client
            .get(reg.url(&format!("/v2/report/app/manifests/{}", e.tag)))
            .header("Accept", media::DOCKER_MANIFEST_V2)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let digest = resp.headers()["docker-content-digest"].to_str().unwrap();
        assert_eq!(digest, e.manifest_digest);
        let m: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(m["config"]["digest"], e.config_digest.as_str());
        assert_eq!(m["layers"][0]["digest"], seeded.layer_digest.as_str());
        let config = client
            .get(reg.url(&format!("/v2/report/app/blobs/{}", e.config_digest)))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["created"], e.created.as_str());
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["history"][0]["created"], e.created.as_str());
    }

    // skopeo (a blocking process: fine for a test) sees the same.
    let e = &seeded.entries[7];
    let v = registry::skopeo_inspect(reg, &format!("report/app:{}", e.tag), false);
    assert_eq!(v["Digest"], e.manifest_digest.as_str());
    assert_eq!(v["Created"], e.created.as_str());
    assert_eq!(v["Architecture"], "amd64");
    let c = registry::skopeo_inspect_config(reg, &format!("report/app:{}", e.tag));
    assert_eq!(c["created"], e.created.as_str());
}

#[tokio::test]
async fn big_blob_round_trip() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let size = 64 << 20;
    let t = Instant::now();
    let blob = reg.seed_big_blob("big/blob", size);
    eprintln!("seed_big_blob(64 MiB): {:?}", t.elapsed());
    assert_eq!(blob.size, size);

    let head = reg.raw("HEAD", &format!("/v2/big/blob/blobs/{}", blob.digest), &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("67108864"));
    assert_eq!(
        head.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        head.header("content-type"),
        Some("application/octet-stream")
    );

    let range = reg.raw(
        "GET",
        &format!("/v2/big/blob/blobs/{}", blob.digest),
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(range.status, 206);
    assert_eq!(
        range.header("content-range"),
        Some("bytes 100-199/67108864")
    );
    assert_eq!(range.body, registry::big_blob_bytes(200)[100..]);

    // Stream it, hash it, and compare with the regenerated bytes.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut resp = client
        .get(reg.url(&format!("/v2/big/blob/blobs/{}", blob.digest)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut expected = registry::big_blob_reader(size);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut want = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        want.resize(chunk.len(), 0);
        expected.read_exact(&mut want).unwrap();
        assert!(chunk[..] == want[..], "content differs near offset {total}");
        hasher.update(&chunk);
        total += chunk.len() as u64;
    }
    assert_eq!(total, size);
    let got: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(format!("sha256:{got}"), blob.digest);

    // Not visible from another repository.
    let r = reg.raw("GET", &format!("/v2/tags/app/blobs/{}", blob.digest), &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errors"][0]["code"], "BLOB_UNKNOWN");

    // A second call is free and identical.
    let again = reg.seed_big_blob("big/blob", size);
    assert_eq!(again.digest, blob.digest);
}

#[test]
fn skopeo_and_umoci_images() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let t = Instant::now();
    let img = reg.seed_skopeo_images();
    eprintln!("seed_skopeo_images(): {:?}", t.elapsed());

    // OCI image manifest.
    let oci = &img.oci;
    assert_eq!(oci.media_type, media::OCI_MANIFEST);
    assert_eq!(oci.layer_digests.len(), 2);
    assert_eq!(oci.created, "2023-05-06T07:08:09Z");
    let raw = registry::skopeo_inspect(reg, "oci/image:v1", true);
    let served = reg.get("/v2/oci/image/manifests/v1", Some(media::OCI_MANIFEST));
    assert_eq!(raw, served.json());
    let v = registry::skopeo_inspect(reg, "oci/image:v1", false);
    assert_eq!(v["Digest"], oci.manifest_digest.as_str());
    assert_eq!(v["Created"], "2023-05-06T07:08:09Z");
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Labels"]["org.dockreg.test.source"], "umoci");
    assert_eq!(strings(&v["Layers"]), oci.layer_digests);

    // HEAD: digest, length, type, no body.
    let h = reg.raw(
        "HEAD",
        "/v2/oci/image/manifests/v1",
        &[("Accept", media::OCI_MANIFEST)],
    );
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("docker-content-digest"),
        Some(oci.manifest_digest.as_str())
    );
    assert_eq!(
        h.header("content-length"),
        Some(oci.manifest_size.to_string().as_str())
    );
    assert_eq!(h.header("content-type"), Some(media::OCI_MANIFEST));
    assert_eq!(
        h.header("etag"),
        Some(format!("\"{}\"", oci.manifest_digest).as_str())
    );
    assert!(h.body.is_empty());

    // OCI manifest without OCI in Accept: 404, by tag and by digest.
    let msg = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"OCI manifest found, but accept header does not support OCI manifests\"}]}\n";
    for path in [
        "/v2/oci/image/manifests/v1".to_string(),
        format!("/v2/oci/image/manifests/{}", oci.manifest_digest),
    ] {
        for accept in [None, Some(media::DOCKER_MANIFEST_V2), Some("*/*")] {
            let r = reg.get(&path, accept);
            assert_eq!(r.status, 404, "{path} {accept:?}");
            assert_eq!(r.text(), msg);
        }
    }

    // Docker schema 2 (same config and layers as the OCI one).
    let d = &img.docker;
    assert_eq!(d.media_type, media::DOCKER_MANIFEST_V2);
    assert_eq!(d.layer_digests, oci.layer_digests);
    let v = registry::skopeo_inspect(reg, "docker/image:v1", false);
    assert_eq!(v["Digest"], d.manifest_digest.as_str());
    assert_eq!(v["Labels"]["org.dockreg.test.source"], "umoci");
    let c = registry::skopeo_inspect_config(reg, "docker/image:v1");
    assert_eq!(c["created"], "2023-05-06T07:08:09Z");
    // By tag without schema 2 in Accept it is converted to signed schema 1.
    for accept in [None, Some("*/*")] {
        let r = reg.get("/v2/docker/image/manifests/v1", accept);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some(media::DOCKER_MANIFEST_V1_SIGNED)
        );
        assert_ne!(
            r.header("docker-content-digest"),
            Some(d.manifest_digest.as_str())
        );
        assert_eq!(r.json()["schemaVersion"], 1);
    }
    // By digest it is served as pushed.
    let r = reg.get(
        &format!("/v2/docker/image/manifests/{}", d.manifest_digest),
        None,
    );
    assert_eq!(r.header("content-type"), Some(media::DOCKER_MANIFEST_V2));
    assert_eq!(registry::sha256_digest(&r.body), d.manifest_digest);

    // Signed schema 1.
    let s1 = &img.schema1;
    assert_eq!(s1.media_type, media::DOCKER_MANIFEST_V1_SIGNED);
    assert!(s1.config_digest.is_none());
    assert_eq!(s1.created, "2023-05-06T07:08:09Z");
    let a = reg.get(
        "/v2/schema1/image/manifests/v1",
        Some(media::DOCKER_MANIFEST_V1_SIGNED),
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some(media::DOCKER_MANIFEST_V1_SIGNED)
    );
    assert_eq!(
        a.header("docker-content-digest"),
        Some(s1.manifest_digest.as_str())
    );
    assert_ne!(registry::sha256_digest(&a.body), s1.manifest_digest);
    assert!(a.json()["signatures"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    // Served as schema 1 whatever the Accept; re-signed on every GET.
    let b = reg.get(
        "/v2/schema1/image/manifests/v1",
        Some(media::DOCKER_MANIFEST_V2),
    );
    assert_eq!(
        b.header("content-type"),
        Some(media::DOCKER_MANIFEST_V1_SIGNED)
    );
    assert_eq!(
        b.header("docker-content-digest"),
        Some(s1.manifest_digest.as_str())
    );
    assert_ne!(a.body, b.body, "schema 1 is re-signed on each GET");
    let v = registry::skopeo_inspect(reg, "schema1/image:v1", false);
    assert_eq!(v["Digest"], s1.manifest_digest.as_str());
    assert_eq!(v["Architecture"], "amd64");

    // The multi-arch OCI index.
    let m = &img.multi;
    assert_eq!(m.manifests.len(), 2);
    let r = reg.get("/v2/multi/image/manifests/v1", Some(media::OCI_INDEX));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(media::OCI_INDEX));
    assert_eq!(
        r.header("docker-content-digest"),
        Some(m.index_digest.as_str())
    );
    let index = r.json();
    assert_eq!(index["manifests"][1]["platform"]["architecture"], "arm64");
    assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
    assert_eq!(registry::skopeo_inspect(reg, "multi/image:v1", true), index);
    let v = registry::skopeo_inspect(reg, "multi/image:v1", false);
    assert_eq!(v["Architecture"], "amd64");
    let arm = &m.manifests[1];
    let v = registry::skopeo_inspect(reg, &format!("multi/image@{}", arm.manifest_digest), false);
    assert_eq!(v["Architecture"], "arm64");
    let c = registry::skopeo_inspect_config(reg, &format!("multi/image@{}", arm.manifest_digest));
    assert_eq!(c["variant"], "v8");
    assert_eq!(strings(&v["Layers"]), vec![arm.layer_digest.clone()]);
    let r = reg.get("/v2/multi/image/manifests/v1", Some(media::OCI_MANIFEST));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"OCI index found, but accept header does not support OCI indexes\"}]}\n"
    );

    // Unknown tag.
    let r = reg.get("/v2/oci/image/manifests/nope", Some(media::OCI_MANIFEST));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"nope\"}}]}\n"
    );
}

#[test]
fn helpers_without_a_registry() {
    assert_eq!(registry::rfc3339(1_609_459_200), "2021-01-01T00:00:00Z");
    assert_eq!(
        registry::rfc3339(1_609_459_200 + 59 * 86_400 + 3_661),
        "2021-03-01T01:01:01Z"
    );
    assert_eq!(registry::rfc3339(1_683_356_889), "2023-05-06T07:08:09Z");
    assert_eq!(
        registry::sha256_digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // The big blob's bytes: a reader and a buffer agree, shorter is a prefix.
    let all = registry::big_blob_bytes(1001);
    let mut read = Vec::new();
    registry::big_blob_reader(1001)
        .read_to_end(&mut read)
        .unwrap();
    assert_eq!(all, read);
    assert_eq!(registry::big_blob_bytes(13), all[..13]);
    // The tiny layer is a real gzip'd tar: gunzip and tar agree.
    let layer = registry::tiny_layer(&[("etc/x.txt", b"x\n"), ("y", b"")]);
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("layer.tar.gz");
    std::fs::write(&gz, &layer.gz).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-tzvf")
        .arg(&gz)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("etc/x.txt") && listing.contains(" y\n"),
        "{listing}"
    );
    let tar = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap();
    assert!(tar.status.success());
    assert_eq!(registry::sha256_digest(&tar.stdout), layer.diff_id);
}

#[test]
fn fixtures_are_seeded_once_across_threads() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| reg.seed_many_tags("once/app", 40)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert_eq!(r.tags, results[0].tags);
        assert_eq!(r.manifest_digest, results[0].manifest_digest);
    }
    let v = reg.get("/v2/once/app/tags/list", None).json();
    assert_eq!(v["tags"].as_array().unwrap().len(), 40);
}

#[test]
fn private_registries_with_their_own_config() {
    let Some(mut strict) = registry::start(RegistryConfig {
        delete_enabled: false,
        schema1: false,
    }) else {
        return;
    };
    let Some(shared) = registry::shared() else {
        return;
    };
    assert_ne!(strict.port(), shared.port());
    let r = strict.get("/v2/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "{}");
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );

    // Push a schema 2 image with the raw helpers.
    let layer = registry::tiny_layer(&[("hello.txt", b"hello\n")]);
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"history\":[{{\"created_by\":\"test\"}}],\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\"]}}}}",
        layer.diff_id
    );
    let cd = strict.push_blob("strict/app", config.clone().into_bytes());
    let ld = strict.push_blob("strict/app", layer.gz.clone());
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"config\":{{\"mediaType\":\"{}\",\"size\":{},\"digest\":\"{cd}\"}},\"layers\":[{{\"mediaType\":\"{}\",\"size\":{},\"digest\":\"{ld}\"}}]}}",
        media::DOCKER_MANIFEST_V2,
        media::DOCKER_CONFIG,
        config.len(),
        media::DOCKER_LAYER,
        layer.gz.len()
    );
    let md = strict.put_manifest(
        "strict/app",
        "v1",
        media::DOCKER_MANIFEST_V2,
        manifest.into_bytes(),
    );
    assert_eq!(strict.manifest_digest("strict/app", "v1"), md);

    // Upload Location is absolute; a mount whose source lacks the blob
    // starts an ordinary upload (202), a good mount answers 201.
    let r = strict.raw("POST", "/v2/strict/up/blobs/uploads/", &[]);
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with(&format!("{}/v2/strict/up/blobs/uploads/", strict.base_url)),
        "{loc}"
    );
    assert!(loc.contains("?_state="), "{loc}");
    assert_eq!(r.header("range"), Some("0-0"));
    assert!(r.header("docker-upload-uuid").is_some());
    let r = strict.raw(
        "POST",
        &format!("/v2/strict/up/blobs/uploads/?mount={ld}&from=strict/nothing"),
        &[],
    );
    assert_eq!(r.status, 202);
    let r = strict.raw(
        "POST",
        &format!("/v2/strict/up/blobs/uploads/?mount={ld}&from=strict/app"),
        &[],
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("docker-content-digest"), Some(ld.as_str()));

    // Unknown tag in an unknown repository: MANIFEST_UNKNOWN too.
    let r = strict.get("/v2/no/such/manifests/v1", None);
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"v1\"}}]}\n"
    );

    // Delete disabled.
    let unsupported =
        "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"The operation is unsupported.\"}]}\n";
    let r = strict.raw("DELETE", &format!("/v2/strict/app/manifests/{md}"), &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.text(), unsupported);
    let r = strict.raw("DELETE", &format!("/v2/strict/app/blobs/{ld}"), &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.text(), unsupported);

    // Schema 1 disabled: a schema 2 manifest fetched by tag without
    // schema 2 in Accept is STILL converted to signed schema 1...
    let r = strict.get("/v2/strict/app/manifests/v1", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(media::DOCKER_MANIFEST_V1_SIGNED)
    );
    // ...unless its config has no `history`: then 400 MANIFEST_INVALID
    // (the registry logs "empty history when trying to create schema1
    // manifest"); the same happens with schema 1 enabled.
    let bare = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\"]}}}}",
        layer.diff_id
    );
    let bare_digest = strict.push_blob("strict/app", bare.clone().into_bytes());
    let bare_manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"config\":{{\"mediaType\":\"{}\",\"size\":{},\"digest\":\"{bare_digest}\"}},\"layers\":[{{\"mediaType\":\"{}\",\"size\":{},\"digest\":\"{ld}\"}}]}}",
        media::DOCKER_MANIFEST_V2,
        media::DOCKER_CONFIG,
        bare.len(),
        media::DOCKER_LAYER,
        layer.gz.len()
    );
    strict.put_manifest(
        "strict/app",
        "bare",
        media::DOCKER_MANIFEST_V2,
        bare_manifest.into_bytes(),
    );
    let r = strict.get("/v2/strict/app/manifests/bare", None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":\"manifest invalid\",\"detail\":{}}]}\n"
    );

    // Schema 1 disabled: a signed schema 1 push is refused with a 500
    // (logged as "manifest schema v1 unsupported").
    shared.seed_skopeo_images();
    let signed = shared.get(
        "/v2/schema1/image/manifests/v1",
        Some(media::DOCKER_MANIFEST_V1_SIGNED),
    );
    let r = strict.send(
        "PUT",
        "/v2/schema1/image/manifests/v1",
        &[("Content-Type", media::DOCKER_MANIFEST_V1_SIGNED)],
        Some(signed.body),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"unknown error\",\"detail\":{}}]}\n"
    );

    // A last catalog page exactly n long has no Link; one short has one.
    strict.push_blob("strict/b", b"b".to_vec());
    strict.push_blob("strict/c", b"c".to_vec());
    let all = strings(&strict.get("/v2/_catalog?n=1000", None).json()["repositories"]);
    assert!(all.len() >= 3, "{all:?}");
    assert!(
        all.iter().any(|n| n == "strict/c"),
        "blob-only repos are listed"
    );
    let k = all.len();
    let r = strict.get(&format!("/v2/_catalog?n={k}"), None);
    assert_eq!(strings(&r.json()["repositories"]), all);
    assert!(r.header("link").is_none(), "no Link on an exact last page");
    let r = strict.get(&format!("/v2/_catalog?n={}", k - 1), None);
    assert_eq!(
        r.header("link").map(str::to_string),
        Some(format!(
            "</v2/_catalog?last={}&n={}>; rel=\"next\"",
            all[k - 2].replace('/', "%2F"),
            k - 1
        ))
    );
    let r = strict.get(
        &format!("/v2/_catalog?n={}&last={}", k - 1, all[k - 2]),
        None,
    );
    assert_eq!(strings(&r.json()["repositories"]), all[k - 1..]);
    assert!(r.header("link").is_none());

    // Dropping stops the registry and removes its directory.
    assert!(strict.is_running());
    let dir = strict.dir().to_path_buf();
    let port = strict.port();
    drop(strict);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
