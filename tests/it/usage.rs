//! The space report against the real registry: per-repository and total
//! bytes of two repositories sharing a layer, what deleting a tag, an index
//! or a repository would free, and that prediction checked against the blob
//! files `docker-registry garbage-collect` actually removes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::registry;

use dockreg::usage::{DeleteTarget, UsageOptions};
use dockreg::{Digest, RepositoryName};
use registry::{media, Registry, RegistryConfig, TinyLayer};
use serde_json::json;

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

/// A blob as pushed: digest and size.
#[derive(Debug, Clone)]
struct Blob {
    digest: Digest,
    size: u64,
}

/// An image pushed with the raw API: its manifest, config and own layer.
#[derive(Debug, Clone)]
struct Image {
    manifest: Blob,
    config: Blob,
    layer: Blob,
}

/// Pushes to `repo` a schema 2 image of two layers, `shared` and one of its
/// own (`payload` bytes, told apart by `label`), tagged with `tags` (or by
/// digest alone).
fn push_image(
    reg: &Registry,
    repo: &str,
    label: &str,
    payload: usize,
    shared: &TinyLayer,
    tags: &[&str],
) -> Image {
    let content = label.repeat(payload / label.len() + 1);
    let own = registry::tiny_layer(&[("data.txt", &content.as_bytes()[..payload])]);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"label": label}},
        "rootfs": {"type": "layers", "diff_ids": [shared.diff_id, own.diff_id]},
    }))
    .unwrap();
    let config_digest = reg.push_blob(repo, config.clone());
    reg.push_blob(repo, shared.gz.clone());
    let layer_digest = reg.push_blob(repo, own.gz.clone());
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_V2,
        "config": {"mediaType": media::DOCKER_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": [
            {"mediaType": media::DOCKER_LAYER, "size": shared.gz.len(), "digest": shared.digest},
            {"mediaType": media::DOCKER_LAYER, "size": own.gz.len(), "digest": layer_digest},
        ],
    }))
    .unwrap();
    let manifest_digest = registry::sha256_digest(&manifest);
    let refs: Vec<&str> = if tags.is_empty() {
        vec![&manifest_digest]
    } else {
        tags.to_vec()
    };
    for r in refs {
        let got = reg.put_manifest(repo, r, media::DOCKER_MANIFEST_V2, manifest.clone());
        assert_eq!(got, manifest_digest);
    }
    Image {
        manifest: Blob {
            digest: digest(&manifest_digest),
            size: manifest.len() as u64,
        },
        config: Blob {
            digest: digest(&config_digest),
            size: config.len() as u64,
        },
        layer: Blob {
            digest: digest(&layer_digest),
            size: own.gz.len() as u64,
        },
    }
}

/// What [`seed`] pushed.
struct Seeded {
    shared: Blob,
    /// `usage/a:one` and `usage/a:uno` (one digest).
    a1: Image,
    /// `usage/a:two`.
    a2: Image,
    /// `usage/b:latest`, also listed by the index.
    b1: Image,
    /// Untagged, listed by the index only.
    b2: Image,
    /// `usage/b:multi`, a manifest list of `b1` and `b2`.
    index: Blob,
}

/// Two repositories sharing one layer: `usage/a` with two images (three
/// tags), `usage/b` with an image, an untagged image and an index of both.
fn seed(reg: &Registry) -> Seeded {
    let shared = registry::tiny_layer(&[("shared.txt", &[b's'; 3000])]);
    let a1 = push_image(reg, "usage/a", "a-one", 1000, &shared, &["one", "uno"]);
    let a2 = push_image(reg, "usage/a", "a-two", 2000, &shared, &["two"]);
    let b1 = push_image(reg, "usage/b", "b-one", 4000, &shared, &["latest"]);
    let b2 = push_image(reg, "usage/b", "b-two", 5000, &shared, &[]);
    let entry = |image: &Image, arch: &str| {
        json!({
            "mediaType": media::DOCKER_MANIFEST_V2,
            "size": image.manifest.size,
            "digest": image.manifest.digest.to_string(),
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_LIST,
        "manifests": [entry(&b1, "amd64"), entry(&b2, "arm64")],
    }))
    .unwrap();
    let index_digest = reg.put_manifest(
        "usage/b",
        "multi",
        media::DOCKER_MANIFEST_LIST,
        index.clone(),
    );
    Seeded {
        shared: Blob {
            digest: digest(&shared.digest),
            size: shared.gz.len() as u64,
        },
        a1,
        a2,
        b1,
        b2,
        index: Blob {
            digest: digest(&index_digest),
            size: index.len() as u64,
        },
    }
}

