//! http or https for a registry: docker's rule.
//!
//! * A URL with a scheme (`https://r.example.com`, `http://127.0.0.1:5000`)
//!   is used as written; [`plain_http`](crate::ClientBuilder::plain_http)
//!   forces one scheme whatever the registry.
//! * A host given with TLS material for it (a root certificate, a client
//!   certificate, a `cert_dir`, or a certs.d directory holding either) is
//!   reached over https only.
//! * `localhost`, `127.0.0.0/8`, `::1` and hosts marked with
//!   [`insecure_registry`](crate::ClientBuilder::insecure_registry): https
//!   first, plain http when the server answers the TLS handshake in plain
//!   http. The first request decides, once per client (clones share it);
//!   requests that arrive meanwhile wait for that answer instead of probing
//!   too. A certificate problem, a refused connection or a timeout is an
//!   error, never a reason for http.
//! * Every other host: https only.

use url::Url;

use crate::error::Error;
use crate::reference::parse_registry_host;
use crate::Result;

/// A registry as the builder was given it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `HOST[:PORT]` as given, for certs.d (`docker.io` stays `docker.io`).
    pub(crate) host: String,
    /// The host requests go to (`registry-1.docker.io` for Docker Hub).
    url_host: String,
    /// The scheme written in the registry string, if any.
    scheme: Option<String>,
    /// The string as given, for errors.
    given: String,
}

/// How the scheme is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Plain http only.
    Http,
    /// https only.
    Https,
    /// https first, plain http when the server speaks plain http.
    HttpsThenHttp,
}

/// Parses a registry given as a host or a base URL.
pub(crate) fn parse_target(registry: &str) -> Result<Target> {
    let given = registry.trim();
    let (scheme, host) = if let Some((scheme, rest)) = given.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(Error::invalid(
                "registry",
                given,
                "the scheme must be http or https",
            ));
        }
        (Some(scheme), rest.strip_suffix('/').unwrap_or(rest))
    } else {
        (None, given.strip_suffix('/').unwrap_or(given))
    };
    let host = parse_registry_host(host).map_err(|e| match e {
        Error::Invalid { reason, .. } => Error::invalid("registry", given, reason),
        other => other,
    })?;
    let url_host = match host.as_str() {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_owned(),
        _ => host.clone(),
    };
    let target = Target {
        host,
        url_host,
        scheme,
        given: given.to_owned(),
    };
    // Both URLs must parse, so that building never fails after this.
    target.url("https")?;
    Ok(target)
}

impl Target {
    /// The base URL with `scheme`.
    pub(crate) fn url(&self, scheme: &str) -> Result<Url> {
        Url::parse(&format!("{scheme}://{}/", self.url_host))
            .map_err(|e| Error::invalid("registry", &self.given, e.to_string()))
    }

    /// The rule for this registry (see the module docs).
    pub(crate) fn rule(
        &self,
        plain_http: Option<bool>,
        insecure: bool,
        tls_material: bool,
    ) -> Rule {
        match (plain_http, self.scheme.as_deref()) {
            (Some(true), _) | (None, Some("http")) => Rule::Http,
            (Some(false), _) | (None, Some(_)) => Rule::Https,
            (None, None) if tls_material => Rule::Https,
            (None, None) if insecure || is_local(&self.url_host) => Rule::HttpsThenHttp,
            (None, None) => Rule::Https,
        }
    }
}

