//! OCI 1.1 referrers: the manifests whose `subject` names a manifest
//! (signatures, SBOMs, attestations), listed through the Referrers API
//! (`GET /v2/NAME/referrers/DIGEST`) where the registry has it, else
//! through the fallback tag schema (an OCI index tagged `sha256-<hex>`),
//! which the client keeps itself; and deleting a manifest together with
//! its referrers.
//!
//! The distribution spec, "Listing Referrers", "Pushing Manifests with
//! Subject" and "Deleting Manifests": a registry with the API answers the
//! listing 200 with an OCI index (even an empty one) and a manifest push
//! with an `OCI-Subject` header; one without it answers the listing 404,
//! and the client then reads and writes the fallback tag.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::Serialize;

use crate::auth::Scope;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::http::{content_type, filters_applied, next_link, redact, Request};
use crate::models::{media_type, Descriptor, ImageIndex, Manifest, ManifestBody};
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::Result;

/// The fallback tag of `subject`'s referrers (the distribution spec's
/// referrers tag schema): `<alg>-<ref>`, the algorithm cut to 32 and the
/// hex to 64 characters, any character a tag may not hold replaced by `-`.
///
/// ```
/// let d = dockreg::Digest::sha256(b"{}");
/// let tag = dockreg::api::referrers_tag(&d);
/// assert_eq!(tag.as_str(), format!("sha256-{}", d.hex()));
/// ```
pub fn referrers_tag(subject: &Digest) -> Tag {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .take(max)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let raw = format!(
        "{}-{}",
        clean(subject.algorithm().as_str(), 32),
        clean(subject.hex(), 64)
    );
    // An algorithm name and hex digits always make a valid tag: they start
    // with a letter and hold at most 97 characters of the tag alphabet.
    raw.parse().unwrap_or_else(|_| Tag::latest())
}

/// Where a referrers list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReferrersSource {
    /// The registry's Referrers API.
    Api,
    /// The fallback tag ([`referrers_tag`]): the registry has no Referrers
    /// API.
    FallbackTag,
}

/// The referrers of one manifest ([`Client::referrers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Referrers {
    /// The manifest they refer to.
    pub subject: Digest,
    /// One descriptor per referrer: media type, digest, size, its
    /// `artifactType` and annotations.
    pub manifests: Vec<Descriptor>,
    /// Where the list came from.
    pub source: ReferrersSource,
    /// Whether the registry said it applied the `artifactType` filter
    /// (`OCI-Filters-Applied`); the list is filtered either way.
    pub filtered_by_registry: bool,
}

/// A fallback tag that goes with a deletion ([`DeletePlan::fallback_tags`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FallbackTag {
    /// The tag (`sha256-<hex>`).
    pub tag: Tag,
    /// The digest of the index it names, which is deleted.
    pub index: Digest,
}

/// What deleting a manifest with its referrers does
/// ([`Client::delete_plan`]), in the order it is done: the referrers
/// (referrers of referrers first), the fallback indexes of everything
/// deleted, the manifest, and last its entry in its own subject's fallback
/// index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeletePlan {
    /// The manifest.
    pub digest: Digest,
    /// Its referrers, found recursively, in the order they are deleted.
    pub referrers: Vec<Descriptor>,
    /// The fallback tags of the manifest and its referrers, deleted.
    pub fallback_tags: Vec<FallbackTag>,
    /// The manifest's own subject, when it is a referrer: its entry is
    /// removed from that subject's fallback index (the tag goes when the
    /// index would be empty).
    pub subject: Option<Digest>,
}

impl DeletePlan {
    /// Every manifest the plan deletes: the referrers, the fallback
    /// indexes and the manifest itself.
    pub fn manifests(&self) -> usize {
        self.referrers.len() + self.fallback_tags.len() + 1
    }
}

/// What happened to a subject's fallback index when an entry was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FallbackChange {
    Unchanged,
    Updated,
    Deleted,
}

/// Keeps the descriptors of `artifact_type` (all when `None`).
fn filtered(manifests: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    match artifact_type {
        None => manifests,
        Some(t) => manifests
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(t))
            .collect(),
    }
}

/// The fallback tags being rewritten in this process, each with its lock.
type FallbackLocks = std::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>;

