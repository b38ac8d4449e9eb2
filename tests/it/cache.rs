//! The on-disk cache against the real registry, every request counted by a
//! recording relay in front of it: a first report with an empty cache makes
//! the requests a report without a cache makes, a repeated one the tag list
//! and a `HEAD` per tag and writes its entries as one pack; corrupted,
//! replaced, truncated, oversized and symlinked cache files, and bad
//! entries in a pack, are dropped and fetched again, never trusted; a
//! cache that cannot be written changes nothing but the speed; clients
//! sharing a tiny cache (evicting all the time) never read a wrong byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::registry;

use dockreg::cache::CacheConfig;
use dockreg::http::Limits;
use dockreg::models::Platform;
use dockreg::retention::Policy;
use dockreg::usage::UsageOptions;
use dockreg::{Client, Digest, RepositoryName, TagOrDigest};
use registry::{RecordedRequest, RecordingProxy, ReportRepo};

const TAGS: usize = 12;
const DEADLINE: Duration = Duration::from_secs(120);

fn client(host: &str, cache: Option<CacheConfig>) -> Client {
    let mut builder = Client::builder(host).plain_http(true);
    if let Some(cache) = cache {
        builder = builder.cache(cache);
    }
    builder.build().expect("client")
}

/// (created, tag, digest) of every tag, as the report sorts them.
fn expected(seeded: &ReportRepo) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = seeded
        .entries
        .iter()
        .map(|e| (e.created.clone(), e.tag.clone(), e.manifest_digest.clone()))
        .collect();
    rows.sort();
    rows
}

async fn report(client: &Client, repo: &str) -> Vec<(String, String, String)> {
    let name: RepositoryName = repo.parse().unwrap();
    client
        .tag_report(&name, &Platform::new("linux", "amd64"), 4)
        .await
        .expect("report")
        .complete()
        .expect("every tag read")
        .into_iter()
        .map(|r| {
            (
                r.created.unwrap_or_default(),
                r.tag.to_string(),
                r.digest.to_string(),
            )
        })
        .collect()
}

/// Requests as (method, what), counted: what is `tags`, `manifest`,
/// `blob` or the path.
fn tally(requests: &[RecordedRequest]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        let what = if r.path.contains("/tags/list") {
            "tags".to_owned()
        } else if r.path.contains("/manifests/") {
            "manifest".to_owned()
        } else if r.path.contains("/blobs/") {
            "blob".to_owned()
        } else {
            r.path.clone()
        };
        *counts.entry((r.method.clone(), what)).or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(m, w, n)| ((m.to_string(), w.to_string()), *n))
        .collect()
}

/// The requests `proxy` saw while `f` ran. (The relay lists requests per
/// connection, and a kept-alive connection carries on: what is new is what
/// the earlier listing does not have, request for request.)
async fn recorded<T>(
    proxy: &RecordingProxy,
    f: impl std::future::Future<Output = T>,
) -> (T, Vec<RecordedRequest>) {
    let mut before: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in proxy.requests() {
        *before.entry((r.method, r.path)).or_insert(0) += 1;
    }
    let out = f.await;
    // The relay copies bytes on threads of its own: let it catch up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let new = proxy
        .requests()
        .into_iter()
        .filter(
            |r| match before.get_mut(&(r.method.clone(), r.path.clone())) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            },
        )
        .collect();
    (out, new)
}

fn entry_path(dir: &Path, digest: &str) -> PathBuf {
    let d: Digest = digest.parse().unwrap();
    dir.join("blobs").join(d.algorithm().as_str()).join(d.hex())
}

/// The last path segment of every GET but the tag list's, sorted: what was
/// fetched by digest (or, for a manifest asked by tag, the tag).
fn fetched_by_digest(requests: &[RecordedRequest]) -> Vec<&str> {
    let mut fetched: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "GET" && !r.path.contains("/tags/"))
        .map(|r| r.path.rsplit('/').next().unwrap())
        .collect();
    fetched.sort();
    fetched
}

/// The first line of a pack: where the index starts and how long it is.
fn pack_header(bytes: &[u8]) -> (usize, usize) {
    let first = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let header = std::str::from_utf8(&bytes[..first - 1]).unwrap();
    let index_len = header
        .strip_prefix("dockreg-pack 1 ")
        .unwrap()
        .parse()
        .unwrap();
    (first, index_len)
}

