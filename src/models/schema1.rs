//! Docker image manifest, schema 1 (deprecated), and the canonical payload
//! of its signed form.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::models::config::{ContainerConfig, ImageConfig};
use crate::Result;

/// A Docker schema 1 manifest (`application/vnd.docker.distribution.manifest.v1+json`,
/// or `...v1+prettyjws` when signed).
///
/// `fs_layers` and `history` are correlated by index and list the layers
/// **newest first**, the opposite of schema 2 and OCI. Empty layers appear
/// as the same small blob repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema1Manifest {
    /// The repository name.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub name: String,
    /// The tag.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub tag: String,
    /// The architecture (`amd64`, ...).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub architecture: String,
    /// The layer blobs, newest first.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub fs_layers: Vec<FsLayer>,
    /// The v1 image JSON of each layer, newest first.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub history: Vec<Schema1History>,
    /// Always 1.
    pub schema_version: u32,
    /// The JSON Web Signatures of a signed manifest.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signatures: Vec<Signature>,
}

impl Schema1Manifest {
    /// An unsigned schema 1 manifest without layers.
    pub fn new(
        name: impl Into<String>,
        tag: impl Into<String>,
        architecture: impl Into<String>,
    ) -> Schema1Manifest {
        Schema1Manifest {
            name: name.into(),
            tag: tag.into(),
            architecture: architecture.into(),
            fs_layers: Vec::new(),
            history: Vec::new(),
            schema_version: 1,
            signatures: Vec::new(),
        }
    }

    /// The canonical payload of a signed schema 1 manifest's `bytes`; see
    /// [`signed_payload`].
    pub fn signed_payload(bytes: &[u8]) -> Result<Vec<u8>> {
        signed_payload(bytes)
    }

    /// The image configuration carried by the first (newest) history entry,
    /// if there is one; see [`ImageConfig::from_v1_compatibility`].
    pub fn image_config(&self) -> Result<Option<ImageConfig>> {
        match self.history.first() {
            Some(h) => Ok(Some(ImageConfig::from_v1_compatibility(&h.decode()?))),
            None => Ok(None),
        }
    }
}

/// A layer of a schema 1 manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FsLayer {
    /// The digest of the (compressed) layer blob.
    pub blob_sum: Digest,
}

impl FsLayer {
    /// A layer with this blob digest.
    pub fn new(blob_sum: Digest) -> FsLayer {
        FsLayer { blob_sum }
    }
}

/// A history entry of a schema 1 manifest: a v1 image JSON, as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema1History {
    /// The raw v1 image JSON (see [`Schema1History::decode`]).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub v1_compatibility: String,
}

impl Schema1History {
    /// A history entry holding this raw v1 image JSON.
    pub fn new(v1_compatibility: impl Into<String>) -> Schema1History {
        Schema1History {
            v1_compatibility: v1_compatibility.into(),
        }
    }

    /// Decodes the v1 image JSON.
    pub fn decode(&self) -> Result<V1Compatibility> {
        serde_json::from_str(&self.v1_compatibility)
            .map_err(|e| Error::decode("schema 1 v1Compatibility", e))
    }
}

/// A decoded v1 image JSON of a schema 1 history entry. Unknown fields are
/// kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Compatibility {
    /// The v1 image id of this layer.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub id: String,
    /// The v1 image id of the parent layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// When the layer was made, as an RFC 3339 string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The architecture (usually only on the newest entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The operating system (usually only on the newest entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// A free comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the layer is empty (its blob is the empty tar).
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub throwaway: bool,
    /// The image's container defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The configuration of the container the layer was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    /// Every other field, as sent (`container`, `docker_version`, `Size`, ...).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// A JSON Web Signature of a signed schema 1 manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Signature {
    /// The unprotected JOSE header (`jwk`, `alg`, ...), as sent.
    #[serde(default)]
    pub header: serde_json::Value,
    /// The signature, base64url.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub signature: String,
    /// The protected header, base64url JSON holding `formatLength` and
    /// `formatTail`.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub protected: String,
}

impl Signature {
    /// A signature from its three parts.
    pub fn new(
        header: serde_json::Value,
        signature: impl Into<String>,
        protected: impl Into<String>,
    ) -> Signature {
        Signature {
            header,
            signature: signature.into(),
            protected: protected.into(),
        }
    }
}

