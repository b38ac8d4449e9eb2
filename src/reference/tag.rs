//! [`Tag`] and [`TagOrDigest`]: what follows a repository name.

use super::*;

// ---------------------------------------------------------------------------
// Tag
// ---------------------------------------------------------------------------

/// A validated tag, such as `latest` or `1.36-musl`.
///
/// The grammar is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: at most 128
/// characters, starting with a letter, digit or `_`.
///
/// ```
/// use dockreg::Tag;
/// let tag: Tag = "1.36-musl".parse()?;
/// assert_eq!(tag.as_str(), "1.36-musl");
/// assert_eq!(Tag::latest().as_str(), "latest");
/// assert!(".hidden".parse::<Tag>().is_err());
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub(super) String);

impl Tag {
    /// The `latest` tag, which a reference without tag or digest means.
    pub fn latest() -> Tag {
        Tag("latest".to_owned())
    }

    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        check_tag(s).map_err(|r| Error::invalid("tag", s, r))?;
        Ok(Tag(s.to_owned()))
    }
}

impl TryFrom<String> for Tag {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        check_tag(&s).map_err(|r| Error::invalid("tag", &s, r))?;
        Ok(Tag(s))
    }
}

impl TryFrom<&str> for Tag {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        deserialize_validated(d)
    }
}

/// Checks the tag grammar; the error is the reason.
pub(super) fn check_tag(s: &str) -> std::result::Result<(), String> {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return Err("must not be empty".into());
    };
    if !(first.is_ascii_alphanumeric() || first == b'_') {
        return Err(if first == b'.' || first == b'-' {
            format!(
                "must start with a letter, digit or '_', not {:?}",
                first as char
            )
        } else {
            format!(
                "invalid character {:?} (allowed: A-Z, a-z, 0-9, '_', '.' and '-')",
                char_at(s, 0)
            )
        });
    }
    if let Some(i) = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')))
    {
        return Err(format!(
            "invalid character {:?} (allowed: A-Z, a-z, 0-9, '_', '.' and '-')",
            char_at(s, i)
        ));
    }
    if b.len() > TAG_MAX {
        return Err(format!(
            "over {TAG_MAX} characters ({} characters)",
            b.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// TagOrDigest
// ---------------------------------------------------------------------------

/// What the manifest endpoints take as "reference": a tag or a digest.
///
/// Parsing reads anything with a `:` as a [`Digest`] and anything else as a
/// [`Tag`] (a tag never contains `:`).
///
/// ```
/// use dockreg::TagOrDigest;
/// let t: TagOrDigest = "v1".parse()?;
/// assert_eq!(t.as_tag().map(|t| t.as_str()), Some("v1"));
/// let d: TagOrDigest =
///     "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse()?;
/// assert!(d.as_digest().is_some());
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagOrDigest {
    /// A tag (`latest`).
    Tag(Tag),
    /// A digest (`sha256:…`).
    Digest(Digest),
}

impl TagOrDigest {
    /// The tag or digest as a string.
    pub fn as_str(&self) -> &str {
        match self {
            TagOrDigest::Tag(t) => t.as_str(),
            TagOrDigest::Digest(d) => d.as_str(),
        }
    }

    /// The tag, if this is one.
    pub fn as_tag(&self) -> Option<&Tag> {
        match self {
            TagOrDigest::Tag(t) => Some(t),
            TagOrDigest::Digest(_) => None,
        }
    }

    /// The digest, if this is one.
    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            TagOrDigest::Tag(_) => None,
            TagOrDigest::Digest(d) => Some(d),
        }
    }
}

impl From<Tag> for TagOrDigest {
    fn from(t: Tag) -> Self {
        TagOrDigest::Tag(t)
    }
}

impl From<Digest> for TagOrDigest {
    fn from(d: Digest) -> Self {
        TagOrDigest::Digest(d)
    }
}

impl fmt::Display for TagOrDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for TagOrDigest {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for TagOrDigest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.contains(':') {
            Ok(TagOrDigest::Digest(s.parse()?))
        } else {
            s.parse().map(TagOrDigest::Tag)
        }
    }
}

impl TryFrom<String> for TagOrDigest {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        if s.contains(':') {
            Ok(TagOrDigest::Digest(Digest::try_from(s)?))
        } else {
            Tag::try_from(s).map(TagOrDigest::Tag)
        }
    }
}

impl TryFrom<&str> for TagOrDigest {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl Serialize for TagOrDigest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TagOrDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        deserialize_validated(d)
    }
}
