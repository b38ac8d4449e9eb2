//! Secured test registries: htpasswd over TLS, and bearer tokens from an
//! in-process token server, each seeded with three small images
//! (`alice/app:v1`, `public/app:v1`, `bob/app:v1`); a recording relay to see
//! what a client sends to a registry.
//!
//! * [`shared_htpasswd`]: `auth.htpasswd` (bcrypt file made with
//!   `htpasswd -Bbn`, users [`USERS`]) and `http.tls`, served at
//!   `https://127.0.0.1:PORT` with a certificate for `127.0.0.1` and
//!   `localhost` signed by a throwaway CA ([`HtpasswdRegistry::ca_pem`]).
//! * [`shared_token`] / [`start_token`]: `auth.token` with its realm on a
//!   [`TokenServer`] in this process (GET and OAuth2 POST, a small ACL,
//!   RS256 tokens signed by `openssl dgst` whose `x5c` header carries a
//!   self-signed certificate that is the registry's `rootcertbundle`).
//! * The certificates and keys are made once per test binary with the
//!   `openssl` CLI (in a scratch dir removed at once) and written into each
//!   registry's temp dir.
//!
//! Same rule as the plain harness: without `docker-registry`, `openssl` or
//! (for htpasswd) `htpasswd`, the test fails naming what to install.
//!
//! Token server ACL (a denied scope is granted with empty actions, never an
//! error, as the token spec says):
//!
//! | who | may |
//! |---|---|
//! | anonymous | pull `public/*` |
//! | `alice` | pull, push, delete `alice/*`; pull `public/*`; `registry:catalog:*` |
//! | `bob` | pull `bob/*` (nothing else) |

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Url;
use serde_json::{json, Value};

use super::http::{block_on, Http};
use super::{
    find_program, lock, media, panic_message, registry_available, rfc3339, tiny_layer, Registry,
    RegistryConfig, Security,
};

/// The `service` of the token registry (the tokens' audience).
pub const TOKEN_SERVICE: &str = "dockreg-test";
/// The `issuer` the token registry trusts.
pub const TOKEN_ISSUER: &str = "dockreg-test-issuer";
/// The realm of the htpasswd registry's Basic challenge.
pub const HTPASSWD_REALM: &str = "dockreg-test-realm";
/// The users of the htpasswd file and of the token server: (name, password).
pub const USERS: &[(&str, &str)] = &[("alice", "alice-pass"), ("bob", "bob-pass")];
/// Lifetime of the token server's tokens unless set per client.
pub const DEFAULT_EXPIRES_IN: u64 = 300;

/// `created` of the seeded images' configs.
const IMAGE_CREATED: &str = "2024-03-04T05:06:07Z";

// ---------------------------------------------------------------------------
// Tools and key material
// ---------------------------------------------------------------------------

/// The harness's rule for missing tools, extended to `tools` (besides the registry).
fn tools_available(tools: &[&str]) -> bool {
    registry_available() && programs_available(tools)
}

/// The rule for `tools` alone (for helpers that need no registry): a
/// missing tool fails the test.
fn programs_available(tools: &[&str]) -> bool {
    super::require_programs(tools);
    true
}

/// Runs a command, panics with its output when it fails; returns stdout.
fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// Certificates and keys, made once per test binary.
struct Pki {
    /// The CA that signed the TLS server certificate, and its key (which
    /// signs the mutual-TLS client certificate too).
    ca_pem: Vec<u8>,
    ca_key: Vec<u8>,
    /// TLS server certificate for IP:127.0.0.1 and DNS:localhost, and its key.
    server_pem: Vec<u8>,
    server_key: Vec<u8>,
    /// Self-signed token signing certificate (RSA) and its key.
    signer_pem: Vec<u8>,
    signer_key: Vec<u8>,
    /// The signing certificate as the JOSE `x5c` entry (base64 DER).
    signer_x5c: String,
}

const CA_CNF: &str = "[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = dockreg test CA
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
";

const SERVER_CNF: &str = "[req]
distinguished_name = dn
prompt = no
[dn]
CN = 127.0.0.1
";

const SERVER_EXT: &str = "subjectAltName = IP:127.0.0.1,DNS:localhost
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

const SIGNER_CNF: &str = "[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = dockreg test token signer
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
subjectKeyIdentifier = hash
";

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let scratch = tempfile::Builder::new()
            .prefix("dockreg-test-pki-")
            .tempdir()
            .expect("temp dir for openssl");
        let d = scratch.path();
        for (name, text) in [
            ("ca.cnf", CA_CNF),
            ("server.cnf", SERVER_CNF),
            ("server-ext.cnf", SERVER_EXT),
            ("signer.cnf", SIGNER_CNF),
        ] {
            std::fs::write(d.join(name), text).expect("write openssl config");
        }
        // Each command line is split on whitespace (no argument has any).
        let openssl = |args: &str| {
            run(Command::new("openssl")
                .current_dir(d)
                .args(args.split_whitespace()));
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(&format!(
            "req -x509 -config ca.cnf {ec} -keyout ca.key -out ca.pem -days 7"
        ));
        openssl(&format!(
            "req -new -config server.cnf {ec} -keyout server.key -out server.csr"
        ));
        openssl(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x5eed -days 7 \
             -extfile server-ext.cnf -out server.pem",
        );
        openssl(
            "req -x509 -config signer.cnf -newkey rsa:2048 -nodes -keyout signer.key \
             -out signer.pem -days 7",
        );
        let read = |name: &str| std::fs::read(d.join(name)).expect("read openssl output");
        let signer_pem = read("signer.pem");
        // The PEM body is the base64 of the DER certificate: x5c as is.
        let signer_x5c: String = String::from_utf8_lossy(&signer_pem)
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        Pki {
            ca_pem: read("ca.pem"),
            ca_key: read("ca.key"),
            server_pem: read("server.pem"),
            server_key: read("server.key"),
            signer_key: read("signer.key"),
            signer_pem,
            signer_x5c,
        }
    })
}

