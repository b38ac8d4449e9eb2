//! Where a registry's bytes are, and what deleting a tag, a digest or a
//! repository would free: the `du -sch` before and after garbage collection,
//! answered through the API.
//!
//! [`Client::usage`] walks the catalog (or [`Repository::usage`] one
//! repository): every tag, the manifest it points at and, for an index, every
//! manifest it lists (all platforms count). A repository's bytes are the
//! sizes of the layer and config blobs its manifests reference, each blob
//! counted once per repository; a blob more than one repository references
//! is *shared*, and the registry's totals count it once.
//!
//! [`Client::what_if_delete`] answers what a garbage collection would free:
//! the blobs referenced only by the manifests that go, and no longer by any
//! manifest that stays, in any repository (the registry's garbage collection
//! marks blobs registry-wide).
//!
//! ```no_run
//! use dockreg::usage::{DeleteTarget, UsageOptions};
//!
//! # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
//! let usage = client.usage(&UsageOptions::default()).await?;
//! for r in &usage.repositories {
//!     println!("{} {} tags {} bytes ({} shared)", r.repository, r.tags, r.bytes, r.shared_bytes.unwrap_or(0));
//! }
//! println!("{} bytes in {} blobs", usage.totals.bytes, usage.totals.blobs);
//!
//! let target: DeleteTarget = "team/app:v1".parse()?;
//! let freed = client.what_if_delete(&target, &UsageOptions::default()).await?;
//! println!("deleting {target} frees {} bytes", freed.total_bytes());
//! # Ok(()) }
//! ```
//!
//! # What the API cannot see
//!
//! The registry lists tags, not manifests: a manifest pushed by digest and
//! never tagged (nor listed by a tagged index) is invisible, yet a garbage
//! collection without `--delete-untagged` keeps it and its blobs. The report
//! neither counts such manifests nor knows that they hold blobs, so
//! [`Client::what_if_delete`] can name a blob freed that one of them keeps.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use futures::{StreamExt, TryStreamExt};

use crate::cache::Hints;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::Manifest;
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::repository::Repository;
use crate::transfer::image::blobs_of;
use crate::Result;

/// How [`Client::usage`] and [`Client::what_if_delete`] walk the registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UsageOptions {
    /// Manifest (and blob `HEAD`) requests in flight at once, within one
    /// repository. Default 8; 0 counts as 1.
    pub concurrency: usize,
    /// For [`Repository::usage`]: also walk the rest of the catalog, so that
    /// [`RepositoryUsage::shared_bytes`] is known. Default `true`; without it
    /// `shared_bytes` is `None`. [`Client::usage`] always knows.
    pub shared: bool,
}

impl Default for UsageOptions {
    fn default() -> Self {
        UsageOptions {
            concurrency: 8,
            shared: true,
        }
    }
}

impl UsageOptions {
    /// Sets [`UsageOptions::concurrency`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets [`UsageOptions::shared`].
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    fn in_flight(&self) -> usize {
        self.concurrency.max(1)
    }
}

/// The space one repository takes, as [`Client::usage`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RepositoryUsage {
    /// The repository.
    pub repository: RepositoryName,
    /// Its tags.
    pub tags: usize,
    /// Its distinct manifests: those tags point at and those their indexes
    /// list.
    pub manifests: usize,
    /// The distinct layer and config blobs those manifests reference.
    pub blobs: usize,
    /// The bytes of those blobs, each counted once.
    pub bytes: u64,
    /// The bytes of the manifests themselves (the registry stores them as
    /// blobs too).
    pub manifest_bytes: u64,
    /// Of [`bytes`](Self::bytes), those of blobs another repository
    /// references too; `None` when the other repositories were not walked
    /// ([`UsageOptions::shared`]).
    pub shared_bytes: Option<u64>,
}

