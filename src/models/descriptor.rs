//! Content descriptors and the platforms of index entries.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::Result;

/// The platform an image runs on: an entry of a manifest list or OCI index
/// carries one, and the image configuration names its own.
///
/// ```
/// use dockreg::models::Platform;
/// let p: Platform = "linux/arm64/v8".parse()?;
/// assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
/// assert_eq!(p.to_string(), "linux/arm64/v8");
/// assert!(Platform::new("linux", "arm64").matches(&p));
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Platform {
    /// The CPU architecture, in Go's `GOARCH` spelling (`amd64`, `arm64`, `arm`,
    /// `ppc64le`, ...).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub architecture: String,
    /// The operating system, in Go's `GOOS` spelling (`linux`, `windows`, ...).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub os: String,
    /// The operating system version (`os.version`), for example `10.0.14393.1066`.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required operating system features (`os.features`), for example `win32k`.
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// The CPU variant (`v7` for `arm`, `v8` for `arm64`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Required CPU features (`sse4`, `aes`, ...).
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub features: Vec<String>,
}

impl Platform {
    /// A platform from an operating system and an architecture (note the
    /// order: `os` first, as in `linux/amd64`).
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Platform {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            ..Platform::default()
        }
    }

    /// The same platform with a CPU variant.
    pub fn with_variant(mut self, variant: impl Into<String>) -> Platform {
        self.variant = Some(variant.into());
        self
    }

    /// The platform this program runs on, in Go's spelling (`x86_64` is
    /// `amd64`, `aarch64` is `arm64`, `macos` is `darwin`, ...). No variant.
    pub fn current() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc" => "ppc",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "mips" if cfg!(target_endian = "little") => "mipsle",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "loongarch64" => "loong64",
            "sparc64" => "sparc64",
            other => other, // s390x, riscv64, mips, mips64, wasm32, ...
        };
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other, // linux, windows, freebsd, netbsd, openbsd, ...
        };
        Platform::new(os, arch)
    }

    /// Whether this platform (an index entry's) satisfies `wanted`.
    ///
    /// The operating system and architecture must be equal. When `wanted`
    /// names a variant, ours must be the same, where a missing variant means
    /// `v8` for `arm64` and `v7` for `arm` (so `linux/arm64` matches a wanted
    /// `linux/arm64/v8`). When `wanted` has no variant, any variant matches.
    /// Versions and features are not compared.
    pub fn matches(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || self.architecture != wanted.architecture {
            return false;
        }
        match wanted.variant.as_deref() {
            None => true,
            Some(want) => {
                let ours = self
                    .variant
                    .as_deref()
                    .or_else(|| default_variant(&self.architecture));
                ours == Some(want)
            }
        }
    }
}

/// The variant a platform without one is taken to have.
fn default_variant(architecture: &str) -> Option<&'static str> {
    match architecture {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    /// Parses `os/architecture[/variant]`, for example `linux/arm/v7`.
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(Error::invalid(
                "platform",
                s,
                "expected OS/ARCHITECTURE[/VARIANT], for example linux/amd64 or linux/arm/v7",
            ));
        }
        if let Some(bad) = parts
            .iter()
            .find(|p| p.is_empty() || p.chars().any(|c| c.is_whitespace()))
        {
            return Err(Error::invalid(
                "platform",
                s,
                if bad.is_empty() {
                    "a part is empty".to_owned()
                } else {
                    format!("{bad:?} contains white space")
                },
            ));
        }
        let mut p = Platform::new(parts[0], parts[1]);
        p.variant = parts.get(2).map(|v| (*v).to_owned());
        Ok(p)
    }
}

/// A reference to content by media type, digest and size: the config and
/// layers of an image manifest, the entries of an index, a subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub media_type: String,
    /// The digest of the referenced content.
    pub digest: Digest,
    /// The size of the referenced content in bytes.
    pub size: u64,
    /// URLs the content may also be fetched from (foreign layers). Content
    /// fetched there must still be verified against `digest` and `size`.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    /// Arbitrary metadata.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// The platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type of the referenced manifest (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The content itself, base64-encoded, when it is embedded (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor of `size` bytes of `media_type` content with `digest`.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
            data: None,
        }
    }

    /// A descriptor of `bytes`, computing their SHA-256 digest and size.
    pub fn for_bytes(media_type: impl Into<String>, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::sha256(bytes), bytes.len() as u64)
    }

    /// The same descriptor with a platform (for an index entry).
    pub fn with_platform(mut self, platform: Platform) -> Descriptor {
        self.platform = Some(platform);
        self
    }

    /// The same descriptor with one more annotation.
    pub fn with_annotation(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Descriptor {
        self.annotations.insert(key.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parses_and_displays() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p, Platform::new("linux", "arm").with_variant("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        let p: Platform = "windows/amd64".parse().unwrap();
        assert_eq!(p.variant, None);
        assert_eq!(p.to_string(), "windows/amd64");
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/arm/v7/x",
            "linux/ amd64",
            "linux//v7",
        ] {
            let err = bad.parse::<Platform>().unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Invalid {
                        what: "platform",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn platform_matching_normalises_arm_variants() {
        let p = |s: &str| s.parse::<Platform>().unwrap();
        assert!(p("linux/amd64").matches(&p("linux/amd64")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
        assert!(!p("linux/amd64").matches(&p("linux/arm64")));
        // A wanted platform without variant takes any variant.
        assert!(p("linux/arm/v6").matches(&p("linux/arm")));
        assert!(p("linux/arm64/v8").matches(&p("linux/arm64")));
        // Missing variants default to v8 (arm64) and v7 (arm).
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(!p("linux/arm64").matches(&p("linux/arm64/v9")));
        assert!(p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm").matches(&p("linux/arm/v6")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").matches(&p("linux/amd64/v2")));
        assert!(p("linux/amd64/v2").matches(&p("linux/amd64/v2")));
    }

    #[test]
    fn current_platform_uses_go_names() {
        let p = Platform::current();
        assert!(!p.os.is_empty() && !p.architecture.is_empty());
        assert_ne!(p.architecture, "x86_64");
        assert_ne!(p.architecture, "aarch64");
        assert_ne!(p.os, "macos");
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!(p.to_string(), "linux/amd64");
    }

    #[test]
    fn platform_json_uses_dotted_keys() {
        let p: Platform = serde_json::from_str(
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"],"features":null,"variant":null}"#,
        )
        .unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.17763.1"));
        assert_eq!(p.os_features, ["win32k"]);
        assert!(p.features.is_empty() && p.variant.is_none());
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"]}"#
        );
    }

    #[test]
    fn descriptor_serializes_cleanly() {
        let d = Descriptor::for_bytes("application/vnd.oci.empty.v1+json", b"{}");
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#
        );
        let back: Descriptor = serde_json::from_str(
            r#"{"mediaType":"x","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"urls":null,"annotations":null,"platform":null}"#,
        )
        .unwrap();
        assert!(back.urls.is_empty() && back.annotations.is_empty() && back.platform.is_none());
        assert!(serde_json::from_str::<Descriptor>(
            r#"{"mediaType":"x","digest":"sha256:nothex","size":2}"#
        )
        .is_err());
    }
}
