//! Property tests of the parsers: references and their parts, digests, tags,
//! `WWW-Authenticate` challenges, scopes, manifests, `Link` pagination,
//! RFC 3339 timestamps, and the numbers a server sends (`Retry-After`,
//! `Content-Length`, upload `Range`, `Content-Range`,
//! `OCI-Chunk-Min-Length`) with the arithmetic done on them. Generated valid inputs round-trip; arbitrary inputs
//! never panic. The cargo-fuzz targets under `fuzz/` push the same parsers
//! much further; this file keeps the properties in the normal test suite.

use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dockreg::auth::{parse_challenges, Scope};
use dockreg::digest::Algorithm;
use dockreg::http::next_link;
use dockreg::http::numbers::{
    check_resumed_range, chunk_min_length, chunk_size, collect_limited, content_length,
    content_range, initial_capacity, retry_after, upload_offset,
};
use dockreg::http::RetryConfig;
use dockreg::models::{media_type, parse_rfc3339, Descriptor, ImageIndex, ImageManifest};
use dockreg::{Digest, Manifest, Reference, RepositoryName, Tag, TagOrDigest};
use proptest::prelude::*;
use proptest::string::string_regex;
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use url::Url;

/// `cases` per property, or `PROPTEST_CASES` when set (for a long run:
/// `PROPTEST_CASES=50000 cargo test --release --test props`).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Integration tests have no lib.rs for proptest to persist next to.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn re(pattern: &str) -> BoxedStrategy<String> {
    string_regex(pattern).expect("valid regex").boxed()
}

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

/// A host name label: letters (either case), digits and inner dashes.
fn label() -> BoxedStrategy<String> {
    re("[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?")
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop::option::of(1u16..=65535)
}

fn with_port(host: String, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// A registry as written in a reference: recognizable as a host (a `.`, a
/// port, `localhost` or an IPv6 literal), and never Docker Hub.
fn registry() -> impl Strategy<Value = String> {
    prop_oneof![
        // A dotted name, port optional.
        (prop::collection::vec(label(), 2..4), port())
            .prop_map(|(labels, p)| with_port(labels.join("."), p)),
        // A single label needs a port.
        (label(), 1u16..=65535).prop_map(|(l, p)| format!("{l}:{p}")),
        port().prop_map(|p| with_port("localhost".into(), p)),
        (any::<[u8; 4]>(), port()).prop_map(|(ip, p)| {
            with_port(format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]), p)
        }),
        (any::<u128>(), port())
            .prop_map(|(ip, p)| { with_port(format!("[{}]", std::net::Ipv6Addr::from(ip)), p) }),
    ]
    .prop_filter("not Docker Hub", |r| {
        !r.eq_ignore_ascii_case("docker.io") && !r.eq_ignore_ascii_case("index.docker.io")
    })
}

/// A path component: runs of `[a-z0-9]` joined by `.`, `_`, `__` or dashes.
fn component() -> impl Strategy<Value = String> {
    let run = re("[a-z0-9]{1,8}");
    let sep = prop_oneof![
        Just("."),
        Just("_"),
        Just("__"),
        Just("-"),
        Just("--"),
        Just("----")
    ];
    (run.clone(), prop::collection::vec((sep, run), 0..3)).prop_map(|(first, rest)| {
        let mut s = first;
        for (sep, run) in rest {
            s.push_str(sep);
            s.push_str(&run);
        }
        s
    })
}

fn repository() -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 1..=4).prop_map(|c| c.join("/"))
}

fn tag() -> BoxedStrategy<String> {
    re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
}

fn digest() -> impl Strategy<Value = Digest> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(long, bytes)| {
        if long {
            Digest::compute(Algorithm::Sha512, &bytes)
        } else {
            Digest::sha256(&bytes)
        }
    })
}