/// One entry of a pack, as its index lists it.
#[derive(Debug, Clone)]
struct PackedEntry {
    pack: PathBuf,
    digest: String,
    /// Where the entry's data is in the pack file.
    bytes: std::ops::Range<usize>,
    /// Where the pack's data starts.
    data: usize,
}

impl PackedEntry {
    /// `OFFSET LENGTH` as its index line gives them.
    fn offset_len(&self) -> String {
        format!("{} {}", self.bytes.start - self.data, self.bytes.len())
    }
}

/// Every entry of every pack in the cache at `dir`, read by the format the
/// cache documents (`dockreg-pack 1 INDEX_LEN`, then `DIGEST OFFSET LENGTH`
/// lines, offsets from the end of the index).
fn packed(dir: &Path) -> Vec<PackedEntry> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir.join("packs")).unwrap() {
        let pack = entry.unwrap().path();
        let bytes = std::fs::read(&pack).unwrap();
        let (first, index_len) = pack_header(&bytes);
        let data = first + index_len;
        for line in std::str::from_utf8(&bytes[first..data]).unwrap().lines() {
            let words: Vec<&str> = line.split(' ').collect();
            let (offset, len): (usize, usize) =
                (words[1].parse().unwrap(), words[2].parse().unwrap());
            out.push(PackedEntry {
                pack: pack.clone(),
                digest: words[0].to_owned(),
                bytes: data + offset..data + offset + len,
                data,
            });
        }
    }
    out
}

/// Writes every packed entry as a file of its own and removes the packs:
/// the cache as a writer of small batches leaves it, entry by entry.
fn unpack(dir: &Path) {
    let entries = packed(dir);
    assert!(!entries.is_empty());
    for e in &entries {
        let bytes = std::fs::read(&e.pack).unwrap();
        std::fs::write(entry_path(dir, &e.digest), &bytes[e.bytes.clone()]).unwrap();
    }
    for e in &entries {
        let _ = std::fs::remove_file(&e.pack);
    }
}

#[test]
fn a_repeated_report_costs_the_tag_list_and_a_head_per_tag() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/counts", TAGS);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    registry::run_async(DEADLINE, async {
        let want = expected(&seeded);
        let plain = client(&proxy.host, None);
        let (rows, today) = recorded(&proxy, report(&plain, &seeded.repo)).await;
        assert_eq!(rows, want);
        let today = tally(&today);
        assert_eq!(
            today,
            counts(&[
                ("GET", "tags", 1),
                ("GET", "manifest", TAGS),
                ("GET", "blob", TAGS)
            ])
        );

        let cold = client(&proxy.host, Some(dir.path().into()));
        let (rows, first) = recorded(&proxy, report(&cold, &seeded.repo)).await;
        assert_eq!(rows, want);
        assert_eq!(
            tally(&first),
            today,
            "an empty cache costs what no cache costs"
        );
        let stats = cold.cache_stats().unwrap();
        assert_eq!(
            (stats.writes, stats.hits, stats.errors),
            (2 * TAGS as u64, 0, 0)
        );
        // One pack file for all of them, each entry the registry's bytes.
        let entries = packed(dir.path());
        let packs: std::collections::BTreeSet<&PathBuf> = entries.iter().map(|e| &e.pack).collect();
        assert_eq!((packs.len(), entries.len()), (1, 2 * TAGS), "{entries:?}");
        let pack = std::fs::read(&entries[0].pack).unwrap();
        for e in &entries {
            assert_eq!(Digest::sha256(&pack[e.bytes.clone()]).to_string(), e.digest);
        }

        // A new client (another run of the program) on the same directory.
        let warm = client(&proxy.host, Some(dir.path().into()));
        let (rows, again) = recorded(&proxy, report(&warm, &seeded.repo)).await;
        assert_eq!(rows, want);
        assert_eq!(
            tally(&again),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", TAGS)])
        );
        for head in again.iter().filter(|r| r.method == "HEAD") {
            let accept = head.header("accept").unwrap_or_default();
            for media in registry::media::ALL_MANIFESTS {
                assert!(
                    accept.contains(media),
                    "HEAD Accept {accept:?} lacks {media}"
                );
            }
        }
        let stats = warm.cache_stats().unwrap();
        assert_eq!(
            (stats.hits, stats.misses, stats.writes),
            (2 * TAGS as u64, 0, 0)
        );
    });
}