/// The registry's totals: every blob counted once, wherever it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct UsageTotals {
    /// Repositories walked.
    pub repositories: usize,
    /// Tags, summed over the repositories.
    pub tags: usize,
    /// Distinct manifests (by digest, over all repositories).
    pub manifests: usize,
    /// Distinct layer and config blobs.
    pub blobs: usize,
    /// Their bytes, each blob once.
    pub bytes: u64,
    /// The distinct manifests' own bytes.
    pub manifest_bytes: u64,
    /// Of [`bytes`](Self::bytes), those of blobs more than one repository
    /// references (each once).
    pub shared_bytes: u64,
}

/// What [`Client::usage`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Usage {
    /// A row per repository, sorted by name. For [`Repository::usage`], the
    /// one repository.
    pub repositories: Vec<RepositoryUsage>,
    /// Over every repository walked (for [`Repository::usage`] with
    /// [`UsageOptions::shared`], the whole catalog).
    pub totals: UsageTotals,
}

/// What [`Client::what_if_delete`] considers deleting.
///
/// The API deletes manifests by digest, so deleting a tag deletes the
/// manifest it points at, and with it every other tag of that digest (in
/// that repository): that is what [`DeleteTarget::Tag`] means. Deleting an
/// index deletes the index alone; the manifests it lists stay in the
/// repository (untagged) and a garbage collection without
/// `--delete-untagged` keeps them and their blobs. A whole repository is
/// every manifest of it, index children included, each deleted by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteTarget {
    /// The manifest a tag points at (every tag of it goes).
    Tag(RepositoryName, Tag),
    /// One manifest, by digest (every tag of it goes).
    Digest(RepositoryName, Digest),
    /// Every manifest of a repository.
    Repository(RepositoryName),
}

impl DeleteTarget {
    /// The repository the target is in.
    pub fn repository(&self) -> &RepositoryName {
        match self {
            DeleteTarget::Tag(name, _)
            | DeleteTarget::Digest(name, _)
            | DeleteTarget::Repository(name) => name,
        }
    }
}

impl fmt::Display for DeleteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteTarget::Tag(name, tag) => write!(f, "{name}:{tag}"),
            DeleteTarget::Digest(name, digest) => write!(f, "{name}@{digest}"),
            DeleteTarget::Repository(name) => write!(f, "{name}"),
        }
    }
}

/// `NAME` (a repository), `NAME:TAG` or `NAME@DIGEST`, without a registry
/// host.
impl FromStr for DeleteTarget {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeleteTarget> {
        if let Some((name, digest)) = s.split_once('@') {
            return Ok(DeleteTarget::Digest(name.parse()?, digest.parse()?));
        }
        let last = s.rfind('/').map_or(0, |i| i + 1);
        match s[last..].find(':') {
            Some(at) => {
                let (name, tag) = s.split_at(last + at);
                Ok(DeleteTarget::Tag(name.parse()?, tag[1..].parse()?))
            }
            None => Ok(DeleteTarget::Repository(s.parse()?)),
        }
    }
}

impl serde::Serialize for DeleteTarget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What [`Client::what_if_delete`] predicts a garbage collection frees.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WhatIf {
    /// What would be deleted.
    pub target: DeleteTarget,
    /// The manifests deleted, by digest (sorted).
    pub manifests: Vec<Digest>,
    /// The tags that go with them (sorted).
    pub tags: Vec<Tag>,
    /// The layer and config blobs no manifest that stays references (sorted).
    pub blobs: Vec<Digest>,
    /// Their bytes.
    pub bytes: u64,
    /// The bytes of the deleted manifests no other repository holds.
    pub manifest_bytes: u64,
    /// Manifests an index being deleted lists that stay in the repository
    /// untagged, holding their blobs (see [`DeleteTarget`]); deleting them
    /// too, or a garbage collection with `--delete-untagged`, frees more.
    pub kept_children: Vec<Digest>,
}

impl WhatIf {
    /// Everything the registry's blob store loses: [`bytes`](Self::bytes)
    /// plus [`manifest_bytes`](Self::manifest_bytes).
    pub fn total_bytes(&self) -> u64 {
        self.bytes.saturating_add(self.manifest_bytes)
    }
}

// ---------------------------------------------------------------------------

