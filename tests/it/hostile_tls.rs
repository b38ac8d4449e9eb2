//! TLS as people set it up, against real `docker-registry` processes:
//!
//! * the self-signed certificate of Docker's "Deploy a registry server"
//!   page (`openssl req -x509 ... -subj /CN=127.0.0.1 -addext
//!   subjectAltName=IP:127.0.0.1`, which is `basicConstraints CA:TRUE`)
//!   served through the registry's documented `http.tls.certificate` /
//!   `http.tls.key`, trusted by naming exactly that certificate;
//! * http/https negotiation on loopback (https first, plain http when the
//!   server speaks plain http), and never for other hosts;
//! * certs.d directories (`HOST:PORT/*.crt`, `*.cert` + `*.key`), `--cert-dir`,
//!   `SSL_CERT_FILE`;
//! * `copy` from an open http registry to a TLS + htpasswd one with
//!   credentials for the destination only.
//!
//! A hostile server here is one that presents a certificate the user did not
//! name: another self-signed certificate with the same subject, an expired
//! copy, one for another address, or plain http where https is required.

use crate::registry;

use registry::example;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dockreg::models::{ImageManifest, Manifest};
use dockreg::{Client, RepositoryName, TagOrDigest};
use registry::{Registry, RegistryConfig};

/// Bounds every test that talks to a server: a hang fails instead of blocking.
const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Fixtures: certificates made the way users make them
// ---------------------------------------------------------------------------

/// Whether `docker-registry` and `openssl` are there; the harness's skip
/// rule (a loud line, or a panic under `CI=true`).
fn tools() -> bool {
    let missing: Vec<&str> = ["docker-registry", "openssl"]
        .into_iter()
        .filter(|t| registry::find_program(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if registry::under_ci() {
        panic!("{} required under CI=true", missing.join(", "));
    }
    eprintln!("SKIPPED: {} not installed", missing.join(", "));
    false
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl CertFiles {
    fn pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert).unwrap()
    }
    fn cert_str(&self) -> &str {
        self.cert.to_str().unwrap()
    }
}

/// Docker's documented self-signed certificate for `ip`, verbatim:
/// `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem
/// -days 365 -subj /CN=IP -addext subjectAltName=IP:IP`.
fn docker_doc_cert(dir: &Path, name: &str, ip: &str) -> CertFiles {
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "365",
            "-subj",
            &format!("/CN={ip}"),
            "-addext",
            &format!("subjectAltName=IP:{ip}"),
        ],
    );
    CertFiles {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// The same kind of certificate (CA:TRUE, CN and SAN 127.0.0.1) valid only
/// on 1-2 January 2020 (`openssl ca -selfsign` with explicit dates, since
/// `req -x509` cannot date a certificate in the past).
fn expired_cert(dir: &Path) -> CertFiles {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = own\n[own]\ndatabase = index.txt\nnew_certs_dir = .\n\
         serial = serial\npolicy = any\ndefault_md = sha256\ncopy_extensions = copy\n\
         [any]\ncommonName = supplied\n[ext]\nbasicConstraints = critical,CA:TRUE\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "old.key",
            "-out",
            "old.csr",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "old.key",
            "-in",
            "old.csr",
            "-out",
            "old.crt",
            "-notext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-extensions",
            "ext",
        ],
    );
    CertFiles {
        cert: dir.join("old.crt"),
        key: dir.join("old.key"),
    }
}

/// A registry serving `files` over TLS, configured as Docker documents it
/// (`http.tls.certificate` and `http.tls.key`).
fn tls_registry(files: &CertFiles) -> Registry {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    Registry::start_secured(RegistryConfig::default(), move |_| registry::Security {
        http_yaml: format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ),
        tls: true,
        ..Default::default()
    })
}

/// The registry serving Docker's self-signed certificate, seeded with
/// `team/app:v1`; shared by this file's tests.
struct ExactRegistry {
    registry: Registry,
    cert: CertFiles,
    /// Another self-signed CA:TRUE certificate with the same subject and SAN.
    impostor: CertFiles,
    digest: dockreg::Digest,
    _dir: tempfile::TempDir,
}

