//! `/v2/NAME/manifests/REFERENCE`: fetch manifests of every schema, resolve
//! digests, pick a platform, read image configs.

use crate::auth::Scope;
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::http::{content_digest, content_type, oci_subject, Limits};
use crate::http::{redact, Request};
use crate::models::{media_type, ImageConfig, Manifest, ManifestBody, Platform};
use crate::reference::{RepositoryName, TagOrDigest};
use crate::Result;

/// The entry of an index that matches `platform`, or
/// [`Error::NoMatchingPlatform`] listing what the index offers (`what`
/// names the index).
pub(crate) fn platform_entry<'m>(
    index: &'m Manifest,
    platform: &Platform,
    what: impl FnOnce() -> String,
) -> Result<&'m crate::models::Descriptor> {
    index.select_platform(platform).ok_or_else(|| {
        let available: Vec<String> = index.platforms().iter().map(ToString::to_string).collect();
        Error::NoMatchingPlatform {
            what: what(),
            platform: platform.to_string(),
            available: available.join(", "),
        }
    })
}

/// Checks a manifest against the digest it was fetched by and the one the
/// registry announced, each with its own algorithm.
pub(crate) fn verify_manifest(
    manifest: &Manifest,
    expected: [Option<&Digest>; 2],
    what: &str,
) -> Result<()> {
    for expected in expected.into_iter().flatten() {
        let actual = manifest.digest_with(expected.algorithm())?;
        if actual != *expected {
            return Err(Error::digest_mismatch(
                what.to_owned(),
                expected.clone(),
                actual,
            ));
        }
    }
    Ok(())
}

/// Refuses a manifest that names more child manifests or layers than
/// `limits` allow ([`Error::TooMany`]), so that nothing it names is fetched.
pub(crate) fn check_fan_out(manifest: &Manifest, limits: &Limits, what: &str) -> Result<()> {
    let counts = [
        (
            manifest.manifests().len(),
            limits.index_children,
            "child manifests",
        ),
        (manifest.layer_digests().len(), limits.layers, "layers"),
    ];
    for (count, limit, items) in counts {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        if count > limit {
            return Err(Error::TooMany {
                what: what.to_owned(),
                items,
                count,
                limit,
            });
        }
    }
    Ok(())
}

impl Client {
    /// Pushes a manifest under a tag or its digest (`PUT`, with the
    /// manifest's own media type and exact bytes) and returns its digest.
    ///
    /// The blobs and child manifests it references must be in the
    /// repository already. The registry's `Docker-Content-Digest` must equal
    /// the manifest's digest (for signed schema 1: of its payload); pushed by
    /// digest, that digest must be the manifest's.
    ///
    /// A manifest with a `subject` (an OCI 1.1 referrer: a signature, an
    /// SBOM) pushed to a registry without the Referrers API (its answer has
    /// no `OCI-Subject` header) is also added to the subject's fallback
    /// index, the tag `sha256-<hex>` ([`referrers_tag`](crate::api::referrers_tag)),
    /// as the distribution spec asks: read, added to (once per digest),
    /// written back; created when absent. Pushes of one process to one
    /// subject take turns, so none loses another's entry (other processes
    /// are not coordinated with). A fallback tag that names
    /// something other than an OCI index is [`Error::Protocol`] (the
    /// manifest itself was pushed).
    pub async fn put_manifest(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        manifest: &Manifest,
    ) -> Result<Digest> {
        let (digest, subject_processed) = self.put_manifest_only(name, reference, manifest).await?;
        if let Some(subject) = manifest.subject() {
            if !subject_processed {
                self.add_to_fallback_index(name, &subject.digest, manifest)
                    .await?;
            }
        }
        Ok(digest)
    }

    /// [`Client::put_manifest`] without the fallback index: returns the
    /// digest and whether the registry said it processed the subject
    /// (`OCI-Subject`).
    pub(crate) async fn put_manifest_only(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        manifest: &Manifest,
    ) -> Result<(Digest, bool)> {
        let digest = match reference.as_digest() {
            Some(d) => manifest.digest_with(d.algorithm())?,
            None => manifest.digest()?,
        };
        if let Some(asked) = reference.as_digest() {
            if *asked != digest {
                return Err(Error::digest_mismatch(
                    format!("manifest pushed to {name}@{asked}"),
                    asked.clone(),
                    digest,
                ));
            }
        }
        let url = self.repo_url(name, &format!("manifests/{reference}"));
        let what = format!("manifest PUT {}", redact(&url));
        let response = self
            .send(
                Request::new(reqwest::Method::PUT, url)
                    .body(manifest.bytes().clone(), manifest.media_type())
                    .scope(Scope::push(name))
                    // Putting the same bytes twice leaves the same manifest.
                    .repeatable(true),
            )
            .await?;
        if let Some(announced) = content_digest(response.headers(), &what)? {
            let ours = manifest.digest_with(announced.algorithm())?;
            if announced != ours {
                return Err(Error::digest_mismatch(what, ours, announced));
            }
        }
        Ok((digest, oci_subject(response.headers()).is_some()))
    }

