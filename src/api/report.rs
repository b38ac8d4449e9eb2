//! Every tag of a repository with its digest and created date: the report
//! people script with curl and jq, as one call.

use std::collections::HashMap;
use std::time::SystemTime;

use futures::TryStreamExt;

use crate::cache::Hints;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::{
    format_rfc3339, media_type, Descriptor, ImageConfig, ListedManifest, Manifest, Platform,
};
use crate::reference::{RepositoryName, Tag};
use crate::repository::ReportOptions;
use crate::Result;

/// One tag of a repository, as [`Client::tag_report`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TagInfo {
    /// The tag.
    pub tag: Tag,
    /// The digest of the tag's manifest (of the index, for a multi-platform
    /// tag): what `docker pull` resolves the tag to.
    pub digest: Digest,
    /// The media type of that manifest.
    pub media_type: String,
    /// The image's created date as its config states it (for an index: the
    /// chosen platform's image), when it has one; or as the tag listing
    /// states it (see [`ReportOptions::from_listing`]).
    pub created: Option<String>,
    /// `created`, parsed (not serialized: `created` says it).
    #[serde(skip)]
    pub created_at: Option<SystemTime>,
    /// The platform of the image the date comes from (`None` when the date
    /// came from the tag listing, which names no platform).
    pub platform: Option<Platform>,
}

impl Client {
    /// One tag's digest and created date: its manifest, for an index the
    /// manifest of `platform` (or the first one when none matches), and the
    /// image config. A manifest whose config is not an image config (an
    /// artifact) has no date.
    ///
    /// With a [cache](crate::ClientBuilder::cache), the manifest of the
    /// chosen platform and the config come from it when it holds them; the
    /// tag itself is always asked for (`GET`).
    pub async fn tag_info(
        &self,
        name: &RepositoryName,
        tag: &Tag,
        platform: &Platform,
    ) -> Result<TagInfo> {
        let info = self
            .tag_info_with(name, tag, platform, &Hints::default())
            .await;
        self.cache_settled().await;
        info
    }

    /// [`Client::tag_info`], asking for the tag by `HEAD` when `hints` say
    /// its manifest is likely cached.
    async fn tag_info_with(
        &self,
        name: &RepositoryName,
        tag: &Tag,
        platform: &Platform,
        hints: &Hints,
    ) -> Result<TagInfo> {
        let manifest = self.tag_manifest(name, tag, hints).await?;
        let digest = manifest.digest()?;
        let image = if manifest.is_index() {
            let entry = dated_entry(&manifest, platform).ok_or_else(|| {
                Error::protocol(format!("{name}:{tag}"), "an index without manifests")
            })?;
            self.manifest_by_digest(name, &entry.digest, Some(&entry.media_type))
                .await?
        } else {
            manifest.clone()
        };
        let config = self.image_config_if_any(name, &image).await?;
        Ok(TagInfo {
            tag: tag.clone(),
            digest,
            media_type: manifest.media_type().to_owned(),
            created_at: config.as_ref().and_then(|c| c.created_at()),
            platform: config.as_ref().map(|c| c.platform()),
            created: config.and_then(|c| c.created),
        })
    }