/// Writes `files` (name, contents) into `dir`, creating it; mode 0600.
fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("mkdir secure dir");
    for (name, data) in files {
        let p = dir.join(name);
        std::fs::write(&p, data).expect("write secure file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// `tls:` lines for inside `http:`, certificate and key written into `dir`.
fn tls_yaml(dir: &Path) -> String {
    let pki = pki();
    write_files(
        dir,
        &[
            ("server.pem", &pki.server_pem),
            ("server.key", &pki.server_key),
            ("ca.pem", &pki.ca_pem),
        ],
    );
    // skopeo's --cert-dir takes every *.crt in it as a CA.
    write_files(&dir.join("skopeo-certs"), &[("ca.crt", &pki.ca_pem)]);
    format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )
}

/// Probes `GET https://127.0.0.1:PORT/v2/` without checking the certificate
/// (readiness of a TLS registry): (status, headers as `name: value` lines).
/// Once the mutual-TLS material exists it presents the trusted client
/// certificate (a server only gets it when it asks for one).
pub(crate) fn probe_v2_tls(port: u16) -> Result<(u16, String), String> {
    block_on(|| async move {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(2));
        if let Some(m) = MTLS_PKI.get() {
            let identity = reqwest::Identity::from_pem(&m.identity_pem())
                .map_err(|e| format!("probe client identity: {e}"))?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| format!("build probe client: {e}"))?;
        let r = client
            .get(format!("https://127.0.0.1:{port}/v2/"))
            .send()
            .await
            .map_err(|e| format!("GET /v2/ over TLS: {e}"))?;
        let head: Vec<String> = r
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or_default()))
            .collect();
        Ok((r.status().as_u16(), head.join("\r\n")))
    })
}

/// A raw pusher with credentials: `Authorization` on every request, and the
/// test CA trusted.
fn authed_http(reg: &Registry, authorization: &str, ca: Option<&[u8]>) -> Http {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(authorization).expect("authorization header");
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers);
    if let Some(ca) = ca {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(ca).expect("CA PEM"));
    }
    Http {
        client: b.build().expect("build reqwest client"),
        base: Url::parse(&reg.base_url).expect("registry base url"),
    }
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

// ---------------------------------------------------------------------------
// Seeded images
// ---------------------------------------------------------------------------

/// One image seeded into a secured registry.
#[derive(Debug, Clone)]
pub struct SecureImage {
    /// `alice/app`, `public/app` or `bob/app`.
    pub repo: String,
    /// `v1`.
    pub tag: String,
    /// Docker schema 2 (alice, bob) or OCI image manifest (public).
    pub media_type: String,
    pub manifest_digest: String,
    /// The manifest as pushed (and served).
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub config: Vec<u8>,
    pub layer_digest: String,
}

/// The images of a secured registry. Each names its repository in a file
/// of its layer, so all digests differ.
#[derive(Debug, Clone)]
pub struct SecureImages {
    pub alice: SecureImage,
    pub public: SecureImage,
    pub bob: SecureImage,
}

impl SecureImages {
    pub fn all(&self) -> [&SecureImage; 3] {
        [&self.alice, &self.public, &self.bob]
    }

    /// The repositories, sorted (as the catalog lists them).
    pub fn repos(&self) -> Vec<String> {
        let mut v: Vec<String> = self.all().iter().map(|i| i.repo.clone()).collect();
        v.sort();
        v
    }
}

async fn push_image(http: &Http, repo: &str, oci: bool) -> SecureImage {
    let text = format!("this image lives in {repo}\n");
    let layer = tiny_layer(&[("etc/dockreg/owner.txt", text.as_bytes())]);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": IMAGE_CREATED,
        "config": {"Cmd": ["/bin/cat", "/etc/dockreg/owner.txt"]},
        "history": [{"created": IMAGE_CREATED, "created_by": format!("seed {repo}")}],
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }))
    .expect("config json");
    let config_digest = http.push_blob(repo, config.clone()).await;
    let layer_digest = http.push_blob(repo, layer.gz.clone()).await;
    let (media_type, config_type, layer_type) = if oci {
        (media::OCI_MANIFEST, media::OCI_CONFIG, media::OCI_LAYER)
    } else {
        (
            media::DOCKER_MANIFEST_V2,
            media::DOCKER_CONFIG,
            media::DOCKER_LAYER,
        )
    };
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": layer_type, "size": layer.gz.len(), "digest": layer_digest}],
    }))
    .expect("manifest json");
    let manifest_digest = http
        .put_manifest(repo, "v1", media_type, manifest.clone())
        .await;
    assert_eq!(manifest_digest, super::sha256_digest(&manifest));
    SecureImage {
        repo: repo.to_string(),
        tag: "v1".to_string(),
        media_type: media_type.to_string(),
        manifest_digest,
        manifest,
        config_digest,
        config,
        layer_digest,
    }
}

fn seed_images(reg: &Registry, http: Http) -> SecureImages {
    reg.with_log("seeding a secured registry", || {
        block_on(|| async move {
            SecureImages {
                alice: push_image(&http, "alice/app", false).await,
                public: push_image(&http, "public/app", true).await,
                bob: push_image(&http, "bob/app", false).await,
            }
        })
    })
}

/// Starts a shared secured registry once per test binary; a failure to
/// start is reported by every test that asks (as [`super::shared`] does).
fn shared_once<T>(
    cell: &'static OnceLock<Result<Option<T>, String>>,
    start: impl FnOnce() -> Option<T> + std::panic::UnwindSafe,
) -> Option<&'static T> {
    let started =
        cell.get_or_init(|| std::panic::catch_unwind(start).map_err(|p| panic_message(p.as_ref())));
    match started {
        Ok(reg) => reg.as_ref(),
        Err(msg) => panic!("a shared secured test registry could not be started: {msg}"),
    }
}