#[test]
fn corrupted_cache_files_are_dropped_and_fetched_again() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/corrupt", TAGS);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    let mut limits = Limits::default();
    limits.manifest = 64 << 10;
    let config = CacheConfig::new(dir.path());
    let make = || {
        Client::builder(&proxy.host)
            .plain_http(true)
            .limits(limits)
            .cache(config.clone())
            .build()
            .unwrap()
    };
    let e = &seeded.entries;
    let manifest = |i: usize| entry_path(dir.path(), &e[i].manifest_digest);
    let config_file = |i: usize| entry_path(dir.path(), &e[i].config_digest);
    registry::run_async(DEADLINE, async {
        let want = expected(&seeded);
        assert_eq!(report(&make(), &seeded.repo).await, want);
        // Entry by entry, as files of their own.
        unpack(dir.path());

        // A flipped byte, another valid manifest's bytes, a file over the
        // manifest limit, a directory (no entry: its tag is asked with a
        // GET); a truncated config, a symlink to another config, an empty
        // config.
        let mut bytes = std::fs::read(manifest(0)).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        std::fs::write(manifest(0), bytes).unwrap();
        std::fs::copy(manifest(3), manifest(2)).unwrap();
        std::fs::write(manifest(6), vec![b' '; 100 << 10]).unwrap();
        std::fs::remove_file(manifest(7)).unwrap();
        std::fs::create_dir(manifest(7)).unwrap();
        let config1 = std::fs::read(config_file(1)).unwrap();
        std::fs::write(config_file(1), &config1[..config1.len() - 1]).unwrap();
        std::fs::remove_file(config_file(4)).unwrap();
        std::os::unix::fs::symlink(config_file(5), config_file(4)).unwrap();
        std::fs::write(config_file(8), b"").unwrap();

        let client = make();
        let (rows, requests) = recorded(&proxy, report(&client, &seeded.repo)).await;
        assert_eq!(rows, want, "the report is right whatever the cache holds");
        assert_eq!(
            tally(&requests),
            counts(&[
                ("GET", "tags", 1),
                ("HEAD", "manifest", TAGS - 1),
                ("GET", "manifest", 4),
                ("GET", "blob", 3),
            ])
        );
        // Refetched by digest, the ones that were bad.
        let refetched = fetched_by_digest(&requests);
        let mut bad: Vec<&str> = [0, 2, 6]
            .iter()
            .map(|&i| e[i].manifest_digest.as_str())
            .chain([e[7].tag.as_str()])
            .chain([1, 4, 8].iter().map(|&i| e[i].config_digest.as_str()))
            .collect();
        bad.sort();
        assert_eq!(refetched, bad);
        let stats = client.cache_stats().unwrap();
        assert_eq!(
            (stats.dropped, stats.writes, stats.errors),
            (6, 7, 0),
            "{stats:?}"
        );

        // The files hold the right bytes again; the symlink's target is
        // untouched.
        for (i, path) in [0, 2, 6, 7]
            .iter()
            .map(|&i| (i, manifest(i)))
            .chain([1, 4, 8].iter().map(|&i| (i + 100, config_file(i))))
        {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            assert!(meta.is_file(), "{i}: {path:?}");
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(Digest::sha256(&std::fs::read(&path).unwrap()).hex(), name);
        }
        assert_eq!(
            Digest::sha256(&std::fs::read(config_file(5)).unwrap()).to_string(),
            e[5].config_digest
        );
        // And the next run is HEADs only again.
        let (rows, requests) = recorded(&proxy, report(&make(), &seeded.repo)).await;
        assert_eq!(rows, want);
        assert_eq!(
            tally(&requests),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", TAGS)])
        );
    });
}

