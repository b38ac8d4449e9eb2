//! The libtrust JSON Web Signatures of signed schema 1 manifests, checked
//! cryptographically: [`Manifest::verify_signatures`], the [`KeyId`]s it
//! reports and the [`SignatureError`]s it refuses with.

use std::fmt;

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs8::EncodePublicKey as _;
use serde::Deserialize;
use sha2::Digest as _;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};

use crate::error::{Error, Escaped};
use crate::models::manifest::{Manifest, ManifestBody};
use crate::models::schema1::{base64url, Signature};
use crate::Result;

/// The most signatures one manifest may carry: a registry adds one, a
/// signer one more; each costs a hash of the whole payload.
const MAX_SIGNATURES: usize = 64;
/// The most certificates one `x5c` chain may hold.
const MAX_CHAIN: usize = 8;
/// The smallest RSA modulus accepted, in bits.
const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
const RSA_MAX_BITS: usize = 8192;

/// The longest base64 signature accepted (an RSA signature of
/// `RSA_MAX_BITS`, with room for padding).
const MAX_SIGNATURE_CHARS: usize = 2048;
/// The longest base64 key parameter (`x`, `y`, `n`, `e`) accepted.
const MAX_PARAM_CHARS: usize = 2048;
/// The longest base64 certificate of an `x5c` chain accepted.
const MAX_CERT_CHARS: usize = 16 * 1024;
/// The longest RSA public exponent accepted, in bytes (the RSA backend
/// refuses anything above 2^33 - 1 too).
const MAX_EXPONENT_BYTES: usize = 5;

/// A libtrust key ID: the SHA-256 of the key's DER SubjectPublicKeyInfo,
/// its first 240 bits in base32, as twelve groups of four characters
/// separated by `:` (`PPFM:7V34:TZII:P6J7:CEU7:BG3D:VD6Y:S7JA:52SU:ROUJ:SEAW:RZP4`).
///
/// It is what Docker prints for a daemon's or a registry's key, and what a
/// `jwk` header's `kid` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The key ID of a DER-encoded SubjectPublicKeyInfo (as Go's
    /// `x509.MarshalPKIXPublicKey` writes it).
    ///
    /// ```
    /// let id = dockreg::models::KeyId::from_spki_der(b"");
    /// assert_eq!(id.as_str(), "4OYM:IQUY:7QOB:JGX3:6TEJ:S35Z:EQT2:4QPE:MSNZ:GTFE:SWMR:W6CS");
    /// ```
    pub fn from_spki_der(der: &[u8]) -> KeyId {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let hash = sha2::Sha256::digest(der);
        let mut out = String::with_capacity(59);
        let (mut bits, mut held) = (0u32, 0u32);
        for byte in &hash[..30] {
            bits = (bits << 8) | u32::from(*byte);
            held += 8;
            while held >= 5 {
                held -= 5;
                if !out.is_empty() && (out.len() + 1).is_multiple_of(5) {
                    out.push(':');
                }
                out.push(char::from(ALPHABET[((bits >> held) & 31) as usize]));
            }
            bits &= (1 << held) - 1;
        }
        KeyId(out)
    }

    /// The key ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for KeyId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for KeyId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Why a signature of a signed schema 1 manifest was refused; carried by
