//! The bodies of `GET /v2/_catalog` and `GET /v2/<name>/tags/list`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::digest::Digest;

/// One page of the registry's repository catalog (`GET /v2/_catalog`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Catalog {
    /// Repository names, in the registry's (lexical) order. `null` reads as
    /// empty.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub repositories: Vec<String>,
}

impl Catalog {
    /// A catalog page with these repositories.
    pub fn new(repositories: Vec<String>) -> Catalog {
        Catalog { repositories }
    }
}

/// One page of a repository's tags (`GET /v2/<name>/tags/list`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TagList {
    /// The repository name.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub name: String,
    /// The tags, in the registry's order. Registries send `null` for a
    /// repository without tags; it reads as empty.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub tags: Vec<String>,
    /// What the page says of the manifests its tags name, beyond the spec:
    /// Google's registries (`gcr.io`, `*.pkg.dev`) send a `manifest` map
    /// of digest to media type, tags, size and times. Empty for every
    /// other registry. Read leniently: an entry that does not parse is
    /// left out, and a `manifest` that is no map reads as none, so that
    /// the tags themselves are never lost to it.
    #[serde(
        rename = "manifest",
        default,
        deserialize_with = "listed_manifests",
        serialize_with = "serialize_listed",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub manifests: Vec<ListedManifest>,
}

impl TagList {
    /// A tag list page for repository `name`.
    pub fn new(name: impl Into<String>, tags: Vec<String>) -> TagList {
        TagList {
            name: name.into(),
            tags,
            manifests: Vec::new(),
        }
    }
}

/// One entry of a tag listing's `manifest` map ([`TagList::manifests`]):
/// what the registry recorded of a manifest when it was pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedManifest {
    /// The manifest's digest (the map's key).
    pub digest: Digest,
    /// Its media type (`mediaType`), when given.
    pub media_type: Option<String>,
    /// The tags naming it (`tag`).
    pub tags: Vec<String>,
    /// The image's size in bytes as the registry counts it
    /// (`imageSizeBytes`), when given.
    pub size: Option<u64>,
    /// When the image was created, in milliseconds since the epoch
    /// (`timeCreatedMs`): the config's `created` as the registry read it.
    /// `None` when missing, not a number, past the year 9999, or `0` (what
    /// these registries send when they know no date, as for an index).
    pub created_ms: Option<u64>,
    /// When the manifest was uploaded, in milliseconds since the epoch
    /// (`timeUploadedMs`); `None` as for [`created_ms`](Self::created_ms).
    pub uploaded_ms: Option<u64>,
}

impl ListedManifest {
    /// [`created_ms`](Self::created_ms) as a time.
    pub fn created(&self) -> Option<SystemTime> {
        self.created_ms.map(from_ms)
    }

