//! Retention for one repository: keeps the newest tags (by the created date
//! of their image config) and deletes the others, or those older than a
//! given age. A dry run unless `--yes`.
//!
//! A manifest is deleted only when no kept tag points at it, and never when
//! a kept index lists it: deleting a manifest removes every tag of its digest,
//! so a tag that shares its digest with a kept tag is kept too (and says so).
//!
//! ```text
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --keep 10
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --older-than 30d --match 'pr-*' --yes
//! cargo run --example cleanup -- 127.0.0.1:5000/team/app --keep 3 --older-than 90d --json
//! ```
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use common::Cli;
use dockreg::models::Platform;
use dockreg::{Client, Digest, Error, Manifest, RepositoryName, TagOrDigest};
use futures::{StreamExt, TryStreamExt};

const USAGE: &str = "\
usage: cleanup HOST[:PORT]/NAME [--keep N] [--older-than DURATION] [--match GLOB] [--yes]
               [--concurrency N] [--platform OS/ARCH[/VARIANT]] [--json]
  --keep N            keep the newest N tags (by the created date of their image)
  --older-than D      delete only tags created more than D ago: a number and a unit,
                      s, m, h, d or w (30d, 12h, 90m, 3600s, 1d12h)
                      (with --keep too: a tag goes when it is beyond the newest N
                      AND older than D)
  --match GLOB        consider only tags matching GLOB, a shell-style pattern with
                      `*` (any run of characters) and `?` (one character); not a
                      regular expression. Other tags are kept
  --yes               delete; without it nothing is deleted (dry run). The decisions
                      are printed first; a failed delete (deletion disabled on the
                      registry) then stops with exit 1
  --concurrency N     requests at once while gathering and deleting (default 16)
  --platform P        for multi-platform tags, whose config gives the date
                      (default linux/amd64, else the index's first entry)
a tag without a created date is kept. A tag sharing its digest with a kept tag
is kept (deleting a manifest deletes all its tags), as is a manifest a kept
index lists. Freed bytes count config and layer blobs (sizes from the
manifests) that no kept tag's manifest references; the registry reclaims them
only when its garbage collection runs.
plain output: one line per tag, newest first, `keep|delete TAG DIGEST CREATED (REASON)`,
then a summary. --json: {\"tag\",\"digest\",\"created\",\"action\",\"reason\"} per tag, then
{\"summary\":{\"dry_run\",\"manifests_deleted\",\"tags_removed\",\"tags_kept\",\"freed_bytes\"}}";

/// What one manifest digest of the repository is.
struct Image {
    created: Option<String>,
    created_at: Option<SystemTime>,
    /// Config and layer blobs with their sizes; for an index, its children's.
    blobs: BTreeMap<Digest, u64>,
    /// For an index, the digests of the manifests it lists.
    children: Vec<Digest>,
}

/// A tag and what happens to it.
struct Decision {
    tag: String,
    digest: Digest,
    created: Option<String>,
    created_at: Option<SystemTime>,
    keep: bool,
    reason: String,
}

/// Whether `text` matches a glob of `*` and `?` wildcards (everything else
/// literal).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it is tried from.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let that `*` swallow one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Parses `30d`, `12h`, `90m`, `3600s`, `2w`, or a sum such as `1d12h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && !s.is_empty()).then(|| Duration::from_secs(total))
}

/// The blobs an image manifest references, with sizes. Foreign layers (with
/// `urls`) are not in the registry. Schema 1 manifests carry no sizes: the
/// registry is asked (`HEAD`).
async fn blobs_of(
    client: &Client,
    name: &RepositoryName,
    manifest: &Manifest,
) -> dockreg::Result<BTreeMap<Digest, u64>> {
    let mut blobs = BTreeMap::new();
    if let Some(config) = manifest.config() {
        blobs.insert(config.digest.clone(), config.size);
        for layer in manifest.layers().iter().filter(|l| l.urls.is_empty()) {
            blobs.insert(layer.digest.clone(), layer.size);
        }
    } else {
        let unique: BTreeSet<&Digest> = manifest.layer_digests().into_iter().collect();
        for digest in unique {
            let size = client.blob_size(name, digest).await?.unwrap_or(0);
            blobs.insert(digest.clone(), size);
        }
    }
    Ok(blobs)
}

/// The created date of an image manifest. A config that is not an image
/// config (an artifact's, a schema 1 manifest without history) has none.
async fn created(
    client: &Client,
    name: &RepositoryName,
    manifest: &Manifest,
) -> dockreg::Result<(Option<String>, Option<SystemTime>)> {
    match client.image_config(name, manifest).await {
        Ok(config) => Ok((config.created.clone(), config.created_at())),
        Err(Error::Decode { .. } | Error::TooLarge { .. } | Error::Protocol { .. }) => {
            Ok((None, None))
        }
        Err(e) => Err(e),
    }
}

async fn image(
    client: &Client,
    name: &RepositoryName,
    manifest: &Manifest,
    platform: &Platform,
) -> dockreg::Result<Image> {
    if !manifest.is_index() {
        let (created, created_at) = created(client, name, manifest).await?;
        return Ok(Image {
            created,
            created_at,
            blobs: blobs_of(client, name, manifest).await?,
            children: Vec::new(),
        });
    }
    let children: Vec<Manifest> =
        futures::future::try_join_all(manifest.manifests().iter().map(|entry| async move {
            let by_digest = TagOrDigest::Digest(entry.digest.clone());
            client.manifest(name, &by_digest).await
        }))
        .await?;
    let mut blobs = BTreeMap::new();
    for child in &children {
        blobs.extend(blobs_of(client, name, child).await?);
    }
    let dated = manifest
        .select_platform(platform)
        .or_else(|| manifest.manifests().first())
        .and_then(|entry| {
            let at = manifest.manifests().iter().position(|e| e == entry)?;
            children.get(at)
        });
    let (created, created_at) = match dated {
        Some(child) => created(client, name, child).await?,
        None => (None, None),
    };
    Ok(Image {
        created,
        created_at,
        blobs,
        children: manifest
            .manifests()
            .iter()
            .map(|e| e.digest.clone())
            .collect(),
    })
}

/// Decides per tag, newest first: `rows` are `(tag, digest)`.
fn decide(
    rows: Vec<(String, Digest)>,
    images: &BTreeMap<Digest, Image>,
    keep: Option<usize>,
    older_than: Option<(&str, Option<SystemTime>)>,
    pattern: Option<&str>,
) -> Vec<Decision> {
    let mut decisions: Vec<Decision> = rows
        .into_iter()
        .map(|(tag, digest)| {
            let image = &images[&digest];
            Decision {
                tag,
                created: image.created.clone(),
                created_at: image.created_at,
                digest,
                keep: true,
                reason: String::new(),
            }
        })
        .collect();
    decisions.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.tag.cmp(&b.tag))
    });
    // Why a tag past the newest N may go.
    let beyond = match keep {
        Some(0) => "none kept by --keep 0".to_owned(),
        Some(n) => format!("not among the newest {n}"),
        None => String::new(),
    };
    let mut newest = 0;
    for d in &mut decisions {
        let (keep, reason) = if let Some(p) = pattern.filter(|p| !glob_match(p, &d.tag)) {
            (true, format!("does not match {p}"))
        } else if d.created_at.is_none() {
            (true, "no created date".to_owned())
        } else if let Some(n) = keep.filter(|n| newest < *n) {
            newest += 1;
            (true, format!("among the newest {n}"))
        } else {
            match older_than {
                Some((shown, cutoff)) => {
                    // No cutoff: the age is longer than time has run.
                    let older = cutoff.is_some_and(|c| d.created_at.is_some_and(|t| t < c));
                    match (older, keep) {
                        (false, _) => (true, format!("not older than {shown}")),
                        (true, Some(_)) => (false, format!("older than {shown} and {beyond}")),
                        (true, None) => (false, format!("older than {shown}")),
                    }
                }
                None => (false, beyond.clone()),
            }
        };
        d.keep = keep;
        d.reason = reason;
    }
    // Deleting a manifest deletes every tag of it, and breaks an index that
    // lists it: what a kept tag needs stays.
    let mut kept_by: BTreeMap<Digest, String> = BTreeMap::new();
    let mut listed_by: BTreeMap<Digest, String> = BTreeMap::new();
    for d in decisions.iter().filter(|d| d.keep) {
        kept_by
            .entry(d.digest.clone())
            .or_insert_with(|| d.tag.clone());
        for child in &images[&d.digest].children {
            listed_by
                .entry(child.clone())
                .or_insert_with(|| d.tag.clone());
        }
    }
    for d in decisions.iter_mut().filter(|d| !d.keep) {
        if let Some(tag) = kept_by.get(&d.digest) {
            d.keep = true;
            d.reason = format!("shares its digest with kept tag {tag}, though {}", d.reason);
        } else if let Some(tag) = listed_by.get(&d.digest) {
            d.keep = true;
            d.reason = format!("listed by the kept index {tag}, though {}", d.reason);
        }
    }
    decisions
}