/// Characters that references are made of, plus a few that they are not.
fn reference_ish() -> BoxedStrategy<String> {
    prop_oneof![
        3 => re("[a-zA-Z0-9./:@_\\[\\]-]{0,48}"),
        1 => re("(([a-z0-9.:-]{1,12}|\\[[0-9a-f:]{0,12}\\](:[0-9]{0,6})?)/)?[a-z0-9._/-]{1,20}(:[A-Za-z0-9_.-]{0,10})?(@sha256:[0-9a-f]{60,66})?"),
        1 => any::<String>(),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn generated_references_round_trip(
        host in registry(),
        repo in repository(),
        tag in prop::option::of(tag()),
        digest in prop::option::of(digest()),
    ) {
        let mut s = format!("{host}/{repo}");
        if let Some(t) = &tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        let r: Reference = s.parse().map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(r.registry(), host.as_str());
        prop_assert_eq!(r.registry_host(), host.as_str());
        prop_assert_eq!(r.repository().as_str(), repo.as_str());
        prop_assert_eq!(r.tag().map(Tag::as_str), tag.as_deref());
        prop_assert_eq!(r.digest(), digest.as_ref());
        // Nothing is normalized off Docker Hub: Display is the input.
        prop_assert_eq!(r.to_string(), s.as_str());
        let again: Reference = r.to_string().parse().unwrap();
        prop_assert_eq!(&again, &r);

        // The parts parse on their own, and build the same reference.
        let name: RepositoryName = repo.parse().unwrap();
        prop_assert_eq!(&name, r.repository());
        let tag_v = tag.as_deref().map(|t| t.parse::<Tag>().unwrap());
        let built = Reference::new(&host, name, tag_v, digest.clone()).unwrap();
        prop_assert_eq!(&built, &r);
        let expected_target = match (&digest, &tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        };
        let target = r.target();
        prop_assert_eq!(target.as_str(), expected_target.as_str());
    }

    #[test]
    fn docker_hub_references_normalize_and_round_trip(
        prefix in prop_oneof![Just(""), Just("docker.io/"), Just("index.docker.io/"), Just("Docker.IO/")],
        repo in repository(),
        tag in prop::option::of(tag()),
    ) {
        let mut s = format!("{prefix}{repo}");
        if let Some(t) = &tag {
            s.push(':');
            s.push_str(t);
        }
        // Without a prefix, a first component with a '.' (or `localhost`)
        // is read as the registry host.
        let (host, name) = match repo.split_once('/') {
            Some((first, rest))
                if prefix.is_empty() && (first.contains('.') || first == "localhost") =>
            {
                (first, rest)
            }
            _ => ("docker.io", repo.as_str()),
        };
        let hub = host.eq_ignore_ascii_case("docker.io") || host.eq_ignore_ascii_case("index.docker.io");
        let (registry, expected) = if !hub {
            (host, name.to_owned())
        } else if name.contains('/') {
            ("docker.io", name.to_owned())
        } else {
            ("docker.io", format!("library/{name}"))
        };
        // A first component read as a host must be a host name (no '_').
        let valid_host = host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
        if !valid_host {
            prop_assert!(s.parse::<Reference>().is_err(), "{:?} should fail", s);
            return Ok(());
        }
        let r: Reference = s.parse().map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(r.registry(), registry);
        if hub {
            prop_assert_eq!(r.registry_host(), "registry-1.docker.io");
        }
        prop_assert_eq!(r.repository().as_str(), expected.as_str());
        prop_assert_eq!(r.tag().map(Tag::as_str), tag.as_deref());
        let again: Reference = r.to_string().parse().unwrap();
        prop_assert_eq!(again, r);
    }

    #[test]
    fn any_string_parses_as_reference_or_fails_cleanly(s in reference_ish()) {
        if let Ok(r) = Reference::from_str(&s) {
            let shown = r.to_string();
            let again = Reference::from_str(&shown)
                .map_err(|e| TestCaseError::fail(format!("{s:?} printed as {shown:?}: {e}")))?;
            prop_assert_eq!(&again, &r);
            prop_assert_eq!(again.to_string(), shown);
        }
        // The other value types must not panic either, and round-trip.
        if let Ok(n) = RepositoryName::from_str(&s) {
            prop_assert_eq!(n.to_string(), s.as_str());
        }
        if let Ok(t) = TagOrDigest::from_str(&s) {
            let shown = t.to_string();
            prop_assert_eq!(TagOrDigest::from_str(&shown).unwrap(), t);
        }
        if let Ok(d) = Digest::from_str(&s) {
            prop_assert_eq!(d.to_string(), s.as_str());
        }
    }

    #[test]
    fn digests_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let d = Digest::sha256(&bytes);
        let parsed: Digest = d.to_string().parse().unwrap();
        prop_assert_eq!(&parsed, &d);
        prop_assert_eq!(parsed.algorithm(), Algorithm::Sha256);
        prop_assert_eq!(parsed.hex().len(), 64);
        prop_assert!(parsed.verify(&bytes, "bytes").is_ok());
        let tod: TagOrDigest = d.to_string().parse().unwrap();
        prop_assert_eq!(tod.as_digest(), Some(&d));

        let d = Digest::compute(Algorithm::Sha512, &bytes);
        let parsed: Digest = d.to_string().parse().unwrap();
        prop_assert_eq!(parsed.hex().len(), 128);
        prop_assert_eq!(parsed, d);
    }

    #[test]
    fn valid_tags_parse(t in tag()) {
        let parsed: Tag = t.parse().map_err(|e| TestCaseError::fail(format!("{t:?}: {e}")))?;
        prop_assert_eq!(parsed.as_str(), t.as_str());
        prop_assert_eq!(Tag::try_from(t.clone()).unwrap(), parsed.clone());
        let tod = TagOrDigest::from_str(&t).unwrap();
        prop_assert_eq!(tod.as_tag(), Some(&parsed));
    }

    #[test]
    fn invalid_tags_fail(
        long in re("[A-Za-z0-9_][A-Za-z0-9_.-]{128}"),
        bad_start in re("[.-][A-Za-z0-9_.-]{0,20}"),
        bad_char in re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}[^A-Za-z0-9_.-][A-Za-z0-9_.-]{0,10}"),
    ) {
        prop_assert_eq!(long.len(), 129);
        prop_assert!(long.parse::<Tag>().is_err());
        prop_assert!(long[..128].parse::<Tag>().is_ok());
        prop_assert!(bad_start.parse::<Tag>().is_err());
        prop_assert!(bad_char.parse::<Tag>().is_err());
    }
}