/// [`Error::Signature`] with the signature's index.
///
/// Everything in it that came from the manifest (an `alg`, a `kid`) is shown
/// escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The manifest is not a signed schema 1 manifest: another schema, or
    /// schema 1 without signatures. There is nothing to verify.
    #[error("not a signed schema 1 manifest ({})", Escaped(media_type))]
    NotSigned {
        /// The manifest's media type.
        media_type: String,
    },
    /// The manifest carries more than 64 signatures.
    #[error("{count} signatures, more than the limit of 64")]
    TooManySignatures {
        /// How many it carries.
        count: usize,
    },
    /// The unprotected header is not a JSON object with a string `alg`, or
    /// one of its members has the wrong type.
    #[error("malformed header: {}", Escaped(reason))]
    MalformedHeader {
        /// What is wrong with it.
        reason: String,
    },
    /// `alg` is not one libtrust signs with (ES256, ES384, ES512, RS256,
    /// RS384, RS512): `none`, HMAC and RSA-PSS are all refused.
    #[error("unsupported signature algorithm \"{}\"", Escaped(alg))]
    UnsupportedAlgorithm {
        /// The `alg` as sent.
        alg: String,
    },
    /// `alg` does not go with the key: an EC key signs only with the
    /// algorithm of its curve (ES256 for P-256, ...), an RSA key only with
    /// RS256, RS384 or RS512.
    #[error("algorithm {} does not go with a {key} key", Escaped(alg))]
    AlgorithmMismatch {
        /// The `alg` as sent.
        alg: String,
        /// The key's type (`"P-256"`, `"RSA"`, ...).
        key: &'static str,
    },
    /// The header has neither a `jwk` nor an `x5c` to take the key from.
    #[error("the header has no key (neither jwk nor x5c)")]
    MissingKey,
    /// A field that must be base64 (base64url for the signature and the
    /// `jwk` parameters, standard base64 for `x5c`) is not.
    #[error("{field} is not valid base64")]
    BadBase64 {
        /// The field (`"signature"`, `"jwk x"`, `"x5c"`, ...).
        field: &'static str,
    },
    /// A field is larger than dockreg accepts (a signature, a key
    /// parameter, a certificate, a chain of more than 8, an RSA modulus of
    /// more than 8192 bits or an exponent of more than 5 bytes).
    #[error("{what} is {len} {unit}, more than the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
        /// What the sizes count (`"bytes"`, `"bits"`, `"characters"`, ...).
        unit: &'static str,
    },
    /// A key of a type or curve libtrust does not sign with (`kty` other
    /// than `EC` and `RSA`, a curve other than P-256, P-384 and P-521, a
    /// certificate key of another algorithm).
    #[error("unsupported key: {}", Escaped(reason))]
    UnsupportedKey {
        /// What kind of key it is.
        reason: String,
    },
    /// The key's parameters do not make a key (a point off the curve,
    /// coordinates of the wrong length, an even modulus, ...).
    #[error("invalid key: {}", Escaped(reason))]
    InvalidKey {
        /// What is wrong with it.
        reason: String,
    },
    /// An RSA key of fewer than 2048 bits.
    #[error("RSA key of {bits} bits is too weak: at least 2048 are required")]
    WeakKey {
        /// The modulus's size in bits.
        bits: usize,
    },
    /// The signature does not have the length its algorithm and key give
    /// (`r || s` of twice the curve's size for ECDSA, the modulus's size for
    /// RSA).
    #[error("the {alg} signature is {actual} bytes, not {expected}")]
    SignatureLength {
        /// The algorithm.
        alg: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// The `jwk` names a `kid` that is not the key's ID (libtrust refuses
    /// such a key).
    #[error("the jwk names key ID \"{}\", but its key is {actual}", Escaped(kid))]
    KeyIdMismatch {
        /// The `kid` as sent.
        kid: String,
        /// The ID of the key the `jwk` holds.
        actual: KeyId,
    },
    /// The header has both a `jwk` and an `x5c`, and they are different
    /// keys.
    #[error("the jwk ({jwk}) is not the key of the x5c leaf certificate ({leaf})")]
    KeyMismatch {
        /// The `jwk`'s key ID.
        jwk: KeyId,
        /// The leaf certificate's key ID.
        leaf: KeyId,
    },
    /// A certificate of the `x5c` chain is not a DER X.509 certificate, or
    /// is not signed by the next one in the chain.
    #[error("x5c certificate {index}: {}", Escaped(reason))]
    Certificate {
        /// Its index in the chain (0 is the leaf).
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature is not the key's over the manifest's payload: the
    /// payload, the protected header or the signature was changed, or the
    /// key is not the signer's.
    #[error("the signature does not verify")]
    BadSignature,
}

impl Manifest {
    /// Verifies every signature of a signed schema 1 manifest over its
    /// payload, as libtrust does, and returns the key IDs that signed it,
    /// one per signature, in order.
    ///
    /// Each signature is a JWS over `protected + "." + base64url(payload)`,
    /// where the payload is the manifest without its signatures (the bytes
    /// its digest is computed over, [`Manifest::canonical_bytes`]). Its key
    /// comes from the `jwk` header (EC P-256, P-384, P-521; RSA of 2048 to
    /// 8192 bits), or from the leaf
    /// certificate of an `x5c` chain (a `jwk` beside it must be the same
    /// key). The algorithm must be the key's: ES256, ES384 or ES512 for the
    /// curve, RS256, RS384 or RS512 for RSA. A `kid` in the `jwk` must be
    /// the key's ID.
    ///
    /// **What this proves:** that the holders of these keys signed this
    /// payload, nothing more. No key is trusted: an `x5c` chain is checked
    /// only to hang together (each certificate signed by the next one, its
    /// issuer the next one's subject), not against any trust anchor, and
    /// not for validity dates or usages. A registry signs every schema 1
    /// manifest it serves with a key of its own (often made at start-up,
    /// tied to no identity), so its key ID is among those returned. Compare
    /// the IDs with the ones you expect.
    ///
    /// Fails with [`Error::Signature`] naming the first signature refused
    /// and why ([`SignatureError`]): [`SignatureError::NotSigned`] (with no
    /// index) for any other manifest, including unsigned schema 1;
    /// [`SignatureError::BadSignature`] for a signature that does not
    /// verify; the other variants for a header, key, certificate or
    /// signature that cannot be checked. Never panics, whatever the
    /// manifest holds.
    ///
    /// ```
    /// use dockreg::models::{media_type, SignatureError};
    /// use dockreg::{Error, Manifest};
    ///
    /// let body = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    /// let index = Manifest::from_bytes(body, Some(media_type::OCI_INDEX))?;
    /// let err = index.verify_signatures().unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     Error::Signature { index: None, source: SignatureError::NotSigned { .. } }
    /// ));
    /// # Ok::<(), dockreg::Error>(())
    /// ```
    pub fn verify_signatures(&self) -> Result<Vec<KeyId>> {
        let not_signed = || Error::Signature {
            index: None,
            source: SignatureError::NotSigned {
                media_type: self.media_type().to_owned(),
            },
        };
        let ManifestBody::Schema1 {
            manifest,
            signed: true,
        } = self.body()
        else {
            return Err(not_signed());
        };
        if manifest.signatures.is_empty() {
            return Err(not_signed());
        }
        let payload = self.canonical_bytes()?;
        verify_all(&payload, &manifest.signatures)
    }
}

/// Verifies `signatures` over `payload`.
pub(crate) fn verify_all(payload: &[u8], signatures: &[Signature]) -> Result<Vec<KeyId>> {
    if signatures.len() > MAX_SIGNATURES {
        return Err(Error::Signature {
            index: None,
            source: SignatureError::TooManySignatures {
                count: signatures.len(),
            },
        });
    }
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
    signatures
        .iter()
        .enumerate()
        .map(|(i, sig)| {
            verify_one(&encoded, sig).map_err(|source| Error::Signature {
                index: Some(i),
                source,
            })
        })
        .collect()
}

/// The algorithms libtrust signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Es256,
    Es384,
    Es512,
    Rs256,
    Rs384,
    Rs512,
}