impl Client {
    /// Holds the fallback tag of `subject` in `name` for one writer at a
    /// time in this process: a read-modify-write that overlaps another
    /// would lose the other's entry. (Other processes are not coordinated
    /// with: distribution 2.8.2 has no conditional manifest requests.)
    async fn fallback_writer(
        &self,
        name: &RepositoryName,
        subject: &Digest,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        static LOCKS: FallbackLocks = std::sync::Mutex::new(BTreeMap::new());
        let key = format!("{}{name}@{subject}", self.base_url());
        let lock = {
            let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for go.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The referrers of `subject` in repository `name`, only those of
    /// `artifact_type` when given.
    ///
    /// Asks the Referrers API first (`GET /v2/NAME/referrers/DIGEST`,
    /// `?artifactType=` when filtering), following its `Link` pages; the
    /// list is filtered here when the registry did not say it filtered
    /// (`OCI-Filters-Applied`). A 404 there means the registry has no such
    /// API (so does a first answer that is not an OCI index, such as the
    /// HTML page a proxy serves for any path): the fallback tag
    /// ([`referrers_tag`]) is read instead, and no fallback tag means no
    /// referrers.
    ///
    /// Bounded as listings are: each page by [`Limits::manifest`] bytes
    /// and [`Limits::index_children`] entries, the whole by
    /// [`Limits::pages`] pages and [`Limits::entries`] entries, and a
    /// `Link` back to a page already fetched is [`Error::Protocol`]. So is
    /// a fallback tag that names anything but an OCI index.
    ///
    /// [`Limits::manifest`]: crate::http::Limits::manifest
    /// [`Limits::index_children`]: crate::http::Limits::index_children
    /// [`Limits::pages`]: crate::http::Limits::pages
    /// [`Limits::entries`]: crate::http::Limits::entries
    pub async fn referrers(
        &self,
        name: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        if let Some((manifests, filtered_by_registry)) =
            self.referrers_api(name, subject, artifact_type).await?
        {
            return Ok(Referrers {
                subject: subject.clone(),
                manifests: filtered(manifests, artifact_type),
                source: ReferrersSource::Api,
                filtered_by_registry,
            });
        }
        let manifests = match self.fallback_index(name, subject).await? {
            Some((_, index)) => index.manifests,
            None => Vec::new(),
        };
        Ok(Referrers {
            subject: subject.clone(),
            manifests: filtered(manifests, artifact_type),
            source: ReferrersSource::FallbackTag,
            filtered_by_registry: false,
        })
    }

    /// The Referrers API's list (every page) and whether every page said
    /// it was filtered; `None` when the registry answers 404 (no API).
    async fn referrers_api(
        &self,
        name: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<(Vec<Descriptor>, bool)>> {
        let limits = *self.limits();
        let mut url = self.repo_url(name, &format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        let listing = format!("referrers of {name}@{subject}");
        let mut visited: HashSet<String> = HashSet::new();
        let mut manifests: Vec<Descriptor> = Vec::new();
        let mut all_filtered = true;
        let mut next = Some(url);
        let mut pages = 0u64;
        while let Some(url) = next.take() {
            let request = Request::get(url.clone())
                .accept(media_type::OCI_INDEX)
                .scope(Scope::pull(name));
            let fetched = match self.fetch(request, limits.manifest).await {
                Ok(fetched) => fetched,
                // No Referrers API: the spec's signal for the fallback tag.
                Err(e) if pages == 0 && e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            };
            // Some registries and the proxies in front of them answer any
            // path they do not know with a 200 page (HTML, a login form):
            // that is no Referrers API either, as oras-go also reads it.
            let declared = content_type(&fetched.headers).map(|ct| media_type::essence(&ct));
            if pages == 0 && declared.as_deref() != Some(media_type::OCI_INDEX) {
                return Ok(None);
            }
            pages += 1;
            let url = self.decided_url(url);
            visited.insert(url.to_string());
            let what = format!("{listing}: GET {}", redact(&url));
            let index: ImageIndex = serde_json::from_slice(&fetched.body)
                .map_err(|e| Error::decode(what.clone(), e))?;
            let count = u64::try_from(index.manifests.len()).unwrap_or(u64::MAX);
            if count > limits.index_children {
                return Err(Error::TooMany {
                    what,
                    items: "referrers",
                    count,
                    limit: limits.index_children,
                });
            }
            if artifact_type.is_some() {
                all_filtered &= filters_applied(&fetched.headers)
                    .iter()
                    .any(|f| f == "artifacttype");
            }
            manifests.extend(index.manifests);
            let total = u64::try_from(manifests.len()).unwrap_or(u64::MAX);
            if total > limits.entries {
                return Err(Error::protocol(
                    what,
                    format!(
                        "the listing passes {} entries, the most one listing may yield \
                         (Limits::entries)",
                        limits.entries
                    ),
                ));
            }
            if let Some(link) = next_link(&fetched.headers, &url)? {
                if visited.contains(link.as_str()) {
                    return Err(Error::protocol(
                        what,
                        format!(
                            "the registry's Link leads back to a page already fetched: {}",
                            redact(&link)
                        ),
                    ));
                }
                if pages >= limits.pages {
                    return Err(Error::protocol(
                        what,
                        format!(
                            "the registry links past {} pages, the most one listing may \
                             follow (Limits::pages)",
                            limits.pages
                        ),
                    ));
                }
                next = Some(link);
            }
        }
        Ok(Some((manifests, artifact_type.is_some() && all_filtered)))
    }

    /// The fallback index of `subject` (the manifest and its model), or
    /// `None` when the tag does not exist. Anything but an OCI index under
    /// the tag is [`Error::Protocol`].
    pub(crate) async fn fallback_index(
        &self,
        name: &RepositoryName,
        subject: &Digest,
    ) -> Result<Option<(Manifest, ImageIndex)>> {
        let tag = referrers_tag(subject);
        let manifest = match self.manifest(name, &TagOrDigest::Tag(tag.clone())).await {
            Ok(m) => m,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        match manifest.body() {
            ManifestBody::OciIndex(index) => {
                let index = index.clone();
                Ok(Some((manifest, index)))
            }
            _ => Err(Error::protocol(
                format!("referrers fallback tag {name}:{tag}"),
                format!(
                    "it names a {}, not the OCI index of referrers the tag schema holds",
                    manifest.media_type()
                ),
            )),
        }
    }

    /// Adds `referrer` (just pushed) to the fallback index of `subject`:
    /// read, added to unless its digest is there, written back; created
    /// when absent. One writer per tag at a time in this process.
    pub(crate) async fn add_to_fallback_index(
        &self,
        name: &RepositoryName,
        subject: &Digest,
        referrer: &Manifest,
    ) -> Result<()> {
        let entry = referrer.referrer_descriptor()?;
        let _writing = self.fallback_writer(name, subject).await;
        let mut index = match self.fallback_index(name, subject).await {
            Ok(Some((_, index))) => index,
            Ok(None) => ImageIndex::new(Vec::new()),
            // Anything else (a refused or broken request) is returned as it
            // is: pushing the same manifest again is safe and tries again.
            Err(e @ Error::Protocol { .. }) => {
                return Err(Error::protocol(
                    format!("push of {name}@{}", entry.digest),
                    format!(
                        "the manifest was pushed, but its subject's fallback tag {} could not \
                         be updated: {e}",
                        referrers_tag(subject)
                    ),
                ))
            }
            Err(e) => return Err(e),
        };
        if index.manifests.iter().any(|d| d.digest == entry.digest) {
            return Ok(());
        }
        index.media_type = Some(media_type::OCI_INDEX.to_owned());
        index.manifests.push(entry);
        let manifest = Manifest::from_index(&index)?;
        self.put_manifest_only(name, &TagOrDigest::Tag(referrers_tag(subject)), &manifest)
            .await?;
        Ok(())
    }

    /// Removes `referrer` from the fallback index of `subject`; deletes
    /// the index (and so the tag) when nothing is left.
    pub(crate) async fn remove_from_fallback_index(
        &self,
        name: &RepositoryName,
        subject: &Digest,
        referrer: &Digest,
    ) -> Result<FallbackChange> {
        let _writing = self.fallback_writer(name, subject).await;
        let Some((manifest, mut index)) = self.fallback_index(name, subject).await? else {
            return Ok(FallbackChange::Unchanged);
        };
        let before = index.manifests.len();
        index.manifests.retain(|d| d.digest != *referrer);
        if index.manifests.len() == before {
            return Ok(FallbackChange::Unchanged);
        }
        if index.manifests.is_empty() {
            self.delete_manifest(name, &manifest.digest()?).await?;
            return Ok(FallbackChange::Deleted);
        }
        let manifest = Manifest::from_index(&index)?;
        self.put_manifest_only(name, &TagOrDigest::Tag(referrers_tag(subject)), &manifest)
            .await?;
        Ok(FallbackChange::Updated)
    }

    /// What [`Client::delete_with_referrers`] would delete, deleting
    /// nothing: the referrers of `digest`, found recursively (referrers of
    /// referrers) through [`Client::referrers`]; the fallback tags of the
    /// manifest and of each referrer (a `HEAD` each); and the manifest's
    /// own subject, when it has one. At most [`Limits::index_children`]
    /// referrers ([`Error::TooMany`] past it).
    ///
    /// [`Limits::index_children`]: crate::http::Limits::index_children
    pub async fn delete_plan(&self, name: &RepositoryName, digest: &Digest) -> Result<DeletePlan> {
        let manifest = self
            .manifest(name, &TagOrDigest::Digest(digest.clone()))
            .await?;
        let limit = self.limits().index_children;
        let mut seen: HashSet<Digest> = HashSet::from([digest.clone()]);
        let mut found: Vec<Descriptor> = Vec::new();
        let mut queue: VecDeque<Digest> = VecDeque::from([digest.clone()]);
        while let Some(subject) = queue.pop_front() {
            for r in self.referrers(name, &subject, None).await?.manifests {
                if seen.insert(r.digest.clone()) {
                    queue.push_back(r.digest.clone());
                    found.push(r);
                    let count = u64::try_from(found.len()).unwrap_or(u64::MAX);
                    if count > limit {
                        return Err(Error::TooMany {
                            what: format!("referrers of {name}@{digest}"),
                            items: "referrers",
                            count,
                            limit,
                        });
                    }
                }
            }
        }
        let mut fallback_tags = Vec::new();
        for d in std::iter::once(digest).chain(found.iter().map(|r| &r.digest)) {
            let tag = referrers_tag(d);
            match self
                .manifest_digest(name, &TagOrDigest::Tag(tag.clone()))
                .await
            {
                Ok(index) => fallback_tags.push(FallbackTag { tag, index }),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        // Found breadth first: the deepest come last, and go first.
        found.reverse();
        Ok(DeletePlan {
            digest: digest.clone(),
            referrers: found,
            fallback_tags,
            subject: manifest.subject().map(|s| s.digest.clone()),
        })
    }

    /// Deletes what `plan` says, in its order: the referrers, the fallback
    /// indexes, the manifest, then its entry in its subject's fallback
    /// index (the tag goes when nothing is left in it). What is already
    /// gone is skipped; the first other failure stops it.
    pub async fn apply_delete_plan(&self, name: &RepositoryName, plan: &DeletePlan) -> Result<()> {
        let gone_is_fine = |r: Result<()>| match r {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        };
        for r in &plan.referrers {
            gone_is_fine(self.delete_manifest(name, &r.digest).await)?;
        }
        for f in &plan.fallback_tags {
            gone_is_fine(self.delete_manifest(name, &f.index).await)?;
        }
        self.delete_manifest(name, &plan.digest).await?;
        if let Some(subject) = &plan.subject {
            self.remove_from_fallback_index(name, subject, &plan.digest)
                .await?;
        }
        Ok(())
    }

    /// Deletes a manifest with its referrers (signatures, SBOMs,
    /// attestations, and theirs) and their fallback tags, and takes it out
    /// of its own subject's fallback index: [`Client::delete_plan`], then
    /// [`Client::apply_delete_plan`]. Returns the plan it carried out.
    pub async fn delete_with_referrers(
        &self,
        name: &RepositoryName,
        digest: &Digest,
    ) -> Result<DeletePlan> {
        let plan = self.delete_plan(name, digest).await?;
        self.apply_delete_plan(name, &plan).await?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tag_follows_the_schema() {
        let d = Digest::sha256(b"x");
        assert_eq!(
            referrers_tag(&d).as_str(),
            format!("sha256-{}", d.hex()).as_str()
        );
        let long: Digest = format!("sha512:{}", "a".repeat(128)).parse().unwrap();
        assert_eq!(
            referrers_tag(&long).as_str(),
            format!("sha512-{}", "a".repeat(64)).as_str()
        );
    }

    #[test]
    fn filtering_keeps_the_type_asked_for() {
        let mut a = Descriptor::for_bytes(media_type::OCI_MANIFEST, b"a");
        a.artifact_type = Some("application/spdx+json".into());
        let b = Descriptor::for_bytes(media_type::OCI_MANIFEST, b"b");
        let all = vec![a.clone(), b];
        assert_eq!(filtered(all.clone(), None).len(), 2);
        assert_eq!(filtered(all, Some("application/spdx+json")), vec![a]);
    }
}