/// One manifest of a repository: its own size, its blobs, what it lists.
#[derive(Debug)]
struct Node {
    size: u64,
    blobs: Vec<(Digest, Option<u64>)>,
    children: Vec<Digest>,
}

/// One repository as the API shows it: each tag's digest, and every
/// manifest reached from the tags.
#[derive(Debug, Default)]
struct Scan {
    tags: Vec<(Tag, Digest)>,
    manifests: HashMap<Digest, Node>,
}

impl Scan {
    /// The distinct blobs of the manifests `keep` accepts.
    fn blobs(&self, keep: impl Fn(&Digest) -> bool) -> HashMap<&Digest, Option<u64>> {
        let mut out = HashMap::new();
        for (digest, node) in &self.manifests {
            if keep(digest) {
                for (blob, size) in &node.blobs {
                    out.entry(blob).or_insert(*size);
                }
            }
        }
        out
    }
}

/// A manifest as a [`Node`], with its digest.
fn node_of(manifest: &Manifest) -> Result<(Digest, Node)> {
    let digest = manifest.digest()?;
    let node = Node {
        size: manifest.bytes().len() as u64,
        blobs: blobs_of(manifest)
            .into_iter()
            .map(|b| (b.digest, b.size))
            .collect(),
        children: manifest
            .manifests()
            .iter()
            .map(|d| d.digest.clone())
            .collect(),
    };
    Ok((digest, node))
}

impl Client {
    /// Fetches one manifest and makes it a [`Node`] (always from the
    /// registry: it also says the repository holds it).
    async fn node(&self, name: &RepositoryName, reference: TagOrDigest) -> Result<(Digest, Node)> {
        node_of(&self.manifest(name, &reference).await?)
    }

    /// [`Client::node`] for the walk: a tag by `HEAD` and the cache when
    /// `hints` say its manifest is likely cached, a digest (listed by an
    /// index of the repository) from the cache when it holds it.
    async fn walked_node(
        &self,
        name: &RepositoryName,
        reference: TagOrDigest,
        hints: &Hints,
    ) -> Result<(Digest, Node)> {
        let manifest = match reference {
            TagOrDigest::Tag(tag) => self.tag_manifest(name, &tag, hints).await?,
            TagOrDigest::Digest(digest) => self.manifest_by_digest(name, &digest, None).await?,
        };
        node_of(&manifest)
    }