/// The canonical payload of a signed schema 1 manifest: what it was signed
/// over and what its digest (the registry's `Docker-Content-Digest`) is
/// computed over, instead of the body.
///
/// Each signature's protected header is base64url JSON (padding optional)
/// `{"formatLength": N, "formatTail": "<base64url>", "time": ...}`; the
/// payload is the first `N` bytes of `bytes` followed by the decoded tail,
/// which cuts the `signatures` member off the body. Every signature must
/// name the same payload.
///
/// Fails with [`Error::Decode`] when `bytes` is not JSON, and with
/// [`Error::Protocol`] when there are no signatures, a protected header is
/// not valid base64url JSON with those fields, `formatLength` is past the
/// end, or the signatures disagree.
pub fn signed_payload(bytes: &[u8]) -> Result<Vec<u8>> {
    const WHAT: &str = "signed schema 1 manifest";

    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default, deserialize_with = "crate::models::null_as_default")]
        signatures: Vec<Protected>,
    }
    #[derive(Deserialize)]
    struct Protected {
        #[serde(default, deserialize_with = "crate::models::null_as_default")]
        protected: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        format_length: usize,
        format_tail: String,
    }

    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| Error::decode(WHAT, e))?;
    if envelope.signatures.is_empty() {
        return Err(Error::protocol(WHAT, "no signatures"));
    }
    let mut payload: Option<Vec<u8>> = None;
    for (i, sig) in envelope.signatures.iter().enumerate() {
        let raw = base64url(&sig.protected).map_err(|e| {
            Error::protocol(
                WHAT,
                format!("signature {i}: protected header is not base64url: {e}"),
            )
        })?;
        let header: Header = serde_json::from_slice(&raw).map_err(|e| {
            Error::protocol(
                WHAT,
                format!("signature {i}: malformed protected header: {e}"),
            )
        })?;
        if header.format_length > bytes.len() {
            return Err(Error::protocol(
                WHAT,
                format!(
                    "signature {i}: formatLength {} is past the end of the {}-byte body",
                    header.format_length,
                    bytes.len()
                ),
            ));
        }
        let tail = base64url(&header.format_tail).map_err(|e| {
            Error::protocol(
                WHAT,
                format!("signature {i}: formatTail is not base64url: {e}"),
            )
        })?;
        let mut this = Vec::with_capacity(header.format_length + tail.len());
        this.extend_from_slice(&bytes[..header.format_length]);
        this.extend_from_slice(&tail);
        match &payload {
            None => payload = Some(this),
            Some(first) if *first == this => {}
            Some(_) => {
                return Err(Error::protocol(
                    WHAT,
                    format!("signature {i} signs a different payload than signature 0"),
                ))
            }
        }
    }
    Ok(payload.expect("at least one signature"))
}