impl Alg {
    fn parse(alg: &str) -> std::result::Result<Alg, SignatureError> {
        Ok(match alg {
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "ES512" => Alg::Es512,
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            other => {
                return Err(SignatureError::UnsupportedAlgorithm {
                    alg: other.to_owned(),
                })
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
        }
    }

    fn hash(self) -> Hash {
        match self {
            Alg::Es256 | Alg::Rs256 => Hash::Sha256,
            Alg::Es384 | Alg::Rs384 => Hash::Sha384,
            Alg::Es512 | Alg::Rs512 => Hash::Sha512,
        }
    }
}

/// A hash a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<sha2::Sha256>(parts),
            Hash::Sha384 => run::<sha2::Sha384>(parts),
            Hash::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The DER DigestInfo prefix of PKCS#1 v1.5 signatures with this hash.
    fn pkcs1_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// A public key a signature can be checked with.
enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// The DER SubjectPublicKeyInfo prefixes of uncompressed EC points.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const P521_SPKI: &[u8] = &[
    0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
    0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00,
];

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

type Checked<T> = std::result::Result<T, SignatureError>;

fn invalid_key(reason: impl Into<String>) -> SignatureError {
    SignatureError::InvalidKey {
        reason: reason.into(),
    }
}

impl PublicKey {
    fn kind(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "P-256",
            PublicKey::P384(_) => "P-384",
            PublicKey::P521(_) => "P-521",
            PublicKey::Rsa(_) => "RSA",
        }
    }

