//! The libtrust signatures of signed schema 1 manifests, checked: manifests
//! signed here with every key libtrust signs with (P-256, P-384, P-521 and
//! RSA, in a `jwk` or an `x5c` chain), pushed to the real registry (which
//! checks them with libtrust itself before it stores them) and read back;
//! the registry's own signatures; and manifests tampered with.
//!
//! The keys in `tests/fixtures/jws/` are test keys made with openssl 3:
//! `genrsa -traditional` (2048 and 1024 bits), and `chain.pem`, a P-256
//! leaf ("dockreg test signer", its key `leaf-p256.pem`) signed
//! sha256WithRSA by an RSA-2048 intermediate, signed ecdsa-with-SHA384 by a
//! self-signed P-384 root. RSA signatures are made by `openssl dgst`, so the
//! PKCS#1 v1.5 check meets an implementation other than its own.

use crate::registry;

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use dockreg::models::{
    media_type, FsLayer, KeyId, ManifestBody, Schema1History, Schema1Manifest, Signature,
    SignatureError,
};
use dockreg::{Error, Manifest};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{json, Value};

const RSA_2048: &str = include_str!("../fixtures/jws/rsa-2048.pem");
const RSA_1024: &str = include_str!("../fixtures/jws/rsa-1024.pem");
const LEAF_P256: &str = include_str!("../fixtures/jws/leaf-p256.pem");
const CHAIN: &str = include_str!("../fixtures/jws/chain.pem");
const FIXTURE: &[u8] = include_bytes!("../fixtures/schema1-signed.json");

/// The base64 bodies of the PEM blocks of `pem`, in order.
fn pem_blocks(pem: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            current = Some(String::new());
        } else if line.starts_with("-----END") {
            blocks.extend(current.take());
        } else if let Some(c) = current.as_mut() {
            c.push_str(line.trim());
        }
    }
    blocks
}

fn pem_der(pem: &str) -> Vec<u8> {
    STANDARD.decode(&pem_blocks(pem)[0]).unwrap()
}

/// A key to sign with, and how its header names it.
enum Signer {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    /// A PEM RSA key, signing with RS256, RS384 or RS512 through openssl.
    Rsa(&'static str, &'static str),
}

impl Signer {
    fn p256(seed: &[u8]) -> Signer {
        Signer::P256(p256::ecdsa::SigningKey::from_slice(&sha2_256(seed)).unwrap())
    }

    fn p384(seed: &[u8]) -> Signer {
        let mut scalar = sha2_256(seed);
        scalar.extend_from_slice(&sha2_256(&scalar)[..16]);
        Signer::P384(p384::ecdsa::SigningKey::from_slice(&scalar).unwrap())
    }

    fn p521(seed: &[u8]) -> Signer {
        // 66 bytes below the order: the top byte only one bit wide.
        let mut scalar = vec![0x01];
        scalar.extend_from_slice(&sha2_256(seed));
        scalar.extend_from_slice(&sha2_256(&scalar)[..1]);
        scalar.extend_from_slice(&sha2_256(&scalar));
        Signer::P521(p521::ecdsa::SigningKey::from_slice(&scalar).unwrap())
    }

    /// The P-256 key of the leaf certificate of `chain.pem`.
    fn leaf() -> Signer {
        // SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING (32) ...
        let der = pem_der(LEAF_P256);
        assert_eq!(&der[2..7], &[0x02, 0x01, 0x01, 0x04, 0x20]);
        Signer::P256(p256::ecdsa::SigningKey::from_slice(&der[7..39]).unwrap())
    }

