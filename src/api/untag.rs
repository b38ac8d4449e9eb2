//! Removing one tag and nothing else.
//!
//! The API deletes manifests, not tags: `DELETE /v2/NAME/manifests/DIGEST`
//! takes every tag of that digest with it. To remove one tag of a digest
//! that others share, the tag is first pointed at a small placeholder
//! manifest of its own (an OCI manifest of the empty descriptor, with a
//! unique annotation so that its digest is new), and then that placeholder
//! is deleted by digest: the tag goes with it, and the image keeps its
//! other tags. regclient removes tags the same way.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde::Serialize;

use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::models::{media_type, Descriptor, ImageManifest, Manifest};
use crate::reference::{RepositoryName, Tag, TagOrDigest};
use crate::Result;

/// The `artifactType` of the placeholder manifest [`Client::untag`] pushes
/// (and deletes at once): a registry's log or a race may show it.
pub const PLACEHOLDER_ARTIFACT_TYPE: &str = "application/vnd.dockreg.untag.placeholder.v1";

/// The annotation of the placeholder manifest that makes its digest unique.
const NONCE_ANNOTATION: &str = "dev.dockreg.untag.nonce";

/// What [`Client::untag`] did, or what [`Client::untag_plan`] says it
/// would do.
///
/// Serialized (for `--json` output) with a `"way"` field, `"tag_only"` or
/// `"manifest"`, beside the fields of the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "way", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Untagged {
    /// Other tags share the tag's digest: the tag alone went (pointed at a
    /// placeholder manifest, which was then deleted); the manifest and its
    /// other tags stay.
    TagOnly {
        /// The tag that went.
        tag: Tag,
        /// The digest it named, which stays.
        digest_kept: Digest,
        /// The tags that still name `digest_kept`, sorted.
        other_tags: Vec<Tag>,
        /// The placeholder manifest that was pushed and deleted (`None` in a
        /// plan, which pushes nothing).
        placeholder: Option<Digest>,
    },
    /// The tag was the only one of its digest: the manifest was deleted by
    /// digest, and the tag with it. Its blobs stay until the registry's
    /// garbage collection.
    Manifest {
        /// The tag that went.
        tag: Tag,
        /// The manifest that was deleted.
        digest: Digest,
    },
}

impl Untagged {
    /// The tag removed.
    pub fn tag(&self) -> &Tag {
        match self {
            Untagged::TagOnly { tag, .. } | Untagged::Manifest { tag, .. } => tag,
        }
    }

    /// The digest the tag named (kept or deleted).
    pub fn digest(&self) -> &Digest {
        match self {
            Untagged::TagOnly { digest_kept, .. } => digest_kept,
            Untagged::Manifest { digest, .. } => digest,
        }
    }

    /// Whether the manifest itself goes (the tag was its only one).
    pub fn deletes_manifest(&self) -> bool {
        matches!(self, Untagged::Manifest { .. })
    }
}

/// Whether a status means "you may not push here": the user needs rights,
/// or a registry that accepts pushes.
fn push_denied(e: &Error) -> bool {
    matches!(
        e.status(),
        Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED)
    )
}

/// A placeholder manifest for `tag` whose digest no other manifest has: the
/// OCI empty descriptor as config and as its one layer (the image spec's
/// shape for a manifest with no content), and an annotation with the time,
/// the process and a counter.
fn placeholder(tag: &Tag) -> Result<Manifest> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let empty = Descriptor::new(media_type::OCI_EMPTY, Digest::sha256(b"{}"), 2);
    let mut model = ImageManifest::new(empty.clone(), vec![empty]);
    model.media_type = Some(media_type::OCI_MANIFEST.to_owned());
    model.artifact_type = Some(PLACEHOLDER_ARTIFACT_TYPE.to_owned());
    model.annotations = BTreeMap::from([
        (
            "org.opencontainers.image.description".to_owned(),
            format!("placeholder pushed to remove the tag {tag} alone; deleted at once"),
        ),
        (
            NONCE_ANNOTATION.to_owned(),
            format!("{nanos}-{}-{count}", std::process::id()),
        ),
    ]);
    Manifest::from_image_manifest(&model)
}

