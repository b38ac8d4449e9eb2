//! Retention: which tags of a repository to keep and which to delete, as a
//! [`Policy`] that makes a [`Plan`] (read only) and applies it.
//!
//! A policy keeps the newest N tags (by the created date of their image
//! config), deletes those older than an age, or both (a tag then goes when
//! it is beyond the newest N *and* older than the age), among the tags that
//! match a pattern. The registry deletes manifests, not tags, so:
//!
//! - a tag that shares its digest with a kept tag stays (deleting the
//!   manifest would delete the kept tag too);
//! - a manifest a kept index lists stays (deleting it would break the index);
//! - a tag without a created date stays (its age is unknown).
//!
//! The plan lists every tag with its action and [`Reason`], the manifests to
//! delete, and the bytes freed: config and layer blobs that only deleted
//! manifests reference. The registry reclaims them when its garbage
//! collection runs.
//!
//! ```no_run
//! use dockreg::retention::Policy;
//!
//! # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
//! let repo = client.repository("team/app")?;
//! let policy = Policy::default().keep(10).older_than("30d".parse()?).matching("pr-*");
//! let plan = policy.plan(&repo).await?;
//! for t in &plan.tags {
//!     println!("{} {} ({})", t.action, t.tag, t.reason);
//! }
//! println!("{} bytes freed", plan.freed_bytes);
//! policy.apply(&repo, &plan).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use serde::{Serialize, Serializer};

use crate::api::dated_entry;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::{Manifest, Platform};
use crate::reference::{RepositoryName, Tag};
use crate::repository::Repository;
use crate::transfer::image::blobs_of;
use crate::Result;

/// An age, such as `30d`: a duration with the text it was written as.
///
/// Parses a number and a unit, `s`, `m`, `h`, `d` (86 400 s) or `w`, or a sum
/// of them (`1d12h`); shows as it was written. From a [`Duration`], it shows
/// in seconds (`86400s`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    duration: Duration,
    text: String,
}

impl Age {
    /// The duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl From<Duration> for Age {
    fn from(duration: Duration) -> Age {
        Age {
            duration,
            text: format!("{}s", duration.as_secs()),
        }
    }
}

impl FromStr for Age {
    type Err = Error;

    fn from_str(s: &str) -> Result<Age> {
        let bad = || {
            Error::invalid(
                "age",
                s,
                "a number and a unit s, m, h, d or w, such as 30d or 12h",
            )
        };
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
                _ => return Err(bad()),
            };
            let n: u64 = digits.parse().map_err(|_| bad())?;
            total = n
                .checked_mul(unit)
                .and_then(|secs| total.checked_add(secs))
                .ok_or_else(bad)?;
            digits.clear();
        }
        if !digits.is_empty() || s.is_empty() {
            return Err(bad());
        }
        Ok(Age {
            duration: Duration::from_secs(total),
            text: s.to_owned(),
        })
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Age {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether `text` matches a shell-style pattern: `*` is any run of
/// characters, `?` one character, everything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
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

/// Which tags to keep. At least one of [`keep`](Policy::keep) and
/// [`older_than`](Policy::older_than) must be set; [`Policy::plan`] refuses
/// a policy with neither.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Policy {
    /// Keep the newest N tags (default: no such rule).
    pub keep: Option<usize>,
    /// Delete only tags created more than this long ago (default: no such
    /// rule).
    pub older_than: Option<Age>,
    /// Consider only tags matching this pattern ([`glob_match`]); the others
    /// are kept (default: every tag).
    pub pattern: Option<String>,
    /// For an index, the platform whose image config gives the date
    /// (default `linux/amd64`, else the index's first entry).
    pub platform: Platform,
    /// Requests at once while gathering and deleting (default 16).
    pub concurrency: usize,
    /// The time ages are counted from (default: when the plan is made).
    pub now: Option<SystemTime>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep: None,
            older_than: None,
            pattern: None,
            platform: Platform::new("linux", "amd64"),
            concurrency: 16,
            now: None,
        }
    }
}

