//! Image manifests, indexes, and [`Manifest`], which holds any of them with
//! the exact bytes the registry sent.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::models::descriptor::{Descriptor, Platform};
use crate::models::media_type::{
    self, DOCKER_CONFIG, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V2, OCI_INDEX, OCI_MANIFEST,
};
use crate::models::schema1::{parse_schema1, Schema1Manifest};
use crate::Result;

fn schema_version_2() -> u32 {
    2
}

/// An image manifest: a config and layers. Used for both Docker schema 2
/// (`application/vnd.docker.distribution.manifest.v2+json`) and OCI
/// (`application/vnd.oci.image.manifest.v1+json`) image manifests, which
/// share their shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageManifest {
    /// Always 2.
    #[serde(default = "schema_version_2")]
    pub schema_version: u32,
    /// The manifest's media type. Required by Docker schema 2, optional
    /// (but recommended) for OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for OCI artifacts (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image configuration blob (or, for artifacts, often the empty
    /// descriptor).
    pub config: Descriptor,
    /// The layers, base layer first.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// An image manifest of `config` and `layers`. Its media type is Docker
    /// schema 2 when the config's media type is Docker's
    /// ([`media_type::DOCKER_CONFIG`]), OCI otherwise; change `media_type`
    /// to override.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> ImageManifest {
        let media_type = if config.media_type == DOCKER_CONFIG {
            DOCKER_MANIFEST_V2
        } else {
            OCI_MANIFEST
        };
        ImageManifest {
            schema_version: 2,
            media_type: Some(media_type.to_owned()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An index of manifests: a Docker manifest list
/// (`application/vnd.docker.distribution.manifest.list.v2+json`) or an OCI
/// image index (`application/vnd.oci.image.index.v1+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageIndex {
    /// Always 2.
    #[serde(default = "schema_version_2")]
    pub schema_version: u32,
    /// The index's media type. Required by Docker manifest lists, optional
    /// (but recommended) for OCI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for OCI artifacts (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests, usually one per platform.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An index of `manifests`. Its media type is a Docker manifest list
    /// when every entry is a Docker manifest, an OCI index otherwise (and
    /// when empty); change `media_type` to override.
    pub fn new(manifests: Vec<Descriptor>) -> ImageIndex {
        let docker = !manifests.is_empty()
            && manifests.iter().all(|d| {
                matches!(
                    d.media_type.as_str(),
                    DOCKER_MANIFEST_V2 | DOCKER_MANIFEST_V1 | DOCKER_MANIFEST_V1_SIGNED
                )
            });
        ImageIndex {
            schema_version: 2,
            media_type: Some(
                if docker {
                    DOCKER_MANIFEST_LIST
                } else {
                    OCI_INDEX
                }
                .to_owned(),
            ),
            artifact_type: None,
            manifests,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// The parsed body of a [`Manifest`], by kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ManifestBody {
    /// A Docker schema 1 manifest (deprecated).
    Schema1 {
        /// The manifest.
        manifest: Schema1Manifest,
        /// Whether it carries signatures; its digest is then computed over
        /// the signed payload (see [`Manifest::canonical_bytes`]).
        signed: bool,
    },
    /// A Docker schema 2 image manifest.
    DockerV2(ImageManifest),
    /// A Docker manifest list.
    DockerList(ImageIndex),
    /// An OCI image manifest.
    OciManifest(ImageManifest),
    /// An OCI image index.
    OciIndex(ImageIndex),
}

/// A manifest of any kind, with the exact bytes it was read from or will be
/// pushed as.
///
/// The bytes are what a digest is computed over (except for signed schema 1,
/// see [`Manifest::canonical_bytes`]), so they are kept as received and never
/// re-serialized.
///
/// ```
/// use dockreg::models::{media_type, ManifestBody};
/// let body = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
///   "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,
///             "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
///   "layers":[]}"#;
/// let m = dockreg::Manifest::from_bytes(body, Some("application/vnd.docker.distribution.manifest.v2+json"))?;
/// assert!(matches!(m.body(), ManifestBody::DockerV2(_)));
/// assert_eq!(m.media_type(), media_type::DOCKER_MANIFEST_V2);
/// assert_eq!(m.digest()?, dockreg::Digest::sha256(body.as_bytes()));
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    bytes: Bytes,
    media_type: String,
    body: ManifestBody,
    /// The verified payload of a signed schema 1 manifest, which `body` was
    /// parsed from and the digest is computed over.
    payload: Option<Bytes>,
}

/// Content types that say nothing about the kind of manifest.
/// The manifest media types a declared Content-Type is taken at its word for.
const KNOWN: &[&str] = &[
    DOCKER_MANIFEST_V1,
    DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V2,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

const GENERIC_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "text/plain",
    "application/octet-stream",
    "binary/octet-stream",
];

impl Manifest {
    /// Parses a manifest, keeping `bytes` as they are.
    ///
    /// The kind comes from `content_type` (parameters such as
    /// `; charset=utf-8` are ignored). When it is absent or generic
    /// (`application/json`, `text/plain`, `application/octet-stream`), the
    /// body decides: its `mediaType`, or else its `schemaVersion` (1 is
    /// schema 1, signed when it has `signatures`; 2 with `manifests` is an
    /// OCI index, 2 with `config` an OCI image manifest). So does a type from
    /// outside the `vnd.` namespace that no manifest has (Pulp serves schema
    /// 1 as `application/x-troff-man`); an unknown `vnd.` type is an error.
    ///
    /// A signed schema 1 manifest is parsed from its JWS payload, which must
    /// be exactly the body without its `signatures` (see
    /// [`crate::models::signed_payload`]): the parsed manifest is then the
    /// bytes its digest is computed over.
    ///
    /// Fails with [`Error::Protocol`] for a media type that is not a
    /// manifest's, a body whose kind cannot be told, or a signed schema 1
    /// manifest whose signatures do not describe its body, and with
    /// [`Error::Decode`] when the body is not the JSON its kind requires.
    pub fn from_bytes(bytes: impl Into<Bytes>, content_type: Option<&str>) -> Result<Manifest> {
        let bytes = bytes.into();
        let declared = content_type
            .map(media_type::essence)
            .filter(|ct| !ct.is_empty() && !GENERIC_CONTENT_TYPES.contains(&ct.as_str()));
        let media_type = match declared {
            Some(ct) if KNOWN.contains(&ct.as_str()) || ct.contains("/vnd.") => ct,
            // A type from outside the registries' `vnd.` namespace (Pulp
            // serves schema 1 as `application/x-troff-man`): the body tells,
            // or the declared type is named in the error.
            Some(ct) => sniff(&bytes).map_err(|_| unknown_media_type(&ct))?,
            None => sniff(&bytes)?,
        };
        let mut payload = None;
        let body = match media_type.as_str() {
            DOCKER_MANIFEST_V1 | DOCKER_MANIFEST_V1_SIGNED => {
                let (manifest, signed_payload) = parse_schema1(&bytes)?;
                payload = signed_payload.map(Bytes::from);
                ManifestBody::Schema1 {
                    manifest,
                    signed: payload.is_some(),
                }
            }
            DOCKER_MANIFEST_V2 => ManifestBody::DockerV2(decode(&bytes, "Docker image manifest")?),
            DOCKER_MANIFEST_LIST => {
                ManifestBody::DockerList(decode(&bytes, "Docker manifest list")?)
            }
            OCI_MANIFEST => ManifestBody::OciManifest(decode(&bytes, "OCI image manifest")?),
            OCI_INDEX => ManifestBody::OciIndex(decode(&bytes, "OCI image index")?),
            other => return Err(unknown_media_type(other)),
        };
        Ok(Manifest {
            bytes,
            media_type,
            body,
            payload,
        })
    }

    /// A manifest to push from an image manifest model, serialized to
    /// compact JSON. The media type is the model's `media_type` when set
    /// (it must be Docker schema 2 or OCI, else [`Error::Invalid`]), else
    /// chosen as [`ImageManifest::new`] does; it is written into the body.
    pub fn from_image_manifest(manifest: &ImageManifest) -> Result<Manifest> {
        let media_type = match manifest.media_type.as_deref() {
            Some(mt @ (DOCKER_MANIFEST_V2 | OCI_MANIFEST)) => mt,
            Some(other) => {
                return Err(Error::invalid(
                    "image manifest media type",
                    other,
                    format!("expected {DOCKER_MANIFEST_V2} or {OCI_MANIFEST}"),
                ))
            }
            None if manifest.config.media_type == DOCKER_CONFIG => DOCKER_MANIFEST_V2,
            None => OCI_MANIFEST,
        };
        let mut model = manifest.clone();
        model.media_type = Some(media_type.to_owned());
        let bytes = serde_json::to_vec(&model).expect("an image manifest always serializes");
        let body = if media_type == DOCKER_MANIFEST_V2 {
            ManifestBody::DockerV2(model)
        } else {
            ManifestBody::OciManifest(model)
        };
        Ok(Manifest {
            bytes: bytes.into(),
            media_type: media_type.to_owned(),
            body,
            payload: None,
        })
    }

    /// A manifest to push from an index model, serialized to compact JSON.
    /// The media type is the model's `media_type` when set (it must be a
    /// Docker manifest list or an OCI index, else [`Error::Invalid`]), else
    /// OCI index; it is written into the body.
    pub fn from_index(index: &ImageIndex) -> Result<Manifest> {
        let media_type = match index.media_type.as_deref() {
            Some(mt @ (DOCKER_MANIFEST_LIST | OCI_INDEX)) => mt,
            Some(other) => {
                return Err(Error::invalid(
                    "index media type",
                    other,
                    format!("expected {DOCKER_MANIFEST_LIST} or {OCI_INDEX}"),
                ))
            }
            None => OCI_INDEX,
        };
        let mut model = index.clone();
        model.media_type = Some(media_type.to_owned());
        let bytes = serde_json::to_vec(&model).expect("an index always serializes");
        let body = if media_type == DOCKER_MANIFEST_LIST {
            ManifestBody::DockerList(model)
        } else {
            ManifestBody::OciIndex(model)
        };
        Ok(Manifest {
            bytes: bytes.into(),
            media_type: media_type.to_owned(),
            body,
            payload: None,
        })
    }

    /// The exact bytes of the manifest.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The manifest's media type (the `Content-Type` to push it with).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The parsed body.
    pub fn body(&self) -> &ManifestBody {
        &self.body
    }

    /// Whether this is an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(
            self.body,
            ManifestBody::DockerList(_) | ManifestBody::OciIndex(_)
        )
    }

    /// The bytes the manifest's digest is computed over and its body was
    /// parsed from: for a signed schema 1 manifest its signed payload (the
    /// body without its `signatures`, see [`crate::models::signed_payload`]),
    /// for every other manifest the bytes themselves.
    ///
    /// The payload is verified when the manifest is made
    /// ([`Manifest::from_bytes`] refuses signatures that do not describe
    /// the body), so this does not fail today; the `Result` is kept for
    /// schemas to come.
    pub fn canonical_bytes(&self) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(self.payload.as_ref().unwrap_or(&self.bytes)))
    }

    /// The SHA-256 digest of the canonical bytes: the digest a registry
    /// addresses this manifest by (its `Docker-Content-Digest`).
    pub fn digest(&self) -> Result<Digest> {
        self.digest_with(Algorithm::Sha256)
    }

    /// The digest of the canonical bytes with `algorithm`.
    pub fn digest_with(&self, algorithm: Algorithm) -> Result<Digest> {
        Ok(Digest::compute(algorithm, &self.canonical_bytes()?))
    }

    fn image(&self) -> Option<&ImageManifest> {
        match &self.body {
            ManifestBody::DockerV2(m) | ManifestBody::OciManifest(m) => Some(m),
            _ => None,
        }
    }

    fn index(&self) -> Option<&ImageIndex> {
        match &self.body {
            ManifestBody::DockerList(i) | ManifestBody::OciIndex(i) => Some(i),
            _ => None,
        }
    }

    /// The config descriptor of an image manifest (`None` for indexes and
    /// schema 1).
    pub fn config(&self) -> Option<&Descriptor> {
        self.image().map(|m| &m.config)
    }

    /// The layers of an image manifest, base layer first (empty for indexes
    /// and schema 1; see [`Manifest::layer_digests`]).
    pub fn layers(&self) -> &[Descriptor] {
        self.image().map_or(&[], |m| &m.layers)
    }

    /// The digests of the layer blobs.
    ///
    /// For an image manifest they are in manifest order, base layer first.
    /// For schema 1 they are the `fsLayers` as listed, which is **newest
    /// first**, and may repeat (empty layers share one blob). Empty for
    /// indexes.
    pub fn layer_digests(&self) -> Vec<&Digest> {
        match &self.body {
            ManifestBody::Schema1 { manifest, .. } => {
                manifest.fs_layers.iter().map(|l| &l.blob_sum).collect()
            }
            _ => self.layers().iter().map(|l| &l.digest).collect(),
        }
    }

    /// The entries of an index (empty for image manifests).
    pub fn manifests(&self) -> &[Descriptor] {
        self.index().map_or(&[], |i| &i.manifests)
    }

    /// The subject of an OCI 1.1 manifest or index (the manifest it refers
    /// to), if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        self.image()
            .and_then(|m| m.subject.as_ref())
            .or_else(|| self.index().and_then(|i| i.subject.as_ref()))
    }

    /// The artifact type as a referrers list shows it (OCI 1.1): the
    /// manifest's `artifactType`, else, for an image manifest, its config's
    /// media type; `None` for schema 1 and for an index without one.
    pub fn artifact_type(&self) -> Option<&str> {
        if let Some(m) = self.image() {
            return m
                .artifact_type
                .as_deref()
                .filter(|t| !t.is_empty())
                .or(Some(m.config.media_type.as_str()));
        }
        self.index()
            .and_then(|i| i.artifact_type.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// The manifest's own annotations (empty for schema 1).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        match (self.image(), self.index()) {
            (Some(m), _) => &m.annotations,
            (_, Some(i)) => &i.annotations,
            _ => &NONE,
        }
    }

    /// The descriptor that names this manifest: its media type, digest and
    /// size.
    pub fn descriptor(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(
            self.media_type.clone(),
            self.digest()?,
            self.bytes.len() as u64,
        ))
    }

    /// The entry a referrers list holds for this manifest (OCI 1.1): its
    /// [`descriptor`](Manifest::descriptor) with its
    /// [`artifact_type`](Manifest::artifact_type) and every one of its
    /// [`annotations`](Manifest::annotations).
    pub fn referrer_descriptor(&self) -> Result<Descriptor> {
        let mut d = self.descriptor()?;
        d.artifact_type = self.artifact_type().map(str::to_owned);
        d.annotations = self.annotations().clone();
        Ok(d)
    }

    /// The first entry of an index whose platform matches `wanted` (see
    /// [`Platform::matches`]). Entries without a platform never match.
    pub fn select_platform(&self, wanted: &Platform) -> Option<&Descriptor> {
        self.manifests()
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)))
    }

    /// The platforms an index offers, in entry order (entries without a
    /// platform are skipped; empty for image manifests).
    pub fn platforms(&self) -> Vec<Platform> {
        self.manifests()
            .iter()
            .filter_map(|d| d.platform.clone())
            .collect()
    }

    /// The size of an image manifest's config and layers together, as
    /// announced by their descriptors (`None` for indexes and schema 1,
    /// whose manifests do not carry sizes).
    pub fn total_size(&self) -> Option<u64> {
        let m = self.image()?;
        m.layers
            .iter()
            .try_fold(m.config.size, |sum, l| sum.checked_add(l.size))
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::decode(what, e))
}

