//! Fixtures pushed with the raw HTTP API: many repositories, many tags, a
//! "report" repository whose tags each have their own config, a big blob.

use std::io::Read;

use serde_json::json;

use super::http::{block_on, bounded, Http};
use super::tiny::{rfc3339, XorShift};
use super::{lock, media, sha256_digest, tiny_layer, Registry};

/// Requests in flight while seeding.
const CONCURRENCY: usize = 16;
/// 2021-01-01T00:00:00Z.
const REPORT_EPOCH: u64 = 1_609_459_200;
/// Seed of the big blob's xorshift64 stream.
const BIG_BLOB_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// What [`Registry::seed_many_repos`] pushed.
#[derive(Debug, Clone)]
pub struct ManyRepos {
    /// `many/repo-0000`, `many/repo-0001`, ... (sorted).
    pub names: Vec<String>,
    /// The one tag of each repository: `latest`.
    pub tag: String,
    /// Every repository holds this same schema 2 manifest.
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub config_digest: String,
    pub layer_digest: String,
}

/// What [`Registry::seed_many_tags`] pushed.
#[derive(Debug, Clone)]
pub struct ManyTags {
    pub repo: String,
    /// `tag-0000`, `tag-0001`, ... (sorted); all point at one manifest.
    pub tags: Vec<String>,
    pub manifest_digest: String,
    pub manifest_size: u64,
}

/// One tag of [`ReportRepo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEntry {
    pub tag: String,
    /// Schema 2 (`application/vnd.docker.distribution.manifest.v2+json`).
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub config_digest: String,
    pub config_size: u64,
    /// The config's `created`, RFC 3339 UTC (`2021-01-01T05:00:00Z`): one
    /// hour apart, shuffled relative to the tag order.
    pub created: String,
}

/// What [`Registry::seed_report_repo`] pushed.
#[derive(Debug, Clone)]
pub struct ReportRepo {
    pub repo: String,
    /// Sorted by tag (`r-0000`, `r-0001`, ...).
    pub entries: Vec<ReportEntry>,
    /// The one layer all the manifests share.
    pub layer_digest: String,
    pub layer_size: u64,
    pub architecture: String,
    pub os: String,
}

/// What [`Registry::seed_big_blob`] pushed.
#[derive(Debug, Clone)]
pub struct BigBlob {
    pub repo: String,
    pub digest: String,
    pub size: u64,
}

/// The big blob's content: `size` bytes of a fixed xorshift64 stream (a
/// shorter blob is a prefix of a longer one).
pub fn big_blob_bytes(size: u64) -> Vec<u8> {
    let mut v = vec![0u8; usize::try_from(size).expect("size fits in memory")];
    let mut rng = XorShift(BIG_BLOB_SEED);
    let mut chunks = v.chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let rest = chunks.into_remainder();
    let last = rng.next_u64().to_le_bytes();
    let n = rest.len();
    rest.copy_from_slice(&last[..n]);
    v
}

/// The same bytes as [`big_blob_bytes`], as a reader (no buffer of the whole).
pub fn big_blob_reader(size: u64) -> impl Read + Send {
    PseudoRandom {
        rng: XorShift(BIG_BLOB_SEED),
        pending: [0; 8],
        pending_len: 0,
    }
    .take(size)
}

struct PseudoRandom {
    rng: XorShift,
    pending: [u8; 8],
    pending_len: usize,
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.pending_len == 0 {
                self.pending = self.rng.next_u64().to_le_bytes();
                self.pending_len = 8;
            }
            let start = 8 - self.pending_len;
            let k = self.pending_len.min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&self.pending[start..start + k]);
            self.pending_len -= k;
            n += k;
        }
        Ok(n)
    }
}

/// A schema 2 manifest referencing one config and one layer.
fn schema2_manifest(config: (&str, usize), layer: (&str, usize)) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST_V2,
        "config": {
            "mediaType": media::DOCKER_CONFIG,
            "size": config.1,
            "digest": config.0,
        },
        "layers": [{
            "mediaType": media::DOCKER_LAYER,
            "size": layer.1,
            "digest": layer.0,
        }],
    }))
    .expect("serialize manifest")
}

