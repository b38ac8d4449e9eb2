//! Content digests (`sha256:…`, `sha512:…`) and the verifiers that check
//! bytes against them while they stream.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// A digest (or algorithm) that does not follow the grammar
/// `ALGORITHM:HEX` with a supported algorithm (sha256, sha512) and its
/// number of lower-case hex digits. Converts into
/// [`Error::Invalid`](crate::Error::Invalid) with the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDigest {
    /// What was refused: `"digest"` or `"digest algorithm"`.
    pub what: &'static str,
    /// The input as it was given.
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

impl InvalidDigest {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> InvalidDigest {
        InvalidDigest {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.what, self.input, self.reason)
    }
}

impl std::error::Error for InvalidDigest {}

type Result<T, E = InvalidDigest> = std::result::Result<T, E>;

/// A digest algorithm that registries use to address content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, the algorithm every registry supports and the default.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears in a digest (`sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The number of hex characters of an encoded digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// A new incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = InvalidDigest;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            _ => Err(InvalidDigest::new(
                "digest algorithm",
                s,
                "supported algorithms are sha256 and sha512",
            )),
        }
    }
}

/// A validated content digest: `ALGORITHM:HEX`, for example
/// `sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae`.
///
/// The hex part is lower case and has the algorithm's length. Parsing refuses
/// anything else with [`InvalidDigest`] (an [`Error::Invalid`](crate::Error::Invalid) through
/// `?`), before any request is sent.
///
/// ```
/// let d: dockreg::Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse()?;
/// assert_eq!(d, dockreg::Digest::sha256(b"foo"));
/// assert!("sha256:ABC".parse::<dockreg::Digest>().is_err());
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    full: String,
}

impl Digest {
    /// Builds a digest from an algorithm and its hex encoding, validating both.
    pub fn new(algorithm: Algorithm, hex: &str) -> Result<Digest> {
        format!("{algorithm}:{hex}").parse()
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest::compute(Algorithm::Sha256, bytes)
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn compute(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(bytes);
        h.finish()
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part, after the colon.
    pub fn hex(&self) -> &str {
        &self.full[self.algorithm.as_str().len() + 1..]
    }

    /// The whole digest as a string (`sha256:…`).
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.full)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl FromStr for Digest {
    type Err = InvalidDigest;
    fn from_str(s: &str) -> Result<Self> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(InvalidDigest::new(
                "digest",
                s,
                "expected ALGORITHM:HEX, for example sha256:<64 hex digits>",
            ));
        };
        let algorithm: Algorithm = alg.parse().map_err(|_| {
            InvalidDigest::new(
                "digest",
                s,
                format!("unsupported algorithm {alg:?} (sha256 and sha512 are)"),
            )
        })?;
        if hex.len() != algorithm.hex_len() {
            return Err(InvalidDigest::new(
                "digest",
                s,
                format!(
                    "a {algorithm} digest has {} hex digits, this one has {}",
                    algorithm.hex_len(),
                    hex.len()
                ),
            ));
        }
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(InvalidDigest::new(
                "digest",
                s,
                format!("{c:?} is not a lower-case hex digit"),
            ));
        }
        Ok(Digest {
            algorithm,
            full: s.to_owned(),
        })
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidDigest;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher producing a [`Digest`].
#[derive(Clone)]
pub struct Hasher(HasherInner);

#[derive(Clone)]
enum HasherInner {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        Hasher(match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        })
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            HasherInner::Sha256(_) => Algorithm::Sha256,
            HasherInner::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds bytes to the hasher.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            HasherInner::Sha256(h) => h.update(bytes),
            HasherInner::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, raw) = match self.0 {
            HasherInner::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            HasherInner::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut full = String::with_capacity(algorithm.as_str().len() + 1 + raw.len() * 2);
        full.push_str(algorithm.as_str());
        full.push(':');
        for b in raw {
            full.push(HEX[(b >> 4) as usize] as char);
            full.push(HEX[(b & 15) as usize] as char);
        }
        Digest { algorithm, full }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.0 {
            HasherInner::Sha256(_) => Algorithm::Sha256,
            HasherInner::Sha512(_) => Algorithm::Sha512,
        };
        f.debug_tuple("Hasher").field(&alg).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOO: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn computes_known_digests() {
        assert_eq!(Digest::sha256(b"foo").as_str(), FOO);
        let d = Digest::compute(Algorithm::Sha512, b"");
        assert_eq!(d.hex().len(), 128);
        assert!(d.as_str().starts_with("sha512:cf83e1357eefb8bd"));
    }

    #[test]
    fn parses_and_refuses() {
        let d: Digest = FOO.parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.to_string(), FOO);
        for bad in [
            "",
            "sha256",
            "sha256:",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            &FOO.to_uppercase(),
            &FOO.replace("sha256:2c", "sha256:2C"),
            &FOO[..FOO.len() - 1],
            &format!("{FOO}0"),
            &FOO.replace("sha256:2c", "sha256:2g"),
        ] {
            let err = bad.parse::<Digest>().unwrap_err();
            assert!(
                matches!(
                    err,
                    InvalidDigest {
                        what: "digest" | "digest algorithm",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let d: Digest = serde_json::from_str(&format!("\"{FOO}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{FOO}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    }
}