/// Decodes base64url with or without `=` padding.
fn base64url(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &[u8] = include_bytes!("../../tests/fixtures/schema1-signed.json");
    const SIGNED_DIGEST: &str = include_str!("../../tests/fixtures/schema1-signed.digest");
    const CONVERTED: &[u8] = include_bytes!("../../tests/fixtures/schema1-converted.json");
    const CONVERTED_DIGEST: &str = include_str!("../../tests/fixtures/schema1-converted.digest");

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A signed manifest with one signature per protected header given.
    fn signed_with(protected: &[String]) -> Vec<u8> {
        let body = br#"{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"amd64","fsLayers":[],"history":[]"#;
        let sigs: Vec<String> = protected
            .iter()
            .map(|p| {
                format!(r#"{{"header":{{"alg":"ES256"}},"signature":"c2ln","protected":"{p}"}}"#)
            })
            .collect();
        let mut out = body.to_vec();
        out.extend_from_slice(format!(r#","signatures":[{}]}}"#, sigs.join(",")).as_bytes());
        out
    }

    fn header(len: usize, tail: &[u8]) -> String {
        b64(format!(
            r#"{{"formatLength":{len},"formatTail":"{}","time":"2026-11-23T17:19:13Z"}}"#,
            b64(tail)
        )
        .as_bytes())
    }

    #[test]
    fn payload_of_real_fixtures_hashes_to_registry_digest() {
        for (bytes, digest) in [(SIGNED, SIGNED_DIGEST), (CONVERTED, CONVERTED_DIGEST)] {
            let payload = signed_payload(bytes).unwrap();
            assert_eq!(Digest::sha256(&payload).as_str(), digest.trim());
            assert_ne!(Digest::sha256(bytes).as_str(), digest.trim());
            let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert!(v.get("signatures").is_none());
            assert_eq!(v["schemaVersion"], 1);
        }
    }

    #[test]
    fn decodes_the_fixture() {
        let m: Schema1Manifest = serde_json::from_slice(SIGNED).unwrap();
        assert_eq!((m.name.as_str(), m.tag.as_str()), ("s1/img", "v1"));
        assert_eq!(m.schema_version, 1);
        assert_eq!(m.fs_layers.len(), 3);
        assert_eq!(m.history.len(), 3);
        assert_eq!(m.signatures.len(), 1);
        assert_eq!(m.signatures[0].header["alg"], "ES256");
        // Newest first: the throwaway config layer, then the two inserts.
        let newest = m.history[0].decode().unwrap();
        assert!(newest.throwaway);
        assert_eq!(newest.os.as_deref(), Some("linux"));
        assert_eq!(
            newest.parent.as_deref(),
            Some(m.history[1].decode().unwrap().id.as_str())
        );
        let base = m.history[2].decode().unwrap();
        assert_eq!(base.parent, None);
        assert_eq!(base.container_config.unwrap().cmd, ["umoci insert"]);
        let config = m.image_config().unwrap().unwrap();
        assert_eq!(config.architecture, "amd64");
        assert_eq!(config.author.as_deref(), Some("dockreg tests"));
        assert_eq!(
            config.config.as_ref().unwrap().cmd,
            ["/bin/sh", "-c", "echo hi"]
        );
        assert!(config.created_at().is_some());
    }

    #[test]
    fn v1_compatibility_keeps_unknown_fields() {
        let h = Schema1History::new(
            r#"{"id":"abc","created":"2014-12-31T22:57:59.178729048Z","docker_version":"1.4.1","Size":0,
                "config":{"Hostname":"x","Cmd":["/hello"],"ExposedPorts":null},"throwaway":null}"#,
        );
        let v = h.decode().unwrap();
        assert_eq!(v.id, "abc");
        assert!(!v.throwaway);
        assert_eq!(v.other["docker_version"], "1.4.1");
        assert_eq!(v.other["Size"], 0);
        assert_eq!(v.config.unwrap().cmd, ["/hello"]);
        let err = Schema1History::new("not json").decode().unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[test]
    fn accepts_padded_and_unpadded_headers() {
        let tmp = signed_with(&[String::new()]);
        let cut = tmp
            .windows(14)
            .position(|w| w == b",\"signatures\":")
            .unwrap();
        let unpadded = header(cut, b"}");
        let mut padded = unpadded.clone();
        while !padded.len().is_multiple_of(4) {
            padded.push('=');
        }
        assert_ne!(padded, unpadded, "the test needs a header that pads");
        let bytes = signed_with(&[unpadded, padded]);
        let payload = signed_payload(&bytes).unwrap();
        assert_eq!(
            payload,
            br#"{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"amd64","fsLayers":[],"history":[]}"#
        );
    }

    #[test]
    fn refuses_malformed_signatures() {
        let good = header(10, b"}");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("no signatures", signed_with(&[])),
            ("bad base64", signed_with(&["!!!!".to_owned()])),
            ("not json", signed_with(&[b64(b"formatLength")])),
            ("missing fields", signed_with(&[b64(br#"{"time":"x"}"#)])),
            ("past the end", signed_with(&[header(100_000, b"}")])),
            (
                "bad tail",
                signed_with(&[b64(br#"{"formatLength":10,"formatTail":"*"}"#)]),
            ),
            ("disagree", signed_with(&[good.clone(), header(11, b"}")])),
            ("disagree on tail", signed_with(&[good, header(10, b"\n}")])),
        ];
        for (name, bytes) in cases {
            let err = signed_payload(&bytes).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{name}: {err}");
        }
        let no_sigs = br#"{"schemaVersion":1,"signatures":null}"#;
        assert!(matches!(
            signed_payload(no_sigs),
            Err(Error::Protocol { .. })
        ));
        assert!(matches!(signed_payload(b"{"), Err(Error::Decode { .. })));
    }

    #[test]
    fn serializes_in_docker_order() {
        let mut m = Schema1Manifest::new("a/b", "t", "amd64");
        m.fs_layers.push(FsLayer::new(Digest::sha256(b"")));
        m.history.push(Schema1History::new("{}"));
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with(
            r#"{"name":"a/b","tag":"t","architecture":"amd64","fsLayers":[{"blobSum":"sha256:"#
        ));
        assert!(json.ends_with(r#""history":[{"v1Compatibility":"{}"}],"schemaVersion":1}"#));
        let back: Schema1Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