// ---------------------------------------------------------------------------
// Challenges and scopes
// ---------------------------------------------------------------------------

/// One generated challenge: a scheme and either a token68 or parameters.
#[derive(Debug, Clone)]
enum GenChallenge {
    Token68(String, String),
    Params(String, Vec<(String, String)>),
}

fn gen_challenge() -> impl Strategy<Value = GenChallenge> {
    let scheme = re("[A-Za-z][A-Za-z0-9_-]{0,10}");
    let value = prop_oneof![
        re("[ -~]{0,20}"),
        any::<String>(),
        re("[a-z:/.,\" \\\\]{0,20}")
    ];
    prop_oneof![
        (scheme.clone(), re("[A-Za-z0-9._~+/-]{1,20}={0,2}"))
            .prop_map(|(s, t)| GenChallenge::Token68(s, t)),
        (
            scheme,
            prop::collection::vec((re("[a-zA-Z][a-zA-Z0-9_-]{0,8}"), value), 0..4)
        )
            .prop_map(|(s, p)| GenChallenge::Params(s, p)),
    ]
}

fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn render(c: &GenChallenge) -> String {
    match c {
        GenChallenge::Token68(s, t) => format!("{s} {t}"),
        GenChallenge::Params(s, p) if p.is_empty() => s.clone(),
        GenChallenge::Params(s, p) => {
            let params: Vec<String> = p.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
            format!("{s} {}", params.join(", "))
        }
    }
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        prop_oneof![Just("repository"), Just("registry")],
        prop_oneof![
            Just("a"),
            Just("team/app"),
            Just("catalog"),
            Just("host:5000/x")
        ],
        prop::sample::subsequence(vec!["pull", "push", "delete", "*"], 0..=4),
    )
        .prop_map(|(t, n, a)| Scope::new(t, n, a))
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn challenges_never_panic_and_display_reparses(
        s in prop_oneof![
            any::<String>(),
            re("[A-Za-z ,=\"\\\\]{0,40}"),
            re("(Bearer|Basic|[a-z]{1,5})( [a-z]{1,6} ?= ?(\"[^\"]{0,10}\"?|[a-z:/]{0,8}),?){0,4}"),
        ],
    ) {
        for c in parse_challenges(&s) {
            let shown = c.to_string();
            let again = parse_challenges(&shown);
            prop_assert_eq!(again.len(), 1, "{:?}: {:?} printed as {:?}", s, c, shown);
            prop_assert_eq!(&again[0], &c, "{:?} printed as {:?}", s, shown);
        }
    }

    #[test]
    fn generated_challenges_parse_back(challenges in prop::collection::vec(gen_challenge(), 1..4)) {
        let header: Vec<String> = challenges.iter().map(render).collect();
        let header = header.join(", ");
        let parsed = parse_challenges(&header);
        prop_assert_eq!(parsed.len(), challenges.len(), "{:?} -> {:?}", header, parsed);
        for (want, got) in challenges.iter().zip(&parsed) {
            match want {
                GenChallenge::Token68(s, t) => {
                    prop_assert_eq!(got.scheme(), s.as_str());
                    prop_assert_eq!(got.token68(), Some(t.as_str()));
                    prop_assert!(got.params().is_empty());
                }
                GenChallenge::Params(s, p) => {
                    prop_assert_eq!(got.scheme(), s.as_str());
                    prop_assert_eq!(got.token68(), None);
                    let want: Vec<(String, String)> =
                        p.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
                    prop_assert_eq!(got.params(), want.as_slice(), "{:?}", header);
                }
            }
            prop_assert_eq!(&parse_challenges(&got.to_string()), std::slice::from_ref(got));
        }
    }

    #[test]
    fn scope_merge_is_idempotent_and_order_independent(
        (scopes, shuffled) in prop::collection::vec(scope(), 0..8)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        more in prop::collection::vec(scope(), 0..4),
    ) {
        let merged = Scope::merge(scopes.clone());
        prop_assert_eq!(Scope::merge(merged.clone()), merged.clone());
        prop_assert_eq!(Scope::merge(shuffled), merged.clone());
        // Merging in steps is merging at once.
        let all: Vec<Scope> = scopes.iter().chain(&more).cloned().collect();
        let stepwise: Vec<Scope> = merged.iter().cloned().chain(Scope::merge(more.clone())).collect();
        prop_assert_eq!(Scope::merge(stepwise), Scope::merge(all.clone()));
        // One scope per resource, holding the union of its actions.
        let merged_all = Scope::merge(all.clone());
        for m in &merged_all {
            let same = all.iter().filter(|s| {
                s.resource_type() == m.resource_type() && s.name() == m.name()
            });
            let mut union: Vec<&str> = same.flat_map(|s| s.actions()).collect();
            union.sort_unstable();
            union.dedup();
            prop_assert_eq!(m.actions().collect::<Vec<_>>(), union);
        }
        let covered = all.iter().all(|s| {
            merged_all.iter().any(|m| m.resource_type() == s.resource_type() && m.name() == s.name())
        });
        prop_assert!(covered, "a resource went missing: {:?}", merged_all);
        let distinct = merged_all.windows(2).all(|w| {
            (w[0].resource_type(), w[0].name()) != (w[1].resource_type(), w[1].name())
        });
        prop_assert!(distinct, "one scope per resource: {:?}", merged_all);
        // The printed list parses back to the same scopes.
        let list: Vec<String> = merged.iter().map(ToString::to_string).collect();
        prop_assert_eq!(Scope::merge(Scope::parse_list(&list.join(" "))), merged);
    }
}

