//! The image configuration blob (Docker `container.image.v1` / OCI
//! `image.config.v1`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::models::descriptor::Platform;
use crate::models::time::parse_rfc3339;

/// An image configuration: what the config descriptor of an image manifest
/// points to. Fields this crate does not model are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImageConfig {
    /// When the image was created, as an RFC 3339 string (see
    /// [`ImageConfig::created_at`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who created the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The CPU architecture (`amd64`, `arm64`, ...).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub architecture: String,
    /// The operating system (`linux`, `windows`, ...).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub os: String,
    /// The operating system version (`os.version`).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// The CPU variant (`v7`, `v8`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The defaults of containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' uncompressed digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
    /// How each layer was made, oldest first (entries with `empty_layer` have
    /// no layer of their own).
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// An empty configuration for `os` and `architecture`.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> ImageConfig {
        ImageConfig {
            os: os.into(),
            architecture: architecture.into(),
            ..ImageConfig::default()
        }
    }

    /// The creation time, when `created` is a valid RFC 3339 timestamp.
    /// Docker's zero time `0001-01-01T00:00:00Z` parses (to year 1).
    pub fn created_at(&self) -> Option<SystemTime> {
        self.created.as_deref().and_then(parse_rfc3339)
    }

    /// The image's platform (`os`, `architecture`, `variant`, `os.version`).
    pub fn platform(&self) -> Platform {
        let mut p = Platform::new(self.os.clone(), self.architecture.clone());
        p.variant = self.variant.clone();
        p.os_version = self.os_version.clone();
        p
    }
}

/// The defaults of containers run from an image, with docker's PascalCase
/// keys. Fields this crate does not model are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ContainerConfig {
    /// The user (`name`, `uid`, `uid:gid`, ...); empty for root.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// Ports to expose, as `port/protocol` (`8080/tcp`). Docker writes them as
    /// the keys of an object.
    #[serde(
        default,
        with = "set_as_object",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub exposed_ports: BTreeSet<String>,
    /// Environment variables, as `NAME=value`.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The entrypoint.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entrypoint: Vec<String>,
    /// The command, or the arguments of the entrypoint.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cmd: Vec<String>,
    /// Volumes, as paths. Docker writes them as the keys of an object.
    #[serde(
        default,
        with = "set_as_object",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub volumes: BTreeSet<String>,
    /// The working directory; empty for `/`.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops the container (`SIGTERM`); empty for the default.
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
}

impl ContainerConfig {
    /// An empty container configuration.
    pub fn new() -> ContainerConfig {
        ContainerConfig::default()
    }
}

/// The layers of an image by their uncompressed digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RootFs {
    /// Always `layers`.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub r#type: String,
    /// The digests of the uncompressed layers, base layer first.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub diff_ids: Vec<Digest>,
}

impl RootFs {
    /// A `layers` root file system with these diff ids.
    pub fn new(diff_ids: Vec<Digest>) -> RootFs {
        RootFs {
            r#type: "layers".to_owned(),
            diff_ids,
        }
    }
}

/// How one layer of an image was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct History {
    /// When, as an RFC 3339 string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A free comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether this step made no layer (it has no entry in `rootfs.diff_ids`).
    #[serde(
        default,
        deserialize_with = "crate::models::null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub empty_layer: bool,
}

impl History {
    /// A history entry for a step made by `created_by`.
    pub fn new(created_by: impl Into<String>) -> History {
        History {
            created_by: Some(created_by.into()),
            ..History::default()
        }
    }

    /// The creation time, when `created` is a valid RFC 3339 timestamp.
    pub fn created_at(&self) -> Option<SystemTime> {
        self.created.as_deref().and_then(parse_rfc3339)
    }
}

/// Docker's `{"key": {}}` encoding of a set (`ExposedPorts`, `Volumes`);
/// `null` reads as empty.
mod set_as_object {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::de::IgnoredAny;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(serde::Serialize)]
    struct Empty {}

    pub fn serialize<S: Serializer>(set: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(set.len()))?;
        for key in set {
            map.serialize_entry(key, &Empty {})?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
        let map = Option::<BTreeMap<String, IgnoredAny>>::deserialize(d)?;
        Ok(map.unwrap_or_default().into_keys().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &[u8] = include_bytes!("../../tests/fixtures/image-config.json");

    #[test]
    fn decodes_the_fixture() {
        let c: ImageConfig = serde_json::from_slice(CONFIG).unwrap();
        assert_eq!(c.architecture, "amd64");
        assert_eq!(c.os, "linux");
        assert_eq!(c.author.as_deref(), Some("dockreg tests"));
        assert_eq!(c.platform().to_string(), "linux/amd64");
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user, "1000:1000");
        assert_eq!(cc.env, ["PATH=/usr/bin:/bin"]);
        assert_eq!(cc.entrypoint, ["/bin/env"]);
        assert_eq!(cc.cmd, ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(cc.working_dir, "/work");
        assert_eq!(cc.labels["org.example.name"], "fixture");
        assert!(cc.exposed_ports.contains("8080/tcp"));
        assert!(cc.volumes.contains("/data"));
        assert_eq!(cc.stop_signal, "SIGTERM");
        let rootfs = c.rootfs.as_ref().unwrap();
        assert_eq!(rootfs.r#type, "layers");
        assert_eq!(rootfs.diff_ids.len(), 2);
        assert_eq!(c.history.len(), 3);
        assert_eq!(c.history[2].comment.as_deref(), Some("fixture"));
        assert!(c.history[2].empty_layer && !c.history[0].empty_layer);
        assert_eq!(c.history[0].created_by.as_deref(), Some("umoci insert"));
        let t = c.created_at().unwrap();
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap();
        assert_eq!(
            (secs.as_secs(), secs.subsec_nanos()),
            (1_795_454_351, 370_534_263)
        );
        assert!(c.history[0].created_at().unwrap() > t);
    }

    #[test]
    fn round_trips_and_tolerates_nulls() {
        let c: ImageConfig = serde_json::from_slice(CONFIG).unwrap();
        let again: ImageConfig = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(again, c);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["config"]["ExposedPorts"],
            serde_json::json!({"8080/tcp": {}})
        );

        let c: ImageConfig = serde_json::from_str(
            r#"{"architecture":"arm64","os":"linux","created":"0001-01-01T00:00:00Z",
                "config":{"Env":null,"Cmd":null,"Entrypoint":null,"ExposedPorts":null,"Volumes":null,"Labels":null,
                          "User":"","Hostname":"ignored","OnBuild":null},
                "history":null,"rootfs":{"type":"layers","diff_ids":null},"container":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(c.config, Some(ContainerConfig::new()));
        assert!(c.history.is_empty());
        assert_eq!(c.rootfs, Some(RootFs::new(Vec::new())));
        #[cfg(unix)]
        assert!(c.created_at().unwrap() < std::time::UNIX_EPOCH);
        assert_eq!(
            serde_json::to_string(&ImageConfig::new("linux", "amd64")).unwrap(),
            r#"{"architecture":"amd64","os":"linux"}"#
        );
    }
}