/// Bad entries inside a pack: a flipped byte in a manifest and in a
/// config, and two manifests whose index lines swap their places. Only
/// those four are fetched again; the pack's good entries move to a new
/// pack, and the bad one is removed.
#[test]
fn bad_entries_in_a_pack_are_dropped_and_fetched_again_the_rest_kept() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/badpack", TAGS);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    let make = || client(&proxy.host, Some(dir.path().into()));
    let e = &seeded.entries;
    registry::run_async(DEADLINE, async {
        let want = expected(&seeded);
        assert_eq!(report(&make(), &seeded.repo).await, want);
        let entries = packed(dir.path());
        let find = |digest: &str| entries.iter().find(|p| p.digest == digest).unwrap().clone();
        let pack_path = entries[0].pack.clone();
        let mut pack = std::fs::read(&pack_path).unwrap();
        for digest in [&e[0].manifest_digest, &e[1].config_digest] {
            let at = find(digest).bytes;
            pack[at.start + at.len() / 2] ^= 0x20;
        }
        std::fs::write(&pack_path, &pack).unwrap();
        // Manifests 2 and 3 swap places in the index.
        let (two, three) = (find(&e[2].manifest_digest), find(&e[3].manifest_digest));
        rewrite_index(&pack_path, |digest, place| {
            if digest == e[2].manifest_digest {
                three.offset_len()
            } else if digest == e[3].manifest_digest {
                two.offset_len()
            } else {
                place.to_owned()
            }
        });

        let client = make();
        let (rows, requests) = recorded(&proxy, report(&client, &seeded.repo)).await;
        assert_eq!(rows, want, "the report is right whatever the pack holds");
        assert_eq!(
            tally(&requests),
            counts(&[
                ("GET", "tags", 1),
                ("HEAD", "manifest", TAGS),
                ("GET", "manifest", 3),
                ("GET", "blob", 1),
            ])
        );
        let refetched = fetched_by_digest(&requests);
        let mut bad = vec![
            e[0].manifest_digest.as_str(),
            e[2].manifest_digest.as_str(),
            e[3].manifest_digest.as_str(),
            e[1].config_digest.as_str(),
        ];
        bad.sort();
        assert_eq!(refetched, bad);
        let stats = client.cache_stats().unwrap();
        assert_eq!(
            (stats.dropped, stats.writes, stats.errors),
            (4, 4, 0),
            "{stats:?}"
        );
        assert!(!pack_path.exists(), "the bad pack is removed");
        // Whatever holds the entries now holds every one, right.
        let mut held: Vec<String> = packed(dir.path())
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p.pack).unwrap();
                assert_eq!(
                    Digest::sha256(&bytes[p.bytes.clone()]).to_string(),
                    p.digest
                );
                p.digest
            })
            .collect();
        for d in &bad {
            let path = entry_path(dir.path(), d);
            if path.exists() {
                assert_eq!(
                    Digest::sha256(&std::fs::read(&path).unwrap()).to_string(),
                    *d
                );
                held.push(d.to_string());
            }
        }
        held.sort();
        held.dedup();
        assert_eq!(held.len(), 2 * TAGS);
        let (rows, requests) = recorded(&proxy, report(&make(), &seeded.repo)).await;
        assert_eq!(rows, want);
        assert_eq!(
            tally(&requests),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", TAGS)])
        );
    });
}