// ---------------------------------------------------------------------------
// htpasswd + TLS
// ---------------------------------------------------------------------------

/// A registry with `auth.htpasswd` (users [`USERS`]) over TLS, seeded.
///
/// It derefs to [`Registry`] for `host`, `base_url` (`https://...`), `dir`
/// and `log`; the raw helpers there (`raw`, `push_blob`, ...) send neither
/// credentials nor trust the CA, so they do not work against it.
pub struct HtpasswdRegistry {
    pub registry: Registry,
    images: SecureImages,
}

impl Deref for HtpasswdRegistry {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

/// The htpasswd + TLS registry shared by this test binary (seeded).
pub fn shared_htpasswd() -> Option<&'static HtpasswdRegistry> {
    static SHARED: OnceLock<Result<Option<HtpasswdRegistry>, String>> = OnceLock::new();
    shared_once(&SHARED, start_htpasswd)
}

/// A private htpasswd + TLS registry (seeded), stopped when dropped.
pub fn start_htpasswd() -> Option<HtpasswdRegistry> {
    if !tools_available(&["openssl", "htpasswd"]) {
        return None;
    }
    let registry = Registry::start_secured(RegistryConfig::default(), |dir| {
        let secure = dir.join("secure");
        let http_yaml = tls_yaml(&secure);
        let mut htpasswd = String::new();
        for (user, password) in USERS {
            let line = run(Command::new("htpasswd").args(["-Bbn", user, password]));
            htpasswd.push_str(String::from_utf8_lossy(&line).trim());
            htpasswd.push('\n');
        }
        write_files(&secure, &[("htpasswd", htpasswd.as_bytes())]);
        Security {
            http_yaml,
            top_yaml: format!(
                "auth:\n  htpasswd:\n    realm: {HTPASSWD_REALM}\n    path: {}\n",
                secure.join("htpasswd").display()
            ),
            tls: true,
            auth: true,
        }
    });
    let (user, password) = USERS[0];
    let http = authed_http(&registry, &basic(user, password), Some(&pki().ca_pem));
    let images = seed_images(&registry, http);
    Some(HtpasswdRegistry { registry, images })
}

impl HtpasswdRegistry {
    /// The CA that signed the registry's certificate (PEM).
    pub fn ca_pem(&self) -> &'static [u8] {
        &pki().ca_pem
    }

    /// The CA as a file in the registry's temp dir.
    pub fn ca_path(&self) -> PathBuf {
        self.dir().join("secure").join("ca.pem")
    }

    /// A directory holding `ca.crt`, for `skopeo --cert-dir`.
    pub fn cert_dir(&self) -> PathBuf {
        self.dir().join("secure").join("skopeo-certs")
    }

    /// A client builder for `https://127.0.0.1:PORT` that trusts the CA
    /// (add an authenticator).
    pub fn client_builder(&self) -> dockreg::ClientBuilder {
        dockreg::Client::builder(&self.base_url).root_certificate_pem(self.ca_pem())
    }

    /// What was seeded.
    pub fn images(&self) -> &SecureImages {
        &self.images
    }
}

// ---------------------------------------------------------------------------
// Mutual TLS
// ---------------------------------------------------------------------------

/// The client side of mutual TLS, made once per test binary (after [`pki`],
/// whose CA signs the trusted client certificate).
struct MtlsPki {
    /// Client certificate signed by the harness CA (`extendedKeyUsage =
    /// clientAuth`, CN `dockreg test client`).
    client_pem: Vec<u8>,
    /// Its P-256 key as PKCS#8 (`BEGIN PRIVATE KEY`) ...
    client_key_pkcs8: Vec<u8>,
    /// ... and as SEC1 (`BEGIN EC PRIVATE KEY`).
    client_key_sec1: Vec<u8>,
    /// A client certificate with the same subject and usage from another,
    /// untrusted CA, and its key (PKCS#8).
    rogue_pem: Vec<u8>,
    rogue_key: Vec<u8>,
}

/// Set by the first [`start_mtls`]; [`probe_v2_tls`] presents its trusted
/// identity from then on.
static MTLS_PKI: OnceLock<MtlsPki> = OnceLock::new();

const CLIENT_CNF: &str = "[req]
distinguished_name = dn
prompt = no
[dn]
CN = dockreg test client
";

const CLIENT_EXT: &str = "basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

impl MtlsPki {
    /// The trusted client certificate, then its PKCS#8 key.
    fn identity_pem(&self) -> Vec<u8> {
        [&self.client_pem[..], &self.client_key_pkcs8[..]].concat()
    }
}

fn mtls_pki() -> &'static MtlsPki {
    MTLS_PKI.get_or_init(|| {
        let pki = pki();
        let scratch = tempfile::Builder::new()
            .prefix("dockreg-test-mtls-pki-")
            .tempdir()
            .expect("temp dir for openssl");
        let d = scratch.path();
        let rogue_ca_cnf = CA_CNF.replace("dockreg test CA", "dockreg untrusted test CA");
        write_files(
            d,
            &[
                ("ca.pem", &pki.ca_pem),
                ("ca.key", &pki.ca_key),
                ("client.cnf", CLIENT_CNF.as_bytes()),
                ("client-ext.cnf", CLIENT_EXT.as_bytes()),
                ("rogue-ca.cnf", rogue_ca_cnf.as_bytes()),
            ],
        );
        let openssl = |args: &str| {
            run(Command::new("openssl")
                .current_dir(d)
                .args(args.split_whitespace()));
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(&format!(
            "req -new -config client.cnf {ec} -keyout client.key -out client.csr"
        ));
        openssl(
            "x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 0xc11e -days 7 \
             -extfile client-ext.cnf -out client.pem",
        );
        openssl("ec -in client.key -out client-sec1.key");
        openssl(&format!(
            "req -x509 -config rogue-ca.cnf {ec} -keyout rogue-ca.key -out rogue-ca.pem -days 7"
        ));
        openssl(&format!(
            "req -new -config client.cnf {ec} -keyout rogue.key -out rogue.csr"
        ));
        openssl(
            "x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -set_serial 0xbad \
             -days 7 -extfile client-ext.cnf -out rogue.pem",
        );
        let read = |name: &str| std::fs::read(d.join(name)).expect("read openssl output");
        let m = MtlsPki {
            client_pem: read("client.pem"),
            client_key_pkcs8: read("client.key"),
            client_key_sec1: read("client-sec1.key"),
            rogue_pem: read("rogue.pem"),
            rogue_key: read("rogue.key"),
        };
        // The key formats the tests claim to cover.
        assert!(m
            .client_key_pkcs8
            .starts_with(b"-----BEGIN PRIVATE KEY-----"));
        assert!(m
            .client_key_sec1
            .starts_with(b"-----BEGIN EC PRIVATE KEY-----"));
        m
    })
}

