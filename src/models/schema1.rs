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
///
/// Deserializing a signed body with serde reads the body as it is;
/// [`crate::Manifest::from_bytes`] instead reads a signed manifest from its
/// payload, checked to be the body without its signatures (see
/// [`signed_payload`]), so that what is used is what is hashed.
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

const SIGNED: &str = "signed schema 1 manifest";

/// The canonical payload of a signed schema 1 manifest: what it was signed
/// over and what its digest (the registry's `Docker-Content-Digest`) is
/// computed over, instead of the body.
///
/// Each signature's protected header is base64url JSON (padding optional)
/// `{"formatLength": N, "formatTail": "<base64url>", "time": ...}`; the
/// payload is the first `N` bytes of `bytes` followed by the decoded tail.
/// Those two numbers come from whoever sent the manifest, so the payload is
/// only accepted when it is exactly the body without its `signatures`
/// member, as libtrust cuts it: the body after `N` holds nothing but
/// `, "signatures": [...]` and the closing `}`, the tail is the closing `}`
/// (with whitespace around it), and the payload parses to the body's JSON
/// minus `signatures`. Every signature must name the same `formatLength`
/// and `formatTail`. The signatures themselves are not checked here: a
/// registry signs with a key of its own on every GET, tied to no identity,
/// and the digest is what is trusted;
/// [`Manifest::verify_signatures`](crate::Manifest::verify_signatures)
/// checks them over this payload and names their keys.
///
/// Fails with [`Error::Decode`] when `bytes` is not a JSON object or its
/// `signatures` are not signature objects, and with [`Error::Protocol`]
/// when there are no signatures, a protected header is not valid base64url
/// JSON with those fields, or a signature does not describe the body
/// (`formatLength` past the end or not at the `signatures` member, a tail
/// that does not close the object, a payload that is not the body without
/// its signatures, signatures that disagree).
pub fn signed_payload(bytes: &[u8]) -> Result<Vec<u8>> {
    let (unsigned, signatures) = split_signatures(bytes)?;
    if signatures.is_empty() {
        return Err(Error::protocol(SIGNED, "no signatures"));
    }
    verified_payload(bytes, &unsigned, &signatures)
}

/// Parses a schema 1 manifest: an unsigned one from `bytes`, a signed one
/// from its verified payload (see [`signed_payload`]), with the signatures
/// taken from the body. For a signed manifest the payload comes back too:
/// it is what the manifest's digest is computed over.
pub(crate) fn parse_schema1(bytes: &[u8]) -> Result<(Schema1Manifest, Option<Vec<u8>>)> {
    let (unsigned, signatures) = split_signatures(bytes)?;
    if signatures.is_empty() {
        let manifest =
            serde_json::from_slice(bytes).map_err(|e| Error::decode("schema 1 manifest", e))?;
        return Ok((manifest, None));
    }
    let payload = verified_payload(bytes, &unsigned, &signatures)?;
    let mut manifest: Schema1Manifest = serde_json::from_slice(&payload)
        .map_err(|e| Error::decode("signed schema 1 manifest payload", e))?;
    manifest.signatures = signatures;
    Ok((manifest, Some(payload)))
}

/// The body as a JSON object without its `signatures` member, and the
/// signatures (empty when absent or `null`).
fn split_signatures(
    bytes: &[u8],
) -> Result<(serde_json::Map<String, serde_json::Value>, Vec<Signature>)> {
    let mut body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| Error::decode(SIGNED, e))?;
    let signatures = match body.remove("signatures") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value(value)
            .map_err(|e| Error::decode("schema 1 manifest signatures", e))?,
    };
    Ok((body, signatures))
}

/// The payload every signature names, checked to be `bytes` without its
/// signatures (`unsigned` is the body's JSON without them).
///
/// The cut of the first signature is checked; every other one must name the
/// same `formatLength` and `formatTail`, so the work stays linear in the
/// body however many signatures it carries.
fn verified_payload(
    bytes: &[u8],
    unsigned: &serde_json::Map<String, serde_json::Value>,
    signatures: &[Signature],
) -> Result<Vec<u8>> {
    let not_the_body = |i: usize, reason: String| {
        Error::protocol(
            SIGNED,
            format!("signature {i} does not describe the body: {reason}"),
        )
    };
    let mut first: Option<(usize, Vec<u8>)> = None;
    for (i, sig) in signatures.iter().enumerate() {
        let (format_length, tail) = format_of(&sig.protected)
            .map_err(|r| Error::protocol(SIGNED, format!("signature {i}: {r}")))?;
        match &first {
            None => first = Some((format_length, tail)),
            Some((len, t)) if *len == format_length && *t == tail => {}
            Some(_) => {
                return Err(Error::protocol(
                    SIGNED,
                    format!("signature {i} signs a different payload than signature 0"),
                ))
            }
        }
    }
    let Some((format_length, tail)) = first else {
        return Err(Error::protocol(SIGNED, "no signatures"));
    };
    let payload = reconstruct(bytes, format_length, &tail).map_err(|r| not_the_body(0, r))?;
    describes_body(&payload, unsigned).map_err(|r| not_the_body(0, r))?;
    Ok(payload)
}