fn unknown_media_type(media_type: &str) -> Error {
    Error::protocol(
        "manifest",
        format!("unknown manifest media type {media_type:?}"),
    )
}

/// Tells the media type of a manifest from its body.
fn sniff(bytes: &[u8]) -> Result<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        schema_version: Option<u64>,
        media_type: Option<String>,
        manifests: Option<IgnoredAny>,
        config: Option<IgnoredAny>,
        signatures: Option<IgnoredAny>,
    }
    let probe: Probe = decode(bytes, "manifest")?;
    if let Some(mt) = probe.media_type.filter(|mt| !mt.is_empty()) {
        return if media_type::is_manifest(&mt) {
            Ok(mt)
        } else {
            Err(unknown_media_type(&mt))
        };
    }
    let kind = match probe.schema_version {
        Some(1) if probe.signatures.is_some() => DOCKER_MANIFEST_V1_SIGNED,
        Some(1) => DOCKER_MANIFEST_V1,
        Some(2) if probe.manifests.is_some() => OCI_INDEX,
        Some(2) if probe.config.is_some() => OCI_MANIFEST,
        Some(2) => {
            return Err(Error::protocol(
                "manifest",
                "schemaVersion 2 body without mediaType, manifests or config",
            ))
        }
        Some(v) => {
            return Err(Error::protocol(
                "manifest",
                format!("unsupported schemaVersion {v}"),
            ))
        }
        None => {
            return Err(Error::protocol(
                "manifest",
                "body has neither mediaType nor schemaVersion",
            ))
        }
    };
    Ok(kind.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_V2: &[u8] = include_bytes!("../../tests/fixtures/docker-v2.json");
    const DOCKER_LIST: &[u8] = include_bytes!("../../tests/fixtures/docker-list.json");
    const OCI: &[u8] = include_bytes!("../../tests/fixtures/oci-manifest.json");
    const OCI_ARTIFACT: &[u8] = include_bytes!("../../tests/fixtures/oci-artifact.json");
    const OCI_IDX: &[u8] = include_bytes!("../../tests/fixtures/oci-index.json");
    const SCHEMA1: &[u8] = include_bytes!("../../tests/fixtures/schema1-signed.json");
    const SCHEMA1_DIGEST: &str = include_str!("../../tests/fixtures/schema1-signed.digest");
    const SCHEMA1_CONVERTED: &[u8] = include_bytes!("../../tests/fixtures/schema1-converted.json");

    /// A fixture with the Content-Type and Docker-Content-Digest the
    /// registry served it with, and a check of the variant it must parse to.
    type Fixture = (
        &'static [u8],
        &'static str,
        String,
        fn(&ManifestBody) -> bool,
    );

    fn fixtures() -> Vec<Fixture> {
        vec![
            (
                DOCKER_V2,
                DOCKER_MANIFEST_V2,
                "sha256:ba0aca4fac1c04eac466ccaadee86a81395eae69bca98a15c7ab69a0c10b1669".into(),
                |b| matches!(b, ManifestBody::DockerV2(_)),
            ),
            (
                DOCKER_LIST,
                DOCKER_MANIFEST_LIST,
                "sha256:a838e51d39dfd0579ad841117b13d3fa3f7cc8c68f4d3699c45763e46589eeda".into(),
                |b| matches!(b, ManifestBody::DockerList(_)),
            ),
            (
                OCI,
                OCI_MANIFEST,
                "sha256:36a329bd96f7c9c11ba35883e8f3a592a455e8cd8fcf4c0f2a827879796bf372".into(),
                |b| matches!(b, ManifestBody::OciManifest(_)),
            ),
            (
                OCI_ARTIFACT,
                OCI_MANIFEST,
                "sha256:bc36692f911d4fb42483682101b18c421edcf0ecaaa7899f216f25f64f06f10a".into(),
                |b| matches!(b, ManifestBody::OciManifest(_)),
            ),
            (
                OCI_IDX,
                OCI_INDEX,
                "sha256:83f2dc141de85d187538376d08e83bf1e3c81e652a780799e12a6e059c61af3b".into(),
                |b| matches!(b, ManifestBody::OciIndex(_)),
            ),
            (
                SCHEMA1,
                DOCKER_MANIFEST_V1_SIGNED,
                SCHEMA1_DIGEST.trim().to_owned(),
                |b| matches!(b, ManifestBody::Schema1 { signed: true, .. }),
            ),
            (
                SCHEMA1_CONVERTED,
                DOCKER_MANIFEST_V1_SIGNED,
                include_str!("../../tests/fixtures/schema1-converted.digest")
                    .trim()
                    .to_owned(),
                |b| matches!(b, ManifestBody::Schema1 { signed: true, .. }),
            ),
        ]
    }

    #[test]
    fn fixtures_parse_with_and_without_content_type() {
        for (bytes, content_type, digest, is_variant) in fixtures() {
            let with_params = format!("{content_type}; charset=utf-8");
            for ct in [
                Some(content_type),
                Some(with_params.as_str()),
                None,
                Some("application/json"),
                Some("text/plain; charset=utf-8"),
                Some("application/octet-stream"),
            ] {
                let m = Manifest::from_bytes(Bytes::from_static(bytes), ct)
                    .unwrap_or_else(|e| panic!("{content_type} with {ct:?}: {e}"));
                assert!(
                    is_variant(m.body()),
                    "{content_type} with {ct:?}: {:?}",
                    m.body()
                );
                assert_eq!(m.bytes().as_ref(), bytes);
                assert_eq!(m.media_type(), content_type, "with {ct:?}");
                assert_eq!(m.digest().unwrap().as_str(), digest, "{content_type}");
            }
        }
    }

    #[test]
    fn signed_schema1_digest_is_over_the_payload() {
        let m = Manifest::from_bytes(SCHEMA1.to_vec(), None).unwrap();
        assert_eq!(m.digest().unwrap().as_str(), SCHEMA1_DIGEST.trim());
        assert_ne!(m.digest().unwrap(), Digest::sha256(SCHEMA1));
        assert!(m.canonical_bytes().unwrap().len() < SCHEMA1.len());
        let sha512 = m.digest_with(Algorithm::Sha512).unwrap();
        assert_eq!(
            sha512,
            Digest::compute(Algorithm::Sha512, &m.canonical_bytes().unwrap())
        );

        // Changing one byte of the payload changes the digest...
        let text = std::str::from_utf8(SCHEMA1).unwrap();
        let tampered = text.replacen(r#""tag":"v1""#, r#""tag":"v2""#, 1);
        assert_eq!(tampered.len(), text.len());
        let t = Manifest::from_bytes(tampered, None).unwrap();
        assert_ne!(t.digest().unwrap(), m.digest().unwrap());
        // ...changing a signature does not: it is not part of the payload.
        let sig_at = text.find(r#""signature":""#).unwrap() + 13;
        let mut resigned = SCHEMA1.to_vec();
        resigned[sig_at] = if resigned[sig_at] == b'A' { b'B' } else { b'A' };
        let r = Manifest::from_bytes(resigned, None).unwrap();
        assert_eq!(r.digest().unwrap(), m.digest().unwrap());
    }

    #[test]
    fn malformed_jws_is_refused() {
        let text = std::str::from_utf8(SCHEMA1).unwrap();
        let start = text.find(r#""protected":""#).unwrap() + 13;
        let end = start + text[start..].find('"').unwrap();
        for bad in [
            "%%%",
            "e30",
            "eyJmb3JtYXRMZW5ndGgiOjk5OTk5LCJmb3JtYXRUYWlsIjoiZlEifQ",
        ] {
            // "e30" is `{}`; the last is formatLength 99999.
            // Without a payload there is nothing to parse the manifest from.
            let body = format!("{}{bad}{}", &text[..start], &text[end..]);
            let err = Manifest::from_bytes(body, Some(DOCKER_MANIFEST_V1_SIGNED)).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn unsigned_schema1_digest_is_over_the_bytes() {
        let v: serde_json::Value = serde_json::from_slice(SCHEMA1).unwrap();
        let mut v = v.as_object().unwrap().clone();
        v.remove("signatures");
        let body = serde_json::to_vec(&v).unwrap();
        let m = Manifest::from_bytes(body.clone(), Some("application/json")).unwrap();
        assert_eq!(m.media_type(), DOCKER_MANIFEST_V1);
        assert!(matches!(
            m.body(),
            ManifestBody::Schema1 { signed: false, .. }
        ));
        assert_eq!(m.digest().unwrap(), Digest::sha256(&body));
    }

    #[test]
    fn unknown_media_types_are_protocol_errors() {
        let err = Manifest::from_bytes(DOCKER_V2, Some("application/vnd.example.thing+json"))
            .unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
        let err = Manifest::from_bytes(
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.config.v1+json"}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
        for body in [r#"{"schemaVersion":3}"#, r#"{"schemaVersion":2}"#, "{}"] {
            let err = Manifest::from_bytes(body, None).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{body}: {err}");
        }
        let err = Manifest::from_bytes("<html>", Some("text/plain")).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        // The declared kind wins, and the body must then be of that kind.
        let err = Manifest::from_bytes(DOCKER_LIST, Some(OCI_MANIFEST)).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[test]
    fn image_manifest_accessors() {
        let m = Manifest::from_bytes(DOCKER_V2, Some(DOCKER_MANIFEST_V2)).unwrap();
        assert!(!m.is_index());
        let config = m.config().unwrap();
        assert_eq!(config.media_type, DOCKER_CONFIG);
        assert_eq!(
            config.digest,
            Digest::sha256(include_bytes!("../../tests/fixtures/image-config.json"))
        );
        assert_eq!(m.layers().len(), 2);
        assert_eq!(m.layers()[0].media_type, media_type::DOCKER_LAYER);
        assert_eq!(
            m.layer_digests(),
            m.layers().iter().map(|l| &l.digest).collect::<Vec<_>>()
        );
        assert_eq!(m.total_size(), Some(845 + 140 + 136));
        assert!(m.manifests().is_empty() && m.platforms().is_empty());
        assert!(m
            .select_platform(&Platform::new("linux", "amd64"))
            .is_none());

        let oci = Manifest::from_bytes(OCI, None).unwrap();
        assert_eq!(oci.layers()[0].media_type, media_type::OCI_LAYER);
        assert_eq!(oci.config().unwrap().media_type, media_type::OCI_CONFIG);
        assert_eq!(oci.total_size(), m.total_size());
        assert!(oci.subject().is_none());

        let art = Manifest::from_bytes(OCI_ARTIFACT, Some(OCI_MANIFEST)).unwrap();
        let ManifestBody::OciManifest(a) = art.body() else {
            panic!()
        };
        assert_eq!(a.artifact_type.as_deref(), Some("application/spdx+json"));
        assert_eq!(a.config.media_type, media_type::OCI_EMPTY);
        assert_eq!(a.config.data.as_deref(), Some("e30="));
        assert_eq!(
            a.layers[0].annotations["org.opencontainers.image.title"],
            "sbom.spdx.json"
        );
        assert_eq!(art.subject().unwrap().digest, oci.digest().unwrap());
        assert_eq!(a.annotations.len(), 1);
    }

    #[test]
    fn schema1_accessors() {
        let m = Manifest::from_bytes(SCHEMA1, Some(DOCKER_MANIFEST_V1_SIGNED)).unwrap();
        assert!(!m.is_index());
        assert!(m.config().is_none() && m.layers().is_empty() && m.total_size().is_none());
        let digests = m.layer_digests();
        assert_eq!(digests.len(), 3);
        // Newest first: the empty layer of the config step, then the top
        // layer of the image manifest.
        assert_eq!(
            digests[0].as_str(),
            "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
        );
        let v2 = Manifest::from_bytes(DOCKER_V2, None).unwrap();
        assert_eq!(digests[1], &v2.layers()[1].digest);
        assert_eq!(digests[2], &v2.layers()[0].digest);
    }

    #[test]
    fn selects_platforms_of_a_docker_list() {
        let m = Manifest::from_bytes(DOCKER_LIST, None).unwrap();
        assert!(m.is_index());
        assert!(m.config().is_none() && m.layers().is_empty() && m.layer_digests().is_empty());
        assert_eq!(m.total_size(), None);
        assert_eq!(m.manifests().len(), 3);
        let pick = |s: &str| {
            m.select_platform(&s.parse().unwrap())
                .map(|d| m.manifests().iter().position(|e| e == d).unwrap())
        };
        assert_eq!(pick("linux/amd64"), Some(0));
        assert_eq!(pick("linux/arm64"), Some(1));
        assert_eq!(pick("linux/arm64/v8"), Some(1));
        assert_eq!(pick("linux/arm"), Some(2));
        assert_eq!(pick("linux/arm/v7"), Some(2));
        assert_eq!(pick("linux/arm/v6"), None);
        assert_eq!(pick("windows/amd64"), None);
        assert_eq!(
            m.manifests()[0].platform.as_ref().unwrap().features,
            ["sse4"]
        );
        let names: Vec<String> = m.platforms().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    }

    #[test]
    fn selects_platforms_of_an_oci_index() {
        let m = Manifest::from_bytes(OCI_IDX, Some(OCI_INDEX)).unwrap();
        let ManifestBody::OciIndex(index) = m.body() else {
            panic!()
        };
        assert_eq!(
            index.artifact_type.as_deref(),
            Some("application/vnd.example.bundle.v1+json")
        );
        assert_eq!(
            index.annotations["org.opencontainers.image.ref.name"],
            "index"
        );
        assert_eq!(
            index.manifests[3].artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        assert_eq!(index.manifests[3].platform, None);
        assert_eq!(
            m.subject().unwrap().digest.as_str(),
            "sha256:36a329bd96f7c9c11ba35883e8f3a592a455e8cd8fcf4c0f2a827879796bf372"
        );
        let pick = |s: &str| {
            m.select_platform(&s.parse().unwrap())
                .map(|d| d.digest.as_str()[7..15].to_owned())
        };
        assert_eq!(pick("linux/amd64").as_deref(), Some("36a329bd"));
        // arm64 without variant is v8.
        assert_eq!(pick("linux/arm64/v8").as_deref(), Some("490000fc"));
        // The arm entry is v6: it matches plain arm, not arm/v7.
        assert_eq!(pick("linux/arm").as_deref(), Some("f67d4d94"));
        assert_eq!(pick("linux/arm/v6").as_deref(), Some("f67d4d94"));
        assert_eq!(pick("linux/arm/v7"), None);
        assert_eq!(m.platforms().len(), 3);
    }

    #[test]
    fn image_manifest_and_index_round_trip() {
        for bytes in [DOCKER_V2, OCI, OCI_ARTIFACT] {
            let m: ImageManifest = serde_json::from_slice(bytes).unwrap();
            let again: ImageManifest =
                serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
            assert_eq!(again, m);
        }
        for bytes in [DOCKER_LIST, OCI_IDX] {
            let i: ImageIndex = serde_json::from_slice(bytes).unwrap();
            let again: ImageIndex =
                serde_json::from_slice(&serde_json::to_vec(&i).unwrap()).unwrap();
            assert_eq!(again, i);
        }
        // skopeo writes OCI manifests in the same key order as we do (plus a
        // final newline).
        let m: ImageManifest = serde_json::from_slice(OCI).unwrap();
        assert_eq!(serde_json::to_vec(&m).unwrap(), OCI.trim_ascii_end());
    }

    #[test]
    fn builds_manifests_to_push() {
        let config = Descriptor::for_bytes(DOCKER_CONFIG, b"{}");
        let layer = Descriptor::for_bytes(media_type::DOCKER_LAYER, b"layer");
        let model = ImageManifest::new(config, vec![layer]);
        assert_eq!(model.media_type.as_deref(), Some(DOCKER_MANIFEST_V2));
        let m = Manifest::from_image_manifest(&model).unwrap();
        assert_eq!(m.media_type(), DOCKER_MANIFEST_V2);
        assert_eq!(m.digest().unwrap(), Digest::sha256(m.bytes()));
        assert!(!m.bytes().contains(&b'\n'));
        let again = Manifest::from_bytes(m.bytes().clone(), None).unwrap();
        assert_eq!(again, m);
        assert_eq!(m.total_size(), Some(2 + 5));

        let mut oci =
            ImageManifest::new(Descriptor::for_bytes(media_type::OCI_CONFIG, b"{}"), vec![]);
        assert_eq!(oci.media_type.as_deref(), Some(OCI_MANIFEST));
        oci.media_type = None;
        oci.subject = Some(again.config().unwrap().clone());
        let m = Manifest::from_image_manifest(&oci).unwrap();
        assert_eq!(m.media_type(), OCI_MANIFEST);
        // The media type is written into the body, and empty layers kept.
        let v: serde_json::Value = serde_json::from_slice(m.bytes()).unwrap();
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(v["layers"], serde_json::json!([]));
        assert!(v.get("annotations").is_none());
        assert_eq!(Manifest::from_bytes(m.bytes().clone(), None).unwrap(), m);

        oci.media_type = Some(DOCKER_MANIFEST_LIST.into());
        let err = Manifest::from_image_manifest(&oci).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");

        let entry = |mt: &str, p: &str| {
            Descriptor::for_bytes(mt, p.as_bytes()).with_platform(p.parse().unwrap())
        };
        let list = ImageIndex::new(vec![
            entry(DOCKER_MANIFEST_V2, "linux/amd64"),
            entry(DOCKER_MANIFEST_V2, "linux/arm64"),
        ]);
        let m = Manifest::from_index(&list).unwrap();
        assert_eq!(m.media_type(), DOCKER_MANIFEST_LIST);
        assert!(matches!(m.body(), ManifestBody::DockerList(_)));
        assert_eq!(Manifest::from_bytes(m.bytes().clone(), None).unwrap(), m);

        let mut index = ImageIndex::new(vec![entry(OCI_MANIFEST, "linux/amd64")]);
        assert_eq!(index.media_type.as_deref(), Some(OCI_INDEX));
        index.media_type = None;
        index.annotations.insert("a".into(), "b".into());
        let m = Manifest::from_index(&index).unwrap();
        assert_eq!(m.media_type(), OCI_INDEX);
        assert_eq!(
            m.select_platform(&Platform::new("linux", "amd64")),
            Some(&m.manifests()[0])
        );
        index.media_type = Some(OCI_MANIFEST.into());
        assert!(matches!(
            Manifest::from_index(&index),
            Err(Error::Invalid { .. })
        ));
        assert_eq!(
            ImageIndex::new(vec![]).media_type.as_deref(),
            Some(OCI_INDEX)
        );
    }
}