/// A TLS registry that requires a client certificate signed by the harness
/// CA (`http.tls.clientcas`, no `auth`), seeded with one image
/// ([`MtlsRegistry::image`], `mtls/app:v1`).
///
/// Distribution 2.8.2 turns a non-empty `clientcas` into Go's
/// `RequireAndVerifyClientCert`: a handshake without a client certificate,
/// or with one that does not chain to a listed CA (or lacks the clientAuth
/// usage), is aborted by the server with a TLS alert; no HTTP status is
/// ever answered.
///
/// It derefs to [`Registry`]; the raw helpers there present no client
/// certificate, so they do not work against it.
pub struct MtlsRegistry {
    pub registry: Registry,
    image: SecureImage,
}

impl Deref for MtlsRegistry {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

/// The mutual-TLS registry shared by this test binary (seeded).
pub fn shared_mtls() -> Option<&'static MtlsRegistry> {
    static SHARED: OnceLock<Result<Option<MtlsRegistry>, String>> = OnceLock::new();
    shared_once(&SHARED, start_mtls)
}

/// A private mutual-TLS registry (seeded), stopped when dropped. Same skip
/// rule as the others (needs `openssl`).
pub fn start_mtls() -> Option<MtlsRegistry> {
    if !tools_available(&["openssl"]) {
        return None;
    }
    let mtls = mtls_pki();
    let registry = Registry::start_secured(RegistryConfig::default(), |dir| {
        let secure = dir.join("secure");
        let mut http_yaml = tls_yaml(&secure);
        http_yaml.push_str(&format!(
            "    clientcas:\n      - {}\n",
            secure.join("ca.pem").display()
        ));
        Security {
            http_yaml,
            top_yaml: String::new(),
            tls: true,
            auth: false,
        }
    });
    let identity = reqwest::Identity::from_pem(&mtls.identity_pem()).expect("client identity");
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(&pki().ca_pem).expect("CA PEM"))
        .identity(identity)
        .build()
        .expect("build reqwest client");
    let http = Http {
        client,
        base: Url::parse(&registry.base_url).expect("registry base url"),
    };
    let image = registry.with_log("seeding the mutual-TLS registry", || {
        block_on(|| async move { push_image(&http, "mtls/app", false).await })
    });
    Some(MtlsRegistry { registry, image })
}

impl MtlsRegistry {
    /// The CA that signed the registry's certificate and the trusted client
    /// certificate (PEM).
    pub fn ca_pem(&self) -> &'static [u8] {
        &pki().ca_pem
    }

    /// The trusted client certificate followed by its key as PKCS#8
    /// (`BEGIN PRIVATE KEY`): for `client_identity_pem`.
    pub fn identity_pem(&self) -> Vec<u8> {
        mtls_pki().identity_pem()
    }

    /// The same certificate followed by the same key as SEC1
    /// (`BEGIN EC PRIVATE KEY`).
    pub fn identity_pem_sec1(&self) -> Vec<u8> {
        let m = mtls_pki();
        [&m.client_pem[..], &m.client_key_sec1[..]].concat()
    }

    /// A client certificate (same subject, clientAuth) signed by another CA
    /// the registry does not list, then its PKCS#8 key.
    pub fn untrusted_identity_pem(&self) -> Vec<u8> {
        let m = mtls_pki();
        [&m.rogue_pem[..], &m.rogue_key[..]].concat()
    }

    /// A client builder for `https://127.0.0.1:PORT` that trusts the CA and
    /// presents no client certificate (add `client_identity_pem`).
    pub fn client_builder(&self) -> dockreg::ClientBuilder {
        dockreg::Client::builder(&self.base_url).root_certificate_pem(self.ca_pem())
    }

    /// The seeded image, `mtls/app:v1` (Docker schema 2).
    pub fn image(&self) -> &SecureImage {
        &self.image
    }
}

// ---------------------------------------------------------------------------
// An https server that redirects
// ---------------------------------------------------------------------------

/// The https redirector: Python's `http.server` in an `ssl` context, with
/// the harness's server certificate. Argument 1 and 2: certificate and key
/// files, 3: the base URL `/v2/down/...` redirects to. Prints its port,
/// then `METHOD PATH` per request; exits when its stdin closes.
const REDIRECTOR_PY: &str = r#"
import http.server, os, ssl, sys, threading

cert, key, target = sys.argv[1:4]