    /// The key from an EC curve name and its uncompressed SEC1 point.
    fn ec(curve: &str, point: &[u8]) -> Checked<PublicKey> {
        let off_curve = |_| invalid_key(format!("the {curve} point is not on the curve"));
        Ok(match curve {
            "P-256" => PublicKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(off_curve)?,
            ),
            "P-384" => PublicKey::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(off_curve)?,
            ),
            "P-521" => PublicKey::P521(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(off_curve)?,
            ),
            other => {
                return Err(SignatureError::UnsupportedKey {
                    reason: format!("EC curve {other:?}"),
                })
            }
        })
    }

    /// The RSA key of big-endian `n` and `e`, within the size limits.
    fn rsa(n: &[u8], e: &[u8]) -> Checked<PublicKey> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = match n.first() {
            Some(top) => n.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        };
        if bits > RSA_MAX_BITS {
            return Err(SignatureError::TooLarge {
                what: "RSA modulus",
                len: bits,
                limit: RSA_MAX_BITS,
                unit: "bits",
            });
        }
        if bits < RSA_MIN_BITS {
            return Err(SignatureError::WeakKey { bits });
        }
        if e.len() > MAX_EXPONENT_BYTES {
            return Err(SignatureError::TooLarge {
                what: "RSA public exponent",
                len: e.len(),
                limit: MAX_EXPONENT_BYTES,
                unit: "bytes",
            });
        }
        let key = rsa::RsaPublicKey::new_with_max_size(
            rsa::BigUint::from_bytes_be(n),
            rsa::BigUint::from_bytes_be(e),
            RSA_MAX_BITS,
        )
        .map_err(|e| invalid_key(format!("RSA: {e}")))?;
        Ok(PublicKey::Rsa(key))
    }

    /// The key of a DER SubjectPublicKeyInfo (a certificate's).
    fn from_spki(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Checked<PublicKey> {
        let key_bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
            invalid_key("the public key bit string does not end on a byte boundary")
        })?;
        let oid = spki.algorithm.oid;
        if oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| invalid_key("an EC key without a named curve"))?;
            let name = match curve {
                c if c == OID_P256 => "P-256",
                c if c == OID_P384 => "P-384",
                c if c == OID_P521 => "P-521",
                other => {
                    return Err(SignatureError::UnsupportedKey {
                        reason: format!("EC curve {other}"),
                    })
                }
            };
            PublicKey::ec(name, key_bytes)
        } else if oid == OID_RSA_ENCRYPTION {
            let key = rsa::pkcs1::RsaPublicKey::from_der(key_bytes)
                .map_err(|e| invalid_key(format!("RSA public key: {e}")))?;
            PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())
        } else {
            Err(SignatureError::UnsupportedKey {
                reason: format!("public key algorithm {oid}"),
            })
        }
    }

    /// The DER SubjectPublicKeyInfo, as Go's `x509.MarshalPKIXPublicKey`
    /// writes it (which libtrust hashes for the key ID).
    fn spki_der(&self) -> Checked<Vec<u8>> {
        fn ec(prefix: &[u8], point: &[u8]) -> Vec<u8> {
            let mut der = Vec::with_capacity(prefix.len() + point.len());
            der.extend_from_slice(prefix);
            der.extend_from_slice(point);
            der
        }
        Ok(match self {
            PublicKey::P256(k) => ec(P256_SPKI, k.to_encoded_point(false).as_bytes()),
            PublicKey::P384(k) => ec(P384_SPKI, k.to_encoded_point(false).as_bytes()),
            PublicKey::P521(k) => ec(P521_SPKI, k.to_encoded_point(false).as_bytes()),
            PublicKey::Rsa(k) => k
                .to_public_key_der()
                .map_err(|e| invalid_key(format!("RSA: {e}")))?
                .into_vec(),
        })
    }

    fn key_id(&self) -> Checked<KeyId> {
        Ok(KeyId::from_spki_der(&self.spki_der()?))
    }

    /// Checks a JWS signature (`r || s` for ECDSA) made with `alg` over
    /// the hash of `parts`.
    fn verify_jws(&self, alg: Alg, parts: &[&[u8]], signature: &[u8]) -> Checked<()> {
        let mismatch = || SignatureError::AlgorithmMismatch {
            alg: alg.name().to_owned(),
            key: self.kind(),
        };
        let fits = matches!(
            (self, alg),
            (PublicKey::P256(_), Alg::Es256)
                | (PublicKey::P384(_), Alg::Es384)
                | (PublicKey::P521(_), Alg::Es512)
                | (PublicKey::Rsa(_), Alg::Rs256 | Alg::Rs384 | Alg::Rs512)
        );
        if !fits {
            return Err(mismatch());
        }
        let expected = match self {
            PublicKey::P256(_) => 64,
            PublicKey::P384(_) => 96,
            PublicKey::P521(_) => 132,
            PublicKey::Rsa(k) => rsa::traits::PublicKeyParts::size(k),
        };
        if signature.len() != expected {
            return Err(SignatureError::SignatureLength {
                alg: alg.name(),
                expected,
                actual: signature.len(),
            });
        }
        let prehash = alg.hash().digest(parts);
        let bad = |_| SignatureError::BadSignature;
        match self {
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::P521(k) => {
                let sig = p521::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::Rsa(k) => pkcs1v15_verify(k, alg.hash(), &prehash, signature),
        }
    }

    /// Checks a certificate's signature (DER `(r, s)` for ECDSA) made with
    /// the X.509 algorithm `oid` over `tbs`.
    fn verify_x509(&self, oid: ObjectIdentifier, tbs: &[u8], signature: &[u8]) -> Checked<()> {
        let (hash, ecdsa) = match oid {
            o if o == OID_ECDSA_SHA256 => (Hash::Sha256, true),
            o if o == OID_ECDSA_SHA384 => (Hash::Sha384, true),
            o if o == OID_ECDSA_SHA512 => (Hash::Sha512, true),
            o if o == OID_RSA_SHA256 => (Hash::Sha256, false),
            o if o == OID_RSA_SHA384 => (Hash::Sha384, false),
            o if o == OID_RSA_SHA512 => (Hash::Sha512, false),
            other => {
                return Err(SignatureError::UnsupportedAlgorithm {
                    alg: format!("certificate signature algorithm {other}"),
                })
            }
        };
        if ecdsa == matches!(self, PublicKey::Rsa(_)) {
            return Err(SignatureError::AlgorithmMismatch {
                alg: format!("certificate signature algorithm {oid}"),
                key: self.kind(),
            });
        }
        let prehash = hash.digest(&[tbs]);
        let bad = |_| SignatureError::BadSignature;
        match self {
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::P521(k) => {
                let sig = p521::ecdsa::Signature::from_der(signature).map_err(bad)?;
                k.verify_prehash(&prehash, &sig).map_err(bad)
            }
            PublicKey::Rsa(k) => pkcs1v15_verify(k, hash, &prehash, signature),
        }
    }
}