fn exact() -> Option<&'static ExactRegistry> {
    static SHARED: OnceLock<Option<ExactRegistry>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            if !tools() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let cert = docker_doc_cert(&dir.path().join("certs"), "domain", "127.0.0.1");
            let impostor = docker_doc_cert(&dir.path().join("impostor"), "domain", "127.0.0.1");
            let registry = tls_registry(&cert);
            let digest = seed(&registry, "team/app");
            Some(ExactRegistry {
                registry,
                cert,
                impostor,
                digest,
                _dir: dir,
            })
        })
        .as_ref()
}

/// Pushes a one-layer image as `REPO:v1` (verification off: seeding is not
/// what is tested) and returns its manifest digest.
fn seed(reg: &Registry, repo: &str) -> dockreg::Digest {
    let base = reg.base_url.clone();
    let repo = repo.to_owned();
    run_async(async move {
        let client = Client::builder(&base)
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let name: RepositoryName = repo.parse().unwrap();
        let layer = registry::tiny_layer(&[("etc/owner", repo.as_bytes())]);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }))
        .unwrap();
        let (config, _) = client
            .push_blob(&name, config, registry::media::OCI_CONFIG)
            .await
            .unwrap();
        let (layer, _) = client
            .push_blob(&name, layer.gz, registry::media::OCI_LAYER)
            .await
            .unwrap();
        let manifest =
            Manifest::from_image_manifest(&ImageManifest::new(config, vec![layer])).unwrap();
        client
            .put_manifest(&name, &TagOrDigest::Tag("v1".parse().unwrap()), &manifest)
            .await
            .unwrap()
    })
}

/// Runs a future on a fresh runtime under [`DEADLINE`].
fn run_async<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> T {
    registry::run_async(DEADLINE, fut)
}

fn app() -> RepositoryName {
    "team/app".parse().unwrap()
}

/// The manifest digest of `team/app:v1` through `client`.
fn digest_via(client: &Client) -> dockreg::Result<dockreg::Digest> {
    let client = client.clone();
    run_async(async move {
        client
            .manifest_digest(&app(), &TagOrDigest::Tag("v1".parse().unwrap()))
            .await
    })
}

// ---------------------------------------------------------------------------
// The example binaries
// ---------------------------------------------------------------------------

/// Runs an example with nothing from this machine's trust or credential
/// setup (see [`registry::run_example`]).
fn run_example(example: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    registry::run_example(example, args, env, "")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that an example succeeded and printed `v1` as its only tag.
fn assert_lists_v1(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "v1\n");
}

// ---------------------------------------------------------------------------
// 1. Exact-certificate trust
// ---------------------------------------------------------------------------

#[test]
fn the_exact_self_signed_certificate_named_as_trusted_is_accepted() {
    let Some(reg) = exact() else { return };
    let client = Client::builder(&reg.registry.base_url)
        .root_certificate_pem(&reg.cert.pem())
        .build()
        .unwrap();
    assert_eq!(digest_via(&client).unwrap(), reg.digest);
    // The same certificate as DER.
    use base64::Engine as _;
    let body: String = text(&reg.cert.pem())
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let client = Client::builder(&reg.registry.base_url)
        .root_certificate_der(&der)
        .build()
        .unwrap();
    assert_eq!(digest_via(&client).unwrap(), reg.digest);
}