def quit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=quit_when_stdin_closes, daemon=True).start()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body=b"", location=None):
        self.send_response(status)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        print("GET " + self.path, flush=True)
        path = self.path.split("?")[0]
        if path == "/v2/":
            self.reply(200, b"{}")
        elif path.startswith("/v2/down/"):
            self.reply(302, location=target + self.path)
        elif path.startswith("/v2/up/"):
            self.reply(302, location=self.path.replace("/v2/up/", "/v2/landed/", 1))
        elif path == "/v2/landed/tags/list":
            self.reply(200, b'{"name":"landed","tags":["followed"]}')
        else:
            self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"unknown","detail":null}]}')

    def do_POST(self):
        print("POST " + self.path, flush=True)
        if self.path.startswith("/v2/down/blobs/uploads/"):
            self.reply(202, location=target + "/v2/down/blobs/uploads/session")
        else:
            self.reply(404)

    def log_message(self, format, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A tiny https "registry" on `https://127.0.0.1:PORT` (certificate from the
/// harness CA, [`HttpsRedirector::ca_pem`]) that answers:
///
/// * `GET /v2/`: 200 `{}`;
/// * `GET /v2/down/...`: 302 to the same path and query under the plain
///   base URL it was started with (a downgrade to http);
/// * `GET /v2/up/...`: 302 to `/v2/landed/...` on itself (https to https);
/// * `GET /v2/landed/tags/list`: 200, tags `["followed"]`;
/// * `POST /v2/down/blobs/uploads/`: 202 with an upload `Location` under
///   the plain base URL;
/// * anything else: 404.
///
/// It records every request (method and path). Stopped when dropped.
pub struct HttpsRedirector {
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    child: std::process::Child,
    seen: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Starts an [`HttpsRedirector`] whose `/v2/down/...` redirects to
/// `plain_base` (`http://127.0.0.1:PORT`). Needs `openssl` and `python3`
/// (the usual rule for missing tools; no registry needed).
pub fn start_https_redirector(plain_base: &str) -> Option<HttpsRedirector> {
    if !programs_available(&["openssl", "python3"]) {
        return None;
    }
    let pki = pki();
    let dir = tempfile::Builder::new()
        .prefix("dockreg-test-redirector-")
        .tempdir()
        .expect("temp dir for the redirector");
    write_files(
        dir.path(),
        &[
            ("server.pem", &pki.server_pem),
            ("server.key", &pki.server_key),
        ],
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(REDIRECTOR_PY)
        .arg(dir.path().join("server.pem"))
        .arg(dir.path().join("server.key"))
        .arg(plain_base.trim_end_matches('/'))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let err_log = stderr.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        lock(&err_log).push_str(&text);
    });
    let mut out = BufReader::new(child.stdout.take().expect("stdout pipe"));
    let mut first = String::new();
    let _ = out.read_line(&mut first);
    let Ok(port) = first.trim().parse::<u16>() else {
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
        panic!(
            "the https redirector did not start (said {first:?}):\n{}",
            lock(&stderr)
        );
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { break };
            if line.starts_with("GET ") || line.starts_with("POST ") {
                lock(&log).push(line);
            }
        }
    });
    Some(HttpsRedirector {
        base_url: format!("https://127.0.0.1:{port}"),
        child,
        seen,
        stderr,
        _dir: dir,
    })
}

impl HttpsRedirector {
    /// The CA that signed its certificate (PEM).
    pub fn ca_pem(&self) -> &'static [u8] {
        &pki().ca_pem
    }

    /// The requests answered so far, as `METHOD PATH?QUERY`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }

    /// Whether the request `METHOD PATH?QUERY` arrived; waits up to a
    /// second for the log line of a request already answered.
    pub fn saw(&self, request: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            if lock(&self.seen).iter().any(|r| r == request) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What it wrote to stderr (Python tracebacks) so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }
}

impl Drop for HttpsRedirector {
    fn drop(&mut self) {
        // Closing stdin makes it exit; kill it if it does not.
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Entry points for test files: `registry/mod.rs` does not re-export
/// [`shared_mtls`], [`start_mtls`] or [`start_https_redirector`] (it is
/// outside this file), so they are reached through this exported type.
impl HtpasswdRegistry {
    /// [`shared_mtls`].
    pub fn shared_mtls() -> Option<&'static MtlsRegistry> {
        shared_mtls()
    }

    /// [`start_mtls`].
    pub fn start_mtls() -> Option<MtlsRegistry> {
        start_mtls()
    }

    /// [`start_https_redirector`].
    pub fn start_https_redirector(plain_base: &str) -> Option<HttpsRedirector> {
        start_https_redirector(plain_base)
    }
}

// ---------------------------------------------------------------------------
// Token server
// ---------------------------------------------------------------------------

/// One request the token server answered, as it saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    pub path: String,
    /// Query (GET) or form (POST) parameters, in order.
    pub params: Vec<(String, String)>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Who authenticated (`None`: anonymous, or refused).
    pub user: Option<String>,
    /// The scopes asked for (every `scope` of a GET, the space separated
    /// list of a POST).
    pub scopes: Vec<String>,
    /// What the token granted, one `type:name:actions` per scope asked
    /// (`repository:alice/app:` when nothing was granted).
    pub granted: Vec<String>,
    /// The status answered.
    pub status: u16,
    /// The access token issued, if any.
    pub token: Option<String>,
    /// The refresh token returned, if any.
    pub refresh_token: Option<String>,
    /// `expires_in` answered.
    pub expires_in: Option<u64>,
}

impl TokenRequest {
    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn client_id(&self) -> Option<&str> {
        self.param("client_id")
    }

    pub fn grant_type(&self) -> Option<&str> {
        self.param("grant_type")
    }
}

struct TokenState {
    signer_key: PathBuf,
    x5c: String,
    expires_in: u64,
    expires_in_for: Mutex<HashMap<String, u64>>,
    requests: Mutex<Vec<TokenRequest>>,
    /// Refresh token -> user.
    refresh_tokens: Mutex<HashMap<String, String>>,
    serial: AtomicU64,
}

/// A token server on `127.0.0.1:PORT/token` (a thread per connection, one
/// request per connection): `GET` with optional Basic credentials and the
/// OAuth2 `POST` (grant types `password` and `refresh_token`). It answers
/// 401 to wrong credentials, and records every request it sees.
pub struct TokenServer {
    port: u16,
    state: Arc<TokenState>,
    stop: Arc<AtomicBool>,
}

type Reply = (u16, Value);

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn envelope_error(status: u16, code: &str, message: &str) -> Reply {
    (
        status,
        json!({"errors": [{"code": code, "message": message, "detail": null}]}),
    )
}