// ---------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(media_type::OCI_INDEX),
    Some(media_type::DOCKER_MANIFEST_LIST),
    Some(media_type::OCI_MANIFEST),
    Some(media_type::DOCKER_MANIFEST_V2),
    Some(media_type::DOCKER_MANIFEST_V1_SIGNED),
    Some(media_type::DOCKER_MANIFEST_V1),
    Some("application/json"),
];

/// Parses `bytes` with every content type; whatever parses has a digest
/// that is the hash of its canonical bytes.
fn parse_every_way(bytes: &[u8]) -> Result<(), TestCaseError> {
    for &ct in CONTENT_TYPES {
        let Ok(m) = Manifest::from_bytes(bytes.to_vec(), ct) else {
            continue;
        };
        prop_assert_eq!(m.bytes().as_ref(), bytes);
        if let Ok(canonical) = m.canonical_bytes() {
            prop_assert_eq!(m.digest().unwrap(), Digest::sha256(&canonical));
        }
        let _ = (m.layers(), m.manifests(), m.layer_digests(), m.subject());
        let _ = (m.config(), m.total_size(), m.platforms(), m.is_index());
    }
    Ok(())
}

/// JSON built from the words manifests are made of.
fn json_ish() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let words = prop_oneof![
        Just("schemaVersion"),
        Just("mediaType"),
        Just("config"),
        Just("layers"),
        Just("manifests"),
        Just("digest"),
        Just("size"),
        Just("platform"),
        Just("architecture"),
        Just("os"),
        Just("fsLayers"),
        Just("blobSum"),
        Just("history"),
        Just("v1Compatibility"),
        Just("signatures"),
        Just("protected"),
        Just("subject"),
        Just("annotations"),
        Just(media_type::OCI_MANIFEST),
        Just(media_type::DOCKER_MANIFEST_V2),
        Just(media_type::OCI_INDEX),
        Just(media_type::DOCKER_MANIFEST_V1_SIGNED),
        Just("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
        Just("eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiIifQ"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![Just(1u64), Just(2), any::<u64>()].prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        words.clone().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (
        prop_oneof![
            Just(media_type::OCI_LAYER),
            Just(media_type::DOCKER_LAYER),
            Just(media_type::OCI_MANIFEST)
        ],
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(mt, bytes)| Descriptor::for_bytes(mt, &bytes))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn manifest_from_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_every_way(&bytes)?;
    }

    #[test]
    fn manifest_from_json_ish_never_panics(v in json_ish()) {
        parse_every_way(&serde_json::to_vec(&v).unwrap())?;
        parse_every_way(&serde_json::to_vec_pretty(&v).unwrap())?;
    }

    #[test]
    fn built_manifests_parse_back(
        docker in any::<bool>(),
        layers in prop::collection::vec(descriptor(), 0..4),
        entries in prop::collection::vec(descriptor(), 0..4),
    ) {
        let config_type = if docker { media_type::DOCKER_CONFIG } else { media_type::OCI_CONFIG };
        let image = ImageManifest::new(Descriptor::for_bytes(config_type, b"{}"), layers.clone());
        let m = Manifest::from_image_manifest(&image).unwrap();
        for ct in [None, Some(m.media_type())] {
            let back = Manifest::from_bytes(m.bytes().clone(), ct).unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(back.layers(), layers.as_slice());
            prop_assert_eq!(back.digest().unwrap(), Digest::sha256(m.bytes()));
        }

        let index = Manifest::from_index(&ImageIndex::new(entries.clone())).unwrap();
        let back = Manifest::from_bytes(index.bytes().clone(), None).unwrap();
        prop_assert!(back.is_index());
        prop_assert_eq!(back.manifests(), entries.as_slice());
        prop_assert_eq!(back, index);
    }
}

// ---------------------------------------------------------------------------
// Link pagination
// ---------------------------------------------------------------------------

const BASES: &[&str] = &[
    "http://127.0.0.1:5000/v2/_catalog?n=2",
    "https://registry.example.com/v2/team/app/tags/list?n=100",
    "http://[::1]:5000/v2/a/tags/list",
];

fn link_target() -> BoxedStrategy<String> {
    prop_oneof![
        re("/v2/[a-z_/]{0,12}(\\?[a-z=&,]{0,12})?"),
        re("[a-z./]{0,12}(\\?[a-z=&]{0,8})?"),
        // Absolute and scheme-relative, on the base's origin or another.
        (
            prop_oneof![
                Just("http:"),
                Just("https:"),
                Just("HTTP:"),
                Just("ftp:"),
                Just("")
            ],
            prop_oneof![
                Just("//127.0.0.1:5000"),
                Just("//127.0.0.1"),
                Just("//127.0.0.1:80"),
                Just("//registry.example.com"),
                Just("//REGISTRY.example.com:443"),
                Just("//registry.example.com:5000"),
                Just("//[::1]:5000"),
                Just("//[0:0::1]:5000"),
                Just("//evil.example.com"),
                Just("//user:pw@127.0.0.1:5000"),
                Just("/\\evil.example.com"),
                Just("\\\\evil.example.com"),
            ],
            re("(/[a-z?=&]{0,10})?"),
        )
            .prop_map(|(s, h, p)| format!("{s}{h}{p}")),
        re("[ -~]{0,24}"),
    ]
    .boxed()
}

fn link_value() -> BoxedStrategy<String> {
    prop_oneof![
        (
            link_target(),
            prop_oneof![
                Just("; rel=\"next\""),
                Just(";rel=next"),
                Just("; REL=\"prev next\""),
                Just("; rel=\"prev\""),
                Just(""),
                Just("; rel=\"next\"; title=\"a,b\""),
            ],
        )
            .prop_map(|(t, p)| format!("<{t}>{p}")),
        re("[ -~]{0,40}"),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn next_link_never_leaves_the_origin(
        values in prop::collection::vec(link_value(), 1..4),
        join in prop_oneof![Just(", "), Just(",")],
        one_header in any::<bool>(),
        base in prop::sample::select(BASES),
    ) {
        let base = Url::parse(base).unwrap();
        let mut headers = HeaderMap::new();
        let lines = if one_header { vec![values.join(join)] } else { values.clone() };
        for v in &lines {
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.append(LINK, v);
            }
        }
        if let Ok(Some(next)) = next_link(&headers, &base) {
            prop_assert_eq!(next.origin(), base.origin(), "{:?} -> {}", lines, next);
            prop_assert_eq!(next.scheme(), base.scheme());
            prop_assert_eq!(next.host_str(), base.host_str());
            prop_assert_eq!(next.port_or_known_default(), base.port_or_known_default());
        }
    }

    #[test]
    fn relative_next_links_resolve_against_the_request(
        path in re("/v2/[a-z_/]{0,12}\\?[a-z]{1,5}=[a-z0-9]{1,5}(&n=[0-9]{1,3})?"),
        base in prop::sample::select(BASES),
    ) {
        let base = Url::parse(base).unwrap();
        let mut headers = HeaderMap::new();
        headers.append(LINK, HeaderValue::from_str(&format!("<{path}>; rel=\"next\"")).unwrap());
        let next = next_link(&headers, &base).unwrap();
        prop_assert_eq!(next, Some(base.join(&path).unwrap()));
    }
}

// ---------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_days(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01, counted the slow way: year by year, month by month.
fn days_since_epoch(y: i64, m: u32, d: u32) -> i64 {
    let mut days: i64 = 0;
    if y >= 1970 {
        days += (1970..y)
            .map(|yy| if is_leap(yy) { 366 } else { 365 })
            .sum::<i64>();
    } else {
        days -= (y..1970)
            .map(|yy| if is_leap(yy) { 366 } else { 365 })
            .sum::<i64>();
    }
    days += (1..m).map(|mm| i64::from(month_days(y, mm))).sum::<i64>();
    days + i64::from(d) - 1
}

/// `UNIX_EPOCH` shifted by a signed number of seconds, plus nanoseconds.
fn instant(secs: i64, nanos: u32) -> SystemTime {
    let base = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    base + Duration::from_nanos(u64::from(nanos))
}

/// A date: year 1..=9999, a valid month and day.
fn date() -> impl Strategy<Value = (i64, u32, u32)> {
    (1i64..=9999, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=month_days(y, m)))
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn rfc3339_round_trips_generated_dates(
        (y, mo, d) in date(),
        h in 0u32..24,
        mi in 0u32..60,
        s in 0u32..60,
        fraction in prop::option::of(re("[0-9]{1,12}")),
        t in prop::sample::select(vec!['T', 't', ' ']),
        z in prop::sample::select(vec!['Z', 'z']),
    ) {
        let frac = fraction.as_deref().map(|f| format!(".{f}")).unwrap_or_default();
        let text = format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{s:02}{frac}{z}");
        let nanos = fraction.as_deref().map_or(0, |f| {
            let mut digits: String = f.chars().take(9).collect();
            while digits.len() < 9 {
                digits.push('0');
            }
            digits.parse::<u32>().unwrap()
        });
        let secs = days_since_epoch(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
        let expected = instant(secs, nanos);
        prop_assert_eq!(parse_rfc3339(&text), Some(expected), "{}", text);

        // A leap second is the first second of the next minute.
        if s == 59 {
            let leap = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:60{frac}Z");
            prop_assert_eq!(parse_rfc3339(&leap), Some(instant(secs + 1, nanos)), "{}", leap);
        }
    }

    #[test]
    fn rfc3339_applies_offsets(
        (y, mo, d) in (1900i64..=2100, 1u32..=12).prop_flat_map(|(y, m)| (Just(y), Just(m), 1..=month_days(y, m))),
        h in 0u32..24,
        mi in 0u32..60,
        s in 0u32..60,
        east in any::<bool>(),
        oh in 0u32..24,
        om in 0u32..60,
    ) {
        let sign = if east { '+' } else { '-' };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{oh:02}:{om:02}");
        let offset = i64::from(oh * 3600 + om * 60) * if east { 1 } else { -1 };
        let secs = days_since_epoch(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset;
        prop_assert_eq!(parse_rfc3339(&text), Some(instant(secs, 0)), "{}", text);
    }

    #[test]
    fn rfc3339_never_panics(
        s in prop_oneof![
            any::<String>(),
            re("[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})?.?"),
        ],
    ) {
        let _ = parse_rfc3339(&s);
    }
}

// ---------------------------------------------------------------------------
// Numbers a server sends: Retry-After, Content-Length, upload Range,
// Content-Range, OCI-Chunk-Min-Length
// ---------------------------------------------------------------------------

/// A header value as a hostile server may send it: digits of any length,
/// numbers near the edges of u64, HTTP dates of any year, or any text.
fn number_ish() -> BoxedStrategy<String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..16).prop_map(|d| (u64::MAX - d).to_string()),
        re("[0-9]{1,40}"),
        re("[+-]?[0-9]{0,25}[ .,]?[0-9]{0,5}"),
        (0u32..=99_999, 0u32..=40, 0u32..=30)
            .prop_map(|(y, d, h)| format!("Fri, {d:02} Dec {y} {h:02}:59:59 GMT")),
        re("[ -~]{0,40}"),
    ]
    .boxed()
}