/// Rewrites the index of the pack at `path`: each line's `OFFSET LENGTH`
/// becomes what `place` returns for its digest and them (the entries' bytes
/// stay where they are, the first line gets the new index length).
fn rewrite_index(path: &Path, place: impl Fn(&str, &str) -> String) {
    let bytes = std::fs::read(path).unwrap();
    let (first, index_len) = pack_header(&bytes);
    let index: String = std::str::from_utf8(&bytes[first..first + index_len])
        .unwrap()
        .lines()
        .map(|line| {
            let (digest, rest) = line.split_once(' ').unwrap();
            format!("{digest} {}\n", place(digest, rest))
        })
        .collect();
    let mut out = format!("dockreg-pack 1 {}\n{index}", index.len()).into_bytes();
    out.extend_from_slice(&bytes[first + index_len..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_moved_tag_is_seen_and_a_forged_hint_costs_a_request_at_most() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/moved", 4);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    let name: RepositoryName = seeded.repo.parse().unwrap();
    registry::run_async(DEADLINE, async {
        let make = || client(&proxy.host, Some(dir.path().into()));
        let want = expected(&seeded);
        assert_eq!(report(&make(), &seeded.repo).await, want);

        // r-0000 now names r-0001's manifest.
        let c = make();
        let e = &seeded.entries;
        let moved = c
            .manifest(&name, &TagOrDigest::Tag(e[1].tag.parse().unwrap()))
            .await
            .unwrap();
        c.put_manifest(&name, &TagOrDigest::Tag(e[0].tag.parse().unwrap()), &moved)
            .await
            .unwrap();
        let (rows, requests) = recorded(&proxy, report(&make(), &seeded.repo)).await;
        let row = rows.iter().find(|r| r.1 == e[0].tag).unwrap();
        assert_eq!(row.2, e[1].manifest_digest, "the tag's new digest");
        assert_eq!(row.0, e[1].created);
        // Its new manifest was cached already (as r-0001's): HEADs only.
        assert_eq!(
            tally(&requests),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", 4)])
        );

        // Hints pointing every tag at a digest the cache holds but no tag
        // has: the registry's HEAD decides, and the report stays right.
        let tags_dir = dir.path().join("tags");
        let hint_file = std::fs::read_dir(&tags_dir)
            .unwrap()
            .flatten()
            .find(|f| !f.file_name().to_string_lossy().starts_with('.'))
            .unwrap()
            .path();
        let text = std::fs::read_to_string(&hint_file).unwrap();
        let forged: String = text
            .lines()
            .map(|l| match l.split_once(' ') {
                Some((tag, _)) if !l.starts_with("dockreg") => {
                    format!("{tag} {}\n", e[3].config_digest)
                }
                _ => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&hint_file, forged).unwrap();
        let rows = report(&make(), &seeded.repo).await;
        let row = rows.iter().find(|r| r.1 == e[0].tag).unwrap();
        assert_eq!(row.2, e[1].manifest_digest);
        assert_eq!(rows.len(), 4);
    });
}

#[test]
fn a_cache_that_cannot_be_written_changes_nothing_but_speed() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/readonly", TAGS);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    registry::run_async(DEADLINE, async {
        let want = expected(&seeded);
        let c = client(&proxy.host, Some(dir.path().into()));
        // Files where the entries and packs go: every write fails, as on a
        // full or read-only disk (whoever runs the test, root included).
        for sub in ["blobs/sha256", "packs"] {
            let blocked = dir.path().join(sub);
            std::fs::remove_dir(&blocked).unwrap();
            std::fs::write(&blocked, b"").unwrap();
        }
        for _ in 0..2 {
            let (rows, requests) = recorded(&proxy, report(&c, &seeded.repo)).await;
            assert_eq!(rows, want);
            assert_eq!(
                tally(&requests),
                counts(&[
                    ("GET", "tags", 1),
                    ("GET", "manifest", TAGS),
                    ("GET", "blob", TAGS)
                ])
            );
        }
        let stats = c.cache_stats().unwrap();
        assert_eq!((stats.hits, stats.writes), (0, 0));
        assert!(stats.errors >= 2 * TAGS as u64, "{stats:?}");
    });
}

#[test]
fn clients_sharing_a_tiny_cache_never_read_a_wrong_byte() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/shared", TAGS);
    let dir = tempfile::tempdir().unwrap();
    registry::run_async(DEADLINE, async {
        let want = expected(&seeded);
        // Room for a handful of entries: every client evicts all the time.
        let clients: Vec<Client> = (0..4)
            .map(|_| {
                client(
                    &reg.host,
                    Some(CacheConfig::new(dir.path()).max_bytes(4096)),
                )
            })
            .collect();
        let runs = clients.iter().map(|c| async {
            for _ in 0..3 {
                assert_eq!(report(c, &seeded.repo).await, want);
            }
        });
        futures::future::join_all(runs).await;
        let evicted: u64 = clients
            .iter()
            .map(|c| c.cache_stats().unwrap().evicted)
            .sum();
        assert!(evicted > 0);
    });
}

#[test]
fn a_repeated_retention_plan_and_usage_cost_a_head_per_tag() {
    let reg = registry::shared().expect("registry");
    let seeded = reg.seed_report_repo("cache/plan", TAGS);
    let proxy = RecordingProxy::start(reg.port());
    let dir = tempfile::tempdir().unwrap();
    registry::run_async(DEADLINE, async {
        let make = || client(&proxy.host, Some(dir.path().into()));
        let plain = client(&proxy.host, None);
        let policy = Policy::default().keep(3);
        let repo = |c: &Client| c.repository(seeded.repo.as_str()).unwrap();

        let (today, base) = recorded(&proxy, policy.plan(&repo(&plain))).await;
        let today = today.unwrap();
        let (first, cold) = recorded(&proxy, policy.plan(&repo(&make()))).await;
        assert_eq!(tally(&cold), tally(&base));
        let (again, warm) = recorded(&proxy, policy.plan(&repo(&make()))).await;
        assert_eq!(
            tally(&warm),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", TAGS)])
        );
        let decided = |p: &dockreg::retention::Plan| {
            p.tags
                .iter()
                .map(|t| (t.tag.clone(), t.digest.clone(), t.action))
                .collect::<Vec<_>>()
        };
        assert_eq!(decided(&first.unwrap()), decided(&today));
        let again = again.unwrap();
        assert_eq!(decided(&again), decided(&today));
        assert_eq!(again.freed_bytes, today.freed_bytes);

        // Usage walks manifests only (sizes come from them): with the
        // cache warm from the plans, HEADs.
        let options = UsageOptions::default().shared(false);
        let (plain_usage, _) = recorded(&proxy, repo(&plain).usage(&options)).await;
        let (usage, requests) = recorded(&proxy, repo(&make()).usage(&options)).await;
        assert_eq!(
            tally(&requests),
            counts(&[("GET", "tags", 1), ("HEAD", "manifest", TAGS)])
        );
        let (a, b) = (usage.unwrap(), plain_usage.unwrap());
        assert_eq!(a.totals.bytes, b.totals.bytes);
        assert_eq!(a.totals.manifests, b.totals.manifests);
    });
}