/// The `formatLength` and decoded `formatTail` of a protected header.
fn format_of(protected: &str) -> std::result::Result<(usize, Vec<u8>), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        format_length: usize,
        format_tail: String,
    }
    let raw =
        base64url(protected).map_err(|e| format!("protected header is not base64url: {e}"))?;
    let header: Header =
        serde_json::from_slice(&raw).map_err(|e| format!("malformed protected header: {e}"))?;
    let tail =
        base64url(&header.format_tail).map_err(|e| format!("formatTail is not base64url: {e}"))?;
    Ok((header.format_length, tail))
}

/// `bytes[..format_length] + tail`, when the cut is where libtrust puts it:
/// nothing but the `signatures` member and the closing `}` after it, and a
/// tail that is the closing `}`.
fn reconstruct(
    bytes: &[u8],
    format_length: usize,
    tail: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let (Some(head), Some(rest)) = (bytes.get(..format_length), bytes.get(format_length..)) else {
        return Err(format!(
            "formatLength {format_length} is past the end of the {}-byte body",
            bytes.len()
        ));
    };
    if trim_json_ws(tail) != b"}" {
        return Err(format!(
            "formatTail ({} bytes) is not the closing brace of the manifest",
            tail.len()
        ));
    }
    if !is_signatures_member(rest) {
        return Err(format!(
            "the body after formatLength {format_length} is not its signatures member alone"
        ));
    }
    let mut payload = Vec::with_capacity(head.len().saturating_add(tail.len()));
    payload.extend_from_slice(head);
    payload.extend_from_slice(tail);
    Ok(payload)
}

/// Whether `rest` is `, "signatures": VALUE }` (JSON whitespace anywhere
/// between): one member named `signatures`, once, then the end of the
/// object.
fn is_signatures_member(rest: &[u8]) -> bool {
    /// Refuses any other member and a repeated one.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct OnlySignatures {
        #[allow(dead_code)]
        signatures: serde::de::IgnoredAny,
    }
    let Some(member) = trim_json_ws(rest).strip_prefix(b",") else {
        return false;
    };
    let mut object = Vec::with_capacity(member.len().saturating_add(1));
    object.push(b'{');
    object.extend_from_slice(member);
    serde_json::from_slice::<OnlySignatures>(&object).is_ok()
}