/// The actions `user` may have on a resource (the test ACL).
fn allowed(user: Option<&str>, resource_type: &str, name: &str) -> &'static [&'static str] {
    match (user, resource_type) {
        (None, "repository") if name.starts_with("public/") => &["pull"],
        (Some("alice"), "repository") if name.starts_with("alice/") => &["pull", "push", "delete"],
        (Some("alice"), "repository") if name.starts_with("public/") => &["pull"],
        (Some("alice"), "registry") if name == "catalog" => &["*"],
        (Some("bob"), "repository") if name.starts_with("bob/") => &["pull"],
        _ => &[],
    }
}

impl TokenState {
    fn check_password(user: &str, password: &str) -> bool {
        USERS.iter().any(|(u, p)| *u == user && *p == password)
    }

    fn lifetime(&self, client_id: Option<&str>) -> u64 {
        client_id
            .and_then(|c| lock(&self.expires_in_for).get(c).copied())
            .unwrap_or(self.expires_in)
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.signer_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl dgst");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to openssl dgst");
        let out = child.wait_with_output().expect("openssl dgst");
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "openssl dgst -sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{input}.{}", b64url(&out.stdout))
    }

    fn mint(&self, subject: &str, access: Value, lifetime: i64) -> String {
        let now = now_secs() as i64;
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        self.sign(&json!({
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + lifetime,
            "nbf": now,
            "iat": now,
            "jti": format!("dockreg-test-{}-{n}", std::process::id()),
            "access": access,
        }))
    }

    /// Grants the intersection of what was asked and what the ACL allows.
    fn issue(&self, rec: &mut TokenRequest, lifetime: u64) -> String {
        let user = rec.user.clone();
        let mut access = Vec::new();
        for scope in &rec.scopes {
            let Some((resource_type, rest)) = scope.split_once(':') else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let ok = allowed(user.as_deref(), resource_type, name);
            let granted: Vec<&str> = actions.split(',').filter(|a| ok.contains(a)).collect();
            rec.granted
                .push(format!("{resource_type}:{name}:{}", granted.join(",")));
            access.push(json!({"type": resource_type, "name": name, "actions": granted}));
        }
        let token = self.mint(
            user.as_deref().unwrap_or(""),
            Value::Array(access),
            lifetime as i64,
        );
        rec.token = Some(token.clone());
        rec.expires_in = Some(lifetime);
        token
    }

    fn new_refresh_token(&self, user: &str) -> String {
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        let seed = format!("{user}-{n}-{:?}-{}", SystemTime::now(), std::process::id());
        let token = format!("rt-{}", &super::sha256_digest(seed.as_bytes())[7..39]);
        lock(&self.refresh_tokens).insert(token.clone(), user.to_string());
        token
    }

    fn check_service(rec: &TokenRequest, required: bool) -> Result<(), Reply> {
        match rec.param("service") {
            Some(TOKEN_SERVICE) => Ok(()),
            None if !required => Ok(()),
            other => Err(oauth_error(
                400,
                "invalid_request",
                &format!("unknown service {other:?}"),
            )),
        }
    }

    fn get(&self, rec: &mut TokenRequest) -> Result<Value, Reply> {
        Self::check_service(rec, false)?;
        if let Some(auth) = rec.header("authorization") {
            let refused = || envelope_error(401, "UNAUTHORIZED", "invalid username or password");
            let encoded = auth.strip_prefix("Basic ").ok_or_else(refused)?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| refused())?;
            let text = String::from_utf8(decoded).map_err(|_| refused())?;
            let (user, password) = text.split_once(':').ok_or_else(refused)?;
            if !Self::check_password(user, password) {
                return Err(refused());
            }
            rec.user = Some(user.to_string());
        }
        rec.scopes = rec
            .params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
            .collect();
        let lifetime = self.lifetime(rec.client_id());
        let token = self.issue(rec, lifetime);
        let mut body = json!({
            "token": token,
            "access_token": token,
            "expires_in": lifetime,
            "issued_at": rfc3339(now_secs()),
        });
        if let (Some(user), Some("true")) = (rec.user.clone(), rec.param("offline_token")) {
            let refresh = self.new_refresh_token(&user);
            rec.refresh_token = Some(refresh.clone());
            body["refresh_token"] = json!(refresh);
        }
        Ok(body)
    }

    fn post(&self, rec: &mut TokenRequest) -> Result<Value, Reply> {
        Self::check_service(rec, true)?;
        if rec.client_id().is_none() {
            return Err(oauth_error(400, "invalid_request", "client_id is required"));
        }
        let refresh = match rec.grant_type() {
            Some("password") => {
                let user = rec.param("username").unwrap_or_default().to_string();
                let password = rec.param("password").unwrap_or_default();
                if !Self::check_password(&user, password) {
                    return Err(oauth_error(
                        401,
                        "invalid_grant",
                        "invalid username or password",
                    ));
                }
                let offline = rec.param("access_type") == Some("offline");
                rec.user = Some(user.clone());
                offline.then(|| self.new_refresh_token(&user))
            }
            Some("refresh_token") => {
                let token = rec.param("refresh_token").unwrap_or_default().to_string();
                let user = lock(&self.refresh_tokens).get(&token).cloned();
                let user =
                    user.ok_or_else(|| oauth_error(401, "invalid_grant", "unknown refresh token"))?;
                rec.user = Some(user);
                // The spec: a refresh grant returns the same refresh token.
                Some(token)
            }
            other => {
                return Err(oauth_error(
                    400,
                    "unsupported_grant_type",
                    &format!("grant_type {other:?}"),
                ))
            }
        };
        rec.scopes = rec
            .param("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let lifetime = self.lifetime(rec.client_id());
        let token = self.issue(rec, lifetime);
        let mut body = json!({
            "access_token": token,
            "scope": rec.granted.join(" "),
            "expires_in": lifetime,
            "issued_at": rfc3339(now_secs()),
        });
        if let Some(refresh) = refresh {
            rec.refresh_token = Some(refresh.clone());
            body["refresh_token"] = json!(refresh);
        }
        Ok(body)
    }

    fn handle(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Reply {
        let url = Url::parse(&format!("http://token.invalid{target}"))
            .unwrap_or_else(|_| Url::parse("http://token.invalid/").expect("url"));
        let params: Vec<(String, String)> = if method == "POST" {
            url::form_urlencoded::parse(body).into_owned().collect()
        } else {
            url.query_pairs().into_owned().collect()
        };
        let mut rec = TokenRequest {
            method: method.to_string(),
            path: url.path().to_string(),
            params,
            headers,
            user: None,
            scopes: Vec::new(),
            granted: Vec::new(),
            status: 0,
            token: None,
            refresh_token: None,
            expires_in: None,
        };
        let result = match (rec.path.as_str(), method) {
            ("/token", "GET") => self.get(&mut rec),
            ("/token", "POST") => self.post(&mut rec),
            ("/token", _) => Err(envelope_error(405, "UNSUPPORTED", "method not allowed")),
            _ => Err(envelope_error(404, "NOT_FOUND", "no such endpoint")),
        };
        let (status, body) = match result {
            Ok(body) => (200, body),
            Err(reply) => reply,
        };
        rec.status = status;
        if status != 200 {
            rec.user = None;
        }
        lock(&self.requests).push(rec);
        (status, body)
    }

    /// Reads one request, answers it, closes the connection.
    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let mut headers = Vec::new();
        let mut head_len = request_line.len();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line)?;
            head_len += n;
            if n == 0 || line.trim_end().is_empty() || head_len > 64 << 10 {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length.min(1 << 20)];
        reader.read_exact(&mut body)?;
        let (status, reply) = self.handle(&method, &target, headers, &body);
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        let reply = reply.to_string();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )?;
        stream.flush()?;
        let _ = stream.shutdown(Shutdown::Both);
        Ok(())
    }
}