fn pkcs1v15_verify(
    key: &rsa::RsaPublicKey,
    hash: Hash,
    prehash: &[u8],
    signature: &[u8],
) -> Checked<()> {
    let scheme = rsa::Pkcs1v15Sign {
        hash_len: Some(prehash.len()),
        prefix: hash.pkcs1_prefix().into(),
    };
    key.verify(scheme, prehash, signature)
        .map_err(|_| SignatureError::BadSignature)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The members of the unprotected header dockreg reads.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    x5c: Option<Vec<String>>,
}

/// Decodes a base64url field of at most `MAX_PARAM_CHARS` characters.
fn param(text: &str, field: &'static str, limit: usize) -> Checked<Vec<u8>> {
    if text.len() > limit {
        return Err(SignatureError::TooLarge {
            what: field,
            len: text.len(),
            limit,
            unit: "characters",
        });
    }
    base64url(text).map_err(|_| SignatureError::BadBase64 { field })
}

fn member<'a>(jwk: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> Checked<&'a str> {
    match jwk.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(SignatureError::MalformedHeader {
            reason: format!("jwk {name} is not a string"),
        }),
        None => Err(SignatureError::MalformedHeader {
            reason: format!("jwk has no {name}"),
        }),
    }
}

/// The key of a `jwk` header, checked against its `kid` when it has one.
fn jwk_key(jwk: &serde_json::Map<String, serde_json::Value>) -> Checked<(PublicKey, KeyId)> {
    let key = match member(jwk, "kty")? {
        "EC" => {
            let curve = member(jwk, "crv")?;
            let size = match curve {
                "P-256" => 32,
                "P-384" => 48,
                "P-521" => 66,
                other => {
                    return Err(SignatureError::UnsupportedKey {
                        reason: format!("EC curve {other:?}"),
                    })
                }
            };
            let x = param(member(jwk, "x")?, "jwk x", MAX_PARAM_CHARS)?;
            let y = param(member(jwk, "y")?, "jwk y", MAX_PARAM_CHARS)?;
            if x.len() != size || y.len() != size {
                return Err(invalid_key(format!(
                    "{curve} coordinates of {} and {} bytes, not {size}",
                    x.len(),
                    y.len()
                )));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::ec(curve, &point)?
        }
        "RSA" => {
            let n = param(member(jwk, "n")?, "jwk n", MAX_PARAM_CHARS)?;
            let e = param(member(jwk, "e")?, "jwk e", MAX_PARAM_CHARS)?;
            PublicKey::rsa(&n, &e)?
        }
        other => {
            return Err(SignatureError::UnsupportedKey {
                reason: format!("kty {other:?}"),
            })
        }
    };
    let id = key.key_id()?;
    if jwk.contains_key("kid") {
        let kid = member(jwk, "kid")?;
        if id != kid {
            return Err(SignatureError::KeyIdMismatch {
                kid: kid.to_owned(),
                actual: id,
            });
        }
    }
    Ok((key, id))
}

/// The leaf key of an `x5c` chain, with each certificate checked to be
/// signed by the next one.
fn chain_key(chain: &[String]) -> Checked<(PublicKey, KeyId)> {
    if chain.len() > MAX_CHAIN {
        return Err(SignatureError::TooLarge {
            what: "x5c chain",
            len: chain.len(),
            limit: MAX_CHAIN,
            unit: "certificates",
        });
    }
    let certificate = |index: usize, reason: String| SignatureError::Certificate { index, reason };
    let mut certs = Vec::with_capacity(chain.len());
    for (index, text) in chain.iter().enumerate() {
        if text.len() > MAX_CERT_CHARS {
            return Err(SignatureError::TooLarge {
                what: "x5c certificate",
                len: text.len(),
                limit: MAX_CERT_CHARS,
                unit: "characters",
            });
        }
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| SignatureError::BadBase64 { field: "x5c" })?;
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| certificate(index, format!("not a DER X.509 certificate: {e}")))?;
        certs.push(cert);
    }
    let Some(leaf) = certs.first() else {
        return Err(SignatureError::MissingKey);
    };
    let key = PublicKey::from_spki(&leaf.tbs_certificate.subject_public_key_info)?;
    for (index, pair) in certs.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            return Err(certificate(
                index,
                format!("its issuer is not the subject of certificate {}", index + 1),
            ));
        }
        let issuer_key = PublicKey::from_spki(&issuer.tbs_certificate.subject_public_key_info)
            .map_err(|e| certificate(index + 1, e.to_string()))?;
        let tbs = cert
            .tbs_certificate
            .to_der()
            .map_err(|e| certificate(index, format!("cannot re-encode: {e}")))?;
        let signature = cert
            .signature
            .as_bytes()
            .ok_or_else(|| certificate(index, "a signature of partial bytes".to_owned()))?;
        issuer_key
            .verify_x509(cert.signature_algorithm.oid, &tbs, signature)
            .map_err(|e| match e {
                SignatureError::BadSignature => {
                    certificate(index, format!("not signed by certificate {}", index + 1))
                }
                other => certificate(index, other.to_string()),
            })?;
    }
    let id = key.key_id()?;
    Ok((key, id))
}

