//! HTTP/2 over TLS, as the CNCF registry offers it through ALPN: by default
//! every request (reads, uploads, the report) goes over HTTP/2 when the
//! server takes it; [`ClientBuilder::http1_only`] keeps them on HTTP/1.1;
//! plain http is HTTP/1.1 whatever the setting.
//!
//! Which protocol a request used is what the registry itself wrote down:
//! its access log (`"GET /v2/ HTTP/2.0" 200 ...`, the combined log format),
//! turned on for the registries of this file. Each client sends its own
//! `User-Agent`, which ends the log line, so its requests are told apart.
//!
//! [`ClientBuilder::http1_only`]: dockreg::ClientBuilder::http1_only

use crate::registry;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dockreg::models::{ImageManifest, Manifest, Platform};
use dockreg::{Client, ClientBuilder, RepositoryName, TagOrDigest};
use registry::{Registry, RegistryConfig, Security};

/// Bounds every test that talks to a server: a hang fails instead of blocking.
const DEADLINE: Duration = Duration::from_secs(60);

/// Turns the access log on. The harness writes `log:` with the access log
/// off at the top of the configuration; the registry's YAML reader keeps the
/// last of two equal keys, so this later `log:` wins. Were it ignored, no
/// request would be logged and every test here would fail, never pass.
const ACCESS_LOG: &str = "log:\n  level: warn\n  accesslog:\n    disabled: false\n";

/// The TLS registry of this file, with its access log.
fn tls_registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        Registry::start_tls(RegistryConfig::default(), |_| Security {
            top_yaml: ACCESS_LOG.into(),
            ..Default::default()
        })
    })
}

/// Runs a future on a fresh runtime under [`DEADLINE`].
fn run_async<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> T {
    registry::run_async(DEADLINE, fut)
}

/// What the client does: ping, push a one-layer image (POST and PUT), then
/// read it back with the tag report (tags, manifest, config: GETs) and a
/// digest (HEAD). Returns how many requests that was at least.
fn exercise(client: &Client, repo: &str) -> usize {
    let client = client.clone();
    let name: RepositoryName = repo.parse().unwrap();
    run_async(async move {
        client.ping().await.expect("ping");
        let layer = registry::tiny_layer(&[("etc/protocol", repo.as_bytes())]);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }))
        .unwrap();
        let (config, _) = client
            .push_blob(&name, config, registry::media::OCI_CONFIG)
            .await
            .expect("push config");
        let (layer, _) = client
            .push_blob(&name, layer.gz, registry::media::OCI_LAYER)
            .await
            .expect("push layer");
        let manifest =
            Manifest::from_image_manifest(&ImageManifest::new(config, vec![layer])).unwrap();
        let tag = TagOrDigest::Tag("v1".parse().unwrap());
        let pushed = client
            .put_manifest(&name, &tag, &manifest)
            .await
            .expect("put manifest");
        let report = client
            .tag_report(&name, &Platform::new("linux", "amd64"), 4)
            .await
            .expect("tag report")
            .complete()
            .expect("every tag read");
        assert_eq!(report.len(), 1, "{report:?}");
        assert_eq!(report[0].digest, pushed);
        assert_eq!(report[0].created.as_deref(), Some("2024-01-02T03:04:05Z"));
        let digest = client.manifest_digest(&name, &tag).await.expect("digest");
        assert_eq!(digest, pushed);
    });
    // ping, 2 x (POST + PUT), PUT manifest, GET tags, GET manifest, GET
    // config, HEAD manifest.
    10
}