fn sum(blobs: &[&Blob]) -> u64 {
    blobs.iter().map(|b| b.size).sum()
}

fn sorted(blobs: &[&Blob]) -> Vec<Digest> {
    let mut v: Vec<Digest> = blobs.iter().map(|b| b.digest.clone()).collect();
    v.sort();
    v
}

/// The registry's blob data files, by digest, with their sizes.
fn blob_files(storage: &Path) -> BTreeMap<String, u64> {
    let root = storage.join("docker/registry/v2/blobs/sha256");
    let mut out = BTreeMap::new();
    for prefix in std::fs::read_dir(&root).expect("blobs directory") {
        let prefix = prefix.unwrap().path();
        for blob in std::fs::read_dir(&prefix).unwrap() {
            let blob = blob.unwrap().path();
            let data = blob.join("data");
            if let Ok(meta) = std::fs::metadata(&data) {
                let hex = blob.file_name().unwrap().to_string_lossy().into_owned();
                out.insert(format!("sha256:{hex}"), meta.len());
            }
        }
    }
    out
}

/// The rows [`seed`] makes, as JSON (the field names are the output
/// format of `usage --json` too).
fn rows_expected(s: &Seeded) -> Vec<serde_json::Value> {
    let a = [
        &s.shared,
        &s.a1.config,
        &s.a1.layer,
        &s.a2.config,
        &s.a2.layer,
    ];
    let b = [
        &s.shared,
        &s.b1.config,
        &s.b1.layer,
        &s.b2.config,
        &s.b2.layer,
    ];
    let row = |repo: &str, tags: usize, manifests: &[&Blob], blobs: &[&Blob]| {
        json!({
            "repository": repo,
            "tags": tags,
            "manifests": manifests.len(),
            "blobs": blobs.len(),
            "bytes": sum(blobs),
            "manifest_bytes": sum(manifests),
            "shared_bytes": s.shared.size,
        })
    };
    vec![
        row("usage/a", 3, &[&s.a1.manifest, &s.a2.manifest], &a),
        row(
            "usage/b",
            2,
            &[&s.b1.manifest, &s.b2.manifest, &s.index],
            &b,
        ),
    ]
}

fn totals_expected(s: &Seeded) -> serde_json::Value {
    let blobs = [
        &s.shared,
        &s.a1.config,
        &s.a1.layer,
        &s.a2.config,
        &s.a2.layer,
        &s.b1.config,
        &s.b1.layer,
        &s.b2.config,
        &s.b2.layer,
    ];
    let manifests = [
        &s.a1.manifest,
        &s.a2.manifest,
        &s.b1.manifest,
        &s.b2.manifest,
        &s.index,
    ];
    json!({
        "repositories": 2,
        "tags": 5,
        "manifests": manifests.len(),
        "blobs": blobs.len(),
        "bytes": sum(&blobs),
        "manifest_bytes": sum(&manifests),
        "shared_bytes": s.shared.size,
    })
}

#[tokio::test]
async fn usage_counts_each_blob_once_per_repository_and_once_in_the_totals() {
    let reg = registry::start(RegistryConfig::default()).unwrap();
    let s = seed(&reg);
    let client = reg.client();
    let options = UsageOptions::default();

    let usage = client.usage(&options).await.unwrap();
    let rows: Vec<serde_json::Value> = usage
        .repositories
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(rows, rows_expected(&s));
    assert_eq!(
        serde_json::to_value(&usage.totals).unwrap(),
        totals_expected(&s)
    );

    // One repository: its row, the shared bytes known from the others.
    let repo = client.repository("usage/a").unwrap();
    let one = repo.usage(&options).await.unwrap();
    assert_eq!(one.repositories.len(), 1);
    assert_eq!(
        serde_json::to_value(&one.repositories[0]).unwrap(),
        rows_expected(&s)[0]
    );
    assert_eq!(
        serde_json::to_value(&one.totals).unwrap(),
        totals_expected(&s)
    );
    let alone = repo.usage(&options.clone().shared(false)).await.unwrap();
    assert_eq!(alone.repositories[0].shared_bytes, None);
    assert_eq!(alone.repositories[0].bytes, usage.repositories[0].bytes);
    assert_eq!(alone.totals.repositories, 1);
}

