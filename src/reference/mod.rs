//! Repository names, tags and docker-style image references
//! (`[host[:port]/]name[:tag][@digest]`).
//!
//! Every type here is validated when it is built: a value of [`RepositoryName`],
//! [`Tag`], [`TagOrDigest`] or [`Reference`] always follows the grammar of the
//! Docker Registry HTTP API V2 / OCI Distribution Specification, and a refused
//! input comes back as [`Error::Invalid`] whose reason names the problem.
//!
//! The checks are hand-written scanners: they allocate nothing beyond the
//! owned strings of the values they build (and the message of an error).

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::error::Error;
use crate::Result;

/// The registry name of Docker Hub as it appears in references.
const DOCKER_HUB: &str = "docker.io";
/// The legacy name of Docker Hub, normalized to [`DOCKER_HUB`].
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The longest repository name, in characters.
const NAME_MAX: usize = 255;
/// The longest tag, in characters.
const TAG_MAX: usize = 128;

mod host;
mod name;
mod tag;

pub use host::parse_registry_host;
use host::*;
pub use name::RepositoryName;
use name::*;
#[allow(unused_imports)]
use tag::*;
pub use tag::{Tag, TagOrDigest};

// ---------------------------------------------------------------------------
// Reference
// ---------------------------------------------------------------------------