/// Whether `payload` parses to the same JSON as the body without its
/// signatures.
fn describes_body(
    payload: &[u8],
    unsigned: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<(), String> {
    let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(payload)
        .map_err(|e| format!("the payload is not a JSON object: {e}"))?;
    if parsed != *unsigned {
        return Err("the payload is not the body without its signatures".to_owned());
    }
    Ok(())
}

/// `bytes` without leading and trailing JSON whitespace.
fn trim_json_ws(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Decodes base64url with or without `=` padding.
pub(super) fn base64url(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
}

impl ImageConfig {
    /// The configuration a schema 1 manifest carries in the `v1Compatibility`
    /// of its first (newest) history entry: creation time, author,
    /// architecture, os, variant and container config. Schema 1 has no
    /// `rootfs` and no per-layer history here.
    pub fn from_v1_compatibility(v1: &V1Compatibility) -> ImageConfig {
        ImageConfig {
            created: v1.created.clone(),
            author: v1.author.clone(),
            architecture: v1.architecture.clone().unwrap_or_default(),
            os: v1.os.clone().unwrap_or_default(),
            variant: v1.variant.clone(),
            config: v1.config.clone(),
            ..ImageConfig::default()
        }
    }
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

    /// Where [`signed_with`] bodies are cut by a faithful signer.
    const CUT: usize = 91;

    #[test]
    fn refuses_malformed_signatures() {
        let good = header(CUT, b"}");
        assert!(signed_payload(&signed_with(std::slice::from_ref(&good))).is_ok());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("no signatures", signed_with(&[])),
            ("bad base64", signed_with(&["!!!!".to_owned()])),
            ("not json", signed_with(&[b64(b"formatLength")])),
            ("missing fields", signed_with(&[b64(br#"{"time":"x"}"#)])),
            ("past the end", signed_with(&[header(100_000, b"}")])),
            (
                "bad tail",
                signed_with(&[b64(br#"{"formatLength":91,"formatTail":"*"}"#)]),
            ),
            (
                "disagree",
                signed_with(&[good.clone(), header(CUT - 1, b"}")]),
            ),
            (
                "disagree on tail",
                signed_with(&[good.clone(), header(CUT, b"\n}")]),
            ),
            (
                "a later one malformed",
                signed_with(&[good, "%".to_owned()]),
            ),
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
    fn the_payload_must_be_the_body_without_its_signatures() {
        let body = signed_with(&[header(CUT, b"}")]);
        assert_eq!(&body[CUT..CUT + 14], b",\"signatures\":");
        // Every cut but the faithful one, with every tail that closes the
        // object, and the faithful cut with tails that do not.
        let mut cases: Vec<(usize, &[u8])> = Vec::new();
        for len in (0..=body.len()).filter(|&l| l != CUT) {
            cases.push((len, b"}"));
        }
        for tail in [&b""[..], b"]}", b"}}", b",}", b"\"}", b"x}", b"} x"] {
            cases.push((CUT, tail));
        }
        for (len, tail) in cases {
            let bytes = signed_with(&[header(len, tail)]);
            let err = signed_payload(&bytes).unwrap_err();
            assert!(
                matches!(err, Error::Protocol { .. }),
                "{len} {tail:?}: {err}"
            );
            assert!(
                err.to_string().contains("does not describe the body"),
                "{len} {tail:?}: {err}"
            );
        }
        // Whitespace around the closing brace is the signer's to choose.
        for tail in [&b"}"[..], b"\n}", b" }\n", b"\r\n\t}"] {
            let bytes = signed_with(&[header(CUT, tail)]);
            let mut want = bytes[..CUT].to_vec();
            want.extend_from_slice(tail);
            assert_eq!(signed_payload(&bytes).unwrap(), want, "{tail:?}");
        }
    }

    #[test]
    fn any_format_length_is_an_answer_not_a_panic() {
        let body = signed_with(&[String::new()]);
        for len in [
            "0",
            "1",
            "94",
            "96",
            &body.len().to_string(),
            &(body.len() + 1).to_string(),
            &u32::MAX.to_string(),
            &(usize::MAX - 1).to_string(),
            &usize::MAX.to_string(),
            "18446744073709551616",
            "99999999999999999999999999",
            "-1",
            "1.5",
            "1e3",
            "null",
            "\"95\"",
        ] {
            let h = b64(format!(r#"{{"formatLength":{len},"formatTail":"fQ"}}"#).as_bytes());
            let err = signed_payload(&signed_with(&[h])).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{len}: {err}");
        }
    }

    #[test]
    fn a_payload_carrying_its_own_signatures_is_refused() {
        // Two `signatures` members; the name pads both cuts to 3 digits, so
        // that the signature's length does not depend on which one it names.
        let sig = |cut: usize| {
            format!(
                r#"{{"header":{{"alg":"ES256"}},"signature":"c2ln","protected":"{}"}}"#,
                header(cut, b"}")
            )
        };
        let body = |cut: usize| {
            format!(
                r#"{{"schemaVersion":1,"name":"{}","signatures":[{}],"signatures":[{}]}}"#,
                "n".repeat(100),
                sig(cut),
                sig(cut)
            )
        };
        let first = body(100).find(r#","signatures""#).unwrap();
        let between = body(100).rfind(r#","signatures""#).unwrap();
        assert!((100..1000).contains(&first) && (100..1000).contains(&between));
        // Cut before both (the rest is not one member), or between them (the
        // payload has signatures of its own).
        for cut in [first, between] {
            let bytes = body(cut);
            assert_eq!(&bytes[cut..cut + 14], r#","signatures":"#);
            let err = signed_payload(bytes.as_bytes()).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{cut}: {err}");
            assert!(
                err.to_string().contains("does not describe the body"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_signed_manifest_is_parsed_from_its_payload() {
        let (m, payload) = parse_schema1(SIGNED).unwrap();
        let payload = payload.unwrap();
        assert_eq!(payload, signed_payload(SIGNED).unwrap());
        let mut from_payload: Schema1Manifest = serde_json::from_slice(&payload).unwrap();
        assert!(from_payload.signatures.is_empty());
        from_payload.signatures = m.signatures.clone();
        assert_eq!(m, from_payload);
        assert_eq!(m.signatures.len(), 1);
        // Unsigned (no member, null, or none in it): the bytes are the payload.
        for unsigned in [
            &br#"{"schemaVersion":1,"name":"a"}"#[..],
            br#"{"schemaVersion":1,"name":"a","signatures":null}"#,
            br#"{"schemaVersion":1,"name":"a","signatures":[]}"#,
        ] {
            let (m, payload) = parse_schema1(unsigned).unwrap();
            assert_eq!((m.name.as_str(), payload), ("a", None));
        }
        let err = parse_schema1(br#"{"schemaVersion":1,"signatures":[1]}"#).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        let err = parse_schema1(b"[]").unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
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
