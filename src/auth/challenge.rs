//! `WWW-Authenticate` challenges (RFC 7235), as registries send them:
//! `Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a:pull"`.

use std::fmt;

/// One authentication challenge: a scheme and its parameters.
///
/// Scheme and parameter names compare case-insensitively; parameter names are
/// stored in lower case.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The scheme as sent (`Bearer`, `Basic`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether this is a `Bearer` challenge (the token flow).
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }

    /// Whether this is a `Basic` challenge.
    pub fn is_basic(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("basic")
    }

    /// A parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, names in lower case, in the order sent.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The `token68` form some schemes use instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// The `realm` parameter (for Bearer: the token server's URL).
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `service` parameter of a Bearer challenge.
    pub fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// The `scope` parameter of a Bearer challenge (space-separated scopes).
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `error` parameter (`invalid_token`, `insufficient_scope`).
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Challenge({self})")
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            write!(f, " {t}")?;
        }
        for (i, (k, v)) in self.params.iter().enumerate() {
            let sep = if i == 0 { " " } else { "," };
            write!(f, "{sep}{k}=\"")?;
            for c in v.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes are taken, so the slice is valid UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default()
    }

    /// A quoted string, with backslash escapes; the cursor is on the opening quote.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.pos += 1;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.pos += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges.
///
/// Handles several challenges in one value (`Basic realm="x", Bearer
/// realm="y",service="z"`), quoted strings with commas and escaped quotes,
/// unquoted tokens, `token68` forms and case-insensitive names. Several
/// header lines are parsed one by one and their results concatenated by the
/// caller. Garbage yields fewer challenges, never a panic.
///
/// ```
/// let c = dockreg::auth::parse_challenges(
///     r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push""#,
/// );
/// assert!(c[0].is_bearer());
/// assert_eq!(c[0].service(), Some("registry.example.com"));
/// assert_eq!(c[0].scope(), Some("repository:team/app:pull,push"));
/// ```
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut cur = Cursor {
        s: value.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        cur.skip_ws_and_commas();
        let scheme = cur.take_while(is_tchar);
        if scheme.is_empty() {
            // End of input, or a byte no challenge can start with: skip it.
            if cur.peek().is_none() {
                break;
            }
            cur.pos += 1;
            continue;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: Vec::new(),
        };
        cur.skip_ws();
        // token68: a run of token68 characters, then '='s, then end or comma.
        let save = cur.pos;
        let t = cur.take_while(is_token68_char);
        if !t.is_empty() {
            while cur.peek() == Some(b'=') {
                cur.pos += 1;
            }
            let after_eq = cur.pos;
            cur.skip_ws();
            let ends = matches!(cur.peek(), None | Some(b','));
            if ends && !is_param_start(&cur, save) {
                challenge.token68 = Some(
                    std::str::from_utf8(&cur.s[save..after_eq])
                        .unwrap_or_default()
                        .to_owned(),
                );
                out.push(challenge);
                continue;
            }
        }
        cur.pos = save;
        // auth-params, until the next challenge or the end.
        loop {
            cur.skip_ws_and_commas();
            let start = cur.pos;
            let name = cur.take_while(is_tchar);
            if name.is_empty() {
                break;
            }
            cur.skip_ws();
            if cur.peek() != Some(b'=') {
                // A token not followed by '=' starts the next challenge.
                cur.pos = start;
                break;
            }
            cur.pos += 1;
            cur.skip_ws();
            let value = if cur.peek() == Some(b'"') {
                cur.quoted()
            } else {
                cur.take_while(is_tchar).to_owned()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
            cur.skip_ws();
        }
        out.push(challenge);
    }
    out
}

/// Every challenge of every `WWW-Authenticate` header of a response.
pub fn challenges_of(headers: &reqwest::header::HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect()
}

/// Whether the text at `at` is `name=value` (a parameter) rather than a token68.
fn is_param_start(cur: &Cursor<'_>, at: usize) -> bool {
    let s = &cur.s[at..];
    let name_len = s.iter().take_while(|c| is_tchar(**c)).count();
    if name_len == 0 {
        return false;
    }
    let rest = &s[name_len..];
    let rest = &rest[rest
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count()..];
    if rest.first() != Some(&b'=') {
        return false;
    }
    let after = &rest[1..];
    let after = &after[after
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t'))
        .count()..];
    matches!(after.first(), Some(c) if *c == b'"' || is_tchar(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_bearer_challenge() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(c[0].realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].service(), Some("registry.docker.io"));
        assert_eq!(c[0].scope(), Some("repository:library/busybox:pull"));
    }

    #[test]
    fn several_challenges_in_one_value() {
        let c = parse_challenges(
            r#"Basic realm="Registry Realm", bearer Realm="https://a/t", Service=reg, error="insufficient_scope",scope="repository:a:pull,push repository:b:pull""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[0].is_basic());
        assert_eq!(c[0].realm(), Some("Registry Realm"));
        assert!(c[1].is_bearer());
        assert_eq!(c[1].realm(), Some("https://a/t"));
        assert_eq!(c[1].service(), Some("reg"));
        assert_eq!(c[1].error(), Some("insufficient_scope"));
        assert_eq!(
            c[1].scope(),
            Some("repository:a:pull,push repository:b:pull")
        );
    }

    #[test]
    fn escaped_quotes_and_commas() {
        let c = parse_challenges(r#"Basic realm="a \"quoted\", realm\\", charset=UTF-8"#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].realm(), Some(r#"a "quoted", realm\"#));
        assert_eq!(c[0].param("CHARSET"), Some("UTF-8"));
    }

    #[test]
    fn token68_and_bare_schemes() {
        let c = parse_challenges("Negotiate abc+/def==, Basic, NTLM");
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].token68(), Some("abc+/def=="));
        assert!(c[1].is_basic());
        assert!(c[1].params().is_empty());
        assert_eq!(c[2].scheme(), "NTLM");
    }

    #[test]
    fn display_round_trips() {
        let c = parse_challenges(r#"Bearer realm="https://a/t",service="x \"y\"""#);
        let again = parse_challenges(&c[0].to_string());
        assert_eq!(c, again);
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "",
            ",,,",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer ,=,",
            "ü Bearer x=1",
        ] {
            let _ = parse_challenges(s);
        }
        assert!(parse_challenges("").is_empty());
    }
}