    /// [`uploaded_ms`](Self::uploaded_ms) as a time.
    pub fn uploaded(&self) -> Option<SystemTime> {
        self.uploaded_ms.map(from_ms)
    }
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// `9999-12-31T23:59:59.999Z` in milliseconds: later times are no dates.
const MAX_MS: u64 = 253_402_300_799_999;

/// The longest media type kept from a listing.
const MAX_MEDIA_TYPE: usize = 255;

/// A count of milliseconds or bytes, sent as a string of digits (as Google
/// does) or as a JSON number.
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn millis(v: Option<&Value>) -> Option<u64> {
    number(v).filter(|ms| (1..=MAX_MS).contains(ms))
}

fn listed_manifests<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ListedManifest>, D::Error> {
    let Value::Object(map) = Value::deserialize(d)? else {
        return Ok(Vec::new());
    };
    let mut listed: Vec<ListedManifest> = map
        .iter()
        .filter_map(|(key, entry)| {
            let digest: Digest = key.parse().ok()?;
            let entry = entry.as_object()?;
            let tags = match entry.get("tag") {
                Some(Value::Array(tags)) => tags
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            Some(ListedManifest {
                digest,
                media_type: entry
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty() && m.len() <= MAX_MEDIA_TYPE)
                    .map(str::to_owned),
                tags,
                size: number(entry.get("imageSizeBytes")),
                created_ms: millis(entry.get("timeCreatedMs")),
                uploaded_ms: millis(entry.get("timeUploadedMs")),
            })
        })
        .collect();
    listed.sort_by(|a, b| a.digest.cmp(&b.digest));
    Ok(listed)
}

/// The `manifest` map back in Google's shape (numbers as strings; unknown
/// times as `"0"`).
fn serialize_listed<S: Serializer>(listed: &[ListedManifest], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(listed.len()))?;
    for m in listed {
        let mut entry = serde_json::Map::new();
        if let Some(size) = m.size {
            entry.insert("imageSizeBytes".into(), size.to_string().into());
        }
        if let Some(media_type) = &m.media_type {
            entry.insert("mediaType".into(), media_type.clone().into());
        }
        entry.insert("tag".into(), m.tags.clone().into());
        let ms = |t: Option<u64>| Value::from(t.unwrap_or(0).to_string());
        entry.insert("timeCreatedMs".into(), ms(m.created_ms));
        entry.insert("timeUploadedMs".into(), ms(m.uploaded_ms));
        map.serialize_entry(m.digest.as_str(), &entry)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_missing_read_as_empty() {
        let t: TagList = serde_json::from_str(r#"{"name":"library/alpine","tags":null}"#).unwrap();
        assert_eq!(t, TagList::new("library/alpine", Vec::new()));
        let t: TagList = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        assert!(t.tags.is_empty());
        let c: Catalog = serde_json::from_str(r#"{"repositories":null}"#).unwrap();
        assert!(c.repositories.is_empty());
        let c: Catalog = serde_json::from_str(r#"{}"#).unwrap();
        assert!(c.repositories.is_empty());
    }

    #[test]
    fn round_trips() {
        let t: TagList = serde_json::from_str(r#"{"name":"a/b","tags":["v1","latest"]}"#).unwrap();
        assert_eq!(t.tags, ["v1", "latest"]);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"name":"a/b","tags":["v1","latest"]}"#
        );
        let c = Catalog::new(vec!["a/b".into(), "c".into()]);
        let back: Catalog = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    const D1: &str = "sha256:400ee2ed939df769d4681023810d2e4fb9479b8401d97003c710d0e20f7c49c6";
    const D2: &str = "sha256:0918630c0b6662e639a4344637f882be14ac53d355859e2e440ae676e0fa8288";

    #[test]
    fn google_manifest_map_is_read() {
        let body = format!(
            r#"{{"child":[],"manifest":{{"{D1}":{{"imageSizeBytes":"763789","layerId":"",
            "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "tag":["another","latest"],"timeCreatedMs":"1595895577054",
            "timeUploadedMs":"1597767277119"}},
            "{D2}":{{"imageSizeBytes":"0","mediaType":"application/vnd.oci.image.index.v1+json",
            "tag":[],"timeCreatedMs":"0","timeUploadedMs":"1597767277120"}}}},
            "name":"p/busybox","tags":["another","latest"]}}"#
        );
        let t: TagList = serde_json::from_str(&body).unwrap();
        assert_eq!(t.tags, ["another", "latest"]);
        let [index, image] = &t.manifests[..] else {
            panic!("two entries: {:?}", t.manifests)
        };
        assert_eq!(image.digest.as_str(), D1);
        assert_eq!(image.tags, ["another", "latest"]);
        assert_eq!(image.size, Some(763_789));
        assert_eq!(image.created_ms, Some(1_595_895_577_054));
        assert_eq!(
            image.created(),
            Some(UNIX_EPOCH + Duration::from_millis(1_595_895_577_054))
        );
        assert_eq!(image.uploaded_ms, Some(1_597_767_277_119));
        // Google's "0" is no date.
        assert_eq!((index.digest.as_str(), index.created_ms), (D2, None));
        // Written back in the same shape, and read back the same.
        let back: TagList = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn a_hostile_manifest_map_loses_no_tag_and_no_entry_is_trusted_unparsed() {
        for manifest in [r#"[1,2]"#, r#""x""#, "null", "7", r#"{"sha256:zz":{}}"#] {
            let body = format!(r#"{{"name":"a","tags":["v1"],"manifest":{manifest}}}"#);
            let t: TagList = serde_json::from_str(&body).unwrap();
            assert_eq!((t.tags.len(), t.manifests.len()), (1, 0), "{manifest}");
        }
        let long = "a".repeat(300);
        let body = format!(
            r#"{{"name":"a","tags":["v1"],"manifest":{{
            "{D1}":{{"mediaType":"{long}","tag":["v1",7,null],"imageSizeBytes":"-1",
              "timeCreatedMs":"99999999999999999999","timeUploadedMs":"1e3"}},
            "{D2}":{{"imageSizeBytes":18446744073709551615,"timeCreatedMs":253402300800000,
              "timeUploadedMs":1000,"tag":"v1"}},
            "sha256:{short}":{{"tag":["v1"]}},
            "md5:whatever":{{"tag":["v1"]}}}}}}"#,
            short = "ab"
        );
        let t: TagList = serde_json::from_str(&body).unwrap();
        let [second, first] = &t.manifests[..] else {
            panic!("two entries: {:?}", t.manifests)
        };
        assert_eq!(first.digest.as_str(), D1);
        assert_eq!(first.media_type, None);
        assert_eq!(first.tags, ["v1"]);
        assert_eq!(
            (first.size, first.created_ms, first.uploaded_ms),
            (None, None, None)
        );
        assert_eq!(second.size, Some(u64::MAX));
        // Past the year 9999: no date; a JSON number is read as well.
        assert_eq!((second.created_ms, second.uploaded_ms), (None, Some(1000)));
        assert!(second.tags.is_empty());
    }
}
