//! The bodies of `GET /v2/_catalog` and `GET /v2/<name>/tags/list`.

use serde::{Deserialize, Serialize};

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
}

impl TagList {
    /// A tag list page for repository `name`.
    pub fn new(name: impl Into<String>, tags: Vec<String>) -> TagList {
        TagList {
            name: name.into(),
            tags,
        }
    }
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
}
