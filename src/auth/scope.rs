//! Token scopes: `repository:team/app:pull,push`, `registry:catalog:*`.

use std::collections::BTreeSet;
use std::fmt;

use crate::reference::RepositoryName;

/// One access scope of the token flow: a resource type, a name and actions.
///
/// ```
/// use dockreg::auth::Scope;
/// let s = Scope::pull(&"team/app".parse()?).with_action("push");
/// assert_eq!(s.to_string(), "repository:team/app:pull,push");
/// assert_eq!(Scope::catalog().to_string(), "registry:catalog:*");
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    resource_type: String,
    name: String,
    actions: BTreeSet<String>,
}

impl Scope {
    /// A scope of any resource type.
    pub fn new(
        resource_type: impl Into<String>,
        name: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Scope {
        Scope {
            resource_type: resource_type.into(),
            name: name.into(),
            actions: actions.into_iter().map(Into::into).collect(),
        }
    }

    /// `repository:NAME:pull`: reading manifests, tags and blobs.
    pub fn pull(name: &RepositoryName) -> Scope {
        Scope::new("repository", name.as_str(), ["pull"])
    }

    /// `repository:NAME:pull,push`: uploading (a push also reads).
    pub fn push(name: &RepositoryName) -> Scope {
        Scope::new("repository", name.as_str(), ["pull", "push"])
    }

    /// `repository:NAME:delete`: deleting manifests and blobs.
    pub fn delete(name: &RepositoryName) -> Scope {
        Scope::new("repository", name.as_str(), ["delete"])
    }

    /// `registry:catalog:*`: listing repositories.
    pub fn catalog() -> Scope {
        Scope::new("registry", "catalog", ["*"])
    }

    /// This scope with one more action.
    pub fn with_action(mut self, action: impl Into<String>) -> Scope {
        self.actions.insert(action.into());
        self
    }

    /// The resource type (`repository`, `registry`).
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The resource name (`team/app`, `catalog`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The actions, sorted.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(String::as_str)
    }

    /// Parses one scope (`type:name:actions`); the name may itself contain
    /// colons (`repository:host:5000/x:pull`). `None` when malformed.
    pub fn parse(s: &str) -> Option<Scope> {
        let (resource_type, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if resource_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope::new(
            resource_type,
            name,
            actions.split(',').filter(|a| !a.is_empty()),
        ))
    }

    /// Parses a space-separated list of scopes (a challenge's `scope`),
    /// skipping malformed entries.
    pub fn parse_list(s: &str) -> Vec<Scope> {
        s.split_whitespace().filter_map(Scope::parse).collect()
    }

    /// Merges scopes: actions on the same resource join into one scope; the
    /// result is sorted, so equal sets compare (and cache) equal.
    pub fn merge(scopes: impl IntoIterator<Item = Scope>) -> Vec<Scope> {
        let mut out: Vec<Scope> = Vec::new();
        for s in scopes {
            match out
                .iter_mut()
                .find(|o| o.resource_type == s.resource_type && o.name == s.name)
            {
                Some(o) => o.actions.extend(s.actions),
                None => out.push(s),
            }
        }
        out.sort();
        out
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.resource_type, self.name)?;
        for (i, a) in self.actions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(a)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let s = Scope::parse("repository:host:5000/team/app:push,pull").unwrap();
        assert_eq!(s.name(), "host:5000/team/app");
        assert_eq!(s.to_string(), "repository:host:5000/team/app:pull,push");
        assert!(Scope::parse("nonsense").is_none());
        assert!(Scope::parse(":x:pull").is_none());
        assert_eq!(
            Scope::parse_list("repository:a:pull  registry:catalog:* bad").len(),
            2
        );
    }

    #[test]
    fn merge_joins_actions_per_resource() {
        let a: RepositoryName = "a".parse().unwrap();
        let merged = Scope::merge([
            Scope::pull(&a),
            Scope::catalog(),
            Scope::delete(&a),
            Scope::parse("repository:a:push").unwrap(),
        ]);
        let shown: Vec<String> = merged.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["registry:catalog:*", "repository:a:delete,pull,push"]
        );
    }
}
