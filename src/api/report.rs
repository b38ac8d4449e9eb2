//! Every tag of a repository with its digest and created date: the report
//! people script with curl and jq, as one call.

use std::time::SystemTime;

use futures::TryStreamExt;

use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::Platform;
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::Result;

/// One tag of a repository, as [`Client::tag_report`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagInfo {
    /// The tag.
    pub tag: String,
    /// The digest of the tag's manifest (of the index, for a multi-platform
    /// tag): what `docker pull` resolves the tag to.
    pub digest: Digest,
    /// The media type of that manifest.
    pub media_type: String,
    /// The image's created date as its config states it (for an index: the
    /// chosen platform's image), when it has one.
    pub created: Option<String>,
    /// `created`, parsed.
    pub created_at: Option<SystemTime>,
    /// The platform of the image the date comes from.
    pub platform: Option<Platform>,
}

impl Client {
    /// One tag's digest and created date: its manifest, for an index the
    /// manifest of `platform` (or the first one when none matches), and the
    /// image config. A manifest whose config is not an image config (an
    /// artifact) has no date.
    pub async fn tag_info(
        &self,
        name: &RepositoryName,
        tag: &Tag,
        platform: &Platform,
    ) -> Result<TagInfo> {
        let manifest = self.manifest(name, &TagOrDigest::Tag(tag.clone())).await?;
        let digest = manifest.digest()?;
        let image = if manifest.is_index() {
            let entry = manifest
                .select_platform(platform)
                .or_else(|| manifest.manifests().first())
                .ok_or_else(|| {
                    Error::protocol(format!("{name}:{tag}"), "an index without manifests")
                })?;
            self.manifest(name, &TagOrDigest::Digest(entry.digest.clone()))
                .await?
        } else {
            manifest.clone()
        };
        let config = match self.image_config(name, &image).await {
            Ok(config) => Some(config),
            Err(Error::Decode { .. } | Error::TooLarge { .. } | Error::Protocol { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(TagInfo {
            tag: tag.to_string(),
            digest,
            media_type: manifest.media_type().to_owned(),
            created_at: config.as_ref().and_then(|c| c.created_at()),
            platform: config.as_ref().map(|c| c.platform()),
            created: config.and_then(|c| c.created),
        })
    }

    /// Every tag of a repository with its digest and created date
    /// ([`Client::tag_info`]), `concurrency` tags at a time, sorted oldest
    /// first (then by tag; undated tags last).
    ///
    /// ```no_run
    /// # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
    /// let name: dockreg::RepositoryName = "team/app".parse()?;
    /// let platform = dockreg::models::Platform::new("linux", "amd64");
    /// for t in client.tag_report(&name, &platform, 16).await? {
    ///     println!("{} {} {}", t.tag, t.digest, t.created.as_deref().unwrap_or("-"));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tag_report(
        &self,
        name: &RepositoryName,
        platform: &Platform,
        concurrency: usize,
    ) -> Result<Vec<TagInfo>> {
        let mut rows: Vec<TagInfo> = self
            .tags(name)
            .and_then(|tag| async move { tag.parse::<Tag>() })
            .map_ok(|tag| async move { self.tag_info(name, &tag, platform).await })
            .try_buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        rows.sort_by(|a, b| {
            (a.created_at.is_none(), a.created_at, &a.tag).cmp(&(
                b.created_at.is_none(),
                b.created_at,
                &b.tag,
            ))
        });
        Ok(rows)
    }
}