    /// The image config of an image manifest, or `None` when its config is
    /// not an image config (an artifact's, a schema 1 manifest without
    /// history): what gives a tag its date.
    pub(crate) async fn image_config_if_any(
        &self,
        name: &RepositoryName,
        image: &Manifest,
    ) -> Result<Option<ImageConfig>> {
        match self.read_image_config(name, image).await {
            Ok(config) => Ok(Some(config)),
            Err(Error::Decode { .. } | Error::TooLarge { .. } | Error::Protocol { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every tag of a repository with its digest and created date
    /// ([`Client::tag_info`]), `concurrency` tags at a time.
    ///
    /// With a [cache](crate::ClientBuilder::cache), a tag whose manifest the
    /// last report cached is asked for with a `HEAD` (its digest), and its
    /// manifest and config are read from the cache, verified: a repeated
    /// report of unchanged tags costs the tag list and a `HEAD` per tag. A
    /// tag the cache knows nothing of is fetched as without a cache (a `GET`
    /// of its manifest and of its config), and kept.
    ///
    /// A registry whose tag listing carries each manifest's digest, media
    /// type and creation time (Google's `gcr.io` and `*.pkg.dev`: see
    /// [`TagList::manifests`](crate::models::TagList::manifests)) dates its
    /// image tags from the listing alone, with no request per tag; an
    /// index, a tag the listing gives no time for, or a tag two of its
    /// entries claim is read as above. [`ReportOptions::from_listing`]
    /// turns this off.
    ///
    /// Only the tag listing failing fails the report. A tag that goes wrong
    /// on its own (deleted since the listing, a media type nobody knows, a
    /// manifest that does not verify) is one entry of
    /// [`TagReport::errors`]; the other tags are still in
    /// [`TagReport::rows`]. [`TagReport::complete`] turns that back into all
    /// or nothing.
    ///
    /// ```no_run
    /// # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
    /// let name: dockreg::RepositoryName = "team/app".parse()?;
    /// let platform = dockreg::models::Platform::new("linux", "amd64");
    /// let report = client.tag_report(&name, &platform, 16).await?;
    /// for t in &report.rows {
    ///     println!("{} {} {}", t.tag, t.digest, t.created.as_deref().unwrap_or("-"));
    /// }
    /// for e in &report.errors {
    ///     eprintln!("{}: {}", e.tag, e.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tag_report(
        &self,
        name: &RepositoryName,
        platform: &Platform,
        concurrency: usize,
    ) -> Result<TagReport> {
        let options = ReportOptions::default()
            .platform(platform.clone())
            .concurrency(concurrency);
        self.report(name, &options).await
    }

    /// [`Client::tag_report`] as `options` say: the tags its filter keeps,
    /// telling its observer of each tag listed and each tag read, dates
    /// from the listing when it has them and `options.from_listing`.
    pub(crate) async fn report(
        &self,
        name: &RepositoryName,
        options: &ReportOptions,
    ) -> Result<TagReport> {
        let keep = options.filter.as_ref().map(|f| &*f.0);
        let observer = options.observer.as_ref().map(|o| &*o.0);
        let platform = &options.platform;
        let hints = self.tag_hints(name).await;
        let outcomes: Vec<(String, Result<TagInfo>)> = {
            let hints = &hints;
            self.tags(name)
                .pages()
                .map_ok(|page| {
                    let listed = match options.from_listing {
                        true => listed_by_tag(&page.manifests),
                        false => HashMap::new(),
                    };
                    // Only what a row needs is copied per tag: one entry may
                    // name every tag of the page.
                    let rows: Vec<(String, Option<Dated>)> = page
                        .items
                        .into_iter()
                        .map(|tag| {
                            let dated = listed
                                .get(tag.as_str())
                                .copied()
                                .flatten()
                                .and_then(Dated::of);
                            (tag, dated)
                        })
                        .collect();
                    futures::stream::iter(rows.into_iter().map(Ok::<_, Error>))
                })
                .try_flatten()
                .try_filter(|(tag, _)| std::future::ready(keep.is_none_or(|keep| keep(tag))))
                .map_ok(|(tag, listed)| async move {
                    if let Some(observer) = observer {
                        observer(&ReportEvent::Listed { tag: &tag });
                    }
                    let info = match (tag.parse::<Tag>(), listed) {
                        (Ok(parsed), Some(dated)) => Ok(dated.info(parsed)),
                        (Ok(parsed), None) => {
                            self.tag_info_with(name, &parsed, platform, hints).await
                        }
                        (Err(e), _) => Err(e),
                    };
                    if let Some(observer) = observer {
                        observer(&ReportEvent::Read {
                            tag: &tag,
                            ok: info.is_ok(),
                        });
                    }
                    Ok::<_, Error>((tag, info))
                })
                .try_buffer_unordered(options.concurrency.max(1))
                .try_collect()
                .await?
        };
        self.keep_tag_hints(hints).await;
        self.cache_settled().await;
        let mut report = TagReport::default();
        for (tag, outcome) in outcomes {
            match outcome {
                Ok(info) => report.rows.push(info),
                Err(error) => report.errors.push(TagError { tag, error }),
            }
        }
        report.rows.sort_by(|a, b| {
            (a.created_at.is_none(), a.created_at, &a.tag).cmp(&(
                b.created_at.is_none(),
                b.created_at,
                &b.tag,
            ))
        });
        report.errors.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(report)
    }
}

/// The listed manifest of each tag a page's `manifest` map names: `None`
/// for a tag two entries claim (the listing contradicts itself, so the
/// tag is read as without it).
fn listed_by_tag(listed: &[ListedManifest]) -> HashMap<&str, Option<&ListedManifest>> {
    let mut by_tag: HashMap<&str, Option<&ListedManifest>> = HashMap::new();
    for entry in listed {
        for tag in &entry.tags {
            by_tag
                .entry(tag.as_str())
                .and_modify(|seen| {
                    if seen.is_some_and(|s| s.digest != entry.digest) {
                        *seen = None;
                    }
                })
                .or_insert(Some(entry));
        }
    }
    by_tag
}

/// A tag's row as the listing gives it, for a listed image manifest (an
/// index's date is its chosen platform's image, which the listing does not
/// name) with a creation time.
struct Dated {
    digest: Digest,
    media_type: String,
    created_at: SystemTime,
}

impl Dated {
    fn of(entry: &ListedManifest) -> Option<Dated> {
        let media_type = entry.media_type.as_deref().filter(|m| {
            matches!(
                *m,
                media_type::DOCKER_MANIFEST_V2 | media_type::OCI_MANIFEST
            )
        })?;
        Some(Dated {
            digest: entry.digest.clone(),
            media_type: media_type.to_owned(),
            created_at: entry.created()?,
        })
    }

    fn info(self, tag: Tag) -> TagInfo {
        TagInfo {
            tag,
            digest: self.digest,
            media_type: self.media_type,
            created: Some(format_rfc3339(self.created_at)),
            created_at: Some(self.created_at),
            platform: None,
        }
    }
}

/// What a tag report tells its observer
/// ([`ReportOptions::observer`](crate::repository::ReportOptions::observer)),
/// as it goes: a tag listed (the total grows page by page), a tag read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportEvent<'a> {
    /// A tag came from the listing (and the filter kept it).
    Listed {
        /// The tag, as the registry listed it.
        tag: &'a str,
    },
    /// A tag was read: a row (`ok`) or an error of the report.
    Read {
        /// The tag.
        tag: &'a str,
        /// Whether it became a row.
        ok: bool,
    },
}

/// The entry of an index whose image dates a tag: `platform`'s, else the
/// first one. Shared by the report and [`retention`](crate::retention).
pub(crate) fn dated_entry<'m>(index: &'m Manifest, platform: &Platform) -> Option<&'m Descriptor> {
    index
        .select_platform(platform)
        .or_else(|| index.manifests().first())
}

/// What [`Client::tag_report`] found: a row per tag that could be read, an
/// error per tag that could not.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TagReport {
    /// The tags read, sorted oldest first (then by tag; undated tags last).
    pub rows: Vec<TagInfo>,
    /// The tags that could not be read, sorted by tag.
    pub errors: Vec<TagError>,
}

impl TagReport {
    /// The rows when every tag was read, else the error of the first tag
    /// (by name) that was not.
    pub fn complete(self) -> Result<Vec<TagInfo>> {
        match self.errors.into_iter().next() {
            Some(failed) => Err(failed.error),
            None => Ok(self.rows),
        }
    }
}

/// A tag [`Client::tag_report`] could not read, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct TagError {
    /// The tag as the listing named it.
    pub tag: String,
    /// What went wrong ([`Error::is_not_found`] for a tag deleted since the
    /// listing).
    pub error: Error,
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.tag, self.error)
    }
}
