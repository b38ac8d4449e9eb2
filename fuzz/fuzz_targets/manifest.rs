//! `Manifest::from_bytes` with every content type and none, then every
//! accessor, the digest and the signature check. Nothing may panic; the
//! digest is the hash of the canonical bytes, which are the bytes themselves
//! except for signed schema 1; only a signed schema 1 manifest has
//! signatures to verify.
#![no_main]

use dockreg::models::{media_type, ManifestBody, Platform};
use dockreg::models::SignatureError;
use dockreg::{Digest, Error, Manifest};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(media_type::OCI_INDEX),
    Some(media_type::DOCKER_MANIFEST_LIST),
    Some(media_type::OCI_MANIFEST),
    Some(media_type::DOCKER_MANIFEST_V2),
    Some(media_type::DOCKER_MANIFEST_V1_SIGNED),
    Some(media_type::DOCKER_MANIFEST_V1),
    Some("application/json; charset=utf-8"),
    Some("application/vnd.docker.container.image.v1+json"),
];

fn exercise(m: &Manifest, content_type: Option<&str>, data: &[u8]) {
    assert_eq!(m.bytes().as_ref(), data);
    assert!(
        media_type::is_manifest(m.media_type()),
        "{}",
        m.media_type()
    );
    let signed = matches!(m.body(), ManifestBody::Schema1 { signed: true, .. });
    match m.canonical_bytes() {
        Ok(canonical) => {
            if !signed {
                assert_eq!(canonical.as_ref(), data);
            }
            let digest = m
                .digest()
                .expect("digest fails where canonical_bytes worked");
            assert_eq!(digest, Digest::sha256(&canonical));
        }
        Err(_) => {
            assert!(
                signed,
                "canonical_bytes failed on an unsigned manifest ({content_type:?})"
            );
            assert!(m.digest().is_err());
        }
    }
    if m.is_index() {
        assert!(m.layers().is_empty());
        assert!(m.config().is_none());
        assert!(m.total_size().is_none());
    } else {
        assert!(m.manifests().is_empty());
        assert!(m.platforms().is_empty());
    }
    let _ = m.layers();
    let _ = m.manifests();
    let _ = m.layer_digests();
    let _ = m.subject();
    let _ = m.config();
    let _ = m.total_size();
    let _ = m.platforms();
    let _ = m.select_platform(&Platform::current());
    let _ = m.select_platform(&Platform::new("linux", "arm").with_variant("v7"));
    match m.verify_signatures() {
        Ok(ids) => assert!(signed && !ids.is_empty()),
        Err(Error::Signature {
            index: None,
            source: SignatureError::NotSigned { .. },
        }) => assert!(!signed),
        Err(Error::Signature { .. }) => assert!(signed),
        Err(e) => panic!("verify_signatures failed with a non-signature error: {e}"),
    }
    if let ManifestBody::Schema1 { manifest, .. } = m.body() {
        if let Ok(Some(config)) = manifest.image_config() {
            let _ = config.created_at();
            let _ = config.platform();
        }
        for h in &manifest.history {
            let _ = h.decode();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for &ct in CONTENT_TYPES {
        if let Ok(m) = Manifest::from_bytes(data.to_vec(), ct) {
            exercise(&m, ct, data);
        }
    }
});