#[test]
fn another_self_signed_certificate_with_the_same_subject_is_refused() {
    let Some(reg) = exact() else { return };
    let client = Client::builder(&reg.registry.base_url)
        .root_certificate_pem(&reg.impostor.pem())
        .build()
        .unwrap();
    let err = digest_via(&client).unwrap_err();
    assert!(
        matches!(err, dockreg::Error::Http { .. }),
        "not a TLS failure: {err}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn an_expired_copy_of_the_trusted_certificate_is_refused_as_expired() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = refusal_of_served_and_trusted(&expired_cert(dir.path()));
    assert!(err.contains("certificate expired"), "{err}");
}

/// The error a client trusting exactly `cert` gets from a registry serving
/// it.
fn refusal_of_served_and_trusted(cert: &CertFiles) -> String {
    let reg = tls_registry(cert);
    let client = Client::builder(&reg.base_url)
        .root_certificate_pem(&cert.pem())
        .build()
        .unwrap();
    digest_via(&client).unwrap_err().to_string()
}

#[test]
fn the_trusted_certificate_for_another_address_is_refused() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Served on 127.0.0.1, made (and trusted) for 127.0.0.2.
    let other = docker_doc_cert(dir.path(), "other", "127.0.0.2");
    let err = refusal_of_served_and_trusted(&other);
    assert!(err.contains("not valid for name"), "{err}");
}

// ---------------------------------------------------------------------------
// 2/3. The examples on loopback: no flags but trust
// ---------------------------------------------------------------------------

#[test]
fn tags_with_ca_cert_reaches_a_loopback_tls_registry_without_other_flags() {
    let (Some(reg), Some(tags)) = (exact(), example("tags")) else {
        return;
    };
    let repo = format!("{}/team/app", reg.registry.host);
    let out = run_example(&tags, &["--ca-cert", reg.cert.cert_str(), &repo], &[]);
    assert_lists_v1(&out);
}

#[test]
fn tags_reaches_a_plain_http_registry_on_loopback_without_flags() {
    let (Some(reg), Some(tags)) = (registry::shared(), example("tags")) else {
        return;
    };
    let seeded = reg.seed_many_tags("loopback/plain", 3);
    let out = run_example(&tags, &[&format!("{}/loopback/plain", reg.host)], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut want = seeded.tags.clone();
    want.sort();
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), want);
}

#[test]
fn an_untrusted_certificate_on_loopback_is_named_not_answered_with_a_plain_http_400() {
    let (Some(reg), Some(tags)) = (exact(), example("tags")) else {
        return;
    };
    let repo = format!("{}/team/app", reg.registry.host);
    let out = run_example(&tags, &[&repo], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    assert!(
        !err.contains("400 Bad Request") && !err.contains("HTTP request to an HTTPS server"),
        "{err}"
    );
}

#[test]
fn ssl_cert_file_names_a_trusted_certificate() {
    let (Some(reg), Some(tags)) = (exact(), example("tags")) else {
        return;
    };
    let repo = format!("{}/team/app", reg.registry.host);
    let out = run_example(&tags, &[&repo], &[("SSL_CERT_FILE", reg.cert.cert_str())]);
    assert_lists_v1(&out);
}

#[test]
fn a_certs_d_directory_for_the_host_is_found_without_flags() {
    let (Some(reg), Some(tags)) = (exact(), example("tags")) else {
        return;
    };
    let roots = tempfile::tempdir().unwrap();
    let host_dir = roots.path().join(&reg.registry.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&reg.cert.cert, host_dir.join("ca.crt")).unwrap();
    // A directory for another port of the same address is not read.
    let other = roots.path().join("127.0.0.1:1");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("ca.crt"), "not a certificate").unwrap();
    let repo = format!("{}/team/app", reg.registry.host);
    let out = run_example(
        &tags,
        &[&repo],
        &[("DOCKREG_CERTS_D", roots.path().to_str().unwrap())],
    );
    assert_lists_v1(&out);
}

#[test]
fn cert_dir_flag_trusts_the_crt_files_in_it() {
    let (Some(reg), Some(tags)) = (exact(), example("tags")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&reg.cert.cert, dir.path().join("domain.crt")).unwrap();
    let repo = format!("{}/team/app", reg.registry.host);
    let out = run_example(
        &tags,
        &["--cert-dir", dir.path().to_str().unwrap(), &repo],
        &[],
    );
    assert_lists_v1(&out);
}

// ---------------------------------------------------------------------------
// 3. Scheme negotiation
// ---------------------------------------------------------------------------