#[tokio::test]
async fn what_if_delete_names_the_blobs_only_the_deleted_manifests_hold() {
    let reg = registry::start(RegistryConfig::default()).unwrap();
    let s = seed(&reg);
    let client = reg.client();
    let options = UsageOptions::default().concurrency(2);

    // A tag: its manifest goes, with every tag of it; the shared layer stays.
    let one = client
        .what_if_delete(&"usage/a:one".parse().unwrap(), &options)
        .await
        .unwrap();
    assert_eq!(one.manifests, vec![s.a1.manifest.digest.clone()]);
    let tags: Vec<String> = one.tags.iter().map(|t| t.to_string()).collect();
    assert_eq!(tags, ["one", "uno"]);
    assert_eq!(one.blobs, sorted(&[&s.a1.config, &s.a1.layer]));
    assert_eq!(one.bytes, sum(&[&s.a1.config, &s.a1.layer]));
    assert_eq!(one.manifest_bytes, s.a1.manifest.size);
    assert!(one.kept_children.is_empty());

    // An index alone: its children stay (untagged), so only its own bytes go.
    let index = client
        .what_if_delete(
            &DeleteTarget::Digest(name("usage/b"), s.index.digest.clone()),
            &options,
        )
        .await
        .unwrap();
    let tags: Vec<String> = index.tags.iter().map(|t| t.to_string()).collect();
    assert_eq!(tags, ["multi"]);
    assert!(index.blobs.is_empty(), "{index:?}");
    assert_eq!(index.bytes, 0);
    assert_eq!(index.manifest_bytes, s.index.size);
    assert_eq!(
        index.kept_children,
        sorted(&[&s.b1.manifest, &s.b2.manifest])
    );

    // A whole repository: everything but the layer usage/a shares.
    let b = client
        .what_if_delete(&"usage/b".parse().unwrap(), &options)
        .await
        .unwrap();
    assert_eq!(
        b.manifests,
        sorted(&[&s.b1.manifest, &s.b2.manifest, &s.index])
    );
    let freed = [&s.b1.config, &s.b1.layer, &s.b2.config, &s.b2.layer];
    assert_eq!(b.blobs, sorted(&freed));
    assert_eq!(b.bytes, sum(&freed));
    assert_eq!(
        b.manifest_bytes,
        sum(&[&s.b1.manifest, &s.b2.manifest, &s.index])
    );

    // Nothing to delete: a typed not-found error.
    let err = client
        .what_if_delete(&"usage/a:nope".parse().unwrap(), &options)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // The prediction for `two`, against what garbage collection frees.
    let two = client
        .what_if_delete(&"usage/a:two".parse().unwrap(), &options)
        .await
        .unwrap();
    assert_eq!(two.blobs, sorted(&[&s.a2.config, &s.a2.layer]));
    let before = blob_files(&reg.storage_root());
    client
        .delete_manifest(&name("usage/a"), &s.a2.manifest.digest)
        .await
        .unwrap();
    collect_garbage(&reg);
    let after = blob_files(&reg.storage_root());
    let removed: BTreeMap<&String, &u64> = before
        .iter()
        .filter(|(d, _)| !after.contains_key(*d))
        .collect();
    let mut predicted: Vec<String> = two
        .blobs
        .iter()
        .chain(&two.manifests)
        .map(|d| d.to_string())
        .collect();
    predicted.sort();
    assert_eq!(
        removed.keys().map(|d| d.as_str()).collect::<Vec<_>>(),
        predicted
    );
    let freed: u64 = before.values().sum::<u64>() - after.values().sum::<u64>();
    assert_eq!(freed, two.total_bytes());
    assert_eq!(
        two.total_bytes(),
        sum(&[&s.a2.config, &s.a2.layer, &s.a2.manifest])
    );

    // And the report agrees with the registry afterwards.
    let usage = client.usage(&options).await.unwrap();
    assert_eq!(
        usage.totals.bytes + usage.totals.manifest_bytes,
        after.values().sum::<u64>()
    );
}