/// `(method, protocol)` of every request the registry logged with this
/// `User-Agent`, once at least `want` are there (the registry writes a line
/// as it finishes a request, so the last may trail the answer a moment).
fn logged(reg: &Registry, user_agent: &str, want: usize) -> Vec<(String, String)> {
    let end = format!("\"{user_agent}\"");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<(String, String)> = reg
            .log()
            .lines()
            .filter(|l| l.ends_with(&end))
            .filter_map(|l| {
                // `HOST - - [DATE] "METHOD PATH PROTO" STATUS SIZE "REFERER" "UA"`
                let request = l.split('"').nth(1)?;
                let mut parts = request.split(' ');
                let method = parts.next()?.to_owned();
                let proto = parts.nth(1)?.to_owned();
                Some((method, proto))
            })
            .collect();
        if lines.len() >= want || Instant::now() >= deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs [`exercise`] with `builder` (given its own `User-Agent`) against
/// `reg` and returns the protocols the registry logged for it, after
/// checking that every request was logged and that uploads and reads are
/// among them.
fn protocols(reg: &Registry, builder: ClientBuilder, name: &str) -> BTreeSet<String> {
    let user_agent = format!("dockreg-test-{name}");
    let client = builder.user_agent(&user_agent).build().unwrap();
    let sent = exercise(&client, &format!("proto/{name}"));
    let lines = logged(reg, &user_agent, sent);
    assert!(
        lines.len() >= sent,
        "the registry logged {} of at least {sent} requests from {user_agent}:\n{}",
        lines.len(),
        reg.log_tail(40)
    );
    let methods: BTreeSet<&str> = lines.iter().map(|(m, _)| m.as_str()).collect();
    for m in ["GET", "HEAD", "POST", "PUT"] {
        assert!(methods.contains(m), "no {m} among {lines:?}");
    }
    lines.into_iter().map(|(_, proto)| proto).collect()
}

#[test]
fn by_default_every_request_goes_over_http2_when_the_registry_offers_it() {
    let reg = tls_registry();
    let builder = Client::builder(&reg.base_url).root_certificate_pem(Registry::tls_ca_pem());
    let seen = protocols(reg, builder, "default");
    assert_eq!(seen, BTreeSet::from(["HTTP/2.0".to_owned()]));
}

#[test]
fn http1_only_keeps_every_request_on_http1_1_over_tls() {
    let reg = tls_registry();
    let builder = Client::builder(&reg.base_url)
        .root_certificate_pem(Registry::tls_ca_pem())
        .http1_only(true);
    let seen = protocols(reg, builder, "http1-only");
    assert_eq!(seen, BTreeSet::from(["HTTP/1.1".to_owned()]));
}

#[test]
fn http1_only_false_is_the_default() {
    let reg = tls_registry();
    let builder = Client::builder(&reg.base_url)
        .root_certificate_pem(Registry::tls_ca_pem())
        .http1_only(true)
        .http1_only(false);
    let seen = protocols(reg, builder, "http1-only-false");
    assert_eq!(seen, BTreeSet::from(["HTTP/2.0".to_owned()]));
}

#[test]
fn plain_http_is_http1_1_whatever_the_setting() {
    let reg = Registry::start_secured(RegistryConfig::default(), |_| Security {
        top_yaml: ACCESS_LOG.into(),
        ..Default::default()
    });
    let seen = protocols(&reg, Client::builder(&reg.base_url), "plain");
    assert_eq!(seen, BTreeSet::from(["HTTP/1.1".to_owned()]));
    let seen = protocols(
        &reg,
        Client::builder(&reg.base_url).http1_only(true),
        "plain-http1-only",
    );
    assert_eq!(seen, BTreeSet::from(["HTTP/1.1".to_owned()]));
}

/// The examples' `--http1.1` pins HTTP/1.1; without it `tags` speaks
/// HTTP/2 to a TLS registry. Read from the registry's log, as above: the
/// examples' `User-Agent` is `dockreg-examples/VERSION`.
#[test]
fn the_examples_speak_http2_unless_given_http1_1() {
    // A registry of its own: no other client here sends the examples' agent.
    let reg = Registry::start_tls(RegistryConfig::default(), |_| Security {
        top_yaml: ACCESS_LOG.into(),
        ..Default::default()
    });
    let name: RepositoryName = "proto/examples".parse().unwrap();
    let client = Client::builder(&reg.base_url)
        .root_certificate_pem(Registry::tls_ca_pem())
        .build()
        .unwrap();
    run_async(async move {
        let blob = client
            .push_blob(&name, b"{}".to_vec(), registry::media::OCI_CONFIG)
            .await
            .expect("push config")
            .0;
        let manifest = Manifest::from_image_manifest(&ImageManifest::new(blob, vec![])).unwrap();
        client
            .put_manifest(&name, &TagOrDigest::Tag("v1".parse().unwrap()), &manifest)
            .await
            .expect("put manifest");
    });
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), Registry::tls_ca_pem()).unwrap();
    let ca = ca.path().to_str().unwrap();
    let tags = registry::example("tags").unwrap();
    let agent = concat!("dockreg-examples/", env!("CARGO_PKG_VERSION"));
    let repo = format!("{}/proto/examples", reg.host);
    let mut seen = Vec::new();
    for extra in [&[][..], &["--http1.1"][..]] {
        let before = logged(&reg, agent, 0).len();
        let mut args = vec!["--ca-cert", ca, repo.as_str()];
        args.extend_from_slice(extra);
        let out = registry::run_example(&tags, &args, &[], "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "v1");
        let lines = logged(&reg, agent, before + 2);
        let protocols: BTreeSet<String> = lines[before..].iter().map(|(_, p)| p.clone()).collect();
        seen.push(protocols);
    }
    assert_eq!(
        seen,
        [
            BTreeSet::from(["HTTP/2.0".to_owned()]),
            BTreeSet::from(["HTTP/1.1".to_owned()])
        ]
    );
}