/// `CacheConfig::layers(true)`: a blob downloaded to a file is kept, and
/// the next download of it makes no request; the copy out is hashed on the
/// way, so a flipped byte in the cache file is dropped and the blob fetched
/// again. Without it no layer enters the cache, and a blob larger than the
/// bound is not kept either.
#[test]
fn layers_are_cached_only_when_asked_and_verified_on_the_way_out() {
    let reg = registry::shared().expect("registry");
    let proxy = RecordingProxy::start(reg.port());
    registry::run_async(DEADLINE, async {
        let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7 % 251) as u8).collect();
        let pushed = client(&reg.host, None)
            .repository("cache/layers")
            .unwrap()
            .push_blob(data.clone())
            .await
            .unwrap();
        let digest = pushed.digest.to_string();
        let out = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig::new(dir.path()).max_bytes(16 << 20);
        let download = |client: Client, file: &'static str| {
            let (digest, path, data) = (digest.clone(), out.path().join(file), &data);
            async move {
                let repo = client.repository("cache/layers").unwrap();
                let n = repo.download_blob(digest.as_str(), &path).await.unwrap();
                assert_eq!(n, data.len() as u64);
                assert!(
                    std::fs::read(&path).unwrap() == *data,
                    "{file} holds the blob"
                );
                client
            }
        };
        let blob_gets = |requests: &[RecordedRequest]| {
            tally(requests)
                .get(&("GET".to_owned(), "blob".to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let entry = entry_path(dir.path(), &digest);

        // Not asked: the download passes the cache by.
        let plain = client(&proxy.host, Some(config.clone()));
        let (_, requests) = recorded(&proxy, download(plain, "plain")).await;
        assert_eq!(blob_gets(&requests), 1);
        assert!(!entry.exists(), "a layer in the cache without layers(true)");

        // Asked: fetched and kept, then read from the cache alone.
        let layered = || client(&proxy.host, Some(config.clone().layers(true)));
        let (first, requests) = recorded(&proxy, download(layered(), "first")).await;
        assert_eq!(blob_gets(&requests), 1);
        assert!(
            std::fs::read(&entry).unwrap() == data,
            "the entry is the blob"
        );
        assert_eq!(first.cache_stats().unwrap().writes, 1);
        let (again, requests) = recorded(&proxy, download(layered(), "again")).await;
        assert!(requests.is_empty(), "{requests:?}");
        assert_eq!(again.cache_stats().unwrap().hits, 1);

        // A flipped byte: dropped, fetched again, kept right.
        let mut bad = std::fs::read(&entry).unwrap();
        bad[12345] ^= 1;
        std::fs::write(&entry, bad).unwrap();
        let (healed, requests) = recorded(&proxy, download(layered(), "healed")).await;
        assert_eq!(blob_gets(&requests), 1);
        let stats = healed.cache_stats().unwrap();
        assert_eq!(
            (stats.hits, stats.dropped, stats.writes),
            (0, 1, 1),
            "{stats:?}"
        );
        assert!(
            std::fs::read(&entry).unwrap() == data,
            "the entry is right again"
        );

        // Larger than the whole bound: not kept.
        let small = tempfile::tempdir().unwrap();
        let tiny = CacheConfig::new(small.path())
            .max_bytes(512 << 10)
            .layers(true);
        let (_, requests) =
            recorded(&proxy, download(client(&proxy.host, Some(tiny)), "big")).await;
        assert_eq!(blob_gets(&requests), 1);
        assert!(!entry_path(small.path(), &digest).exists());
    });
}