impl Client {
    /// What [`Client::untag`] would do for `tag`, doing nothing: resolves
    /// the tag's digest (`HEAD`) and lists the tags of that digest (a
    /// `HEAD` per tag of the repository, as [`Client::tags_with_digest`]).
    /// [`Untagged::TagOnly`] (with no placeholder) when other tags share the
    /// digest, [`Untagged::Manifest`] when the tag is its only one.
    ///
    /// An unknown tag is a not-found error ([`Error::is_not_found`]).
    pub async fn untag_plan(&self, name: &RepositoryName, tag: &Tag) -> Result<Untagged> {
        let digest = self
            .manifest_digest(name, &TagOrDigest::Tag(tag.clone()))
            .await?;
        let listing = format!("tag listing of {name}");
        let mut other_tags = Vec::new();
        for raw in self
            .tags_with_digest(name, &digest, crate::repository::DEFAULT_CONCURRENCY)
            .await?
        {
            let other: Tag = raw
                .parse()
                .map_err(|e: Error| Error::protocol(listing.clone(), e.to_string()))?;
            if other != *tag {
                other_tags.push(other);
            }
        }
        Ok(if other_tags.is_empty() {
            Untagged::Manifest {
                tag: tag.clone(),
                digest,
            }
        } else {
            Untagged::TagOnly {
                tag: tag.clone(),
                digest_kept: digest,
                other_tags,
                placeholder: None,
            }
        })
    }

    /// Removes one tag and nothing else, and says which way it went
    /// ([`Client::untag_plan`] says it beforehand).
    ///
    /// - The tag is the only one of its digest: the manifest is deleted by
    ///   digest ([`Untagged::Manifest`]), as [`Client::delete_tag`] does.
    /// - Other tags share its digest: the tag is pointed at a placeholder
    ///   manifest of its own (`PUT`, which needs push rights; its config is
    ///   the 2-byte OCI empty blob `{}`, pushed if missing), then the
    ///   placeholder is deleted by digest, taking the tag with it
    ///   ([`Untagged::TagOnly`]). The image and its other tags stay.
    ///
    /// Before the tag is touched, a `DELETE` of the placeholder's digest
    /// (which no manifest has yet) checks that the registry allows
    /// deletion: one with deletion disabled gives [`Error::DeletionDisabled`]
    /// and the tag is left as it was. A refused push (401, 403, 405) is
    /// [`Error::UntagPushDenied`], the tag again unchanged. When the
    /// placeholder was pushed but could not be deleted, the error is
    /// [`Error::UntagIncomplete`], naming the placeholder the tag now
    /// points at.
    ///
    /// Tags added to the digest between the listing and the deletion are
    /// not seen: with [`Untagged::Manifest`] they go too.
    pub async fn untag(&self, name: &RepositoryName, tag: &Tag) -> Result<Untagged> {
        let plan = self.untag_plan(name, tag).await?;
        let Untagged::TagOnly {
            digest_kept,
            other_tags,
            ..
        } = plan
        else {
            self.delete_manifest(name, plan.digest()).await?;
            return Ok(plan);
        };
        let reference = format!("{name}:{tag}");
        let manifest = placeholder(tag)?;
        let placeholder = manifest.digest()?;

        // Nothing has that digest yet: a registry that allows deletion says
        // "unknown", one that does not says so now, before the tag moves.
        match self.delete_manifest(name, &placeholder).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let denied = |e: Error| {
            if push_denied(&e) {
                Error::UntagPushDenied {
                    reference: reference.clone(),
                    source: Box::new(e),
                }
            } else {
                e
            }
        };
        self.push_blob(name, &b"{}"[..], media_type::OCI_EMPTY)
            .await
            .map_err(denied)?;
        self.put_manifest(name, &TagOrDigest::Tag(tag.clone()), &manifest)
            .await
            .map_err(denied)?;
        if let Err(e) = self.delete_manifest(name, &placeholder).await {
            return Err(Error::UntagIncomplete {
                reference,
                repository: name.to_string(),
                placeholder,
                kept: digest_kept,
                source: Box::new(e),
            });
        }
        Ok(Untagged::TagOnly {
            tag: tag.clone(),
            digest_kept,
            other_tags,
            placeholder: Some(placeholder),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_empty_oci_manifests_with_unique_digests() {
        let tag: Tag = "v1".parse().unwrap();
        let a = placeholder(&tag).unwrap();
        let b = placeholder(&tag).unwrap();
        assert_ne!(a.digest().unwrap(), b.digest().unwrap());
        assert_eq!(a.media_type(), media_type::OCI_MANIFEST);
        let body: serde_json::Value = serde_json::from_slice(a.bytes()).unwrap();
        assert_eq!(body["config"]["mediaType"], media_type::OCI_EMPTY);
        assert_eq!(
            body["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(body["layers"][0], body["config"]);
        assert_eq!(body["artifactType"], PLACEHOLDER_ARTIFACT_TYPE);
    }

    #[test]
    fn untagged_serializes_with_its_way() {
        let plan = Untagged::TagOnly {
            tag: "a".parse().unwrap(),
            digest_kept: Digest::sha256(b"x"),
            other_tags: vec!["b".parse().unwrap()],
            placeholder: None,
        };
        let v = serde_json::to_value(&plan).unwrap();
        assert_eq!(v["way"], "tag_only");
        assert_eq!(v["other_tags"][0], "b");
        assert!(!plan.deletes_manifest());
    }
}