/// A TCP forwarder in front of `upstream` that counts the connections
/// opening with a TLS record (a ClientHello).
struct CountingForwarder {
    host: String,
    tls_hellos: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingForwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn counting_forwarder(upstream: &str) -> CountingForwarder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let tls_hellos = Arc::new(AtomicUsize::new(0));
    let (count, upstream) = (tls_hellos.clone(), upstream.to_owned());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let (count, upstream) = (count.clone(), upstream.clone());
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if inbound.peek(&mut first).await.unwrap_or(0) == 1 && first[0] == 0x16 {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    CountingForwarder {
        host,
        tls_hellos,
        task,
    }
}

#[test]
fn concurrent_first_requests_on_loopback_probe_https_once() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_many_tags("loopback/probe", 2);
    let upstream = reg.host.clone();
    run_async(async move {
        let fwd = counting_forwarder(&upstream).await;
        let client = Client::builder(&fwd.host).build().unwrap();
        assert_eq!(client.base_url().scheme(), "https", "https is tried first");
        let name: RepositoryName = seeded.repo.parse().unwrap();
        let jobs = (0..8).map(|_| {
            let (client, name) = (client.clone(), name.clone());
            async move {
                use futures::TryStreamExt;
                client.tags(&name).try_collect::<Vec<String>>().await
            }
        });
        for got in futures::future::join_all(jobs).await {
            let mut got = got.unwrap();
            got.sort();
            assert_eq!(got, seeded.tags);
        }
        assert_eq!(fwd.tls_hellos.load(Ordering::SeqCst), 1);
        assert_eq!(client.base_url().scheme(), "http");
        // A clone shares the decision; nothing is probed again.
        client.clone().ping().await.unwrap();
        assert_eq!(fwd.tls_hellos.load(Ordering::SeqCst), 1);
    });
}

/// A client for `registry.test:PORT`, a name that is not loopback by its
/// text, resolved to the plain-http registry on loopback.
fn named_host_client(reg: &Registry) -> dockreg::ClientBuilder {
    let http = reqwest::Client::builder()
        .no_proxy()
        .resolve("registry.test", reg.host.parse().unwrap())
        .build()
        .unwrap();
    Client::builder(format!("registry.test:{}", reg.port()))
        .http_client(http)
        .retry(dockreg::http::RetryConfig::disabled())
}

#[test]
fn only_a_host_marked_insecure_falls_back_to_plain_http() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let https_only = named_host_client(reg).build().unwrap();
    let insecure = named_host_client(reg)
        .insecure_registry(true)
        .build()
        .unwrap();
    let port = reg.port();
    run_async(async move {
        let err = https_only.ping().await.unwrap_err();
        assert!(matches!(err, dockreg::Error::Http { .. }), "{err:?}");
        assert!(err.to_string().starts_with("GET https://"), "{err}");
        assert_eq!(https_only.base_url().scheme(), "https");

        assert!(insecure.ping().await.unwrap().is_ok());
        assert_eq!(
            insecure.negotiated_base_url().await.unwrap().as_str(),
            format!("http://registry.test:{port}/")
        );
    });
}

#[test]
fn a_loopback_tls_registry_is_kept_on_https_once_trusted_through_certs_d() {
    let Some(reg) = exact() else { return };
    let roots = tempfile::tempdir().unwrap();
    let host_dir = roots.path().join(&reg.registry.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&reg.cert.cert, host_dir.join("registry.crt")).unwrap();
    let client = Client::builder(&reg.registry.host)
        .certs_d_roots(vec![roots.path().join("missing"), roots.path().to_owned()])
        .build()
        .unwrap();
    assert_eq!(digest_via(&client).unwrap(), reg.digest);
    assert_eq!(client.base_url().scheme(), "https");
    // Without the directory: https is there, its certificate is not trusted,
    // and that is the error (not a plain-http retry).
    let client = Client::builder(&reg.registry.host)
        .certs_d_roots(Vec::new())
        .retry(dockreg::http::RetryConfig::disabled())
        .build()
        .unwrap();
    let err = digest_via(&client).unwrap_err().to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("https://"), "{err}");
}

