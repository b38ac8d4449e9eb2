//! Registry hosts: what is read as one in a reference, and a host given alone.

use super::*;

/// Splits `rest` (a reference without its digest) into its registry host, if
/// the first component is one, and the remainder.
pub(super) fn split_registry(rest: &str) -> (Option<&str>, &str) {
    match rest.split_once('/') {
        Some((first, remainder)) if looks_like_host(first) => (Some(first), remainder),
        _ => (None, rest),
    }
}

/// Whether a first path component is read as a registry host.
pub(super) fn looks_like_host(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.starts_with('[')
        || first.bytes().any(|c| c.is_ascii_uppercase())
}

/// Whether a registry names Docker Hub (`docker.io`, `index.docker.io`).
pub(super) fn is_docker_hub(registry: &str) -> bool {
    registry.eq_ignore_ascii_case(DOCKER_HUB) || registry.eq_ignore_ascii_case(DOCKER_HUB_LEGACY)
}

/// Validates a registry host given alone, as on a command line that takes
/// `HOST[:PORT]` (`registry.example.com`, `127.0.0.1:5000`, `[::1]:5000`,
/// `localhost`).
///
/// Returns the host unchanged. A scheme (`https://…`), a path, user info, or
/// anything else that is not `HOST[:PORT]` is refused with
/// [`Error::Invalid`] (`what` = `"registry host"`). Unlike a host inside a
/// [`Reference`], a single-label name such as `myregistry` is accepted here,
/// since nothing else can be meant.
///
/// ```
/// use dockreg::reference::parse_registry_host;
/// assert_eq!(parse_registry_host("127.0.0.1:5000")?, "127.0.0.1:5000");
/// assert!(parse_registry_host("https://registry.example.com").is_err());
/// assert!(parse_registry_host("registry.example.com/v2").is_err());
/// # Ok::<(), dockreg::Error>(())
/// ```
pub fn parse_registry_host(s: &str) -> Result<String> {
    let err = |r: String| Error::invalid("registry host", s, r);
    if s.is_empty() {
        return Err(err("must not be empty".into()));
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        return Err(err(format!("must not contain whitespace (found {c:?})")));
    }
    if let Some(i) = s.find("://") {
        return Err(err(format!(
            "give HOST[:PORT] without a scheme (drop {:?})",
            &s[..i + 3]
        )));
    }
    if let Some(i) = s.find('/') {
        return Err(err(format!(
            "give HOST[:PORT] without a path (drop {:?})",
            &s[i..]
        )));
    }
    if s.contains('@') {
        return Err(err(
            "give HOST[:PORT] without user info (credentials go elsewhere)".into(),
        ));
    }
    check_host(s).map_err(err)?;
    Ok(s.to_owned())
}

/// Checks `HOST[:PORT]`: dot-separated labels of letters, digits and `-`
/// (not at either end of a label), or a bracketed IPv6 literal, then an
/// optional port of 1 to 5 digits, 1 to 65535. The error is the reason.
pub(super) fn check_host(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("empty host".into());
    }
    let port = if let Some(inner) = s.strip_prefix('[') {
        let Some(j) = inner.find(']') else {
            return Err("'[' without a closing ']' around the IPv6 address".into());
        };
        let addr = &inner[..j];
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{addr:?} is not an IPv6 address"));
        }
        match &inner[j + 1..] {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(format!("unexpected {after:?} after the IPv6 address")),
            },
        }
    } else {
        let (name, port) = match s.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (s, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err("more than one ':' (write an IPv6 address in brackets: [::1]:5000)".into());
        }
        if name.is_empty() {
            return Err("empty host name before ':'".into());
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(format!(
                    "empty label in host name {name:?} (a '.' at either end or two in a row)"
                ));
            }
            let b = label.as_bytes();
            if let Some(i) = b
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-'))
            {
                return Err(format!(
                    "invalid character {:?} in host name (allowed: letters, digits, '-' and '.')",
                    char_at(label, i)
                ));
            }
            if b[0] == b'-' || b[b.len() - 1] == b'-' {
                return Err(format!(
                    "host name label {label:?} must not start or end with '-'"
                ));
            }
        }
        port
    };
    if let Some(p) = port {
        check_port(p)?;
    }
    Ok(())
}

/// Checks a port: 1 to 5 digits, 1 to 65535.
pub(super) fn check_port(p: &str) -> std::result::Result<(), String> {
    if p.is_empty() {
        return Err("empty port after ':'".into());
    }
    if !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("port {p:?} is not a number"));
    }
    match p.parse::<u32>() {
        Ok(n) if p.len() <= 5 && (1..=65535).contains(&n) => Ok(()),
        _ => Err(format!("port {p} is out of range (1 to 65535)")),
    }
}