/// Whether a `host[:port]` is localhost or a loopback address.
pub(crate) fn is_local(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The scheme decision of one client, shared by its clones.
#[derive(Debug)]
pub(crate) struct Negotiation {
    /// The plain-http base, used when the server speaks plain http.
    http: Url,
    decided: tokio::sync::OnceCell<Url>,
}

impl Negotiation {
    pub(crate) fn new(http: Url) -> Negotiation {
        Negotiation {
            http,
            decided: tokio::sync::OnceCell::new(),
        }
    }

    /// The base the first request decided on, if it has.
    pub(crate) fn decided(&self) -> Option<&Url> {
        self.decided.get()
    }

    /// Decides once: `GET https://HOST/v2/` without credentials. Any HTTP
    /// answer means https; a reply that is not TLS means plain http; any
    /// other failure is returned (and the next request tries again).
    pub(crate) async fn decide(&self, http: &reqwest::Client, https: &Url) -> Result<&Url> {
        self.decided
            .get_or_try_init(|| async {
                let mut probe = https.clone();
                probe.set_path("/v2/");
                match http.get(probe.clone()).send().await {
                    Ok(_) => Ok(https.clone()),
                    Err(e) if super::tls::speaks_plain_http(&e) => Ok(self.http.clone()),
                    Err(source) => Err(Error::Http {
                        method: "GET".into(),
                        url: super::redact(&probe),
                        source,
                    }),
                }
            })
            .await
    }
}

/// `url` moved from the `from` origin to `to`'s scheme and port; `None`
/// when `url` is on another origin.
pub(crate) fn rebase(url: &Url, from: &Url, to: &Url) -> Option<Url> {
    if url.origin() != from.origin() {
        return None;
    }
    let mut out = url.clone();
    out.set_scheme(to.scheme()).ok()?;
    out.set_port(to.port()).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(r: &str, plain: Option<bool>, insecure: bool, material: bool) -> (String, Rule) {
        let t = parse_target(r).unwrap();
        let rule = t.rule(plain, insecure, material);
        let first = if rule == Rule::Http { "http" } else { "https" };
        (t.url(first).unwrap().to_string(), rule)
    }

    #[test]
    fn loopback_and_insecure_hosts_try_https_then_http() {
        use Rule::*;
        for local in [
            "127.0.0.1:5000",
            "127.1.2.3:5000",
            "localhost:5000",
            "[::1]:5000",
        ] {
            let (url, r) = rule(local, None, false, false);
            assert_eq!(r, HttpsThenHttp, "{local}");
            assert!(url.starts_with("https://"), "{url}");
        }
        assert_eq!(rule("r.example.com", None, true, false).1, HttpsThenHttp);
        // TLS material for the host means https only.
        assert_eq!(rule("127.0.0.1:5000", None, false, true).1, Https);
        assert_eq!(rule("r.example.com", None, true, true).1, Https);
    }

    #[test]
    fn other_hosts_never_fall_back() {
        use Rule::*;
        assert_eq!(
            rule("registry.example.com", None, false, false),
            ("https://registry.example.com/".into(), Https)
        );
        assert_eq!(
            rule("docker.io", None, false, false),
            ("https://registry-1.docker.io/".into(), Https)
        );
        // 127.0.0.1.nip.io-like names are not loopback by their text.
        assert_eq!(rule("127.0.0.1.example:5000", None, false, false).1, Https);
    }

    #[test]
    fn written_schemes_and_plain_http_are_fixed() {
        use Rule::*;
        assert_eq!(
            rule("https://127.0.0.1:5000/", None, false, false),
            ("https://127.0.0.1:5000/".into(), Https)
        );
        assert_eq!(
            rule("http://127.0.0.1:5000", None, true, false),
            ("http://127.0.0.1:5000/".into(), Http)
        );
        assert_eq!(
            rule("registry.example.com:5000", Some(true), false, true),
            ("http://registry.example.com:5000/".into(), Http)
        );
        assert_eq!(
            rule("http://localhost", Some(false), false, false),
            ("https://localhost/".into(), Https)
        );
    }

    #[test]
    fn bad_registries_are_refused() {
        for bad in ["", "ftp://x", "http://x/path", "a b", "x:99999", "http://"] {
            let err = parse_target(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Invalid {
                        what: "registry",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn rebase_moves_only_the_registry_origin() {
        let https = Url::parse("https://127.0.0.1:5000/").unwrap();
        let http = Url::parse("http://127.0.0.1:5000/").unwrap();
        let u = Url::parse("https://127.0.0.1:5000/v2/x/tags/list?n=1").unwrap();
        assert_eq!(
            rebase(&u, &https, &http).unwrap().as_str(),
            "http://127.0.0.1:5000/v2/x/tags/list?n=1"
        );
        let other = Url::parse("https://127.0.0.1:6000/token").unwrap();
        assert_eq!(rebase(&other, &https, &http), None);
        // Default ports follow the scheme: https://localhost -> http://localhost.
        let a = Url::parse("https://localhost/").unwrap();
        let b = Url::parse("http://localhost/").unwrap();
        let u = Url::parse("https://localhost/v2/").unwrap();
        assert_eq!(rebase(&u, &a, &b).unwrap().as_str(), "http://localhost/v2/");
    }
}