/// What happens to a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// The tag stays.
    Keep,
    /// The tag goes (its manifest is deleted).
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Keep => "keep",
            Action::Delete => "delete",
        })
    }
}

/// Why a tag is kept or deleted. Shows (and serializes) as a phrase:
/// `among the newest 10`, `older than 30d and not among the newest 10`,
/// `shares its digest with kept tag v2, though older than 30d`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Kept: the tag does not match the policy's pattern.
    NotMatching {
        /// The pattern.
        pattern: String,
    },
    /// Kept: the image has no created date.
    NoCreatedDate,
    /// Kept: among the newest `keep`.
    AmongNewest {
        /// How many are kept.
        keep: usize,
    },
    /// Kept: not older than the age.
    NotOlderThan {
        /// The age.
        age: Age,
    },
    /// Deleted: not among the newest `keep`.
    BeyondNewest {
        /// How many are kept.
        keep: usize,
    },
    /// Deleted: older than the age (and, with a keep rule, beyond the
    /// newest `keep`).
    OlderThan {
        /// The age.
        age: Age,
        /// The keep rule, when there is one.
        keep: Option<usize>,
    },
    /// Kept: another kept tag has the same digest, so deleting the manifest
    /// would delete that tag too.
    SharesDigest {
        /// The kept tag.
        tag: String,
        /// Why the tag would have gone.
        otherwise: Box<Reason>,
    },
    /// Kept: a kept index lists this manifest.
    ListedByIndex {
        /// The kept index's tag.
        tag: String,
        /// Why the tag would have gone.
        otherwise: Box<Reason>,
    },
}