#[test]
fn the_usage_example_prints_a_table_json_lines_and_a_self_contained_page() {
    let reg = registry::start(RegistryConfig::default()).unwrap();
    let s = seed(&reg);
    let exe = registry::example("usage").unwrap();

    let out = registry::run_example(&exe, &[&reg.host], &[], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in ["usage/a", "usage/b", "total", "TAGS", "SHARED"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }

    let out = registry::run_example(&exe, &[&reg.host, "--json"], &[], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(&lines[..2], &rows_expected(&s)[..]);
    let mut totals = totals_expected(&s);
    totals["totals"] = json!(true);
    assert_eq!(lines[2], totals);

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("usage.html");
    let out = registry::run_example(
        &exe,
        &[
            &format!("{}/usage/a", reg.host),
            "--html",
            page.to_str().unwrap(),
        ],
        &[],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("the page is written");
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("usage/a"), "{html}");
    assert!(
        !html.contains("usage/b"),
        "one repository asked for: {html}"
    );
    for external in ["http://", "https://", "src=", "<link"] {
        assert!(
            !html.contains(external),
            "{external} in a self-contained page: {html}"
        );
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temp file left behind");

    let out = registry::run_example(
        &exe,
        &[&reg.host, "--what-if-delete", "usage/a:two", "--json"],
        &[],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let what: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(what["target"], "usage/a:two");
    assert_eq!(what["bytes"], sum(&[&s.a2.config, &s.a2.layer]));
    assert_eq!(what["manifest_bytes"], s.a2.manifest.size);
    let out = registry::run_example(
        &exe,
        &[&format!("{}/usage/a", reg.host), "--what-if-delete", ":two"],
        &[],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("usage/a:two"), "{text}");
    assert!(
        text.contains(&sum(&[&s.a2.config, &s.a2.layer, &s.a2.manifest]).to_string()),
        "{text}"
    );

    let out = registry::run_example(&exe, &[&reg.host, "--what-if-delete", "Bad Name"], &[], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad reference is a usage error"
    );
}

/// Runs `docker-registry garbage-collect` on `reg`'s config (the registry
/// is idle: nothing writes while it runs).
fn collect_garbage(reg: &Registry) {
    registry::require_programs(&["docker-registry"]);
    let gc = Command::new("docker-registry")
        .arg("garbage-collect")
        .arg(reg.config_path())
        .output()
        .expect("run docker-registry garbage-collect");
    assert!(
        gc.status.success(),
        "garbage-collect failed: {}{}",
        String::from_utf8_lossy(&gc.stdout),
        String::from_utf8_lossy(&gc.stderr)
    );
}

#[tokio::test]
async fn an_index_that_stays_keeps_the_manifest_it_lists_but_not_its_layers() {
    let reg = registry::start(RegistryConfig::default()).unwrap();
    let shared = registry::tiny_layer(&[("shared.txt", b"shared")]);
    let c1 = push_image(&reg, "usage/c", "c-one", 700, &shared, &["one"]);
    let c2 = push_image(&reg, "usage/c", "c-two", 900, &shared, &[]);
    let entry = |image: &Image| {
        json!({
            "mediaType": media::DOCKER_MANIFEST_V2,
            "size": image.manifest.size,
            "digest": image.manifest.digest.to_string(),
        })
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_LIST,
        "manifests": [entry(&c1), entry(&c2)],
    }))
    .unwrap();
    reg.put_manifest("usage/c", "multi", media::DOCKER_MANIFEST_LIST, index);
    let client = reg.client();

    let what = client
        .what_if_delete(&"usage/c:one".parse().unwrap(), &UsageOptions::default())
        .await
        .unwrap();
    assert_eq!(what.manifests, vec![c1.manifest.digest.clone()]);
    assert_eq!(what.blobs, sorted(&[&c1.config, &c1.layer]));
    assert_eq!(what.manifest_bytes, 0, "the index still lists it");

    let before = blob_files(&reg.storage_root());
    client
        .delete_manifest(&name("usage/c"), &c1.manifest.digest)
        .await
        .unwrap();
    collect_garbage(&reg);
    let after = blob_files(&reg.storage_root());
    let removed: Vec<&String> = before.keys().filter(|d| !after.contains_key(*d)).collect();
    let predicted: Vec<String> = what.blobs.iter().map(|d| d.to_string()).collect();
    assert_eq!(removed, predicted.iter().collect::<Vec<_>>());
    let freed: u64 = before.values().sum::<u64>() - after.values().sum::<u64>();
    assert_eq!(freed, what.total_bytes());
}