/// A docker-style image reference: `[host[:port]/]name[:tag][@digest]`.
///
/// Parsing follows docker's reference library:
///
/// * `@digest` is split off first;
/// * the first `/`-separated component is the registry host when it contains a
///   `.` or a `:`, is exactly `localhost`, holds an upper-case letter (an
///   intranet host without a dot: `LOCALDOMAIN/debian`), or is a bracketed
///   IPv6 literal (`[::1]:5000`); otherwise the registry is `docker.io`;
/// * a pasted digest alone (`sha256:<hex>`, or 64 hex digits) is refused
///   with a hint to write `NAME@sha256:<hex>`, rather than read as the
///   Docker Hub tag `library/sha256:<hex>`;
/// * a `:tag` can only follow the last `/` (so `foo:5000` is the repository
///   `foo` with tag `5000`, while `foo:5000/bar` is `bar` on host `foo:5000`);
/// * on Docker Hub a one-component name is an official image
///   (`busybox` → `docker.io/library/busybox`), and `index.docker.io` is
///   written `docker.io`.
///
/// The host may hold upper case; the repository may not. [`Display`] always
/// prints the registry, and parsing what it prints gives back an equal value.
///
/// ```
/// use dockreg::Reference;
/// let r: Reference = "busybox:1.36".parse()?;
/// assert_eq!(r.registry(), "docker.io");
/// assert_eq!(r.registry_host(), "registry-1.docker.io");
/// assert_eq!(r.repository().as_str(), "library/busybox");
/// assert_eq!(r.tag().map(|t| t.as_str()), Some("1.36"));
/// assert_eq!(r.to_string(), "docker.io/library/busybox:1.36");
///
/// let r: Reference = "127.0.0.1:5000/team/app".parse()?;
/// assert_eq!(r.registry_host(), "127.0.0.1:5000");
/// assert_eq!(r.target().as_str(), "latest");
/// # Ok::<(), dockreg::Error>(())
/// ```
///
/// [`Display`]: fmt::Display
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: RepositoryName,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl Reference {
    /// Builds a reference from its parts, validating the registry host.
    ///
    /// `registry` is `HOST[:PORT]` as it appears in a reference; it must be
    /// recognizable as a host when the reference is printed (contain a `.` or
    /// a `:port`, be `localhost`, hold an upper-case letter, or be a
    /// bracketed IPv6 literal), otherwise
    /// the printed reference would name a Docker Hub repository instead.
    /// The same normalization as parsing applies: `index.docker.io` becomes
    /// `docker.io`, and a one-component repository on Docker Hub gets the
    /// `library/` prefix.
    pub fn new(
        registry: &str,
        repository: RepositoryName,
        tag: Option<Tag>,
        digest: Option<Digest>,
    ) -> Result<Reference> {
        let err = |r: String| Error::invalid("registry host", registry, r);
        check_host(registry).map_err(err)?;
        let hub = is_docker_hub(registry);
        if !hub && !looks_like_host(registry) {
            return Err(err(format!(
                "a registry host needs a '.', a ':port', an upper-case letter, or to be \
                 localhost; otherwise \"{registry}/{repository}\" would name a Docker Hub repository"
            )));
        }
        let (registry, repository) = if hub {
            let repository = if repository.0.contains('/') {
                repository
            } else {
                let mut s = String::with_capacity(OFFICIAL_PREFIX.len() + repository.0.len());
                s.push_str(OFFICIAL_PREFIX);
                s.push_str(&repository.0);
                RepositoryName::try_from(s)?
            };
            (DOCKER_HUB.to_owned(), repository)
        } else {
            (registry.to_owned(), repository)
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry as written in the reference (`docker.io`,
    /// `127.0.0.1:5000`, `[::1]:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The `HOST[:PORT]` to connect to: `registry-1.docker.io` for Docker
    /// Hub, the registry itself otherwise.
    pub fn registry_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_HOST
        } else {
            &self.registry
        }
    }

    /// The repository name (`library/busybox`).
    pub fn repository(&self) -> &RepositoryName {
        &self.repository
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    /// The digest, if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to fetch the manifest by: the digest when there is one (it pins
    /// the content even when a tag is given too), else the tag, else `latest`.
    pub fn target(&self) -> TagOrDigest {
        match (&self.digest, &self.tag) {
            (Some(d), _) => TagOrDigest::Digest(d.clone()),
            (None, Some(t)) => TagOrDigest::Tag(t.clone()),
            (None, None) => TagOrDigest::Tag(Tag::latest()),
        }
    }

    /// The same reference with this tag (any digest is kept).
    pub fn with_tag(self, tag: Tag) -> Reference {
        Reference {
            tag: Some(tag),
            ..self
        }
    }

    /// The same reference with this digest (any tag is kept).
    pub fn with_digest(self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self
        }
    }

    /// The same reference without tag or digest (the repository alone).
    pub fn without_target(self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        parse_reference(s).map_err(|r| Error::invalid("reference", s, r))
    }
}

impl TryFrom<String> for Reference {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl TryFrom<&str> for Reference {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a reference; the error is the reason.
fn parse_reference(s: &str) -> std::result::Result<Reference, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        return Err(format!("must not contain whitespace (found {c:?})"));
    }

    let (rest, digest) = match s.split_once('@') {
        Some((rest, d)) => (rest, Some(d)),
        None => (s, None),
    };
    let digest = match digest {
        None => None,
        Some("") => return Err("empty digest after '@'".into()),
        Some(d) => Some(
            d.parse::<Digest>()
                .map_err(|e| format!("bad digest {d:?}: {}", e.reason))?,
        ),
    };
    if rest.is_empty() {
        return Err("no repository name before '@'".into());
    }
    if digest.is_none() && !rest.contains('/') {
        let bare_hex = rest.len() == 64 && rest.bytes().all(|c| c.is_ascii_hexdigit());
        if bare_hex || rest.parse::<Digest>().is_ok() {
            return Err(format!(
                "{rest:?} is a digest, not an image: write NAME@{}",
                if bare_hex {
                    format!("sha256:{rest}")
                } else {
                    rest.to_owned()
                }
            ));
        }
    }

    let (host, remainder) = split_registry(rest);
    if let Some(host) = host {
        check_host(host).map_err(|r| format!("bad registry host {host:?}: {r}"))?;
        if remainder.is_empty() {
            return Err("no repository name after the registry host".into());
        }
    }

    let last_start = remainder.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match remainder[last_start..].find(':') {
        Some(j) => (
            &remainder[..last_start + j],
            Some(&remainder[last_start + j + 1..]),
        ),
        None => (remainder, None),
    };
    if name.is_empty() {
        return Err("no repository name before the ':' tag".into());
    }
    let tag = match tag {
        None => None,
        Some("") => return Err("empty tag after ':'".into()),
        Some(t) => {
            check_tag(t).map_err(|r| format!("bad tag {t:?}: {r}"))?;
            Some(Tag(t.to_owned()))
        }
    };

    check_repository(name).map_err(|r| format!("bad repository name {name:?}: {r}"))?;

    let hub = host.is_none_or(is_docker_hub);
    let (registry, repository) = if hub {
        let repository = if name.contains('/') {
            name.to_owned()
        } else {
            if OFFICIAL_PREFIX.len() + name.len() > NAME_MAX {
                return Err(format!(
                    "bad repository name {:?}: longer than {NAME_MAX} characters \
                     once prefixed with {OFFICIAL_PREFIX:?} ({} characters)",
                    name,
                    OFFICIAL_PREFIX.len() + name.len()
                ));
            }
            let mut r = String::with_capacity(OFFICIAL_PREFIX.len() + name.len());
            r.push_str(OFFICIAL_PREFIX);
            r.push_str(name);
            r
        };
        (DOCKER_HUB.to_owned(), repository)
    } else {
        (host.unwrap_or_default().to_owned(), name.to_owned())
    };

    Ok(Reference {
        registry,
        repository: RepositoryName(repository),
        tag,
        digest,
    })
}

/// Deserializes a string and validates it through `TryFrom<String>`, without
/// copying an owned string.
fn deserialize_validated<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String, Error = Error> + FromStr<Err = Error>,
{
    match <Cow<'de, str>>::deserialize(d)? {
        Cow::Borrowed(s) => s.parse(),
        Cow::Owned(s) => T::try_from(s),
    }
    .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    /// Asserts an `Error::Invalid` with this `what` whose reason contains `needle`.
    fn assert_invalid<T: fmt::Debug>(r: Result<T>, what_: &str, needle: &str, input: &str) {
        match r {
            Err(Error::Invalid {
                what,
                input: got,
                reason,
            }) => {
                assert_eq!(what, what_, "{input:?}: {reason}");
                assert_eq!(got, input);
                assert!(
                    reason.contains(needle),
                    "{input:?}: reason {reason:?} should mention {needle:?}"
                );
            }
            other => panic!("{input:?}: expected Invalid, got {other:?}"),
        }
    }

    fn name_err(input: &str, needle: &str) {
        assert_invalid(
            input.parse::<RepositoryName>(),
            "repository name",
            needle,
            input,
        );
        assert_invalid(
            RepositoryName::try_from(input.to_owned()),
            "repository name",
            needle,
            input,
        );
    }

    fn tag_err(input: &str, needle: &str) {
        assert_invalid(input.parse::<Tag>(), "tag", needle, input);
        assert_invalid(Tag::try_from(input.to_owned()), "tag", needle, input);
    }

    fn ref_err(input: &str, needle: &str) {
        assert_invalid(input.parse::<Reference>(), "reference", needle, input);
    }

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn valid_repository_names() {
        let max = "a".repeat(255);
        let max_parts = format!("{}/{}", "a".repeat(127), "b".repeat(127));
        for ok in [
            "a",
            "0",
            "busybox",
            "library/busybox",
            "a/b/c/d/e",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a--b",
            "a---------b",
            "a.b_c__d-e--f",
            "1.2.3",
            "team/app-server_v2",
            max.as_str(),
            max_parts.as_str(),
        ] {
            let n: RepositoryName = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(n.as_str(), ok);
            assert_eq!(n.to_string(), ok);
            assert_eq!(AsRef::<str>::as_ref(&n), ok);
            assert_eq!(RepositoryName::try_from(ok.to_owned()).unwrap(), n);
        }
        let n: RepositoryName = "a/b.c/d".parse().unwrap();
        assert_eq!(n.components().collect::<Vec<_>>(), ["a", "b.c", "d"]);
    }

    #[test]
    fn invalid_repository_names() {
        name_err("", "must not be empty");
        name_err("A", "must be lower case");
        name_err("library/Busybox", "must be lower case");
        name_err("a..b", "`..` is not allowed");
        name_err("a___b", "`___` is not allowed");
        name_err("a._b", "`._` is not allowed");
        name_err("a-_b", "`-_` is not allowed");
        name_err("-a", "component must start and end with a letter or digit");
        name_err("a-", "component must start and end with a letter or digit");
        name_err(
            "a/.b/c",
            "component must start and end with a letter or digit",
        );
        name_err(
            "a/b_",
            "component must start and end with a letter or digit",
        );
        name_err("_", "component must start and end with a letter or digit");
        name_err("a/", "empty path component");
        name_err("/a", "empty path component");
        name_err("a//b", "empty path component");
        name_err("/", "empty path component");
        name_err("a!b", "invalid character '!'");
        name_err("a b", "invalid character ' '");
        name_err("a:b", "invalid character ':'");
        name_err("café", "invalid character 'é'");
        name_err(&"a".repeat(256), "longer than 255 characters");
        name_err(
            &format!("{}/{}", "a".repeat(128), "b".repeat(127)),
            "longer than 255",
        );
    }

    #[test]
    fn tags() {
        let max = "x".repeat(128);
        for ok in [
            "latest",
            "1.36",
            "_x",
            "V1.2-rc.3_b",
            "0",
            "a--b..c",
            max.as_str(),
        ] {
            let t: Tag = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(t.as_str(), ok);
            assert_eq!(t.to_string(), ok);
            assert_eq!(Tag::try_from(ok.to_owned()).unwrap(), t);
        }
        assert_eq!(Tag::latest().as_str(), "latest");
        tag_err("", "must not be empty");
        tag_err(&"x".repeat(129), "over 128 characters");
        tag_err(".x", "must start with a letter, digit or '_', not '.'");
        tag_err("-x", "must start with a letter, digit or '_', not '-'");
        tag_err("a:b", "invalid character ':'");
        tag_err("a/b", "invalid character '/'");
        tag_err("!a", "invalid character '!'");
        tag_err("vé", "invalid character 'é'");
    }

    #[test]
    fn tag_or_digest() {
        let t: TagOrDigest = "v1".parse().unwrap();
        assert_eq!(t, TagOrDigest::Tag("v1".parse().unwrap()));
        assert_eq!(t.as_str(), "v1");
        assert_eq!(t.to_string(), "v1");
        assert!(t.as_digest().is_none());
        assert_eq!(t.as_tag().unwrap().as_str(), "v1");

        let d: TagOrDigest = D.parse().unwrap();
        assert_eq!(d, TagOrDigest::from(D.parse::<Digest>().unwrap()));
        assert_eq!(d.as_str(), D);
        assert!(d.as_tag().is_none());
        assert_eq!(d.as_digest().unwrap().as_str(), D);
        assert_eq!(TagOrDigest::try_from(D.to_owned()).unwrap(), d);
        assert_eq!(TagOrDigest::from(Tag::latest()).as_str(), "latest");

        assert!(matches!(
            "sha256:abc".parse::<TagOrDigest>(),
            Err(Error::Invalid { what: "digest", .. })
        ));
        assert!(matches!(
            ".x".parse::<TagOrDigest>(),
            Err(Error::Invalid { what: "tag", .. })
        ));
    }

    #[test]
    fn references() {
        let r = parse("busybox");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.registry_host(), "registry-1.docker.io");
        assert_eq!(r.repository().as_str(), "library/busybox");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), None);
        assert_eq!(r.target(), TagOrDigest::Tag(Tag::latest()));
        assert_eq!(r.to_string(), "docker.io/library/busybox");

        let r = parse("busybox:1.36");
        assert_eq!(r.repository().as_str(), "library/busybox");
        assert_eq!(r.tag().unwrap().as_str(), "1.36");
        assert_eq!(r.target().as_str(), "1.36");

        let r = parse(&format!("library/busybox@{D}"));
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository().as_str(), "library/busybox");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().as_str(), D);
        assert_eq!(r.target().as_digest().unwrap().as_str(), D);

        let r = parse("localhost/foo");
        assert_eq!(r.registry(), "localhost");
        assert_eq!(r.registry_host(), "localhost");
        assert_eq!(r.repository().as_str(), "foo");

        let r = parse(&format!("localhost:5000/foo/bar:v1@{D}"));
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository().as_str(), "foo/bar");
        assert_eq!(r.tag().unwrap().as_str(), "v1");
        assert_eq!(r.digest().unwrap().as_str(), D);
        assert_eq!(r.target().as_str(), D, "the digest wins over the tag");

        let r = parse("127.0.0.1:5000/team/app");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.registry_host(), "127.0.0.1:5000");
        assert_eq!(r.repository().as_str(), "team/app");
        assert_eq!(r.tag(), None);

        let r = parse("registry.example.com/a/b/c:tag");
        assert_eq!(r.registry(), "registry.example.com");
        assert_eq!(r.repository().as_str(), "a/b/c");
        assert_eq!(r.tag().unwrap().as_str(), "tag");

        let r = parse("[::1]:5000/x:y");
        assert_eq!(r.registry(), "[::1]:5000");
        assert_eq!(r.repository().as_str(), "x");
        assert_eq!(r.tag().unwrap().as_str(), "y");

        // As in docker: with no '/', "foo:5000" is the name foo, tag 5000.
        let r = parse("foo:5000");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository().as_str(), "library/foo");
        assert_eq!(r.tag().unwrap().as_str(), "5000");
        let r = parse("foo:5000/bar");
        assert_eq!(r.registry(), "foo:5000");
        assert_eq!(r.repository().as_str(), "bar");

        // Docker Hub normalization.
        let r = parse("index.docker.io/busybox");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository().as_str(), "library/busybox");
        assert_eq!(parse("docker.io/busybox"), parse("busybox"));
        assert_eq!(parse("docker.io/library/busybox"), parse("busybox"));
        assert_eq!(parse("user/app").repository().as_str(), "user/app");
        assert_eq!(parse("user/app").registry(), "docker.io");
        // A one-component name elsewhere is not prefixed.
        assert_eq!(parse("example.com/app").repository().as_str(), "app");
        // Upper case is fine in the host.
        assert_eq!(
            parse("Registry.Example.com/app").registry(),
            "Registry.Example.com"
        );
        // An upper-case first component is an intranet host without a
        // dot, as docker reads it.
        let r = parse("LOCALDOMAIN/debian:12");
        assert_eq!(r.registry(), "LOCALDOMAIN");
        assert_eq!(r.repository().as_str(), "debian");
        assert_eq!(parse("Foo/bar").registry(), "Foo");
        assert_eq!(parse(&parse("Foo/bar").to_string()), parse("Foo/bar"));
        // A digest after a name is still a digest; a tag that merely looks
        // like an algorithm is still a tag.
        assert!(parse(
            "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
        .digest()
        .is_some());
        assert_eq!(parse("sha256:v1").tag().unwrap().as_str(), "v1");
        // "localhost" alone is a name, as in docker.
        assert_eq!(
            parse("localhost").repository().as_str(),
            "library/localhost"
        );
        assert_eq!(parse("localhost:5000").tag().unwrap().as_str(), "5000");
    }

    #[test]
    fn invalid_references() {
        ref_err("", "must not be empty");
        ref_err("a b", "whitespace");
        ref_err(" busybox", "whitespace");
        ref_err("busybox\n", "whitespace");
        // An upper-case first component is a host, as docker reads it.
        ref_err("Foo/Bar", "lower case");
        ref_err(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "write NAME@sha256:",
        );
        ref_err(
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "is a digest, not an image",
        );
        ref_err("example.com/Foo", "lower case");
        ref_err("Busybox", "lower case");
        ref_err("example.com:99999/x", "port 99999 is out of range");
        ref_err("example.com:0/x", "out of range");
        ref_err("example.com:5x/x", "not a number");
        ref_err("example.com:/x", "empty port");
        ref_err("example.com/", "no repository name after the registry host");
        ref_err(
            "localhost:5000/",
            "no repository name after the registry host",
        );
        ref_err("busybox:", "empty tag");
        ref_err("busybox:.x", "bad tag");
        ref_err("busybox:a:b", "bad tag");
        ref_err(
            &format!("busybox:{}", "x".repeat(129)),
            "over 128 characters",
        );
        ref_err("busybox@", "empty digest");
        ref_err("busybox@sha256:abc", "bad digest");
        ref_err("busybox@latest", "bad digest");
        ref_err(&format!("busybox@{D}@{D}"), "bad digest");
        ref_err(&format!("@{D}"), "no repository name");
        ref_err(":tag", "no repository name");
        ref_err("a..b", "`..` is not allowed");
        ref_err("/busybox", "empty path component");
        ref_err("a//b", "empty path component");
        ref_err("busybox/", "empty path component");
        ref_err("example.com/a:b/c", "invalid character ':'");
        ref_err("exa_mple.com/x", "bad registry host");
        ref_err("-example.com/x", "must not start or end with '-'");
        ref_err("example..com/x", "empty label");
        ref_err("[::1/x", "closing ']'");
        ref_err("[::g]:5000/x", "not an IPv6 address");
        ref_err("[::1]x/x", "after the IPv6 address");
        ref_err("a:b:c/x", "IPv6");
        ref_err("busybox!", "invalid character '!'");
        ref_err(&"a".repeat(256), "longer than 255");
        ref_err(&"a".repeat(250), "once prefixed");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "busybox",
            "busybox:1.36",
            "user/app",
            "docker.io/busybox",
            "index.docker.io/user/app:v1",
            "DOCKER.IO/busybox",
            "localhost/foo",
            "localhost:5000/foo/bar:v1",
            "127.0.0.1:5000/team/app",
            "registry.example.com/a/b/c:tag",
            "Registry.Example.COM:443/a.b/c__d/e--f:V_1.2-3",
            "[::1]:5000/x:y",
            "[2001:db8::1]/x",
            "foo:5000",
            "foo:5000/bar",
            "localhost",
            "example.com",
        ] {
            for s in [s.to_owned(), format!("{s}@{D}")] {
                let r = parse(&s);
                let shown = r.to_string();
                let again = parse(&shown);
                assert_eq!(again, r, "{s} -> {shown}");
                assert_eq!(again.to_string(), shown);
                assert!(shown.starts_with(r.registry()));
            }
        }
        assert_eq!(
            parse(&format!("localhost:5000/foo/bar:v1@{D}")).to_string(),
            format!("localhost:5000/foo/bar:v1@{D}")
        );
    }

    #[test]
    fn builders() {
        let r = parse("busybox:1.36");
        let d: Digest = D.parse().unwrap();
        let pinned = r.clone().with_digest(d.clone());
        assert_eq!(pinned.tag().unwrap().as_str(), "1.36");
        assert_eq!(pinned.digest(), Some(&d));
        assert_eq!(pinned.target(), TagOrDigest::Digest(d.clone()));
        let bare = pinned.clone().without_target();
        assert_eq!(bare.tag(), None);
        assert_eq!(bare.digest(), None);
        assert_eq!(bare.to_string(), "docker.io/library/busybox");
        let tagged = bare.with_tag("edge".parse().unwrap());
        assert_eq!(tagged.to_string(), "docker.io/library/busybox:edge");

        let r = Reference::new(
            "127.0.0.1:5000",
            "team/app".parse().unwrap(),
            Some(Tag::latest()),
            Some(d.clone()),
        )
        .unwrap();
        assert_eq!(r, parse(&format!("127.0.0.1:5000/team/app:latest@{D}")));

        let r = Reference::new("index.docker.io", "busybox".parse().unwrap(), None, None).unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository().as_str(), "library/busybox");
        assert_eq!(r, parse("busybox"));

        let r = Reference::new("localhost", "x".parse().unwrap(), None, None).unwrap();
        assert_eq!(r.to_string(), "localhost/x");
        let r = Reference::new("[::1]", "x".parse().unwrap(), None, None).unwrap();
        assert_eq!(parse(&r.to_string()), r);

        assert_invalid(
            Reference::new("myhost", "x".parse().unwrap(), None, None),
            "registry host",
            "needs a '.'",
            "myhost",
        );
        assert_invalid(
            Reference::new("example.com:70000", "x".parse().unwrap(), None, None),
            "registry host",
            "out of range",
            "example.com:70000",
        );
        assert_invalid(
            Reference::new("", "x".parse().unwrap(), None, None),
            "registry host",
            "empty",
            "",
        );
    }

    #[test]
    fn registry_hosts() {
        for ok in [
            "localhost",
            "myregistry",
            "registry.example.com",
            "Registry.Example.com",
            "127.0.0.1:5000",
            "localhost:65535",
            "[::1]",
            "[::1]:5000",
            "[2001:db8::8a2e:370:7334]:443",
            "a-b.c-d:1",
        ] {
            assert_eq!(parse_registry_host(ok).unwrap(), ok);
        }
        let bad = |s: &str, needle: &str| {
            assert_invalid(parse_registry_host(s), "registry host", needle, s)
        };
        bad("", "must not be empty");
        bad("https://registry.example.com", "without a scheme");
        bad("http://localhost:5000", "\"http://\"");
        bad("registry.example.com/v2/", "without a path");
        bad("localhost:5000/foo", "\"/foo\"");
        bad("user:pass@example.com", "user info");
        bad("example.com:99999", "out of range");
        bad("example.com:123456", "out of range");
        bad("example.com:", "empty port");
        bad(":5000", "empty host name");
        bad("::1", "IPv6");
        bad("exa mple.com", "whitespace");
        bad("exa_mple.com", "invalid character '_'");
        bad("example.com.", "empty label");
        bad("example-.com", "must not start or end with '-'");
        bad("[::1", "closing ']'");
        bad("[1.2.3.4]:80", "not an IPv6 address");
    }

    #[test]
    fn serde_round_trip() {
        let n: RepositoryName = serde_json::from_str("\"library/busybox\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"library/busybox\"");
        assert!(serde_json::from_str::<RepositoryName>("\"Library\"").is_err());

        let t: Tag = serde_json::from_str("\"v1\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"v1\"");
        assert!(serde_json::from_str::<Tag>("\".v1\"").is_err());

        let td: TagOrDigest = serde_json::from_str(&format!("\"{D}\"")).unwrap();
        assert_eq!(td.as_digest().unwrap().as_str(), D);
        assert_eq!(serde_json::to_string(&td).unwrap(), format!("\"{D}\""));
        let td: TagOrDigest = serde_json::from_str("\"v1\"").unwrap();
        assert_eq!(td.as_tag(), Some(&t));

        let r: Reference = serde_json::from_str("\"busybox:1.36\"").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"docker.io/library/busybox:1.36\"");
        assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), r);
        let err = serde_json::from_str::<Reference>("\"foo/Bar\"").unwrap_err();
        assert!(err.to_string().contains("lower case"), "{err}");

        // Escaped strings arrive owned rather than borrowed.
        let n: RepositoryName = serde_json::from_str("\"a\\/b\"").unwrap();
        assert_eq!(n.as_str(), "a/b");
    }

    #[test]
    fn errors_display_what_and_input() {
        let e = "foo/Bar".parse::<Reference>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("invalid reference \"foo/Bar\": "), "{msg}");
    }
}