    fn alg(&self) -> &'static str {
        match self {
            Signer::P256(_) => "ES256",
            Signer::P384(_) => "ES384",
            Signer::P521(_) => "ES512",
            Signer::Rsa(_, alg) => alg,
        }
    }

    /// The DER SubjectPublicKeyInfo, from the curves' own encoders and
    /// from openssl for RSA.
    fn spki(&self) -> Vec<u8> {
        match self {
            Signer::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let key = p256::PublicKey::from_sec1_bytes(point.as_bytes()).unwrap();
                key.to_public_key_der().unwrap().into_vec()
            }
            Signer::P384(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let key = p384::PublicKey::from_sec1_bytes(point.as_bytes()).unwrap();
                key.to_public_key_der().unwrap().into_vec()
            }
            Signer::P521(k) => {
                let point = p521::ecdsa::VerifyingKey::from(k).to_encoded_point(false);
                let key = p521::PublicKey::from_sec1_bytes(point.as_bytes()).unwrap();
                key.to_public_key_der().unwrap().into_vec()
            }
            Signer::Rsa(pem, _) => openssl(
                &["pkey", "-pubout", "-outform", "DER", "-in", &key_file(pem)],
                b"",
            ),
        }
    }

    fn key_id(&self) -> KeyId {
        KeyId::from_spki_der(&self.spki())
    }

    /// The `jwk` header member, with its `kid`.
    fn jwk(&self) -> Value {
        let ec = |crv: &str, point: &[u8], size: usize| {
            assert_eq!(point.len(), 1 + 2 * size);
            json!({
                "crv": crv,
                "kid": self.key_id().as_str(),
                "kty": "EC",
                "x": URL_SAFE_NO_PAD.encode(&point[1..1 + size]),
                "y": URL_SAFE_NO_PAD.encode(&point[1 + size..]),
            })
        };
        match self {
            Signer::P256(k) => ec(
                "P-256",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                32,
            ),
            Signer::P384(k) => ec(
                "P-384",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                48,
            ),
            Signer::P521(k) => ec(
                "P-521",
                p521::ecdsa::VerifyingKey::from(k)
                    .to_encoded_point(false)
                    .as_bytes(),
                66,
            ),
            Signer::Rsa(_, _) => {
                // SPKI -> RSAPublicKey { n, e } (both short-form free: the
                // lengths are read from the DER).
                let spki = self.spki();
                let key = rsa_public_key(&spki);
                json!({
                    "e": URL_SAFE_NO_PAD.encode(&key.1),
                    "kid": self.key_id().as_str(),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&key.0),
                })
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Signer::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            Signer::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            Signer::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            Signer::Rsa(pem, alg) => {
                let hash = format!("-sha{}", &alg[2..]);
                openssl(&["dgst", &hash, "-sign", &key_file(pem)], input)
            }
        }
    }
}

fn sha2_256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).to_vec()
}

