//! A registry that lies with signed schema 1 manifests.
//!
//! A signed schema 1 manifest is hashed over its JWS payload: the body cut at
//! `formatLength` plus the protected header's `formatTail`. A registry that
//! chooses those two numbers can make the payload anything, so the payload is
//! only trusted when it is exactly the body without its `signatures`, and the
//! manifest is parsed from that payload. These tests play the registry that
//! tries otherwise, and check that the registry's own signed manifests
//! (pushed as schema 1, or converted from schema 2 on a GET) still verify.

use crate::mock;
use crate::registry;

use registry::example;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use dockreg::models::{media_type, signed_payload, ManifestBody, Platform};
use dockreg::transfer::CopyOptions;
use dockreg::{Digest, Error, Manifest, RepositoryName, TagOrDigest};
use proptest::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

/// A signed schema 1 manifest as distribution signs it (compact: the
/// payload is the body up to `,"signatures"` plus `}`).
const GENUINE: &[u8] = include_bytes!("../fixtures/schema1-signed.json");
const GENUINE_DIGEST: &str = include_str!("../fixtures/schema1-signed.digest");

/// The attacker's own members: one layer and one history entry.
const EVIL_MEMBERS: &str = concat!(
    r#""fsLayers":[{"blobSum":"sha256:e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff"}],"#,
    r#""history":[{"v1Compatibility":"{\"id\":\"e7ff\",\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2020-01-01T00:00:00Z\",\"config\":{\"Cmd\":[\"/evil\"]}}"}],"#,
    r#""schemaVersion":1"#
);
const EVIL_LAYER: &str = "sha256:e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff1e7ff";

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A protected header naming `format_length` and `tail`.
fn protected(format_length: u64, tail: &[u8]) -> String {
    b64(format!(
        r#"{{"formatLength":{format_length},"formatTail":"{}","time":"2026-11-23T17:19:13Z"}}"#,
        b64(tail)
    )
    .as_bytes())
}