/// Accepts connections on `listener` in a thread until `stop` is set (and
/// the listener woken by a connection); `handle` runs in a thread each.
fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream) + Send + Sync + 'static,
) {
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
}

fn wake(port: u16, stop: &AtomicBool) {
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    );
}

impl TokenServer {
    fn start(listener: TcpListener, signer_key: PathBuf, expires_in: u64) -> TokenServer {
        let port = listener.local_addr().expect("token server address").port();
        let state = Arc::new(TokenState {
            signer_key,
            x5c: pki().signer_x5c.clone(),
            expires_in,
            expires_in_for: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let served = state.clone();
        accept_loop(listener, stop.clone(), move |stream| {
            let _ = served.serve(stream);
        });
        TokenServer { port, state, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Tokens for requests with this `client_id` live `secs` seconds.
    pub fn set_expires_in(&self, client_id: &str, secs: u64) {
        lock(&self.state.expires_in_for).insert(client_id.to_string(), secs);
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.state.requests).clone()
    }

    /// The requests sent with this `client_id`.
    pub fn requests_from(&self, client_id: &str) -> Vec<TokenRequest> {
        let mut v = self.requests();
        v.retain(|r| r.client_id() == Some(client_id));
        v
    }

    /// How many `method` (`GET`, `POST`) requests came with `client_id`.
    pub fn count(&self, client_id: &str, method: &str) -> usize {
        self.requests_from(client_id)
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// A token with exactly this `access` (a JSON array of
    /// `{type, name, actions}`) that expires `lifetime` seconds from now
    /// (negative: already expired). Not recorded as a request.
    pub fn mint(&self, subject: &str, access: Value, lifetime: i64) -> String {
        self.state.mint(subject, access, lifetime)
    }

    /// Signs arbitrary claims as the token server would (to probe what the
    /// registry checks).
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.state.sign(claims)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        wake(self.port, &self.stop);
    }
}

// ---------------------------------------------------------------------------
// Token registry
// ---------------------------------------------------------------------------

/// A registry with `auth.token` whose realm is a [`TokenServer`], seeded.
///
/// It derefs to [`Registry`]; its raw helpers (`raw`, `get`, ...) work on
/// the plain-http one and send no credentials unless given an
/// `Authorization` header (e.g. `Bearer` + [`TokenServer::mint`]).
pub struct TokenRegistry {
    pub registry: Registry,
    pub server: TokenServer,
    tls: bool,
    images: SecureImages,
}

impl Deref for TokenRegistry {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

/// The plain-http token registry shared by this test binary (seeded).
pub fn shared_token() -> Option<&'static TokenRegistry> {
    static SHARED: OnceLock<Result<Option<TokenRegistry>, String>> = OnceLock::new();
    shared_once(&SHARED, || start_token(false))
}

/// A private token registry (seeded), stopped when dropped; with `tls` it
/// serves https (the token realm stays plain http).
pub fn start_token(tls: bool) -> Option<TokenRegistry> {
    start_token_with_realm(tls, None)
}

/// [`start_token`] with the challenge's realm set to `realm` instead of the
/// token server's own URL: a front (a reverse proxy on the registry's own
/// origin, as OpenShift has) then relays token requests to the server.
pub fn start_token_with_realm(tls: bool, realm: Option<String>) -> Option<TokenRegistry> {
    if !tools_available(&["openssl"]) {
        return None;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
    let realm_port = listener.local_addr().expect("token server address").port();
    let realm = realm.unwrap_or_else(|| format!("http://127.0.0.1:{realm_port}/token"));
    let mut signer_key = PathBuf::new();
    let registry = Registry::start_secured(RegistryConfig::default(), |dir| {
        let secure = dir.join("secure");
        let pki = pki();
        write_files(
            &secure,
            &[
                ("token-signer.pem", &pki.signer_pem),
                ("token-signer.key", &pki.signer_key),
            ],
        );
        signer_key = secure.join("token-signer.key");
        Security {
            http_yaml: if tls {
                tls_yaml(&secure)
            } else {
                String::new()
            },
            top_yaml: format!(
                "auth:\n  token:\n    realm: {realm}\n    \
                 service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    \
                 rootcertbundle: {}\n",
                secure.join("token-signer.pem").display()
            ),
            tls,
            auth: true,
        }
    });
    let server = TokenServer::start(listener, signer_key, DEFAULT_EXPIRES_IN);
    let access: Vec<Value> = ["alice/app", "public/app", "bob/app"]
        .iter()
        .map(|n| json!({"type": "repository", "name": n, "actions": ["pull", "push"]}))
        .collect();
    let token = server.mint("seeder", Value::Array(access), 3600);
    let ca = tls.then(|| pki().ca_pem.as_slice());
    let http = authed_http(&registry, &format!("Bearer {token}"), ca);
    let images = seed_images(&registry, http);
    Some(TokenRegistry {
        registry,
        server,
        tls,
        images,
    })
}

impl TokenRegistry {
    /// A client builder for the registry (trusting the CA when it is TLS);
    /// add an authenticator, or keep the default `Anonymous`.
    pub fn client_builder(&self) -> dockreg::ClientBuilder {
        let b = dockreg::Client::builder(&self.base_url);
        if self.tls {
            b.root_certificate_pem(&pki().ca_pem)
        } else {
            b
        }
    }

    /// What was seeded.
    pub fn images(&self) -> &SecureImages {
        &self.images
    }

    /// The token server's realm.
    pub fn realm(&self) -> String {
        self.server.realm()
    }

    /// A relay to this registry that records what clients send it.
    pub fn recording_proxy(&self) -> RecordingProxy {
        RecordingProxy::start(self.port())
    }
}

// ---------------------------------------------------------------------------
// Recording relay
// ---------------------------------------------------------------------------

/// One request a client sent through a [`RecordingProxy`].
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Streams = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP relay on `127.0.0.1:PORT` to a plain-http registry that keeps the
/// bytes clients send, to check which headers reached the registry.
pub struct RecordingProxy {
    /// `127.0.0.1:PORT`: use it as the registry.
    pub host: String,
    port: u16,
    streams: Streams,
    stop: Arc<AtomicBool>,
}

impl RecordingProxy {
    pub fn start(target_port: u16) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let streams: Streams = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let recorded = streams.clone();
        accept_loop(listener, stop.clone(), move |client| {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", target_port)) else {
                return;
            };
            let log = Arc::new(Mutex::new(Vec::new()));
            lock(&recorded).push(log.clone());
            let (Ok(mut client_read), Ok(mut upstream_write)) =
                (client.try_clone(), upstream.try_clone())
            else {
                return;
            };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 << 10];
                loop {
                    match client_read.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            lock(&log).extend_from_slice(&buf[..n]);
                            if upstream_write.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = upstream_write.shutdown(Shutdown::Write);
            });
            let (mut upstream_read, mut client_write) = (upstream, client);
            let _ = std::io::copy(&mut upstream_read, &mut client_write);
            let _ = client_write.shutdown(Shutdown::Write);
        });
        RecordingProxy {
            host: format!("127.0.0.1:{port}"),
            port,
            streams,
            stop,
        }
    }