fn main() -> ExitCode {
    let cli = Cli::parse(
        USAGE,
        &[
            "--keep",
            "--older-than",
            "--match",
            "--concurrency",
            "--platform",
        ],
        &["--yes"],
    );
    let reference = cli.reference(&cli.positional(1)[0]);
    if reference.tag().is_some() || reference.digest().is_some() {
        cli.usage_error("cleanup takes a repository, HOST[:PORT]/NAME, without tag or digest");
    }
    let keep: Option<usize> = cli.value("--keep").map(|_| cli.parsed("--keep", 0usize));
    let older_than: Option<(String, Duration)> = cli.value("--older-than").map(|v| {
        let d = parse_duration(v).unwrap_or_else(|| {
            cli.usage_error(&format!(
                "bad --older-than {v:?}: a number and a unit s, m, h, d or w, such as 30d or 12h"
            ))
        });
        (v.to_owned(), d)
    });
    if keep.is_none() && older_than.is_none() {
        cli.usage_error("say what to keep: --keep N and/or --older-than DURATION");
    }
    let pattern = cli.value("--match").map(str::to_owned);
    let concurrency = cli.concurrency(16);
    let platform = cli.platform().unwrap_or(Platform::new("linux", "amd64"));
    let dry_run = !cli.switch("--yes");
    common::run(async move {
        let client = cli.client(reference.registry())?;
        let name = reference.repository();

        // tag -> manifest, then each distinct digest -> date and blobs.
        let tags: Vec<String> = client.tags(name).try_collect().await?;
        let fetched: Vec<Option<(String, Manifest)>> = futures::stream::iter(tags)
            .map(|tag| {
                let client = &client;
                async move {
                    let target: TagOrDigest = tag.parse()?;
                    match client.manifest(name, &target).await {
                        Ok(m) => Ok(Some((tag, m))),
                        // Deleted since the listing: not ours to decide.
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        let mut manifests: BTreeMap<Digest, Manifest> = BTreeMap::new();
        let mut rows = Vec::new();
        for (tag, manifest) in fetched.into_iter().flatten() {
            let digest = manifest.digest()?;
            rows.push((tag, digest.clone()));
            manifests.entry(digest).or_insert(manifest);
        }
        let images: BTreeMap<Digest, Image> = futures::stream::iter(manifests)
            .map(|(digest, manifest)| {
                let (client, platform) = (&client, &platform);
                async move {
                    let image = image(client, name, &manifest, platform).await?;
                    Ok::<_, Error>((digest, image))
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;

        let now = SystemTime::now();
        let older = older_than
            .as_ref()
            .map(|(shown, d)| (shown.as_str(), now.checked_sub(*d)));
        let decisions = decide(rows, &images, keep, older, pattern.as_deref());

        let kept: BTreeSet<&Digest> = decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| &d.digest)
            .collect();
        let doomed: BTreeSet<&Digest> = decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| &d.digest)
            .collect();
        let remaining: BTreeSet<&Digest> =
            kept.iter().flat_map(|d| images[*d].blobs.keys()).collect();
        let freed: BTreeMap<&Digest, u64> = doomed
            .iter()
            .flat_map(|d| images[*d].blobs.iter())
            .filter(|(blob, _)| !remaining.contains(blob))
            .map(|(blob, size)| (blob, *size))
            .collect();
        let freed_bytes: u64 = freed.values().sum();
        let tags_removed = decisions.iter().filter(|d| !d.keep).count();
        let tags_kept = decisions.len() - tags_removed;

        for d in &decisions {
            let action = if d.keep { "keep" } else { "delete" };
            if cli.json() {
                common::print_json(&serde_json::json!({
                    "tag": d.tag,
                    "digest": d.digest.to_string(),
                    "created": d.created,
                    "action": action,
                    "reason": d.reason,
                }));
            } else {
                println!(
                    "{action} {} {} {} ({})",
                    d.tag,
                    d.digest,
                    d.created.as_deref().unwrap_or("-"),
                    d.reason
                );
            }
        }

        if !dry_run {
            futures::stream::iter(doomed.iter().copied())
                .map(Ok)
                .try_for_each_concurrent(concurrency, |digest| {
                    let client = &client;
                    async move {
                        match client.delete_manifest(name, digest).await {
                            Err(e) if e.is_not_found() => Ok(()),
                            other => other,
                        }
                    }
                })
                .await?;
        }

        if cli.json() {
            common::print_json(&serde_json::json!({"summary": {
                "repository": name.as_str(),
                "dry_run": dry_run,
                "manifests_deleted": doomed.len(),
                "tags_removed": tags_removed,
                "tags_kept": tags_kept,
                "freed_bytes": freed_bytes,
            }}));
        } else if dry_run {
            println!(
                "dry run: would delete {} manifest(s) and {tags_removed} tag(s), keep {tags_kept} \
                 tag(s), and free {} of blobs no kept tag uses; --yes deletes",
                doomed.len(),
                common::human(freed_bytes)
            );
        } else {
            println!(
                "deleted {} manifest(s) and {tags_removed} tag(s), kept {tags_kept} tag(s); \
                 {} of blobs no kept tag uses can be freed",
                doomed.len(),
                common::human(freed_bytes)
            );
        }
        if !dry_run && !doomed.is_empty() {
            if cli.json() {
                eprintln!("note: {}", common::GC_REMINDER);
            } else {
                println!("note: {}", common::GC_REMINDER);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("v*", "v1.2"));
        assert!(glob_match("*", ""));
        assert!(glob_match("pr-?", "pr-7"));
        assert!(!glob_match("pr-?", "pr-17"));
        assert!(glob_match("*-rc*", "1.0-rc2"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(!glob_match("v1", "v10"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30d"),
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1d12h"), Some(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("3600s"), Some(Duration::from_secs(3600)));
        for bad in ["", "30", "d", "3x", "-1d", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