// ---------------------------------------------------------------------------
// certs.d with a client certificate (mutual TLS)
// ---------------------------------------------------------------------------

/// Splits a PEM holding a certificate and a key into the two.
fn split_pem(pem: &[u8]) -> (String, String) {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    let end = "-----END CERTIFICATE-----";
    let at = text.rfind(end).unwrap() + end.len();
    (
        text[..at].to_owned() + "\n",
        text[at..].trim_start().to_owned(),
    )
}

#[test]
fn a_certs_d_client_certificate_pair_gets_through_mutual_tls() {
    let Some(reg) = registry::shared_mtls() else {
        return;
    };
    let roots = tempfile::tempdir().unwrap();
    let host_dir = roots.path().join(&reg.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("ca.crt"), reg.ca_pem()).unwrap();
    let build = || {
        Client::builder(&reg.host)
            .certs_d_roots(vec![roots.path().to_owned()])
            .retry(dockreg::http::RetryConfig::disabled())
            .build()
    };
    let name: RepositoryName = reg.image().repo.parse().unwrap();
    let digest = |client: Client| {
        let name = name.clone();
        run_async(async move {
            client
                .manifest_digest(&name, &TagOrDigest::Tag("v1".parse().unwrap()))
                .await
        })
    };
    // The CA alone: the server wants a client certificate.
    let err = digest(build().unwrap()).unwrap_err();
    assert!(matches!(err, dockreg::Error::Http { .. }), "{err}");

    // A .cert without its .key is refused, as docker refuses it.
    let (cert, key) = split_pem(&reg.identity_pem());
    std::fs::write(host_dir.join("client.cert"), &cert).unwrap();
    let err = build().unwrap_err().to_string();
    assert!(err.contains("missing key"), "{err}");

    std::fs::write(host_dir.join("client.key"), &key).unwrap();
    let got = digest(build().unwrap()).unwrap();
    assert_eq!(got.to_string(), reg.image().manifest_digest);
}

// ---------------------------------------------------------------------------
// 4. copy with settings per end
// ---------------------------------------------------------------------------

#[test]
fn copy_from_open_http_to_tls_htpasswd_with_destination_credentials_only() {
    let (Some(src), Some(dest), Some(copy)) = (
        registry::shared(),
        registry::shared_htpasswd(),
        example("copy"),
    ) else {
        return;
    };
    let seeded = src.seed_many_tags("copy/open", 1);
    let from = format!("{}/copy/open:{}", src.host, seeded.tags[0]);
    let to = format!("{}/alice/copied:v1", dest.host);
    let cert_dir = dest.cert_dir();
    let cert_dir = cert_dir.to_str().unwrap();

    // Without credentials for the destination: refused there.
    let out = run_example(&copy, &[&from, &to, "--dest-cert-dir", cert_dir], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    let out = run_example(
        &copy,
        &[
            &from,
            &to,
            "--dest-creds",
            "alice:alice-pass",
            "--dest-cert-dir",
            cert_dir,
            "--json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["digest"], seeded.manifest_digest.as_str());
    assert_eq!(report["blobs_uploaded"], 2, "{report}");

    // What arrived, read back over TLS with alice's credentials.
    let client = dest
        .client_builder()
        .authenticator(dockreg::auth::Basic::new("alice", "alice-pass"))
        .build()
        .unwrap();
    let name: RepositoryName = "alice/copied".parse().unwrap();
    let manifest = run_async(async move {
        client
            .manifest(&name, &TagOrDigest::Tag("v1".parse().unwrap()))
            .await
            .unwrap()
    });
    assert_eq!(
        manifest.digest().unwrap().to_string(),
        seeded.manifest_digest
    );

    // skopeo's --dest-tls-verify=false instead of the certificate directory.
    let to = format!("{}/alice/copied:v2", dest.host);
    let out = run_example(
        &copy,
        &[
            &from,
            &to,
            "--dest-creds",
            "alice:alice-pass",
            "--dest-tls-verify=false",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&seeded.manifest_digest),
        "{}",
        text(&out.stdout)
    );
}