/// A PEM key written to a file openssl can read (named by its hash, kept
/// for the test run).
fn key_file(pem: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "dockreg-sigs-{}-{}.pem",
        std::process::id(),
        hex(&sha2_256(pem.as_bytes())[..8])
    ));
    if !path.exists() {
        let tmp = path.with_extension(format!("tmp{:?}", std::thread::current().id()));
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path.display().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    registry::require_programs(&["openssl"]);
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Reads a DER length at `at`, returning (length, header size).
fn der_len(der: &[u8], at: usize) -> (usize, usize) {
    let first = der[at] as usize;
    if first < 0x80 {
        return (first, 1);
    }
    let n = first & 0x7f;
    let len = der[at + 1..at + 1 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    (len, 1 + n)
}

/// (n, e) of an RSA SubjectPublicKeyInfo, leading zero bytes stripped.
fn rsa_public_key(spki: &[u8]) -> (Vec<u8>, Vec<u8>) {
    // SEQUENCE { SEQUENCE { OID, NULL }, BIT STRING { 0, SEQUENCE { INTEGER n, INTEGER e } } }
    let (_, h) = der_len(spki, 1);
    let mut at = 1 + h;
    let (alg_len, h) = der_len(spki, at + 1);
    at += 1 + h + alg_len;
    assert_eq!(spki[at], 0x03);
    let (_, h) = der_len(spki, at + 1);
    at += 1 + h + 1;
    assert_eq!(spki[at], 0x30);
    let (_, h) = der_len(spki, at + 1);
    at += 1 + h;
    let mut ints = Vec::new();
    for _ in 0..2 {
        assert_eq!(spki[at], 0x02);
        let (len, h) = der_len(spki, at + 1);
        let start = at + 1 + h;
        let mut v = spki[start..start + len].to_vec();
        while v.first() == Some(&0) {
            v.remove(0);
        }
        ints.push(v);
        at = start + len;
    }
    let e = ints.pop().unwrap();
    (ints.pop().unwrap(), e)
}

/// How a signature names its key.
#[derive(Clone, Copy, PartialEq)]
enum KeyIn {
    Jwk,
    /// The `x5c` chain of `chain.pem` (the signer must be [`Signer::leaf`]).
    Chain,
}

/// A schema 1 manifest payload, pretty-printed as docker does.
fn payload(name: &str, tag: &str, layer: &dockreg::Digest) -> Vec<u8> {
    let mut m = Schema1Manifest::new(name, tag, "amd64");
    m.fs_layers.push(FsLayer::new(layer.clone()));
    m.history.push(Schema1History::new(
        json!({"id": hex(&sha2_256(name.as_bytes())), "created": "2024-04-01T00:00:00Z",
               "architecture": "amd64", "os": "linux"})
        .to_string(),
    ));
    serde_json::to_vec_pretty(&m).unwrap()
}

/// Signs `payload` as libtrust does: each signer over
/// `protected + "." + base64url(payload)`, where the protected header names
/// the cut (`formatLength`) and the tail (`formatTail`); the signatures go
/// in before the closing brace.
fn sign(payload: &[u8], signers: &[(&Signer, KeyIn)]) -> Vec<u8> {
    let close = payload.iter().rposition(|b| *b == b'}').unwrap();
    let format_length = payload[..close]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let tail = &payload[format_length..];
    let signatures: Vec<Signature> = signers
        .iter()
        .enumerate()
        .map(|(i, (signer, key_in))| {
            let protected = URL_SAFE_NO_PAD.encode(
                json!({
                    "formatLength": format_length,
                    "formatTail": URL_SAFE_NO_PAD.encode(tail),
                    "time": format!("2024-04-01T00:00:0{i}Z"),
                })
                .to_string(),
            );
            let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
            let header = match key_in {
                KeyIn::Jwk => json!({"jwk": signer.jwk(), "alg": signer.alg()}),
                KeyIn::Chain => json!({"x5c": pem_blocks(CHAIN), "alg": signer.alg()}),
            };
            Signature::new(
                header,
                URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes())),
                protected,
            )
        })
        .collect();
    let mut body = payload[..format_length].to_vec();
    body.extend_from_slice(b",\n   \"signatures\": ");
    body.extend_from_slice(&serde_json::to_vec_pretty(&signatures).unwrap());
    body.extend_from_slice(tail);
    body
}

fn signed(bytes: Vec<u8>) -> Manifest {
    Manifest::from_bytes(bytes, Some(media_type::DOCKER_MANIFEST_V1_SIGNED)).unwrap()
}

fn local_payload() -> Vec<u8> {
    payload("sigs/local", "v1", &dockreg::Digest::sha256(b"layer"))
}

/// The signature error of `bytes`, with the index it names.
fn refusal(bytes: Vec<u8>) -> (Option<usize>, SignatureError) {
    match signed(bytes).verify_signatures() {
        Err(Error::Signature { index, source }) => (index, source),
        other => panic!("expected a signature error, got {other:?}"),
    }
}

/// The body's `signatures[i].header`, `signature` or `protected` replaced.
fn edit_signature(bytes: &[u8], i: usize, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    // Re-sign-free surgery: rebuild the body from its payload the way
    // `sign` does, with the edited signatures.
    let payload = dockreg::models::signed_payload(bytes).unwrap();
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let mut sigs = v["signatures"].clone();
    edit(&mut sigs[i]);
    let close = payload.iter().rposition(|b| *b == b'}').unwrap();
    let cut = payload[..close]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let mut body = payload[..cut].to_vec();
    body.extend_from_slice(b",\n   \"signatures\": ");
    body.extend_from_slice(&serde_json::to_vec_pretty(&sigs).unwrap());
    body.extend_from_slice(&payload[cut..]);
    body
}