    /// Every tag of `name`, the manifest each points at, and the manifests
    /// their indexes list (nested indexes too), `options.concurrency`
    /// requests at a time. A tag deleted since the listing is left out.
    async fn scan(&self, name: &RepositoryName, options: &UsageOptions) -> Result<Scan> {
        let mut scan = Scan::default();
        let hints = self.tag_hints(name).await;
        let hinted = &hints;
        let tagged: Vec<Option<(Tag, Digest, Node)>> = self
            .tags(name)
            .map(|tag| async move {
                let tag: Tag = tag?.parse()?;
                match self
                    .walked_node(name, TagOrDigest::Tag(tag.clone()), hinted)
                    .await
                {
                    Ok((digest, node)) => Ok(Some((tag, digest, node))),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(options.in_flight())
            .try_collect()
            .await?;
        self.keep_tag_hints(hints).await;
        for (tag, digest, node) in tagged.into_iter().flatten() {
            scan.tags.push((tag, digest.clone()));
            scan.manifests.entry(digest).or_insert(node);
        }
        scan.tags.sort();
        // Index children, breadth first; a digest is fetched once.
        let mut pending: VecDeque<Digest> = scan
            .manifests
            .values()
            .flat_map(|n| n.children.iter().cloned())
            .collect();
        let mut queued: HashSet<Digest> = pending.iter().cloned().collect();
        let no_hints = &Hints::default();
        while !pending.is_empty() {
            let batch: Vec<Digest> = pending
                .drain(..)
                .filter(|d| !scan.manifests.contains_key(d))
                .collect();
            let fetched: Vec<(Digest, Node)> = futures::stream::iter(batch)
                .map(|digest| self.walked_node(name, TagOrDigest::Digest(digest), no_hints))
                .buffer_unordered(options.in_flight())
                .try_collect()
                .await?;
            for (digest, node) in fetched {
                for child in &node.children {
                    if queued.insert(child.clone()) {
                        pending.push_back(child.clone());
                    }
                }
                scan.manifests.insert(digest, node);
            }
        }
        self.cache_settled().await;
        Ok(scan)
    }

    /// Fills in the sizes manifests do not give (schema 1) with a blob
    /// `HEAD` each; a blob the registry does not know counts 0.
    async fn sizes(
        &self,
        name: &RepositoryName,
        blobs: HashMap<&Digest, Option<u64>>,
        options: &UsageOptions,
    ) -> Result<HashMap<Digest, u64>> {
        let mut known = HashMap::with_capacity(blobs.len());
        let mut unknown = Vec::new();
        for (digest, size) in blobs {
            match size {
                Some(size) => {
                    known.insert(digest.clone(), size);
                }
                None => unknown.push(digest.clone()),
            }
        }
        let headed: Vec<(Digest, u64)> = futures::stream::iter(unknown)
            .map(|digest| async move {
                let size = self.blob_size(name, &digest).await?.unwrap_or(0);
                Ok::<_, Error>((digest, size))
            })
            .buffer_unordered(options.in_flight())
            .try_collect()
            .await?;
        known.extend(headed);
        Ok(known)
    }

    /// The space of every repository of the catalog, and the registry's
    /// totals (see the [module docs](crate::usage)). Repositories are walked
    /// one after another, each with [`UsageOptions::concurrency`] requests in
    /// flight; what stays in memory across repositories is each one's set
    /// of blob digests.
    pub async fn usage(&self, options: &UsageOptions) -> Result<Usage> {
        let names: Vec<RepositoryName> = self.repositories().try_collect().await?;
        self.usage_of(&names, None, true, options).await
    }

    /// Walks `names`; the rows are those of `only` when given (else all),
    /// the totals over all of `names`; `shared_known`: `names` is the whole
    /// catalog.
    async fn usage_of(
        &self,
        names: &[RepositoryName],
        only: Option<&RepositoryName>,
        shared_known: bool,
        options: &UsageOptions,
    ) -> Result<Usage> {
        struct Row {
            name: RepositoryName,
            tags: usize,
            manifests: usize,
            manifest_bytes: u64,
            blobs: HashSet<Digest>,
        }
        let mut rows = Vec::with_capacity(names.len());
        // Per blob: its size and in how many repositories it is.
        let mut blobs: HashMap<Digest, (u64, usize)> = HashMap::new();
        let mut manifests: HashMap<Digest, u64> = HashMap::new();
        for name in names {
            let scan = self.scan(name, options).await?;
            let sizes = self.sizes(name, scan.blobs(|_| true), options).await?;
            let mut row = Row {
                name: name.clone(),
                tags: scan.tags.len(),
                manifests: scan.manifests.len(),
                manifest_bytes: scan.manifests.values().map(|n| n.size).sum(),
                blobs: HashSet::with_capacity(sizes.len()),
            };
            for (digest, node) in scan.manifests {
                manifests.entry(digest).or_insert(node.size);
            }
            for (digest, size) in sizes {
                let entry = blobs.entry(digest.clone()).or_insert((size, 0));
                entry.1 += 1;
                row.blobs.insert(digest);
            }
            rows.push(row);
        }
        let mut usage = Usage::default();
        for row in &rows {
            let size = |d: &Digest| blobs.get(d).map_or(0, |(size, _)| *size);
            let shared = |d: &&Digest| blobs.get(*d).is_some_and(|(_, n)| *n > 1);
            usage.totals.tags += row.tags;
            if only.is_some_and(|n| n != &row.name) {
                continue;
            }
            usage.repositories.push(RepositoryUsage {
                repository: row.name.clone(),
                tags: row.tags,
                manifests: row.manifests,
                blobs: row.blobs.len(),
                bytes: row.blobs.iter().map(size).sum(),
                manifest_bytes: row.manifest_bytes,
                shared_bytes: shared_known.then(|| row.blobs.iter().filter(shared).map(size).sum()),
            });
        }
        usage
            .repositories
            .sort_by(|a, b| a.repository.cmp(&b.repository));
        usage.totals.repositories = rows.len();
        usage.totals.manifests = manifests.len();
        usage.totals.manifest_bytes = manifests.values().sum();
        usage.totals.blobs = blobs.len();
        usage.totals.bytes = blobs.values().map(|(size, _)| size).sum();
        usage.totals.shared_bytes = blobs
            .values()
            .filter(|(_, n)| *n > 1)
            .map(|(size, _)| size)
            .sum();
        Ok(usage)
    }

    /// The bytes a garbage collection would free if `target` were deleted:
    /// the blobs (and manifests) that only the deleted manifests reference,
    /// checked against every manifest that stays in every repository of the
    /// catalog. Nothing is deleted. See [`DeleteTarget`] for what deleting a
    /// tag or an index takes with it, and the [module docs](crate::usage)
    /// for what the API cannot see.
    ///
    /// A tag or digest the repository does not have is an error
    /// ([`Error::is_not_found`]).
    pub async fn what_if_delete(
        &self,
        target: &DeleteTarget,
        options: &UsageOptions,
    ) -> Result<WhatIf> {
        let name = target.repository();
        let mut scan = self.scan(name, options).await?;
        // The manifests that go.
        let going: HashSet<Digest> = match target {
            DeleteTarget::Repository(_) => scan.manifests.keys().cloned().collect(),
            DeleteTarget::Tag(_, tag) => {
                let digest = match scan.tags.iter().find(|(t, _)| t == tag) {
                    Some((_, digest)) => digest.clone(),
                    None => {
                        // Listed after the walk, or never: ask for it.
                        let (digest, node) = self.node(name, TagOrDigest::Tag(tag.clone())).await?;
                        scan.manifests.entry(digest.clone()).or_insert(node);
                        digest
                    }
                };
                HashSet::from([digest])
            }
            DeleteTarget::Digest(_, digest) => {
                if !scan.manifests.contains_key(digest) {
                    // Untagged and listed by no index: fetch it by digest.
                    let (got, node) = self.node(name, TagOrDigest::Digest(digest.clone())).await?;
                    scan.manifests.insert(got, node);
                }
                HashSet::from([digest.clone()])
            }
        };
        // What stays in this repository: the manifests of the tags that stay
        // and what they list, and (for an index deleted alone) the children
        // of the deleted manifests, which the registry keeps untagged.
        let whole = matches!(target, DeleteTarget::Repository(_));
        let mut staying: HashSet<Digest> = HashSet::new();
        let mut stack: Vec<Digest> = scan
            .tags
            .iter()
            .map(|(_, d)| d.clone())
            .filter(|d| !going.contains(d))
            .collect();
        let mut kept_children: HashSet<Digest> = HashSet::new();
        if !whole {
            for digest in &going {
                if let Some(node) = scan.manifests.get(digest) {
                    for child in &node.children {
                        if !going.contains(child) {
                            kept_children.insert(child.clone());
                            stack.push(child.clone());
                        }
                    }
                }
            }
        }
        while let Some(digest) = stack.pop() {
            if going.contains(&digest) || !staying.insert(digest.clone()) {
                continue;
            }
            if let Some(node) = scan.manifests.get(&digest) {
                stack.extend(node.children.iter().cloned());
            }
        }
        // The candidates: the blobs of the manifests that go, and those
        // manifests; whatever a staying manifest references is struck off.
        let mut candidates: HashMap<Digest, Option<u64>> = scan
            .blobs(|d| going.contains(d))
            .into_iter()
            .map(|(d, size)| (d.clone(), size))
            .collect();
        let mut manifest_candidates: HashMap<Digest, u64> = going
            .iter()
            .filter_map(|d| scan.manifests.get(d).map(|n| (d.clone(), n.size)))
            .collect();
        let strike = |scan: &Scan,
                      keep: &dyn Fn(&Digest) -> bool,
                      candidates: &mut HashMap<Digest, Option<u64>>,
                      manifest_candidates: &mut HashMap<Digest, u64>| {
            for (digest, node) in &scan.manifests {
                if keep(digest) {
                    manifest_candidates.remove(digest);
                    // A staying index marks the manifests it lists, even
                    // deleted ones (their own blobs are then not marked).
                    for child in &node.children {
                        manifest_candidates.remove(child);
                    }
                    for (blob, _) in &node.blobs {
                        candidates.remove(blob);
                    }
                }
            }
        };
        strike(
            &scan,
            &|d| staying.contains(d),
            &mut candidates,
            &mut manifest_candidates,
        );
        let tags: Vec<Tag> = scan
            .tags
            .iter()
            .filter(|(_, d)| going.contains(d))
            .map(|(t, _)| t.clone())
            .collect();
        let sizes_from = name.clone();
        drop(scan);
        // Every other repository keeps all it has.
        let mut others = self.repositories();
        while let Some(other) = others.try_next().await? {
            if candidates.is_empty() && manifest_candidates.is_empty() {
                break;
            }
            if &other == name {
                continue;
            }
            let scan = self.scan(&other, options).await?;
            strike(&scan, &|_| true, &mut candidates, &mut manifest_candidates);
        }
        let sizes = self
            .sizes(
                &sizes_from,
                candidates.iter().map(|(d, s)| (d, *s)).collect(),
                options,
            )
            .await?;
        let mut blobs: Vec<Digest> = sizes.keys().cloned().collect();
        blobs.sort();
        let mut manifests: Vec<Digest> = going.into_iter().collect();
        manifests.sort();
        let mut kept_children: Vec<Digest> = kept_children.into_iter().collect();
        kept_children.sort();
        Ok(WhatIf {
            target: target.clone(),
            manifests,
            tags,
            blobs,
            bytes: sizes.values().sum(),
            manifest_bytes: manifest_candidates.values().sum(),
            kept_children,
        })
    }
}

impl Repository {
    /// The space of this repository ([`Client::usage`] for one row). With
    /// [`UsageOptions::shared`] (the default) the rest of the catalog is
    /// walked too, for [`RepositoryUsage::shared_bytes`] and the registry's
    /// totals; without it the totals are this repository's.
    pub async fn usage(&self, options: &UsageOptions) -> Result<Usage> {
        let client = self.client();
        let mut names = vec![self.name().clone()];
        if options.shared {
            let mut listing = client.repositories();
            while let Some(other) = listing.try_next().await? {
                if &other != self.name() {
                    names.push(other);
                }
            }
        }
        client
            .usage_of(&names, Some(self.name()), options.shared, options)
            .await
    }

    /// [`Client::what_if_delete`] of this whole repository.
    pub async fn what_if_delete(&self, options: &UsageOptions) -> Result<WhatIf> {
        self.client()
            .what_if_delete(&DeleteTarget::Repository(self.name().clone()), options)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let d = "sha256:".to_owned() + &"a".repeat(64);
        assert_eq!(
            "team/app".parse::<DeleteTarget>().unwrap(),
            DeleteTarget::Repository("team/app".parse().unwrap())
        );
        assert_eq!(
            "team/app:v1".parse::<DeleteTarget>().unwrap(),
            DeleteTarget::Tag("team/app".parse().unwrap(), "v1".parse().unwrap())
        );
        assert_eq!(
            format!("team/app@{d}").parse::<DeleteTarget>().unwrap(),
            DeleteTarget::Digest("team/app".parse().unwrap(), d.parse().unwrap())
        );
        for bad in ["", "Team/App", "team/app:", "team/app@sha256:zz", ":v1"] {
            assert!(bad.parse::<DeleteTarget>().is_err(), "{bad:?} parsed");
        }
        let t: DeleteTarget = "a/b:c".parse().unwrap();
        assert_eq!(t.to_string(), "a/b:c");
        assert_eq!(serde_json::to_value(&t).unwrap(), "a/b:c");
    }
}