/// Checks one signature over the base64url `payload`.
fn verify_one(payload: &str, sig: &Signature) -> Checked<KeyId> {
    let header: Header = serde_json::from_value(sig.header.clone()).map_err(|e| {
        SignatureError::MalformedHeader {
            reason: e.to_string(),
        }
    })?;
    let alg = Alg::parse(&header.alg)?;
    let from_chain = match header.x5c.as_deref() {
        Some(chain) if !chain.is_empty() => Some(chain_key(chain)?),
        _ => None,
    };
    let from_jwk = header.jwk.as_ref().map(jwk_key).transpose()?;
    let (key, id) = match (from_chain, from_jwk) {
        (Some((key, leaf)), Some((_, jwk))) => {
            if leaf != jwk {
                return Err(SignatureError::KeyMismatch { jwk, leaf });
            }
            (key, leaf)
        }
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => return Err(SignatureError::MissingKey),
    };
    let signature = param(&sig.signature, "signature", MAX_SIGNATURE_CHARS)?;
    key.verify_jws(
        alg,
        &[sig.protected.as_bytes(), b".", payload.as_bytes()],
        &signature,
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::media_type;

    const SIGNED: &[u8] = include_bytes!("../../tests/fixtures/schema1-signed.json");
    const CONVERTED: &[u8] = include_bytes!("../../tests/fixtures/schema1-converted.json");

    fn manifest(bytes: &[u8]) -> Manifest {
        Manifest::from_bytes(bytes.to_vec(), Some(media_type::DOCKER_MANIFEST_V1_SIGNED)).unwrap()
    }

    fn reason(err: Error) -> (Option<usize>, SignatureError) {
        match err {
            Error::Signature { index, source } => (index, source),
            other => panic!("not a signature error: {other}"),
        }
    }

    #[test]
    fn the_fixtures_verify_and_name_their_kid() {
        let ids = manifest(SIGNED).verify_signatures().unwrap();
        assert_eq!(
            ids,
            ["PPFM:7V34:TZII:P6J7:CEU7:BG3D:VD6Y:S7JA:52SU:ROUJ:SEAW:RZP4"]
        );
        let m = manifest(CONVERTED);
        let ids = m.verify_signatures().unwrap();
        let ManifestBody::Schema1 { manifest: s1, .. } = m.body() else {
            unreachable!()
        };
        assert_eq!(ids.len(), s1.signatures.len());
        assert_eq!(
            ids[0],
            s1.signatures[0].header["jwk"]["kid"].as_str().unwrap()
        );
    }

    #[test]
    fn key_ids_are_twelve_groups_of_four() {
        let id = KeyId::from_spki_der(b"dockreg");
        let groups: Vec<&str> = id.as_str().split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 4
            && g.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))));
        assert_eq!(id.to_string(), id.as_str());
    }

    #[test]
    fn other_manifests_are_not_signed() {
        let unsigned = br#"{"schemaVersion":1,"name":"a","tag":"t","fsLayers":[],"history":[]}"#;
        let m =
            Manifest::from_bytes(unsigned.to_vec(), Some(media_type::DOCKER_MANIFEST_V1)).unwrap();
        let (index, why) = reason(m.verify_signatures().unwrap_err());
        assert_eq!(index, None);
        assert!(matches!(why, SignatureError::NotSigned { .. }), "{why}");
    }

    /// The fixture with its one signature's header replaced.
    fn with_header(header: serde_json::Value) -> SignatureError {
        let m = manifest(SIGNED);
        let ManifestBody::Schema1 { manifest: s1, .. } = m.body() else {
            unreachable!()
        };
        let mut sig = s1.signatures[0].clone();
        sig.header = header;
        let (index, why) = reason(verify_all(&m.canonical_bytes().unwrap(), &[sig]).unwrap_err());
        assert_eq!(index, Some(0));
        why
    }

    #[test]
    fn hostile_headers_are_typed_errors() {
        let m: serde_json::Value = serde_json::from_slice(SIGNED).unwrap();
        let header = &m["signatures"][0]["header"];
        let alg = |a: serde_json::Value| {
            let mut h = header.clone();
            h["alg"] = a;
            with_header(h)
        };
        for a in ["none", "HS256", "PS256", "", "es256"] {
            assert!(
                matches!(alg(a.into()), SignatureError::UnsupportedAlgorithm { .. }),
                "{a}"
            );
        }
        for a in ["ES384", "ES512", "RS256"] {
            assert!(
                matches!(alg(a.into()), SignatureError::AlgorithmMismatch { .. }),
                "{a}"
            );
        }
        assert!(matches!(
            alg(serde_json::json!(1)),
            SignatureError::MalformedHeader { .. }
        ));
        let jwk = |name: &str, value: serde_json::Value| {
            let mut h = header.clone();
            h["jwk"][name] = value;
            with_header(h)
        };
        assert!(matches!(
            jwk("kid", "AAAA:BBBB".into()),
            SignatureError::KeyIdMismatch { .. }
        ));
        assert!(matches!(
            jwk("kid", 7.into()),
            SignatureError::MalformedHeader { .. }
        ));
        assert!(matches!(
            jwk("x", "!!".into()),
            SignatureError::BadBase64 { .. }
        ));
        assert!(matches!(
            jwk("x", "AAAA".into()),
            SignatureError::InvalidKey { .. }
        ));
        assert!(matches!(
            jwk("y", "A".repeat(43).into()),
            SignatureError::InvalidKey { .. }
        ));
        assert!(matches!(
            jwk("crv", "P-192".into()),
            SignatureError::UnsupportedKey { .. }
        ));
        assert!(matches!(
            jwk("kty", "oct".into()),
            SignatureError::UnsupportedKey { .. }
        ));
        assert!(matches!(
            with_header(serde_json::json!({"alg": "ES256"})),
            SignatureError::MissingKey
        ));
        assert!(matches!(
            with_header(serde_json::json!("ES256")),
            SignatureError::MalformedHeader { .. }
        ));
        let mut x5c = header.clone();
        x5c["x5c"] = serde_json::json!(["not base64!"]);
        assert!(matches!(with_header(x5c), SignatureError::BadBase64 { .. }));
        let mut x5c = header.clone();
        x5c["x5c"] = serde_json::json!(["AAAA"]);
        assert!(matches!(
            with_header(x5c),
            SignatureError::Certificate { index: 0, .. }
        ));
    }

    #[test]
    fn rsa_limits() {
        let mut big = vec![0xff; RSA_MAX_BITS / 8 + 1];
        assert!(matches!(
            PublicKey::rsa(&big, &[1, 0, 1]),
            Err(SignatureError::TooLarge { .. })
        ));
        big.truncate(1024 / 8);
        assert!(matches!(
            PublicKey::rsa(&big, &[1, 0, 1]),
            Err(SignatureError::WeakKey { bits: 1024 })
        ));
        big.resize(2048 / 8, 0xff);
        assert!(matches!(
            PublicKey::rsa(&big, &[1; 9]),
            Err(SignatureError::TooLarge { .. })
        ));
        assert!(matches!(
            PublicKey::rsa(&big, &[1]),
            Err(SignatureError::InvalidKey { .. })
        ));
        assert!(matches!(
            PublicKey::rsa(&[], &[]),
            Err(SignatureError::WeakKey { bits: 0 })
        ));
    }
}