    /// Deletes a manifest by digest (`DELETE`). Every tag that points at it
    /// goes with it; the layers stay until the registry's garbage collection.
    /// A registry with deletion disabled gives [`Error::DeletionDisabled`].
    pub async fn delete_manifest(&self, name: &RepositoryName, digest: &Digest) -> Result<()> {
        let url = self.repo_url(name, &format!("manifests/{digest}"));
        self.delete_resource(url, Scope::delete(name)).await
    }

    /// Deletes a tag the only way the API allows: resolves its digest (`HEAD`
    /// with every manifest type in `Accept`, so the digest is the stored
    /// one) and deletes the manifest by digest. Returns the digest. Other
    /// tags of the same digest go too: see [`Client::tags_with_digest`] to
    /// know which before deleting.
    pub async fn delete_tag(&self, name: &RepositoryName, tag: &crate::Tag) -> Result<Digest> {
        let digest = self
            .manifest_digest(name, &TagOrDigest::Tag(tag.clone()))
            .await?;
        self.delete_manifest(name, &digest).await?;
        Ok(digest)
    }

    /// The tags of a repository whose manifest has `digest` (a `HEAD` per tag,
    /// `concurrency` at a time), sorted.
    pub async fn tags_with_digest(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        concurrency: usize,
    ) -> Result<Vec<String>> {
        use futures::{StreamExt, TryStreamExt};
        let mut tags: Vec<String> = self
            .tags(name)
            .map_ok(|tag| async move {
                let reference: TagOrDigest = tag.parse()?;
                match self.manifest_digest(name, &reference).await {
                    Ok(d) => Ok((d == *digest).then_some(tag)),
                    // A tag deleted while we look is not one of them.
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .try_buffer_unordered(concurrency.max(1))
            .try_filter_map(|t| async move { Ok(t) })
            .boxed()
            .try_collect()
            .await?;
        tags.sort();
        Ok(tags)
    }

    /// Fetches a manifest of any schema by tag or digest, verified.
    ///
    /// The `Accept` header lists every manifest type this crate knows (Docker
    /// schema 1 signed and unsigned, schema 2, manifest lists, OCI manifests
    /// and indexes). The body must hash to the digest it was fetched by, and to
    /// the registry's `Docker-Content-Digest` when that is sent; a mismatch is
    /// [`Error::DigestMismatch`]. A signed schema 1 manifest is hashed over its
    /// JWS payload, as registries do, and read from that payload: a payload
    /// that is not exactly the body without its `signatures` is
    /// [`Error::Protocol`] (see [`crate::models::signed_payload`]), so the
    /// manifest returned is always the bytes that were hashed. A manifest
    /// naming more child manifests or layers than [`Limits::index_children`]
    /// and [`Limits::layers`] allow is [`Error::TooMany`].
    pub async fn manifest(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
    ) -> Result<Manifest> {
        let url = self.repo_url(name, &format!("manifests/{reference}"));
        let what = format!("manifest GET {}", redact(&url));
        let request = Request::get(url)
            .accept(media_type::manifest_accept())
            .scope(Scope::pull(name));
        let fetched = self.fetch(request, self.limits().manifest).await?;
        let announced = content_digest(&fetched.headers, &what)?;
        let content_type = content_type(&fetched.headers);
        let manifest =
            Manifest::from_bytes(fetched.body, content_type.as_deref()).map_err(|e| match e {
                // Name the request: "signed schema 1 manifest" alone does not
                // say which one.
                Error::Protocol { what: w, reason } => Error::Protocol {
                    what: format!("{what}: {w}"),
                    reason,
                },
                Error::Decode { what: w, source } => Error::Decode {
                    what: format!("{w} from {what}"),
                    source,
                },
                e => e,
            })?;
        verify_manifest(
            &manifest,
            [reference.as_digest(), announced.as_ref()],
            &what,
        )?;
        check_fan_out(&manifest, self.limits(), &what)?;
        Ok(manifest)
    }

    /// The digest of a tag's (or digest's) manifest, as `docker pull` would
    /// resolve it: a `HEAD` with every manifest type in `Accept`.
    ///
    /// When the registry omits `Docker-Content-Digest`, the manifest is fetched
    /// and hashed instead. Asked by digest, the registry's answer must agree.
    pub async fn manifest_digest(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
    ) -> Result<Digest> {
        match self.manifest_head(name, reference).await {
            Ok(Some((announced, _))) => Ok(announced),
            Ok(None) => self.digest_by_get(name, reference).await,
            // A failed HEAD has no body to carry the registry's error code
            // (MANIFEST_UNKNOWN, ...): a GET does, and a registry that
            // refuses HEAD answers it.
            Err(e) if e.status().is_some() && e.registry_errors().is_empty() => {
                self.digest_by_get(name, reference).await
            }
            Err(e) => Err(e),
        }
    }

    /// `HEAD` of a manifest with every manifest type in `Accept`: the
    /// registry's `Docker-Content-Digest` (`None` when it sends none) and
    /// `Content-Type`. Asked by digest, the registry's digest must agree.
    pub(crate) async fn manifest_head(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
    ) -> Result<Option<(Digest, Option<String>)>> {
        let url = self.repo_url(name, &format!("manifests/{reference}"));
        let what = format!("manifest HEAD {}", redact(&url));
        let head = Request::head(url)
            .accept(media_type::manifest_accept())
            .scope(Scope::pull(name));
        let response = self.send(head).await?;
        let Some(announced) = content_digest(response.headers(), &what)? else {
            return Ok(None);
        };
        if let Some(asked) = reference.as_digest() {
            if *asked != announced {
                return Err(Error::digest_mismatch(what, asked.clone(), announced));
            }
        }
        Ok(Some((announced, content_type(response.headers()))))
    }

    /// The digest of a manifest fetched whole (and verified).
    async fn digest_by_get(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
    ) -> Result<Digest> {
        let manifest = self.manifest(name, reference).await?;
        match reference.as_digest() {
            // Already verified against it.
            Some(asked) => Ok(asked.clone()),
            None => manifest.digest(),
        }
    }

    /// Fetches the manifest for one platform: when `reference` names an index
    /// or manifest list, the entry matching `platform` (os, architecture and,
    /// when given, variant) is fetched by digest; any other manifest is
    /// returned as it is.
    ///
    /// No matching entry is [`Error::NoMatchingPlatform`], listing what the
    /// index offers.
    pub async fn manifest_for_platform(
        &self,
        name: &RepositoryName,
        reference: &TagOrDigest,
        platform: &Platform,
    ) -> Result<Manifest> {
        let manifest = self.manifest(name, reference).await?;
        if !manifest.is_index() {
            return Ok(manifest);
        }
        let entry = platform_entry(&manifest, platform, || format!("{name}:{reference}"))?;
        let digest = TagOrDigest::Digest(entry.digest.clone());
        self.manifest(name, &digest).await
    }

    /// The image configuration of a manifest: for Docker schema 2 and OCI
    /// manifests the config blob (fetched with its digest and size verified);
    /// for schema 1 the same facts (created, architecture, os, config) from
    /// `history[0].v1Compatibility`. With a
    /// [cache](crate::ClientBuilder::cache), the config blob comes from it
    /// when it holds it (verified again).
    ///
    /// An index or manifest list has no config: choose a platform first with
    /// [`Client::manifest_for_platform`]. That case is [`Error::Protocol`].
    pub async fn image_config(
        &self,
        name: &RepositoryName,
        manifest: &Manifest,
    ) -> Result<ImageConfig> {
        let config = self.read_image_config(name, manifest).await;
        self.cache_settled().await;
        config
    }

    /// [`Client::image_config`], leaving the cache's write of the config to
    /// the caller's [`Client::cache_settled`] (a report settles once, at
    /// its end).
    pub(crate) async fn read_image_config(
        &self,
        name: &RepositoryName,
        manifest: &Manifest,
    ) -> Result<ImageConfig> {
        match manifest.body() {
            ManifestBody::DockerV2(m) | ManifestBody::OciManifest(m) => {
                let bytes = self
                    .blob_bytes_cached(
                        name,
                        &m.config.digest,
                        Some(m.config.size),
                        self.limits().config,
                    )
                    .await?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    Error::decode(format!("image config {} of {name}", m.config.digest), e)
                })
            }
            ManifestBody::Schema1 { manifest: m, .. } => m.image_config()?.ok_or_else(|| {
                Error::protocol(format!("schema 1 manifest of {name}"), "no history entries")
            }),
            _ => Err(Error::protocol(
                format!("image config of {name}"),
                format!(
                    "{} is an index of manifests; pick a platform with manifest_for_platform",
                    manifest.media_type()
                ),
            )),
        }
    }
}
