//! [`RepositoryName`]: a repository's path, checked against the distribution grammar.

use super::*;

// ---------------------------------------------------------------------------
// RepositoryName
// ---------------------------------------------------------------------------

/// A validated repository name, such as `library/busybox` or `team/app`.
///
/// The name is one or more path components separated by `/`. Each component
/// is runs of lower-case letters and digits joined by exactly one `.`, one
/// `_`, two `__`, or any number of `-`:
/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`. The whole name is at most 255
/// characters. The name holds no registry host: see [`Reference`] for that.
///
/// ```
/// use dockreg::RepositoryName;
/// let name: RepositoryName = "library/busybox".parse()?;
/// assert_eq!(name.as_str(), "library/busybox");
/// assert!("Library/busybox".parse::<RepositoryName>().is_err());
/// assert!("a..b".parse::<RepositoryName>().is_err());
/// # Ok::<(), dockreg::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(pub(super) String);

impl RepositoryName {
    /// The name as a string (`library/busybox`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated path components of the name, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split('/')
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for RepositoryName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        check_repository(s).map_err(|r| Error::invalid("repository name", s, r))?;
        Ok(RepositoryName(s.to_owned()))
    }
}

impl TryFrom<String> for RepositoryName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        check_repository(&s).map_err(|r| Error::invalid("repository name", &s, r))?;
        Ok(RepositoryName(s))
    }
}

impl TryFrom<&str> for RepositoryName {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl Serialize for RepositoryName {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepositoryName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        deserialize_validated(d)
    }
}

/// Checks the repository-name grammar; the error is the reason.
pub(super) fn check_repository(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    let b = s.as_bytes();
    let mut comp_start = 0;
    // Start of the run of separator characters being read, if any.
    let mut sep_start: Option<usize> = None;
    // One step past the end: a virtual '/' closes the last component.
    for i in 0..=b.len() {
        let c = if i < b.len() { b[i] } else { b'/' };
        match c {
            b'a'..=b'z' | b'0'..=b'9' => {
                if let Some(st) = sep_start.take() {
                    if st == comp_start {
                        return Err(edge_error(&s[comp_start..component_end(s, i)]));
                    }
                    check_separator(&s[st..i])?;
                }
            }
            b'.' | b'_' | b'-' => {
                if sep_start.is_none() {
                    sep_start = Some(i);
                }
            }
            b'/' => {
                if i == comp_start {
                    let place = if i == 0 {
                        "the name starts with '/'"
                    } else if i == b.len() {
                        "the name ends with '/'"
                    } else {
                        "two '/' in a row"
                    };
                    return Err(format!("empty path component ({place})"));
                }
                if sep_start.is_some() {
                    return Err(edge_error(&s[comp_start..i]));
                }
                comp_start = i + 1;
            }
            b'A'..=b'Z' => return Err("repository names must be lower case".into()),
            _ => {
                return Err(format!(
                    "invalid character {:?} (allowed: a-z, 0-9, '.', '_', '-' and '/')",
                    char_at(s, i)
                ))
            }
        }
    }
    if s.len() > NAME_MAX {
        return Err(format!(
            "longer than {NAME_MAX} characters ({} characters)",
            s.len()
        ));
    }
    Ok(())
}

/// The end of the path component that contains byte `i`.
pub(super) fn component_end(s: &str, i: usize) -> usize {
    s[i..].find('/').map_or(s.len(), |j| i + j)
}

pub(super) fn edge_error(component: &str) -> String {
    format!("path component must start and end with a letter or digit, {component:?} does not")
}

/// Checks a run of separator characters between two letters or digits.
pub(super) fn check_separator(run: &str) -> std::result::Result<(), String> {
    match run {
        "." | "_" | "__" => Ok(()),
        _ if run.bytes().all(|c| c == b'-') => Ok(()),
        _ => Err(format!(
            "`{run}` is not allowed between letters or digits \
             (separators are one '.', one or two '_', or dashes)"
        )),
    }
}

/// The character starting at byte `i`, which is a char boundary because every
/// byte before it was ASCII.
pub(super) fn char_at(s: &str, i: usize) -> char {
    s[i..].chars().next().unwrap_or('\u{fffd}')
}