fn beyond(keep: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if keep == 0 {
        f.write_str("none kept (keep 0)")
    } else {
        write!(f, "not among the newest {keep}")
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotMatching { pattern } => write!(f, "does not match {pattern}"),
            Reason::NoCreatedDate => f.write_str("no created date"),
            Reason::AmongNewest { keep } => write!(f, "among the newest {keep}"),
            Reason::NotOlderThan { age } => write!(f, "not older than {age}"),
            Reason::BeyondNewest { keep } => beyond(*keep, f),
            Reason::OlderThan { age, keep: None } => write!(f, "older than {age}"),
            Reason::OlderThan {
                age,
                keep: Some(keep),
            } => {
                write!(f, "older than {age} and ")?;
                beyond(*keep, f)
            }
            Reason::SharesDigest { tag, otherwise } => {
                write!(
                    f,
                    "shares its digest with kept tag {tag}, though {otherwise}"
                )
            }
            Reason::ListedByIndex { tag, otherwise } => {
                write!(f, "listed by the kept index {tag}, though {otherwise}")
            }
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One tag of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TagPlan {
    /// The tag.
    pub tag: String,
    /// The digest it points at.
    pub digest: Digest,
    /// The image's created date as its config states it.
    pub created: Option<String>,
    /// `created`, parsed.
    #[serde(skip)]
    pub created_at: Option<SystemTime>,
    /// Keep or delete.
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

/// What a [`Policy`] would do to a repository; [`Policy::apply`] does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The repository.
    pub repository: RepositoryName,
    /// Every tag, newest first (then by tag; undated tags last).
    pub tags: Vec<TagPlan>,
    /// The manifests to delete, each once.
    pub manifests: Vec<Digest>,
    /// Bytes of the config and layer blobs that only the deleted manifests
    /// reference (sizes from the manifests), each blob counted once.
    pub freed_bytes: u64,
    /// Tags listed but deleted before their manifest was read: not decided.
    pub vanished: Vec<String>,
}

impl Plan {
    /// How many tags stay.
    pub fn tags_kept(&self) -> usize {
        self.tags
            .iter()
            .filter(|t| t.action == Action::Keep)
            .count()
    }

    /// How many tags go.
    pub fn tags_removed(&self) -> usize {
        self.tags.len() - self.tags_kept()
    }
}

/// What one manifest digest of the repository is.
struct Image {
    created: Option<String>,
    created_at: Option<SystemTime>,
    /// Config and layer blobs with their sizes; for an index, its children's.
    blobs: BTreeMap<Digest, u64>,
    /// For an index, the digests of the manifests it lists.
    children: Vec<Digest>,
}

impl Policy {
    /// Keeps the newest `n` tags.
    pub fn keep(mut self, n: usize) -> Self {
        self.keep = Some(n);
        self
    }

    /// Deletes only tags older than `age` (`"30d".parse()?`, or a
    /// [`Duration`] with `.into()`).
    pub fn older_than(mut self, age: Age) -> Self {
        self.older_than = Some(age);
        self
    }

    /// Considers only tags matching `pattern` ([`glob_match`]).
    pub fn matching(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = Some(pattern.into());
        self
    }

    /// For an index, the platform whose image config gives the date.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// Requests at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Counts ages from `now` instead of the time of the plan.
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Reads every tag of `name`, its manifest, date and blobs, and decides.
    /// Nothing is deleted. A policy with neither a keep rule nor an age is
    /// [`Error::Invalid`], before any request.
    pub async fn plan(&self, repo: &Repository) -> Result<Plan> {
        let (client, name) = (repo.client(), repo.name());
        if self.keep.is_none() && self.older_than.is_none() {
            return Err(Error::invalid(
                "retention policy",
                "no rule",
                "say what to keep: keep N and/or older_than AGE",
            ));
        }
        let concurrency = self.concurrency.max(1);
        // tag -> manifest, then each distinct digest -> date and blobs.
        // With a cache, tags it knows are asked with a HEAD (see
        // Client::tag_report).
        let tags: Vec<String> = client.tags(name).try_collect().await?;
        let hints = client.tag_hints(name).await;
        let hinted = &hints;
        let fetched: Vec<(String, Option<Manifest>)> = futures::stream::iter(tags)
            .map(|tag| async move {
                let target: Tag = tag.parse()?;
                match client.tag_manifest(name, &target, hinted).await {
                    Ok(m) => Ok((tag, Some(m))),
                    // Deleted since the listing: not ours to decide.
                    Err(e) if e.is_not_found() => Ok((tag, None)),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        client.keep_tag_hints(hints).await;
        let mut manifests: BTreeMap<Digest, Manifest> = BTreeMap::new();
        let mut rows = Vec::new();
        let mut vanished = Vec::new();
        for (tag, manifest) in fetched {
            let Some(manifest) = manifest else {
                vanished.push(tag);
                continue;
            };
            let digest = manifest.digest()?;
            rows.push((tag, digest.clone()));
            manifests.entry(digest).or_insert(manifest);
        }
        vanished.sort();
        let images: BTreeMap<Digest, Image> = futures::stream::iter(manifests)
            .map(|(digest, manifest)| async move {
                let image = image(client, name, &manifest, &self.platform).await?;
                Ok::<_, Error>((digest, image))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;

        let now = self.now.unwrap_or_else(SystemTime::now);
        let tags = self.decide(rows, &images, now);
        let doomed: BTreeSet<&Digest> = tags
            .iter()
            .filter(|t| t.action == Action::Delete)
            .map(|t| &t.digest)
            .collect();
        let remaining: BTreeSet<&Digest> = tags
            .iter()
            .filter(|t| t.action == Action::Keep)
            .flat_map(|t| images[&t.digest].blobs.keys())
            .collect();
        let freed: BTreeMap<&Digest, u64> = doomed
            .iter()
            .flat_map(|d| images[*d].blobs.iter())
            .filter(|(blob, _)| !remaining.contains(blob))
            .map(|(blob, size)| (blob, *size))
            .collect();
        let freed_bytes = freed.values().fold(0u64, |sum, n| sum.saturating_add(*n));
        let manifests = doomed.into_iter().cloned().collect();
        client.cache_settled().await;
        Ok(Plan {
            repository: name.clone(),
            tags,
            manifests,
            freed_bytes,
            vanished,
        })
    }

    /// Deletes the plan's manifests, [`concurrency`](Policy::concurrency) at
    /// once. One already gone counts as deleted; the first other failure
    /// (deletion disabled on the registry, say) stops and is returned. A
    /// plan made for another repository is [`Error::Invalid`], before any
    /// request.
    pub async fn apply(&self, repo: &Repository, plan: &Plan) -> Result<()> {
        let (client, name) = (repo.client(), &plan.repository);
        if name != repo.name() {
            return Err(Error::invalid(
                "retention plan",
                name.as_str(),
                format!("made for another repository than {}", repo.name()),
            ));
        }
        futures::stream::iter(&plan.manifests)
            .map(Ok)
            .try_for_each_concurrent(self.concurrency.max(1), |digest| async move {
                match client.delete_manifest(name, digest).await {
                    Err(e) if e.is_not_found() => Ok(()),
                    other => other,
                }
            })
            .await
    }

    /// Decides per tag, newest first: `rows` are `(tag, digest)`.
    fn decide(
        &self,
        rows: Vec<(String, Digest)>,
        images: &BTreeMap<Digest, Image>,
        now: SystemTime,
    ) -> Vec<TagPlan> {
        let cutoff = self
            .older_than
            .as_ref()
            .map(|age| (age, now.checked_sub(age.duration)));
        let mut tags: Vec<TagPlan> = rows
            .into_iter()
            .map(|(tag, digest)| {
                let image = &images[&digest];
                TagPlan {
                    tag,
                    created: image.created.clone(),
                    created_at: image.created_at,
                    digest,
                    action: Action::Keep,
                    reason: Reason::NoCreatedDate,
                }
            })
            .collect();
        tags.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        let mut newest = 0;
        for t in &mut tags {
            let (action, reason) = match (&self.pattern, t.created_at) {
                (Some(p), _) if !glob_match(p, &t.tag) => {
                    (Action::Keep, Reason::NotMatching { pattern: p.clone() })
                }
                (_, None) => (Action::Keep, Reason::NoCreatedDate),
                (_, Some(created)) => match (self.keep, &cutoff) {
                    (Some(keep), _) if newest < keep => {
                        newest += 1;
                        (Action::Keep, Reason::AmongNewest { keep })
                    }
                    (keep, Some((age, cutoff))) => {
                        // No cutoff: the age is longer than time has run.
                        if cutoff.is_some_and(|c| created < c) {
                            let age = (*age).clone();
                            (Action::Delete, Reason::OlderThan { age, keep })
                        } else {
                            let age = (*age).clone();
                            (Action::Keep, Reason::NotOlderThan { age })
                        }
                    }
                    (keep, None) => (
                        Action::Delete,
                        Reason::BeyondNewest {
                            keep: keep.unwrap_or(0),
                        },
                    ),
                },
            };
            t.action = action;
            t.reason = reason;
        }
        // Deleting a manifest deletes every tag of it, and breaks an index
        // that lists it: what a kept tag needs stays.
        let mut kept_by: BTreeMap<Digest, String> = BTreeMap::new();
        let mut listed_by: BTreeMap<Digest, String> = BTreeMap::new();
        for t in tags.iter().filter(|t| t.action == Action::Keep) {
            kept_by
                .entry(t.digest.clone())
                .or_insert_with(|| t.tag.clone());
            for child in &images[&t.digest].children {
                listed_by
                    .entry(child.clone())
                    .or_insert_with(|| t.tag.clone());
            }
        }
        for t in tags.iter_mut().filter(|t| t.action == Action::Delete) {
            let otherwise = Box::new(t.reason.clone());
            if let Some(tag) = kept_by.get(&t.digest) {
                t.action = Action::Keep;
                t.reason = Reason::SharesDigest {
                    tag: tag.clone(),
                    otherwise,
                };
            } else if let Some(tag) = listed_by.get(&t.digest) {
                t.action = Action::Keep;
                t.reason = Reason::ListedByIndex {
                    tag: tag.clone(),
                    otherwise,
                };
            }
        }
        tags
    }
}

/// The blobs an image manifest references with their sizes
/// ([`blobs_of`]); a schema 1 manifest carries no sizes, so the registry is
/// asked (`HEAD`).
async fn sized_blobs(
    client: &Client,
    name: &RepositoryName,
    manifest: &Manifest,
) -> Result<BTreeMap<Digest, u64>> {
    let mut blobs = BTreeMap::new();
    for blob in blobs_of(manifest) {
        let size = match blob.size {
            Some(size) => size,
            None => client.blob_size(name, &blob.digest).await?.unwrap_or(0),
        };
        blobs.insert(blob.digest, size);
    }
    Ok(blobs)
}

/// The date, blobs and children of one manifest of the repository.
async fn image(
    client: &Client,
    name: &RepositoryName,
    manifest: &Manifest,
    platform: &Platform,
) -> Result<Image> {
    let dated = |config: Option<crate::models::ImageConfig>| match config {
        Some(c) => (c.created_at(), c.created),
        None => (None, None),
    };
    if !manifest.is_index() {
        let config = client.image_config_if_any(name, manifest).await?;
        let (created_at, created) = dated(config);
        return Ok(Image {
            created,
            created_at,
            blobs: sized_blobs(client, name, manifest).await?,
            children: Vec::new(),
        });
    }
    let entries = manifest.manifests();
    let children: Vec<Manifest> =
        futures::future::try_join_all(entries.iter().map(|entry| async move {
            client
                .manifest_by_digest(name, &entry.digest, Some(&entry.media_type))
                .await
        }))
        .await?;
    let mut blobs = BTreeMap::new();
    for child in &children {
        blobs.extend(sized_blobs(client, name, child).await?);
    }
    let chosen = dated_entry(manifest, platform)
        .and_then(|entry| entries.iter().position(|e| e == entry))
        .and_then(|at| children.get(at));
    let (created_at, created) = match chosen {
        Some(child) => dated(client.image_config_if_any(name, child).await?),
        None => (None, None),
    };
    Ok(Image {
        created,
        created_at,
        blobs,
        children: entries.iter().map(|e| e.digest.clone()).collect(),
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
    fn ages() {
        let secs = |s: &str| s.parse::<Age>().map(|a| a.duration().as_secs());
        assert_eq!(secs("30d").unwrap(), 30 * 86_400);
        assert_eq!(secs("90m").unwrap(), 5400);
        assert_eq!(secs("1d12h").unwrap(), 129_600);
        assert_eq!(secs("3600s").unwrap(), 3600);
        assert_eq!("1d12h".parse::<Age>().unwrap().to_string(), "1d12h");
        for bad in ["", "30", "d", "3x", "-1d", "1.5h", "99999999999999999999w"] {
            assert!(
                matches!(secs(bad), Err(Error::Invalid { .. })),
                "{bad}: {:?}",
                secs(bad)
            );
        }
        assert_eq!(Age::from(Duration::from_secs(60)).to_string(), "60s");
    }

    fn digest(n: u8) -> Digest {
        Digest::sha256(&[n])
    }

    /// An image created `days` before `now` (or undated), with blobs.
    fn image_at(now: SystemTime, days: Option<u64>, blobs: &[(u8, u64)]) -> Image {
        Image {
            created: days.map(|d| format!("{d} days ago")),
            created_at: days.map(|d| now - Duration::from_secs(d * 86_400)),
            blobs: blobs.iter().map(|(b, size)| (digest(*b), *size)).collect(),
            children: Vec::new(),
        }
    }

    fn decisions(plan: &[TagPlan]) -> Vec<(String, Action, String)> {
        plan.iter()
            .map(|t| (t.tag.clone(), t.action, t.reason.to_string()))
            .collect()
    }

    fn row(tag: &str, action: Action, reason: &str) -> (String, Action, String) {
        (tag.to_owned(), action, reason.to_owned())
    }

    #[test]
    fn keep_older_than_match_and_the_shared_digest_rule() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000 * 86_400);
        let images: BTreeMap<Digest, Image> = [
            (digest(1), image_at(now, Some(1), &[(10, 5)])),
            (digest(2), image_at(now, Some(10), &[(10, 5), (20, 7)])),
            (digest(3), image_at(now, Some(40), &[(30, 11)])),
            (digest(4), image_at(now, None, &[])),
        ]
        .into_iter()
        .collect();
        let rows = vec![
            ("v1".to_owned(), digest(1)),
            ("v2".to_owned(), digest(2)),
            ("v3".to_owned(), digest(3)),
            ("v3-alias".to_owned(), digest(3)),
            ("nodate".to_owned(), digest(4)),
            ("latest".to_owned(), digest(1)),
        ];

        let keep1 = Policy::default().keep(1).decide(rows.clone(), &images, now);
        assert_eq!(
            decisions(&keep1),
            [
                row("latest", Action::Keep, "among the newest 1"),
                row(
                    "v1",
                    Action::Keep,
                    "shares its digest with kept tag latest, though not among the newest 1"
                ),
                row("v2", Action::Delete, "not among the newest 1"),
                row("v3", Action::Delete, "not among the newest 1"),
                row("v3-alias", Action::Delete, "not among the newest 1"),
                row("nodate", Action::Keep, "no created date"),
            ]
        );

        let aged = Policy::default()
            .keep(0)
            .older_than("30d".parse().unwrap())
            .matching("v?")
            .decide(rows, &images, now);
        assert_eq!(
            decisions(&aged),
            [
                row("latest", Action::Keep, "does not match v?"),
                row("v1", Action::Keep, "not older than 30d"),
                row("v2", Action::Keep, "not older than 30d"),
                row(
                    "v3",
                    Action::Keep,
                    "shares its digest with kept tag v3-alias, though older than 30d and none \
                     kept (keep 0)"
                ),
                row("v3-alias", Action::Keep, "does not match v?"),
                row("nodate", Action::Keep, "does not match v?"),
            ]
        );
    }

    #[test]
    fn a_manifest_a_kept_index_lists_stays() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000 * 86_400);
        let mut index = image_at(now, Some(1), &[(10, 5)]);
        index.children = vec![digest(2)];
        let images: BTreeMap<Digest, Image> = [
            (digest(1), index),
            (digest(2), image_at(now, Some(50), &[(10, 5)])),
        ]
        .into_iter()
        .collect();
        let rows = vec![
            ("multi".to_owned(), digest(1)),
            ("amd64".to_owned(), digest(2)),
        ];
        let plan = Policy::default()
            .older_than(Duration::from_secs(86_400 * 30).into())
            .decide(rows, &images, now);
        assert_eq!(
            decisions(&plan),
            [
                row("multi", Action::Keep, "not older than 2592000s"),
                row(
                    "amd64",
                    Action::Keep,
                    "listed by the kept index multi, though older than 2592000s"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_policy_without_a_rule_is_refused_before_any_request() {
        let client = Client::builder("127.0.0.1:9").build().unwrap();
        let err = Policy::default()
            .matching("*")
            .plan(&client.repository("a").unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn a_plan_serializes_with_its_reasons_as_phrases() {
        let plan = Plan {
            repository: "team/app".parse().unwrap(),
            tags: vec![TagPlan {
                tag: "v1".into(),
                digest: digest(1),
                created: Some("2024-01-01T00:00:00Z".into()),
                created_at: None,
                action: Action::Delete,
                reason: Reason::OlderThan {
                    age: "30d".parse().unwrap(),
                    keep: Some(2),
                },
            }],
            manifests: vec![digest(1)],
            freed_bytes: 12,
            vanished: vec![],
        };
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["repository"], "team/app");
        assert_eq!(json["tags"][0]["action"], "delete");
        assert_eq!(
            json["tags"][0]["reason"],
            "older than 30d and not among the newest 2"
        );
        assert_eq!(json["tags"][0]["digest"], digest(1).to_string());
        assert_eq!(json["freed_bytes"], 12);
        assert_eq!(plan.tags_removed(), 1);
        assert_eq!(plan.tags_kept(), 0);
    }
}