#[test]
fn every_key_type_verifies_and_names_its_key() {
    let signers = [
        Signer::p256(b"p256"),
        Signer::p384(b"p384"),
        Signer::p521(b"p521"),
        Signer::Rsa(RSA_2048, "RS256"),
        Signer::Rsa(RSA_2048, "RS384"),
        Signer::Rsa(RSA_2048, "RS512"),
    ];
    for signer in &signers {
        let m = signed(sign(&local_payload(), &[(signer, KeyIn::Jwk)]));
        let ids = m
            .verify_signatures()
            .unwrap_or_else(|e| panic!("{}: {e}", signer.alg()));
        assert_eq!(ids, [signer.key_id()], "{}", signer.alg());
    }
    // All of them on one manifest: one ID each, in order.
    let all: Vec<(&Signer, KeyIn)> = signers.iter().map(|s| (s, KeyIn::Jwk)).collect();
    let ids = signed(sign(&local_payload(), &all))
        .verify_signatures()
        .unwrap();
    let want: Vec<KeyId> = signers.iter().map(Signer::key_id).collect();
    assert_eq!(ids, want);
    // The RSA key ID is openssl's SPKI hashed, and every kid is well formed.
    assert_eq!(want[3], want[4]);
    assert!(want.iter().all(|id| id.as_str().len() == 59));
}

#[test]
fn the_fixture_verifies_with_its_kid() {
    let v: Value = serde_json::from_slice(FIXTURE).unwrap();
    let kid = v["signatures"][0]["header"]["jwk"]["kid"].as_str().unwrap();
    let ids = signed(FIXTURE.to_vec()).verify_signatures().unwrap();
    assert_eq!(ids, [kid]);
}

#[test]
fn an_x5c_chain_gives_the_leaf_key() {
    let leaf = Signer::leaf();
    let bytes = sign(&local_payload(), &[(&leaf, KeyIn::Chain)]);
    let ids = signed(bytes.clone()).verify_signatures().unwrap();
    assert_eq!(ids, [leaf.key_id()]);
    // openssl's view of the leaf's key gives the same ID.
    let leaf_pem =
        String::from_utf8(openssl(&["x509", "-pubkey", "-noout"], CHAIN.as_bytes())).unwrap();
    assert_eq!(ids[0], KeyId::from_spki_der(&pem_der(&leaf_pem)));
    // A jwk beside the chain must be the same key.
    let with_jwk = edit_signature(&bytes, 0, |s| s["header"]["jwk"] = leaf.jwk());
    assert_eq!(signed(with_jwk).verify_signatures().unwrap(), ids);
    let other = edit_signature(&bytes, 0, |s| {
        s["header"]["jwk"] = Signer::p256(b"other").jwk()
    });
    assert!(matches!(
        refusal(other),
        (Some(0), SignatureError::KeyMismatch { .. })
    ));
    // The leaf alone (no chain to check) is enough; a chain out of order,
    // or with a link missing, is not.
    let blocks = pem_blocks(CHAIN);
    let cases = [
        (vec![blocks[0].clone()], None),
        (vec![blocks[0].clone(), blocks[2].clone()], Some(0)),
        (
            vec![blocks[0].clone(), blocks[2].clone(), blocks[1].clone()],
            Some(0),
        ),
        (
            vec![blocks[0].clone(), blocks[1].clone(), blocks[0].clone()],
            Some(1),
        ),
    ];
    for (chain, bad) in cases {
        let bytes = edit_signature(&bytes, 0, |s| s["header"]["x5c"] = json!(chain));
        match bad {
            None => assert_eq!(signed(bytes).verify_signatures().unwrap(), ids),
            Some(at) => match refusal(bytes) {
                (Some(0), SignatureError::Certificate { index, .. }) => assert_eq!(index, at),
                other => panic!("{other:?}"),
            },
        }
    }
    // A certificate with one signature byte flipped is not signed by its
    // issuer.
    let mut der = STANDARD.decode(&blocks[0]).unwrap();
    let last = der.len() - 1;
    der[last] ^= 1;
    let broken = vec![STANDARD.encode(&der), blocks[1].clone(), blocks[2].clone()];
    let bytes = edit_signature(&bytes, 0, |s| s["header"]["x5c"] = json!(broken));
    assert!(matches!(
        refusal(bytes),
        (Some(0), SignatureError::Certificate { index: 0, .. })
    ));
}