    /// The requests seen so far (request line and headers), per connection
    /// in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let streams: Vec<Vec<u8>> = lock(&self.streams)
            .iter()
            .map(|s| lock(s).clone())
            .collect();
        streams.iter().flat_map(|s| parse_requests(s)).collect()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        wake(self.port, &self.stop);
    }
}

/// Splits a client's byte stream into requests (bodies by Content-Length or
/// chunked encoding are skipped); an incomplete tail is ignored.
fn parse_requests(data: &[u8]) -> Vec<RecordedRequest> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(end) = find(&data[pos..], b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&data[pos..pos + end]).into_owned();
        pos += end + 4;
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split_whitespace();
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let request = RecordedRequest {
            method,
            path,
            headers,
        };
        if request
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let Some(line_end) = find(&data[pos..], b"\r\n") else {
                    out.push(request);
                    return out;
                };
                let size_text = String::from_utf8_lossy(&data[pos..pos + line_end]);
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .unwrap_or(0);
                pos += line_end + 2 + size + 2;
                if size == 0 || pos > data.len() {
                    break;
                }
            }
        } else {
            let length: usize = request
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            pos += length;
        }
        out.push(request);
        if pos > data.len() {
            break;
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// skopeo
// ---------------------------------------------------------------------------

/// Runs `skopeo --insecure-policy ARGS` (no proxies) and parses its JSON
/// output; panics with its output when it fails.
pub fn skopeo_json(args: &[&str]) -> Value {
    assert!(
        find_program("skopeo").is_some(),
        "skopeo is required by this test; install the Debian package skopeo"
    );
    let out = run(Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY"));
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "skopeo {args:?} output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

// ---------------------------------------------------------------------------
// TLS alone
// ---------------------------------------------------------------------------

impl Registry {
    /// Starts a registry that serves https with the harness CA's
    /// certificate for `127.0.0.1` and `localhost` ([`Registry::tls_ca_pem`]),
    /// without auth. `more` (called once with the registry's temp dir,
    /// before it starts) adds to the configuration. Stopped when dropped.
    pub(crate) fn start_tls(cfg: RegistryConfig, more: impl FnOnce(&Path) -> Security) -> Registry {
        programs_available(&["openssl"]);
        Registry::start_secured(cfg, |dir| {
            let mut security = more(dir);
            security.http_yaml.push_str(&tls_yaml(&dir.join("secure")));
            security.tls = true;
            security
        })
    }

    /// The CA that signs the certificate of [`Registry::start_tls`] (PEM).
    pub fn tls_ca_pem() -> &'static [u8] {
        &pki().ca_pem
    }
}