fn header_map(name: &'static str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
    h
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..120_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_secs),
        Just(Duration::MAX),
        Just(Duration::ZERO),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn retry_after_never_waits_past_the_cap(
        value in number_ish(),
        retries in 0u32..=8,
        base in duration(),
        max_backoff in duration(),
        budget in duration(),
        attempt in any::<u32>(),
        elapsed in 0u64..5_000,
    ) {
        let h = header_map("retry-after", &value);
        let hint = retry_after(&h);
        let trimmed = value.trim();
        if digits(trimmed) {
            let secs = trimmed.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(hint, Some(Duration::from_secs(secs)), "{:?}", value);
        }
        let c = RetryConfig::new(retries, base, max_backoff, budget);
        let delay = c.delay(attempt, hint);
        prop_assert!(delay <= budget.max(max_backoff), "{:?} -> {:?}", value, delay);
        if let Some(asked) = hint {
            // Honoured up to the budget: never less than asked (or the budget).
            prop_assert!(delay >= asked.min(budget));
        }
        let started = Instant::now()
            .checked_sub(Duration::from_millis(elapsed))
            .unwrap_or_else(Instant::now);
        let fits = c.fits_budget(started, delay);
        if fits {
            prop_assert!(delay <= budget);
        }
        prop_assert!(!c.fits_budget(started, Duration::MAX) || budget == Duration::MAX);
    }

    #[test]
    fn content_length_is_the_number_or_nothing(value in number_ish()) {
        let got = content_length(&header_map("content-length", &value));
        let t = value.trim();
        match got {
            Some(n) => prop_assert_eq!(t.parse::<u64>().ok(), Some(n), "{:?}", value),
            None => prop_assert!(!digits(t) || t.parse::<u64>().is_err(), "{:?}", value),
        }
        prop_assert_eq!(got.is_some(), digits(t) && t.parse::<u64>().is_ok());
    }

    #[test]
    fn bodies_are_read_to_their_limit_and_no_further(
        chunks in prop::collection::vec(0usize..3_000, 0..12),
        announced in prop::option::of(prop_oneof![0u64..20_000, any::<u64>()]),
        limit in prop_oneof![0u64..20_000, any::<u64>()],
    ) {
        let capacity = initial_capacity(announced, limit);
        prop_assert!(capacity as u64 <= limit.min(256 << 10));
        let mut all = Vec::new();
        let pieces: Vec<dockreg::Result<Bytes>> = chunks
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let piece = vec![i as u8; n];
                all.extend_from_slice(&piece);
                Ok(Bytes::from(piece))
            })
            .collect();
        let too_large = || dockreg::Error::TooLarge { what: "body".into(), limit };
        let got = futures::executor::block_on(collect_limited(
            futures::stream::iter(pieces),
            announced,
            limit,
            too_large,
        ));
        let fits = announced.is_none_or(|a| a <= limit) && all.len() as u64 <= limit;
        match got {
            Ok(body) => {
                prop_assert!(fits);
                prop_assert_eq!(&body[..], &all[..]);
            }
            Err(dockreg::Error::TooLarge { limit: l, .. }) => {
                prop_assert!(!fits);
                prop_assert_eq!(l, limit);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn upload_ranges_count_bytes_or_are_refused(
        value in prop_oneof![
            any::<u64>().prop_map(|n| format!("0-{n}")),
            (0u64..16).prop_map(|d| format!("0-{}", u64::MAX - d)),
            (number_ish(), number_ish()).prop_map(|(a, b)| format!("{a}-{b}")),
            number_ish().prop_map(|b| format!("bytes=0-{b}")),
            number_ish(),
        ],
    ) {
        let got = upload_offset(&header_map("range", &value));
        let t = value.trim();
        let t = t.strip_prefix("bytes=").unwrap_or(t);
        let last = t
            .split_once('-')
            .filter(|(first, _)| first.trim() == "0")
            .map(|(_, last)| last.trim())
            .filter(|last| digits(last))
            .and_then(|last| last.parse::<u64>().ok());
        match (last, got) {
            (Some(0), Ok(n)) => prop_assert_eq!(n, 0),
            (Some(last), Ok(n)) => prop_assert_eq!(Some(n), last.checked_add(1), "{:?}", value),
            (Some(last), Err(_)) => prop_assert_eq!(last, u64::MAX, "{:?}", value),
            (None, Ok(n)) => prop_assert!(false, "{:?} read as {}", value, n),
            (None, Err(_)) => {}
        }
    }

    #[test]
    fn content_ranges_add_up_or_are_refused(
        start in prop_oneof![0u64..100, any::<u64>()],
        end in prop_oneof![0u64..100, any::<u64>()],
        total in prop::option::of(prop_oneof![0u64..100, any::<u64>()]),
        offset in prop_oneof![0u64..100, any::<u64>()],
        first_total in prop::option::of(prop_oneof![0u64..100, any::<u64>()]),
        garbage in prop::option::of(number_ish()),
    ) {
        let value = match &garbage {
            Some(g) => format!("bytes {start}-{g}"),
            None => format!(
                "bytes {start}-{end}/{}",
                total.map_or("*".to_owned(), |t| t.to_string())
            ),
        };
        let h = header_map("content-range", &value);
        let got = content_range(&h);
        if garbage.is_none() {
            let adds_up = start <= end && total.is_none_or(|t| end < t);
            prop_assert_eq!(got.is_ok(), adds_up, "{}", value);
        }
        if let Ok(r) = got {
            prop_assert!(r.start <= r.end);
            prop_assert!(r.total.is_none_or(|t| r.end < t));
        }
        // A resume from `offset` of a body first announced as `first_total`.
        let offset = if offset % 2 == 0 { start } else { offset };
        if let Ok(r) = check_resumed_range(&h, offset, first_total) {
            prop_assert_eq!(r.start, offset);
            if let Some(t) = first_total {
                prop_assert!(r.end < t);
                prop_assert!(r.total.is_none_or(|rt| rt == t));
            }
        }
    }

    #[test]
    fn chunk_minimums_are_capped(
        value in number_ish(),
        requested in prop_oneof![0usize..100_000, any::<usize>()],
        cap in prop_oneof![Just(256u64 << 20), 0u64..100_000, any::<u64>()],
    ) {
        let demanded = chunk_min_length(&header_map("oci-chunk-min-length", &value));
        let t = value.trim();
        prop_assert_eq!(demanded, if digits(t) { t.parse().ok() } else { None });
        match chunk_size(requested, demanded, cap) {
            Ok(size) => {
                prop_assert!(size >= requested.max(1));
                if let Some(d) = demanded {
                    prop_assert!(d <= cap);
                    prop_assert!(size as u64 >= d);
                    // Raised to the demand, never past it or the request.
                    prop_assert_eq!(size, requested.max(d as usize).max(1));
                } else {
                    prop_assert_eq!(size, requested.max(1));
                }
            }
            Err(d) => {
                prop_assert_eq!(Some(d), demanded);
                prop_assert!(d > cap || usize::try_from(d).is_err());
            }
        }
    }
}