#[test]
fn tampering_is_refused() {
    let key = Signer::p256(b"tamper");
    let rsa = Signer::Rsa(RSA_2048, "RS256");
    let good = sign(&local_payload(), &[(&key, KeyIn::Jwk), (&rsa, KeyIn::Jwk)]);
    assert_eq!(signed(good.clone()).verify_signatures().unwrap().len(), 2);

    // A payload byte: the architecture.
    let at = good.windows(7).position(|w| w == b"\"amd64\"").unwrap();
    let mut changed = good.clone();
    changed[at + 1..at + 6].copy_from_slice(b"arm64");
    assert!(matches!(
        refusal(changed),
        (Some(0), SignatureError::BadSignature)
    ));

    // A signature byte, of either signature.
    for i in 0..2 {
        let bytes = edit_signature(&good, i, |s| {
            let mut raw = URL_SAFE_NO_PAD
                .decode(s["signature"].as_str().unwrap())
                .unwrap();
            raw[5] ^= 0x40;
            s["signature"] = URL_SAFE_NO_PAD.encode(raw).into();
        });
        assert_eq!(refusal(bytes), (Some(i), SignatureError::BadSignature));
    }

    // The protected header: a different time, the same cut.
    let bytes = edit_signature(&good, 0, |s| {
        let raw = URL_SAFE_NO_PAD
            .decode(s["protected"].as_str().unwrap())
            .unwrap();
        let mut h: Value = serde_json::from_slice(&raw).unwrap();
        h["time"] = "2030-01-01T00:00:00Z".into();
        s["protected"] = URL_SAFE_NO_PAD.encode(h.to_string()).into();
    });
    assert_eq!(refusal(bytes), (Some(0), SignatureError::BadSignature));

    // The kid: another key's.
    let bytes = edit_signature(&good, 1, |s| {
        s["header"]["jwk"]["kid"] = key.key_id().as_str().into()
    });
    match refusal(bytes) {
        (Some(1), SignatureError::KeyIdMismatch { kid, actual }) => {
            assert_eq!(kid, key.key_id().as_str());
            assert_eq!(actual, rsa.key_id());
        }
        other => panic!("{other:?}"),
    }

    // Another key in the jwk (with its own kid): not the signer.
    let bytes = edit_signature(&good, 0, |s| {
        s["header"]["jwk"] = Signer::p256(b"someone else").jwk()
    });
    assert_eq!(refusal(bytes), (Some(0), SignatureError::BadSignature));

    // A signature over a different payload, moved onto this one.
    let other = sign(
        &payload("sigs/other", "v1", &dockreg::Digest::sha256(b"x")),
        &[(&key, KeyIn::Jwk)],
    );
    let other: Value = serde_json::from_slice(&other).unwrap();
    let bytes = edit_signature(&good, 0, |s| {
        s["signature"] = other["signatures"][0]["signature"].clone()
    });
    assert_eq!(refusal(bytes), (Some(0), SignatureError::BadSignature));
}