impl Registry {
    /// `n` repositories `many/repo-0000` ... each with tag `latest` of one
    /// tiny schema 2 manifest (the same in all). Blobs are pushed to the
    /// first repository and mounted into the others, 16 requests in flight.
    pub fn seed_many_repos(&self, n: usize) -> ManyRepos {
        assert!(n > 0, "seed_many_repos(0)");
        let mut done = lock(&self.fixtures.many_repos);
        if let Some(v) = done.get(&n) {
            return v.clone();
        }
        let width = n.to_string().len().max(4);
        let names: Vec<String> = (0..n).map(|i| format!("many/repo-{i:0width$}")).collect();
        let http = Http::new(self);
        let seeded = self.with_log("seed_many_repos", || {
            block_on(|| async move {
                let layer = tiny_layer(&[("etc/many.txt", b"one of many\n")]);
                let config = serde_json::to_vec(&json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "created": "2020-02-02T02:02:02Z",
                    "history": [{"created": "2020-02-02T02:02:02Z", "created_by": "many"}],
                    "config": {"Cmd": ["/bin/true"]},
                    "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                }))
                .expect("config json");
                let first = names[0].clone();
                let config_digest = http.push_blob(&first, config.clone()).await;
                let layer_digest = http.push_blob(&first, layer.gz.clone()).await;
                let manifest = schema2_manifest(
                    (&config_digest, config.len()),
                    (&layer_digest, layer.gz.len()),
                );
                let manifest_digest = sha256_digest(&manifest);
                let got = http
                    .put_manifest(
                        &first,
                        "latest",
                        media::DOCKER_MANIFEST_V2,
                        manifest.clone(),
                    )
                    .await;
                assert_eq!(got, manifest_digest);
                let jobs: Vec<_> = names[1..]
                    .iter()
                    .map(|name| {
                        let (http, name, first) = (http.clone(), name.clone(), first.clone());
                        let (cd, ld, m) = (
                            config_digest.clone(),
                            layer_digest.clone(),
                            manifest.clone(),
                        );
                        async move {
                            http.mount_blob(&name, &cd, &first).await;
                            http.mount_blob(&name, &ld, &first).await;
                            http.put_manifest(&name, "latest", media::DOCKER_MANIFEST_V2, m)
                                .await
                        }
                    })
                    .collect();
                for got in bounded(CONCURRENCY, jobs).await {
                    assert_eq!(got, manifest_digest);
                }
                ManyRepos {
                    names,
                    tag: "latest".into(),
                    manifest_size: manifest.len() as u64,
                    manifest_digest,
                    config_digest,
                    layer_digest,
                }
            })
        });
        done.insert(n, seeded.clone());
        seeded
    }

    /// Repository `repo` with `n` tags `tag-0000` ... all pointing at one
    /// schema 2 manifest.
    pub fn seed_many_tags(&self, repo: &str, n: usize) -> ManyTags {
        assert!(n > 0, "seed_many_tags(_, 0)");
        let key = (repo.to_string(), n);
        let mut done = lock(&self.fixtures.many_tags);
        if let Some(v) = done.get(&key) {
            return v.clone();
        }
        let width = n.to_string().len().max(4);
        let tags: Vec<String> = (0..n).map(|i| format!("tag-{i:0width$}")).collect();
        let http = Http::new(self);
        let repo_owned = repo.to_string();
        let seeded = self.with_log("seed_many_tags", || {
            block_on(|| async move {
                let repo = repo_owned;
                let layer = tiny_layer(&[("etc/tags.txt", b"many tags\n")]);
                let config = serde_json::to_vec(&json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "created": "2020-03-03T03:03:03Z",
                    "history": [{"created": "2020-03-03T03:03:03Z", "created_by": "tags"}],
                    "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                }))
                .expect("config json");
                let cd = http.push_blob(&repo, config.clone()).await;
                let ld = http.push_blob(&repo, layer.gz.clone()).await;
                let manifest = schema2_manifest((&cd, config.len()), (&ld, layer.gz.len()));
                let manifest_digest = sha256_digest(&manifest);
                let jobs: Vec<_> = tags
                    .iter()
                    .map(|tag| {
                        let (http, repo, tag, m) =
                            (http.clone(), repo.clone(), tag.clone(), manifest.clone());
                        async move {
                            http.put_manifest(&repo, &tag, media::DOCKER_MANIFEST_V2, m)
                                .await
                        }
                    })
                    .collect();
                for got in bounded(CONCURRENCY, jobs).await {
                    assert_eq!(got, manifest_digest);
                }
                ManyTags {
                    repo,
                    tags,
                    manifest_size: manifest.len() as u64,
                    manifest_digest,
                }
            })
        });
        done.insert(key, seeded.clone());
        seeded
    }

    /// Repository `repo` with `n` tags `r-0000` ..., each with its own image
    /// config (`created` = 2021-01-01T00:00:00Z plus a shuffled number of
    /// hours, amd64/linux, one history entry, a label) and its own schema 2
    /// manifest; all share one small layer.
    pub fn seed_report_repo(&self, repo: &str, n: usize) -> ReportRepo {
        assert!(n > 0, "seed_report_repo(_, 0)");
        let key = (repo.to_string(), n);
        let mut done = lock(&self.fixtures.report);
        if let Some(v) = done.get(&key) {
            return v.clone();
        }
        let width = n.to_string().len().max(4);
        let hours = XorShift(0x5eed_0000_0000_0001 ^ n as u64).permutation(n);
        let http = Http::new(self);
        let repo_owned = repo.to_string();
        let seeded = self.with_log("seed_report_repo", || {
            block_on(|| async move {
                let repo = repo_owned;
                let layer = tiny_layer(&[("etc/report.txt", b"report layer\n")]);
                let layer_digest = http.push_blob(&repo, layer.gz.clone()).await;
                let layer_size = layer.gz.len();
                let jobs: Vec<_> = (0..n)
                    .map(|i| {
                        let tag = format!("r-{i:0width$}");
                        let created = rfc3339(REPORT_EPOCH + hours[i] as u64 * 3600);
                        let (http, repo) = (http.clone(), repo.clone());
                        let (ld, diff_id) = (layer_digest.clone(), layer.diff_id.clone());
                        async move {
                            let config = serde_json::to_vec(&json!({
                                "architecture": "amd64",
                                "os": "linux",
                                "created": created,
                                "author": "dockreg tests",
                                "config": {
                                    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                                    "Cmd": ["/bin/report", tag],
                                    "Labels": {"org.dockreg.test.index": i.to_string()},
                                },
                                "history": [{
                                    "created": created,
                                    "created_by": format!("/bin/sh -c #(nop) ADD report {tag}"),
                                }],
                                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                            }))
                            .expect("config json");
                            let config_digest = http.push_blob(&repo, config.clone()).await;
                            let manifest =
                                schema2_manifest((&config_digest, config.len()), (&ld, layer_size));
                            let manifest_digest = http
                                .put_manifest(
                                    &repo,
                                    &tag,
                                    media::DOCKER_MANIFEST_V2,
                                    manifest.clone(),
                                )
                                .await;
                            assert_eq!(manifest_digest, sha256_digest(&manifest));
                            ReportEntry {
                                tag,
                                manifest_digest,
                                manifest_size: manifest.len() as u64,
                                config_digest,
                                config_size: config.len() as u64,
                                created,
                            }
                        }
                    })
                    .collect();
                let entries = bounded(CONCURRENCY, jobs).await;
                ReportRepo {
                    repo,
                    entries,
                    layer_digest,
                    layer_size: layer_size as u64,
                    architecture: "amd64".into(),
                    os: "linux".into(),
                }
            })
        });
        done.insert(key, seeded.clone());
        seeded
    }

    /// A blob of `size` bytes of [`big_blob_bytes`] in `repo`, uploaded in
    /// one monolithic PUT (one copy in memory while it runs).
    pub fn seed_big_blob(&self, repo: &str, size: u64) -> BigBlob {
        let key = (repo.to_string(), size);
        let mut done = lock(&self.fixtures.big_blob);
        if let Some(v) = done.get(&key) {
            return v.clone();
        }
        let data = big_blob_bytes(size);
        let digest = sha256_digest(&data);
        let http = Http::new(self);
        let (repo_c, digest_c) = (repo.to_string(), digest.clone());
        self.with_log("seed_big_blob", || {
            block_on(|| async move { http.push_blob_with_digest(&repo_c, data, &digest_c).await })
        });
        let seeded = BigBlob {
            repo: repo.to_string(),
            digest,
            size,
        };
        done.insert(key, seeded.clone());
        seeded
    }
}