/// One JWS signature entry (the signature itself is not checked by anyone
/// who trusts the transport, so any bytes do).
fn signature(protected: &str) -> String {
    format!(r#"{{"header":{{"alg":"ES256"}},"signature":"c2ln","protected":"{protected}"}}"#)
}

/// `{members,"signatures":[sig]}`.
fn signed_body(members: &str, protected: &str) -> Vec<u8> {
    format!(r#"{{{members},"signatures":[{}]}}"#, signature(protected)).into_bytes()
}

/// The genuine payload P (the fixture's body without its signatures) and
/// its digest D.
fn genuine() -> (Vec<u8>, Digest) {
    let cut = GENUINE
        .windows(14)
        .position(|w| w == b",\"signatures\":")
        .unwrap();
    let mut payload = GENUINE[..cut].to_vec();
    payload.push(b'}');
    let digest = Digest::sha256(&payload);
    assert_eq!(
        digest.as_str(),
        GENUINE_DIGEST.trim(),
        "the fixture's payload"
    );
    (payload, digest)
}

/// The issue's manifest: the attacker's members, signed with
/// `{"formatLength":0,"formatTail":base64url(P)}`, so the "payload" is P.
fn tail_smuggled() -> Vec<u8> {
    let (payload, _) = genuine();
    let members =
        format!(r#""name":"busybox","tag":"latest","architecture":"amd64",{EVIL_MEMBERS}"#);
    signed_body(&members, &protected(0, &payload))
}

/// The same, split: `formatLength` covers the part of P that the body
/// shares (name, tag, architecture) and the tail carries the rest of P,
/// while the body goes on with the attacker's members.
fn tail_split() -> Vec<u8> {
    let (payload, _) = genuine();
    let text = std::str::from_utf8(&payload).unwrap();
    let shared = text.find(r#""fsLayers""#).unwrap();
    let members = format!("{}{EVIL_MEMBERS}", &text[1..shared]);
    let body = signed_body(&members, &protected(shared as u64, &payload[shared..]));
    assert_eq!(&body[..shared], &payload[..shared]);
    body
}

/// Serves `body` as a signed schema 1 manifest at `/v2/busybox/manifests/REF`
/// with `Docker-Content-Digest: digest`.
async fn serve(server: &MockServer, reference: &str, body: Vec<u8>, digest: &Digest) {
    Mock::given(method("GET"))
        .and(path(format!("/v2/busybox/manifests/{reference}")))
        .respond_with(
            mock::json(200, media_type::DOCKER_MANIFEST_V1_SIGNED, body)
                .insert_header("docker-content-digest", digest.as_str()),
        )
        .mount(server)
        .await;
}

/// Why `result` is not a refusal of the kind expected (a typed protocol
/// error that names the signed schema 1 manifest), if it is not.
fn not_refused(result: dockreg::Result<Manifest>, case: &str) -> Option<String> {
    match result {
        Ok(m) => Some(format!(
            "{case}: accepted, digest {:?}, layers {:?}",
            m.digest().map(|d| d.to_string()),
            m.layer_digests()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        )),
        Err(e @ Error::Protocol { .. }) if e.to_string().contains("signed schema 1 manifest") => {
            None
        }
        Err(e) => Some(format!("{case}: wrong error: {e:?}")),
    }
}

fn assert_refused(result: dockreg::Result<Manifest>, case: &str) {
    if let Some(why) = not_refused(result, case) {
        panic!("{why}");
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("no hang")
}

// ---- the issue's bypass ---------------------------------------------------

#[tokio::test]
async fn a_genuine_payload_smuggled_in_format_tail_is_refused() {
    let (_, d) = genuine();
    let server = mock::server().await;
    let body = tail_smuggled();
    serve(&server, d.as_str(), body.clone(), &d).await;
    let client = mock::client(&server);
    let pinned = TagOrDigest::Digest(d.clone());
    assert_refused(
        within(client.manifest(&name("busybox"), &pinned)).await,
        "formatLength 0, tail P",
    );
    // The model refuses it too, whoever hands it the bytes.
    assert_refused(
        Manifest::from_bytes(body.clone(), Some(media_type::DOCKER_MANIFEST_V1_SIGNED)),
        "from_bytes",
    );
    assert_refused(Manifest::from_bytes(body.clone(), None), "sniffed");
    assert!(signed_payload(&body).is_err());
}

#[tokio::test]
async fn a_genuine_payload_split_between_body_and_tail_is_refused() {
    let (_, d) = genuine();
    let server = mock::server().await;
    serve(&server, d.as_str(), tail_split(), &d).await;
    let client = mock::client(&server);
    assert_refused(
        within(client.manifest(&name("busybox"), &TagOrDigest::Digest(d))).await,
        "shared prefix, tail carries the rest of P",
    );
}

/// Payloads that are not the body without its signatures, each served by
/// tag with a `Docker-Content-Digest` of that payload, so that only the
/// payload rule can stop them.
#[tokio::test]
async fn a_payload_that_is_not_the_body_without_signatures_is_refused() {
    let members =
        format!(r#""name":"busybox","tag":"latest","architecture":"amd64",{EVIL_MEMBERS}"#);
    let plain = format!("{{{members}}}");
    // Where the body would be cut by a faithful signer.
    let cut = plain.len() - 1;
    let without_schema_version = plain.find(r#","schemaVersion""#).unwrap();
    let cases: Vec<(&str, Vec<u8>, u64, Vec<u8>)> = {
        let mut cases = Vec::new();
        // formatLength is the whole body but its last `}`: the length of a
        // body that names its own length, found by iterating.
        let mut len = 0u64;
        let covering = loop {
            let body = signed_body(&members, &protected(len, b"}"));
            let want = body.len() as u64 - 1;
            if want == len {
                break body;
            }
            len = want;
        };
        cases.push((
            "formatLength covers the signatures",
            covering,
            len,
            b"}".to_vec(),
        ));
        cases.push((
            "tail adds a member",
            signed_body(&members, &protected(cut as u64, br#","tag2":"x"}"#)),
            cut as u64,
            br#","tag2":"x"}"#.to_vec(),
        ));
        cases.push((
            "tail does not close the object",
            signed_body(&members, &protected(cut as u64, b"")),
            cut as u64,
            Vec::new(),
        ));
        cases.push((
            "tail closes twice",
            signed_body(&members, &protected(cut as u64, b"}}")),
            cut as u64,
            b"}}".to_vec(),
        ));
        cases.push((
            "formatLength drops a member",
            signed_body(&members, &protected(without_schema_version as u64, b"}")),
            without_schema_version as u64,
            b"}".to_vec(),
        ));
        // The signatures are not the last member: the payload leaves out
        // the attacker's layers and history that follow them.
        let head = r#""name":"busybox","tag":"latest","architecture":"amd64""#;
        let early = format!(
            r#"{{{head},"signatures":[{}],{EVIL_MEMBERS}}}"#,
            signature(&protected(head.len() as u64 + 1, b"}"))
        );
        cases.push((
            "members after the signatures",
            early.into_bytes(),
            head.len() as u64 + 1,
            b"}".to_vec(),
        ));
        cases
    };
    let mut failures = Vec::new();
    for (case, body, format_length, tail) in cases {
        let mut payload = body[..format_length as usize].to_vec();
        payload.extend_from_slice(&tail);
        let digest = Digest::sha256(&payload);
        let server = mock::server().await;
        serve(&server, "latest", body.clone(), &digest).await;
        let client = mock::client(&server);
        let tag = TagOrDigest::Tag("latest".parse().unwrap());
        failures.extend(not_refused(
            within(client.manifest(&name("busybox"), &tag)).await,
            case,
        ));
        failures.extend(not_refused(Manifest::from_bytes(body, None), case));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---- every consumer reads the same verified manifest ----------------------

#[tokio::test]
async fn platform_selection_report_and_copy_refuse_it_too() {
    let (_, d) = genuine();
    let server = mock::server().await;
    serve(&server, d.as_str(), tail_smuggled(), &d).await;
    serve(&server, "latest", tail_smuggled(), &d).await;
    Mock::given(method("GET"))
        .and(path("/v2/busybox/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"busybox","tags":["latest"]}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let repo = name("busybox");
    let pinned = TagOrDigest::Digest(d.clone());
    let amd64 = Platform::new("linux", "amd64");

    let mut failures = Vec::new();
    failures.extend(not_refused(
        within(client.manifest_for_platform(&repo, &pinned, &amd64)).await,
        "manifest_for_platform",
    ));

    match within(client.tag_report(&repo, &amd64, 2)).await {
        Ok(report) if !report.rows.is_empty() => {
            failures.push(format!("tag_report accepted it: {report:?}"))
        }
        Ok(report) => match &report.errors[..] {
            [row] if row.tag == "latest" && matches!(row.error, Error::Protocol { .. }) => {}
            other => failures.push(format!("tag_report error rows: {other:?}")),
        },
        Err(e) => failures.push(format!("tag_report failed as a whole: {e:?}")),
    }

    let dest = mock::server().await;
    let dest_client = mock::client(&dest);
    let copied = within(client.copy_image(
        &repo,
        &pinned,
        &dest_client,
        &name("mirror/busybox"),
        &TagOrDigest::Tag("latest".parse().unwrap()),
        &CopyOptions::default(),
    ))
    .await;
    match copied {
        Ok(report) => failures.push(format!("copy_image accepted it: {report:?}")),
        Err(Error::Protocol { .. }) => {}
        Err(e) => failures.push(format!("copy_image: {e:?}")),
    }
    let sent = dest.received_requests().await.unwrap_or_default();
    if !sent.is_empty() {
        failures.push(format!(
            "copy_image reached the destination: {:?}",
            sent.iter()
                .map(|r| format!("{} {}", r.method, r.url.path()))
                .collect::<Vec<_>>()
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_exits_nonzero_on_the_smuggled_payload() {
    let Some(inspect) = example("inspect") else {
        return;
    };
    let (_, d) = genuine();
    let server = mock::server().await;
    serve(&server, d.as_str(), tail_smuggled(), &d).await;
    let host = server.address().to_string();
    for extra in [&[][..], &["--raw"][..], &["--json"][..]] {
        let reference = format!("{host}/busybox@{d}");
        let mut args = vec![reference.as_str(), "--plain-http"];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let exe = inspect.clone();
        let out = within(tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args(&args)
                .env_remove("REGISTRY_USERNAME")
                .env_remove("REGISTRY_PASSWORD")
                .env("DOCKER_CONFIG", "/nonexistent-dockreg-test-config")
                .output()
                .expect("run inspect")
        }))
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "inspect {extra:?}: stdout {stdout} stderr {stderr}"
        );
        assert!(!stdout.contains(EVIL_LAYER), "{extra:?}: {stdout}");
        assert!(
            stderr.contains("signed schema 1 manifest"),
            "{extra:?}: {stderr}"
        );
    }
}

// ---- what must keep working -------------------------------------------------

/// A signed body built the way libtrust builds one, for any payload and
/// indent: `payload[..formatLength]`, `,`, the signatures member, `}`.
fn libtrust_sign(payload: &[u8], indent: &str) -> Vec<u8> {
    let close = payload.iter().rposition(|&b| b == b'}').unwrap();
    let format_length = payload[..close]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .unwrap()
        + 1;
    let tail = &payload[format_length..];
    let sig = signature(&protected(format_length as u64, tail));
    let mut body = payload[..format_length].to_vec();
    if indent.is_empty() {
        body.extend_from_slice(format!(r#","signatures":[{sig}]}}"#).as_bytes());
    } else {
        body.extend_from_slice(
            format!(",\n{indent}\"signatures\": [\n{indent}{indent}{sig}\n{indent}]\n}}")
                .as_bytes(),
        );
    }
    body
}

#[test]
fn faithfully_signed_manifests_verify_and_parse_from_the_payload() {
    let (payload, d) = genuine();
    for (what, bytes) in [
        ("fixture", GENUINE.to_vec()),
        ("compact", libtrust_sign(&payload, "")),
        ("indented", libtrust_sign(&payload, "   ")),
        (
            "converted fixture",
            include_bytes!("../fixtures/schema1-converted.json").to_vec(),
        ),
    ] {
        let m = Manifest::from_bytes(bytes.clone(), None).unwrap_or_else(|e| panic!("{what}: {e}"));
        let ManifestBody::Schema1 { manifest, signed } = m.body() else {
            panic!("{what}: {:?}", m.body())
        };
        assert!(*signed, "{what}");
        assert_eq!(manifest.signatures.len(), 1, "{what}");
        assert_eq!(manifest.fs_layers.len(), 3, "{what}");
        assert_eq!(m.bytes().as_ref(), bytes.as_slice(), "{what}: bytes kept");
        if what != "converted fixture" {
            assert_eq!(m.digest().unwrap(), d, "{what}");
        }
        let canonical = m.canonical_bytes().unwrap();
        let mut without: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).unwrap();
        without.remove("signatures");
        let parsed: serde_json::Value = serde_json::from_slice(&canonical).unwrap();
        assert_eq!(parsed, serde_json::Value::Object(without), "{what}");
    }
    // A payload ending in whitespace after its closing brace.
    let mut spaced = payload.clone();
    spaced.extend_from_slice(b"\n");
    let m = Manifest::from_bytes(libtrust_sign(&spaced, "   "), None).unwrap();
    assert_eq!(m.digest().unwrap(), Digest::sha256(&spaced));
}

#[tokio::test]
async fn the_registrys_own_signed_manifests_verify_and_give_the_same_layers() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    let client = reg.client();

    // Pushed as signed schema 1 (skopeo --format v2s1), re-signed by the
    // registry on every GET.
    let s1 = &images.schema1;
    let repo = name(&s1.name);
    let expected: Digest = s1.manifest_digest.parse().unwrap();
    for reference in [
        TagOrDigest::Tag(s1.tag.parse().unwrap()),
        TagOrDigest::Digest(expected.clone()),
    ] {
        let m = client.manifest(&repo, &reference).await.unwrap();
        let ManifestBody::Schema1 { manifest, signed } = m.body() else {
            panic!("{:?}", m.body())
        };
        assert!(*signed);
        assert_eq!(m.digest().unwrap(), expected);
        assert_eq!(
            (manifest.name.as_str(), manifest.tag.as_str()),
            ("schema1/image", "v1")
        );
        let layers: Vec<String> = m.layer_digests().iter().map(|d| d.to_string()).collect();
        assert_eq!(layers, s1.layer_digests, "fsLayers in order");
        assert!(!manifest.signatures.is_empty());
        let config = client.image_config(&repo, &m).await.unwrap();
        assert_eq!(
            config.created.as_deref(),
            Some(registry::SKOPEO_IMAGE_CREATED)
        );
    }

    // A schema 2 image converted to signed schema 1 by the registry (GET by
    // tag with only schema 1 in Accept): indented, another digest.
    let docker = &images.docker;
    let path = format!("/v2/{}/manifests/{}", docker.name, docker.tag);
    let mut digests = BTreeSet::new();
    for _ in 0..2 {
        let raw = reg.get(&path, Some(media_type::DOCKER_MANIFEST_V1_SIGNED));
        assert_eq!(raw.status, 200, "{}", raw.text());
        assert_eq!(
            raw.header("content-type"),
            Some(media_type::DOCKER_MANIFEST_V1_SIGNED)
        );
        let announced = raw.header("docker-content-digest").unwrap().to_owned();
        let m = Manifest::from_bytes(raw.body.clone(), raw.header("content-type")).unwrap();
        assert_eq!(m.digest().unwrap().as_str(), announced);
        let fs: BTreeSet<String> = m.layer_digests().iter().map(|d| d.to_string()).collect();
        let pushed: BTreeSet<String> = docker.layer_digests.iter().cloned().collect();
        assert!(fs.is_superset(&pushed), "{fs:?} vs {pushed:?}");
        digests.insert(announced);
    }
    assert_eq!(digests.len(), 1, "re-signed, same digest");
}

// ---- arbitrary formatLength and formatTail never panic -----------------------

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The members of the proptest's manifest, and where a faithful signer cuts
/// it (`{` plus the members).
const PROP_MEMBERS: &str =
    r#""name":"a/b","tag":"t","architecture":"amd64","fsLayers":[],"history":[],"schemaVersion":1"#;
const PROP_CUT: u64 = 1 + PROP_MEMBERS.len() as u64;

proptest! {
    #![proptest_config(config())]

    /// Whatever `formatLength` (0, inside, past the end, near u64::MAX) and
    /// tail a signature names, parsing returns, and what it accepts is the
    /// body without its signatures.
    #[test]
    fn any_format_length_and_tail_is_handled(
        format_length in prop_oneof![
            Just(PROP_CUT),
            PROP_CUT - 2..PROP_CUT + 3,
            0u64..400,
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(u32::MAX as u64 + 1),
            any::<u64>(),
        ],
        tail in prop_oneof![
            Just(b"}".to_vec()),
            Just(b"\n}".to_vec()),
            Just(b" }\n".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ],
    ) {
        let body = signed_body(PROP_MEMBERS, &protected(format_length, &tail));
        if let Ok(payload) = signed_payload(&body) {
            let mut without: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&body).unwrap();
            without.remove("signatures");
            let parsed: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            prop_assert_eq!(parsed, serde_json::Value::Object(without));
            let m = Manifest::from_bytes(body.clone(), None).unwrap();
            let canonical = m.canonical_bytes().unwrap().into_owned();
            prop_assert_eq!(canonical, payload);
        } else {
            prop_assert!(Manifest::from_bytes(body, None).is_err());
        }
    }

    /// The formatLength as a JSON number of any size or sign, or not a
    /// number at all, is an error or a payload, never a panic.
    #[test]
    fn any_format_length_text_is_handled(text in "-?[0-9]{0,30}(\\.[0-9]{0,3})?(e[0-9]{1,3})?|null|\"[0-9]{1,5}\"") {
        let header = b64(format!(r#"{{"formatLength":{text},"formatTail":"fQ"}}"#).as_bytes());
        let body = signed_body(r#""schemaVersion":1"#, &header);
        let _ = signed_payload(&body);
        let _ = Manifest::from_bytes(body, None);
    }
}