#[test]
fn hostile_signatures_are_typed_errors() {
    let key = Signer::p256(b"hostile");
    let good = sign(&local_payload(), &[(&key, KeyIn::Jwk)]);
    let case = |edit: &dyn Fn(&mut Value)| refusal(edit_signature(&good, 0, edit)).1;

    for alg in ["none", "HS256", "PS256", "ES256K", "EdDSA"] {
        let why = case(&|s| s["header"]["alg"] = alg.into());
        assert!(
            matches!(why, SignatureError::UnsupportedAlgorithm { .. }),
            "{alg}: {why}"
        );
    }
    for alg in ["ES384", "ES512", "RS256"] {
        let why = case(&|s| s["header"]["alg"] = alg.into());
        assert!(
            matches!(why, SignatureError::AlgorithmMismatch { key: "P-256", .. }),
            "{alg}: {why}"
        );
    }
    // r || s of the wrong length, bad base64, an empty signature.
    let sig = |s: &Value| {
        URL_SAFE_NO_PAD
            .decode(s["signature"].as_str().unwrap())
            .unwrap()
    };
    let why = case(&|s| s["signature"] = URL_SAFE_NO_PAD.encode(&sig(s)[..63]).into());
    assert_eq!(
        why,
        SignatureError::SignatureLength {
            alg: "ES256",
            expected: 64,
            actual: 63
        }
    );
    let why = case(&|s| {
        let mut long = sig(s);
        long.push(0);
        s["signature"] = URL_SAFE_NO_PAD.encode(long).into()
    });
    assert!(matches!(
        why,
        SignatureError::SignatureLength { actual: 65, .. }
    ));
    let why = case(&|s| s["signature"] = "".into());
    assert!(matches!(
        why,
        SignatureError::SignatureLength { actual: 0, .. }
    ));
    let why = case(&|s| s["signature"] = "not base64!".into());
    assert_eq!(why, SignatureError::BadBase64 { field: "signature" });
    let why = case(&|s| s["signature"] = "A".repeat(100_000).into());
    assert!(matches!(why, SignatureError::TooLarge { .. }), "{why}");
    // r = 0 and s = 0.
    let why = case(&|s| s["signature"] = URL_SAFE_NO_PAD.encode([0u8; 64]).into());
    assert_eq!(why, SignatureError::BadSignature);
    let why = case(&|s| s["signature"] = URL_SAFE_NO_PAD.encode([0xffu8; 64]).into());
    assert_eq!(why, SignatureError::BadSignature);

    // An RSA key under 2048 bits is refused before anything is checked.
    let weak = Signer::Rsa(RSA_1024, "RS256");
    let why = refusal(sign(&local_payload(), &[(&weak, KeyIn::Jwk)])).1;
    assert_eq!(why, SignatureError::WeakKey { bits: 1024 });
    // Huge moduli and exponents.
    let rsa = Signer::Rsa(RSA_2048, "RS256");
    let rsa_signed = sign(&local_payload(), &[(&rsa, KeyIn::Jwk)]);
    let rsa_case = |edit: &dyn Fn(&mut Value)| refusal(edit_signature(&rsa_signed, 0, edit)).1;
    let why = rsa_case(&|s| {
        s["header"]["jwk"]["n"] = URL_SAFE_NO_PAD.encode(vec![0xff; 2048]).into();
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert!(matches!(why, SignatureError::TooLarge { .. }), "{why}");
    let why = rsa_case(&|s| {
        s["header"]["jwk"]["n"] = URL_SAFE_NO_PAD.encode(vec![0xff; 1100]).into();
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert!(
        matches!(why, SignatureError::TooLarge { len: 8800, .. }),
        "{why}"
    );
    let why = rsa_case(&|s| {
        s["header"]["jwk"]["e"] = URL_SAFE_NO_PAD.encode(vec![0xff; 64]).into();
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert!(matches!(why, SignatureError::TooLarge { .. }), "{why}");
    let why = rsa_case(&|s| {
        s["header"]["jwk"]["e"] = "AQ".into();
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert!(matches!(why, SignatureError::InvalidKey { .. }), "{why}");
    // Without its kid the RSA key still verifies; the same signature
    // claimed as RS512 does not.
    let no_kid = edit_signature(&rsa_signed, 0, |s| {
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert_eq!(signed(no_kid).verify_signatures().unwrap(), [rsa.key_id()]);
    let why = rsa_case(&|s| s["header"]["alg"] = "RS512".into());
    assert_eq!(why, SignatureError::BadSignature);
    let why = rsa_case(&|s| s["header"]["alg"] = "ES256".into());
    assert!(matches!(
        why,
        SignatureError::AlgorithmMismatch { key: "RSA", .. }
    ));

    // Keys that are not keys.
    let why = case(&|s| s["header"]["jwk"]["x"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into());
    assert!(
        matches!(
            why,
            SignatureError::InvalidKey { .. } | SignatureError::KeyIdMismatch { .. }
        ),
        "{why}"
    );
    let why = case(&|s| {
        s["header"]["jwk"]["x"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into();
        s["header"]["jwk"].as_object_mut().unwrap().remove("kid");
    });
    assert!(matches!(why, SignatureError::InvalidKey { .. }), "{why}");
    let why = case(&|s| s["header"]["jwk"]["crv"] = "P-384".into());
    assert!(matches!(why, SignatureError::InvalidKey { .. }), "{why}");
    let why = case(&|s| s["header"]["jwk"] = json!("a string"));
    assert!(
        matches!(why, SignatureError::MalformedHeader { .. }),
        "{why}"
    );
    let why = case(&|s| s["header"] = json!({"alg": "ES256"}));
    assert_eq!(why, SignatureError::MissingKey);
    let why = case(&|s| s["header"] = json!({"alg": "ES256", "x5c": []}));
    assert_eq!(why, SignatureError::MissingKey);
    let why = case(&|s| s["header"] = Value::Null);
    assert!(
        matches!(why, SignatureError::MalformedHeader { .. }),
        "{why}"
    );

    // x5c garbage.
    for (chain, want) in [
        (json!(["%%%"]), "base64"),
        (
            json!([STANDARD.encode(b"not a certificate")]),
            "certificate",
        ),
        (json!([""]), "certificate"),
        (json!(["A".repeat(20_000)]), "large"),
        (json!(vec![pem_blocks(CHAIN)[0].clone(); 9]), "large"),
        (json!([1, 2]), "header"),
    ] {
        let why = case(&|s| s["header"]["x5c"] = chain.clone());
        let ok = match want {
            "base64" => matches!(why, SignatureError::BadBase64 { field: "x5c" }),
            "certificate" => matches!(why, SignatureError::Certificate { index: 0, .. }),
            "large" => matches!(why, SignatureError::TooLarge { .. }),
            _ => matches!(why, SignatureError::MalformedHeader { .. }),
        };
        assert!(ok, "{chain}: {why}");
    }

    // More signatures than anyone makes.
    let many: Vec<(&Signer, KeyIn)> = (0..65).map(|_| (&key, KeyIn::Jwk)).collect();
    let bytes = sign(&local_payload(), &many);
    assert_eq!(
        refusal(bytes),
        (None, SignatureError::TooManySignatures { count: 65 })
    );
    // The message names the signature and escapes what the manifest said.
    let why = edit_signature(&good, 0, |s| s["header"]["alg"] = "\u{1b}[31mnone".into());
    let text = signed(why).verify_signatures().unwrap_err().to_string();
    assert!(
        text.starts_with("schema 1 manifest signature 0: "),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn other_manifests_have_nothing_to_verify() {
    let unsigned = local_payload();
    for (bytes, ct) in [
        (unsigned.clone(), media_type::DOCKER_MANIFEST_V1),
        (
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
                .to_vec(),
            media_type::OCI_INDEX,
        ),
    ] {
        let m = Manifest::from_bytes(bytes, Some(ct)).unwrap();
        match m.verify_signatures() {
            Err(Error::Signature {
                index: None,
                source: SignatureError::NotSigned { media_type },
            }) => assert_eq!(media_type, ct),
            other => panic!("{other:?}"),
        }
    }
}

/// The signature of `bytes[i]` with one byte flipped.
fn flip_signature_byte(bytes: &[u8], i: usize) -> Vec<u8> {
    edit_signature(bytes, i, |s| {
        let mut raw = URL_SAFE_NO_PAD
            .decode(s["signature"].as_str().unwrap())
            .unwrap();
        raw[5] ^= 0x40;
        s["signature"] = URL_SAFE_NO_PAD.encode(raw).into();
    })
}

/// distribution checks the signatures of a schema 1 push with libtrust
/// itself (a bad one is 400 MANIFEST_UNVERIFIED, or a 500 for RSA), so every manifest signed
/// here meets a second judge: what dockreg accepts, libtrust accepts, and
/// what dockreg refuses, libtrust refuses. The registry then keeps the
/// payload only: it serves the manifest signed by its own key (by tag and
/// by digest alike), which verifies too, with the same digest.
#[tokio::test]
async fn manifests_signed_here_are_judged_alike_by_the_registry() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let cases = [
        ("p256", Signer::p256(b"registry p256"), KeyIn::Jwk),
        ("p384", Signer::p384(b"registry p384"), KeyIn::Jwk),
        ("p521", Signer::p521(b"registry p521"), KeyIn::Jwk),
        ("rs256", Signer::Rsa(RSA_2048, "RS256"), KeyIn::Jwk),
        ("rs512", Signer::Rsa(RSA_2048, "RS512"), KeyIn::Jwk),
        ("x5c", Signer::leaf(), KeyIn::Chain),
    ];
    let mut registry_keys = Vec::new();
    for (what, signer, key_in) in &cases {
        let name = format!("sigs/{what}");
        let repo = reg.client().repository(name.as_str()).unwrap();
        let layer = repo
            .push_blob(format!("a {what} layer").into_bytes())
            .await
            .unwrap();
        let body = sign(&payload(&name, "v1", &layer.digest), &[(signer, *key_in)]);

        // Tampered: dockreg refuses it, and so does the registry.
        let bad = flip_signature_byte(&body, 0);
        assert_eq!(
            refusal(bad.clone()),
            (Some(0), SignatureError::BadSignature)
        );
        let r = reg.send(
            "PUT",
            &format!("/v2/{name}/manifests/bad"),
            &[("Content-Type", media_type::DOCKER_MANIFEST_V1_SIGNED)],
            Some(bad),
        );
        if let Signer::Rsa(_, alg) = signer {
            // libtrust's RSA failure is not the "invalid signature" that
            // distribution maps to MANIFEST_UNVERIFIED: a 500, and the log.
            assert_eq!(r.status, 500, "{what}: {}", r.text());
            let logged = format!("invalid {alg} signature: crypto/rsa: verification error");
            assert!(reg.log().contains(&logged), "{what}: {}", reg.log_tail(5));
        } else {
            assert_eq!(r.status, 400, "{what}: {}", r.text());
            assert!(
                r.text().contains("MANIFEST_UNVERIFIED"),
                "{what}: {}",
                r.text()
            );
        }

        // Genuine: dockreg names the key, and the registry takes it.
        let sent = signed(body);
        assert_eq!(sent.verify_signatures().unwrap(), [signer.key_id()]);
        let digest = repo
            .put_manifest("v1", &sent)
            .await
            .unwrap_or_else(|e| panic!("the registry refused {what}: {e}\n{}", reg.log_tail(20)));
        assert_eq!(digest, sent.digest().unwrap());

        // Served back, signed by the registry instead, by tag and by digest.
        for reference in ["v1".to_owned(), digest.to_string()] {
            let back = repo.manifest(reference.as_str()).await.unwrap();
            assert_eq!(back.digest().unwrap(), digest, "{what}");
            assert_ne!(back.bytes(), sent.bytes(), "{what}: re-signed");
            let ids = back
                .verify_signatures()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(ids.len(), 1, "{what}");
            assert_ne!(ids[0], signer.key_id(), "{what}");
            registry_keys.push(ids[0].clone());
        }
    }
    // One registry, one key.
    registry_keys.dedup();
    assert_eq!(registry_keys.len(), 1, "{registry_keys:?}");
}

#[tokio::test]
async fn the_registrys_own_signatures_verify() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let images = reg.seed_skopeo_images();
    // The schema 1 image skopeo pushed (signed with a key of its own), as
    // the registry serves it.
    let repo = reg
        .client()
        .repository(images.schema1.name.as_str())
        .unwrap();
    let m = repo.manifest(images.schema1.tag.as_str()).await.unwrap();
    assert!(matches!(
        m.body(),
        ManifestBody::Schema1 { signed: true, .. }
    ));
    let ids = m.verify_signatures().unwrap();
    assert!(!ids.is_empty());
    // A schema 2 image asked for as schema 1 only: converted and signed by
    // the registry's key, the same key on every GET.
    let path = format!("/v2/{}/manifests/{}", images.docker.name, images.docker.tag);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = reg.get(&path, Some(registry::media::DOCKER_MANIFEST_V1_SIGNED));
        assert_eq!(r.status, 200);
        let m = Manifest::from_bytes(r.body.clone(), r.header("content-type")).unwrap();
        seen.push(m.verify_signatures().unwrap());
    }
    assert_eq!(seen[0].len(), 1);
    assert_eq!(seen[0], seen[1]);
    // skopeo's signature did not survive the push either: the registry's
    // key signs what it serves.
    assert_eq!(ids, seen[0]);
}
