//! Where a client's TLS trust comes from, and how it is checked.
//!
//! Trust sources, in the order they are gathered for one registry host:
//!
//! 1. The system trust store (`rustls-native-certs`: the platform's store,
//!    or only the files named by `SSL_CERT_FILE` / `SSL_CERT_DIR` when either
//!    is set, as OpenSSL does).
//! 2. Certificates given to the builder
//!    ([`root_certificate_pem`](crate::ClientBuilder::root_certificate_pem),
//!    [`root_certificate_der`](crate::ClientBuilder::root_certificate_der)).
//! 3. A certs.d directory for the host: the one given with
//!    [`cert_dir`](crate::ClientBuilder::cert_dir), else the first
//!    `ROOT/HOST[:PORT]/` that exists under the certs.d roots (see
//!    [`default_certs_d_roots`]). Its `*.crt` files are trusted
//!    certificates, a `NAME.cert` with its `NAME.key` is a client
//!    certificate for mutual TLS.
//!
//! With the `rustls` feature, a certificate the user named (sources 2 and 3,
//! and `SSL_CERT_FILE` / `SSL_CERT_DIR`) is also accepted when the server
//! presents exactly that certificate as its own, even when it is marked as a
//! CA (`basicConstraints CA:TRUE`, which `openssl req -x509` writes and
//! webpki refuses in the end-entity position). The name the client asked for
//! and the validity period are still checked, and the server must still prove
//! it holds the certificate's key in the handshake. Every other certificate
//! goes through webpki's chain verification against all the roots above.
//! With `native-tls` only, the roots are handed to the platform library,
//! which applies its own rules (OpenSSL reads `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` itself).
//!
//! Both backends offer `h2` and `http/1.1` through ALPN, and only
//! `http/1.1` under [`http1_only`](crate::ClientBuilder::http1_only).

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;
use crate::Result;

/// The environment variable that replaces the certs.d roots: a list of
/// directories in the platform's `PATH` syntax (`:`-separated on Unix).
pub(crate) const CERTS_D_ENV: &str = "DOCKREG_CERTS_D";

/// The directories searched for `HOST[:PORT]/` subdirectories, in order; the
/// first host directory that exists is used, as podman and skopeo do:
/// `$DOCKREG_CERTS_D` when set, else `~/.config/containers/certs.d`,
/// `/etc/containers/certs.d` and `/etc/docker/certs.d`.
pub(crate) fn default_certs_d_roots() -> Vec<PathBuf> {
    if let Some(list) = std::env::var_os(CERTS_D_ENV) {
        return std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    let mut roots = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        roots.push(PathBuf::from(home).join(".config/containers/certs.d"));
    }
    roots.push(PathBuf::from("/etc/containers/certs.d"));
    roots.push(PathBuf::from("/etc/docker/certs.d"));
    roots
}

/// A client certificate chain and its private key, as PEM.
#[derive(Clone)]
#[cfg_attr(not(any(feature = "rustls", feature = "native-tls")), allow(dead_code))]
pub(crate) struct IdentityPem {
    pub(crate) certs: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

impl std::fmt::Debug for IdentityPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityPem(<redacted>)")
    }
}

impl IdentityPem {
    /// Checks that the PEM holds at least one certificate and a private key.
    pub(crate) fn parse(certs: &[u8], key: &[u8]) -> std::result::Result<IdentityPem, String> {
        let chain = pem_certificates(certs)?;
        if chain.is_empty() {
            return Err("no certificate in the PEM".into());
        }
        PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("no usable private key: {e}"))?;
        Ok(IdentityPem {
            certs: certs.to_vec(),
            key: key.to_vec(),
        })
    }
}

/// The certificates in a PEM buffer (other sections are skipped).
pub(crate) fn pem_certificates(
    pem: &[u8],
) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM certificate: {e}"))
}

/// Whether DER bytes are shaped like an X.509 certificate (one that the
/// TLS library then refuses still fails the handshake, never silently).
pub(crate) fn looks_like_certificate(der: &[u8]) -> bool {
    der::validity(der).is_some()
}

/// What one certs.d directory holds.
#[derive(Debug, Default)]
pub(crate) struct CertDir {
    /// The `*.crt` certificates.
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// The first `NAME.cert` + `NAME.key` pair, by name.
    pub(crate) identity: Option<IdentityPem>,
}

/// Largest certificate or key file read (a certs.d file is a few KiB).
const MAX_FILE: u64 = 1 << 20;

fn read_small(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > MAX_FILE {
        return Err(Error::Build(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    Ok(data)
}

/// Reads a certs.d directory the way docker does: `*.crt` are trusted
/// certificates; each `NAME.cert` needs `NAME.key` and each `NAME.key` needs
/// `NAME.cert`, else the directory is refused. Other files are ignored.
pub(crate) fn read_cert_dir(dir: &Path) -> Result<CertDir> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        names.push(entry.path());
    }
    names.sort();
    let mut out = CertDir::default();
    for path in &names {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "crt" | "cert" | "key") || !path.is_file() {
            continue;
        }
        let partner = |ext: &str| path.with_extension(ext);
        match ext {
            "crt" => {
                let certs = pem_certificates(&read_small(path)?)
                    .map_err(|e| Error::Build(format!("{}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(Error::Build(format!(
                        "{}: holds no PEM certificate",
                        path.display()
                    )));
                }
                out.roots.extend(certs);
            }
            "cert" => {
                let key = partner("key");
                if !key.is_file() {
                    return Err(Error::Build(format!(
                        "missing key {} for client certificate {}",
                        key.display(),
                        path.display()
                    )));
                }
                if out.identity.is_none() {
                    let identity = IdentityPem::parse(&read_small(path)?, &read_small(&key)?)
                        .map_err(|e| {
                            Error::Build(format!(
                                "client certificate {} / {}: {e}",
                                path.display(),
                                key.display()
                            ))
                        })?;
                    out.identity = Some(identity);
                }
            }
            _ => {
                let cert = partner("cert");
                if !cert.is_file() {
                    return Err(Error::Build(format!(
                        "missing client certificate {} for key {}",
                        cert.display(),
                        path.display()
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// The certs.d directory for `host` (`HOST[:PORT]` as written in image
/// references): the first `ROOT/HOST` that is a directory.
pub(crate) fn find_host_dir(roots: &[PathBuf], host: &str) -> Option<PathBuf> {
    // A host name never holds a path separator; refuse one rather than let a
    // reference walk out of the roots.
    if host.is_empty() || host.contains('/') || host.contains('\\') || host.starts_with('.') {
        return None;
    }
    roots.iter().map(|r| r.join(host)).find(|d| d.is_dir())
}

/// The certificates `SSL_CERT_FILE` and `SSL_CERT_DIR` name, when set: the
/// user named them, so they count as explicitly trusted.
#[cfg(feature = "rustls")]
fn env_certificates() -> Vec<CertificateDer<'static>> {
    let file = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let dirs = std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty());
    if file.is_none() && dirs.is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(file) = file {
        if let Ok(data) = read_small(Path::new(&file)) {
            out.extend(pem_certificates(&data).unwrap_or_default());
        }
    }
    for dir in dirs.iter().flat_map(std::env::split_paths) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                if let Ok(data) = read_small(&path) {
                    out.extend(pem_certificates(&data).unwrap_or_default());
                }
            }
        }
    }
    out
}

/// Everything the TLS layer of one client is built from.
#[derive(Debug, Default, Clone)]
#[cfg_attr(not(any(feature = "rustls", feature = "native-tls")), allow(dead_code))]
pub(crate) struct TlsSettings {
    /// Certificates the user named for this host (builder, certs.d).
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// The client certificate for mutual TLS.
    pub(crate) identity: Option<IdentityPem>,
    /// Skip verification altogether.
    pub(crate) accept_invalid_certs: bool,
    /// Offer only `http/1.1` through ALPN (else `h2` first).
    pub(crate) http1_only: bool,
}

impl TlsSettings {
    /// Configures `builder`'s TLS from these settings, and pins HTTP/1.1
    /// under `http1_only` (reqwest's own pin, which sets the ALPN list only
    /// of a TLS configuration it builds itself).
    pub(crate) fn apply(self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        let builder = if self.http1_only {
            builder.http1_only()
        } else {
            builder
        };
        #[cfg(feature = "rustls")]
        {
            let config = rustls_backend::client_config(self)?;
            Ok(builder.tls_backend_preconfigured(config))
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            let mut builder = builder.danger_accept_invalid_certs(self.accept_invalid_certs);
            for der in &self.roots {
                let cert = reqwest::Certificate::from_der(der.as_ref())
                    .map_err(|e| Error::Build(format!("bad certificate: {e}")))?;
                builder = builder.tls_certs_merge([cert]);
            }
            if let Some(id) = self.identity {
                let identity = reqwest::Identity::from_pkcs8_pem(&id.certs, &id.key)
                    .map_err(|e| Error::Build(format!("bad client certificate or key: {e}")))?;
                builder = builder.identity(identity);
            }
            Ok(builder)
        }
        #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
        {
            let _ = self;
            Ok(builder)
        }
    }
}

/// Whether a failed https attempt means the server speaks plain http: the
/// answer to the TLS ClientHello was not a TLS record (a plain-http server
/// answers `HTTP/1.1 400 ...`). A certificate the client does not trust, an
/// alert from the server, a refused connection or a timeout are not that.
pub(crate) fn speaks_plain_http(error: &reqwest::Error) -> bool {
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![error];
    // Bounded: an error chain is short, and each step goes one level down.
    for _ in 0..64 {
        let Some(e) = pending.pop() else { break };
        #[cfg(feature = "rustls")]
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidMessage(_));
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            // OpenSSL's words for a reply that is not a TLS record.
            let text = e.to_string();
            if text.contains("wrong version number") || text.contains("packet length too long") {
                return true;
            }
        }
        // `io::Error::source` skips the error it wraps: look at it too.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        } else if let Some(next) = e.source() {
            pending.push(next);
        }
    }
    false
}

#[cfg(feature = "rustls")]
mod rustls_backend {
    //! The rustls configuration: webpki chain verification over the system
    //! and user roots, plus exact-certificate trust.
    use std::sync::{Arc, Mutex};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::server::ParsedCertificate;
    use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use rustls_pki_types::pem::PemObject;

    use super::{env_certificates, pem_certificates, TlsSettings};
    use crate::error::Error;
    use crate::Result;

    /// The crypto provider: the process default if one is installed, else
    /// aws-lc-rs (what reqwest's `rustls` feature uses).
    fn provider() -> Arc<CryptoProvider> {
        CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    }

    /// What the environment trusts: the system store (or only the
    /// `SSL_CERT_*` files when set), and the certificates those variables
    /// name. Loaded once per process, and again only when the variables
    /// change.
    struct EnvTrust {
        system: Vec<CertificateDer<'static>>,
        named: Vec<CertificateDer<'static>>,
    }

    fn env_trust() -> Arc<EnvTrust> {
        type Key = (Option<std::ffi::OsString>, Option<std::ffi::OsString>);
        static CACHE: Mutex<Option<(Key, Arc<EnvTrust>)>> = Mutex::new(None);
        let key = (
            std::env::var_os("SSL_CERT_FILE"),
            std::env::var_os("SSL_CERT_DIR"),
        );
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, trust)) = cache.as_ref() {
            if *k == key {
                return trust.clone();
            }
        }
        // Unreadable entries are skipped: a broken system store must not
        // stop a client that trusts its own certificate.
        let mut named = env_certificates();
        named.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        named.dedup_by(|a, b| a.as_ref() == b.as_ref());
        let trust = Arc::new(EnvTrust {
            system: rustls_native_certs::load_native_certs().certs,
            named,
        });
        *cache = Some((key, trust.clone()));
        trust
    }

    pub(super) fn client_config(settings: TlsSettings) -> Result<rustls::ClientConfig> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Build(format!("TLS versions: {e}")))?;
        let algorithms = provider.signature_verification_algorithms;
        let verifier = if settings.accept_invalid_certs {
            Verifier {
                check: Check::Nothing,
                algorithms,
            }
        } else {
            let env = env_trust();
            let mut exact = settings.roots;
            exact.extend(env.named.iter().cloned());
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(env.system.iter().cloned());
            store.add_parsable_certificates(exact.iter().cloned());
            let webpki = if store.is_empty() {
                None
            } else {
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| Error::Build(format!("TLS verifier: {e}")))?,
                )
            };
            Verifier {
                check: Check::ExactOrWebPki { exact, webpki },
                algorithms,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match settings.identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = pem_certificates(&id.certs).map_err(Error::Build)?;
                let key = PrivateKeyDer::from_pem_slice(&id.key)
                    .map_err(|e| Error::Build(format!("bad client certificate or key: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Build(format!("bad client certificate or key: {e}")))?
            }
        };
        // What reqwest offers itself for a configuration it builds (it leaves
        // a preconfigured one as it is): h2 when the server takes it, else
        // HTTP/1.1; only HTTP/1.1 when pinned, since the connection follows
        // what the server picked, whatever reqwest's `http1_only` says.
        config.alpn_protocols = alpn(settings.http1_only);
        Ok(config)
    }

    /// The protocols offered through ALPN, preferred first.
    fn alpn(http1_only: bool) -> Vec<Vec<u8>> {
        if http1_only {
            vec![b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        }
    }

    /// Checks the server's certificate; the handshake signature is always
    /// verified with the provider's algorithms.
    #[derive(Debug)]
    struct Verifier {
        check: Check,
        algorithms: WebPkiSupportedAlgorithms,
    }

    #[derive(Debug)]
    enum Check {
        /// `danger_accept_invalid_certs`: any certificate.
        Nothing,
        /// A certificate the user named is accepted when presented exactly;
        /// every other one goes through webpki.
        ExactOrWebPki {
            /// DER of the certificates the user named.
            exact: Vec<CertificateDer<'static>>,
            /// Chain verification over the system and user roots (`None`
            /// when there is no root at all).
            webpki: Option<Arc<WebPkiServerVerifier>>,
        },
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            let Check::ExactOrWebPki { exact, webpki } = &self.check else {
                return Ok(ServerCertVerified::assertion());
            };
            if exact.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
                // The bytes are the user's, so no chain is needed; the rest
                // of what makes a certificate valid for this connection is
                // checked as webpki would.
                let parsed = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                check_validity(end_entity.as_ref(), now)?;
                return Ok(ServerCertVerified::assertion());
            }
            match webpki {
                Some(v) => v
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                    .map_err(untrusted_self_signed),
                None => Err(CertificateError::UnknownIssuer.into()),
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    }

    /// webpki's `CaUsedAsEndEntity` for a certificate nobody named says
    /// that a self-signed certificate is not trusted: `UnknownIssuer`, the
    /// error that tells the user what to do (name it).
    fn untrusted_self_signed(e: rustls::Error) -> rustls::Error {
        if let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = &e {
            if other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity) {
                return CertificateError::UnknownIssuer.into();
            }
        }
        e
    }

    /// Refuses a certificate outside its validity period (`now` before
    /// notBefore or after notAfter).
    fn check_validity(der: &[u8], now: UnixTime) -> std::result::Result<(), rustls::Error> {
        let (not_before, not_after) =
            super::der::validity(der).ok_or(CertificateError::BadEncoding)?;
        let (not_before, not_after) = (
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_before)),
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_after)),
        );
        if now.as_secs() < not_before.as_secs() {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before,
            }
            .into());
        }
        if now.as_secs() > not_after.as_secs() {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after,
            }
            .into());
        }
        Ok(())
    }
}

mod der {
    //! Just enough DER to read a certificate's validity period.

    /// One TLV: (tag, contents, rest). `None` when malformed.
    fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    const SEQUENCE: u8 = 0x30;

    /// notBefore and notAfter of an X.509 certificate, in Unix seconds
    /// (times before 1970 count as 0).
    pub(super) fn validity(cert: &[u8]) -> Option<(u64, u64)> {
        let (tag, cert, _) = next(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, tbs, _) = next(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let (mut tag, _, mut rest) = next(tbs)?;
        if tag == 0xa0 {
            // [0] EXPLICIT version
            (tag, _, rest) = next(rest)?;
        }
        if tag != 0x02 {
            return None; // serialNumber
        }
        let (_signature, rest) = next(rest).map(|(_, f, r)| (f, r))?;
        let (_issuer, rest) = next(rest).map(|(_, f, r)| (f, r))?;
        let (tag, validity, _) = next(rest)?;
        if tag != SEQUENCE {
            return None;
        }
        let (t1, before, rest) = next(validity)?;
        let (t2, after, _) = next(rest)?;
        Some((time(t1, before)?, time(t2, after)?))
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
    fn time(tag: u8, text: &[u8]) -> Option<u64> {
        let (year, rest) = match tag {
            0x17 if text.len() == 13 => {
                let yy = digits(&text[..2])?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            0x18 if text.len() == 15 => (digits(&text[..4])?, &text[4..]),
            _ => return None,
        };
        if rest[10] != b'Z' {
            return None;
        }
        let month = digits(&rest[0..2])?;
        let day = digits(&rest[2..4])?;
        let (h, m, s) = (
            digits(&rest[4..6])?,
            digits(&rest[6..8])?,
            digits(&rest[8..10])?,
        );
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + h * 3600 + m * 60 + s;
        Some(u64::try_from(secs).unwrap_or(0))
    }

    fn digits(s: &[u8]) -> Option<i64> {
        s.iter().try_fold(0i64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
        })
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard
    /// Hinnant's algorithm).
    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn times() {
            assert_eq!(time(0x17, b"200101000000Z"), Some(1_577_836_800));
            assert_eq!(time(0x18, b"20200102000000Z"), Some(1_577_923_200));
            assert_eq!(time(0x17, b"700101000000Z"), Some(0));
            assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
            assert_eq!(time(0x17, b"200101000000"), None);
            assert_eq!(time(0x17, b"2001010000+0Z"), None);
            assert_eq!(time(0x17, b"201301000000Z"), None);
        }

        #[test]
        fn malformed_der_is_none() {
            for bad in [
                &b""[..],
                &[0x30],
                &[0x30, 0x85, 1, 1, 1, 1, 1],
                &[0x30, 0x03, 0x30, 0x01],
                &[0x30, 0x82, 0xff, 0xff, 0x30],
                &[0x30, 0x02, 0x30, 0x00],
            ] {
                assert_eq!(validity(bad), None, "{bad:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cert_dir_needs_both_halves_of_a_client_pair() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.key"), "x").unwrap();
        let err = read_cert_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing client certificate"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.cert"), "x").unwrap();
        let err = read_cert_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing key"), "{err}");
    }

    #[test]
    fn a_crt_without_a_certificate_is_refused_and_other_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README"), "not read").unwrap();
        std::fs::create_dir(dir.path().join("sub.crt")).unwrap();
        let found = read_cert_dir(dir.path()).unwrap();
        assert!(found.roots.is_empty() && found.identity.is_none());
        std::fs::write(dir.path().join("ca.crt"), "no PEM here").unwrap();
        let err = read_cert_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn alpn_offers_h2_first_and_only_http1_1_when_pinned() {
        let alpn = |http1_only| {
            let settings = TlsSettings {
                http1_only,
                ..TlsSettings::default()
            };
            rustls_backend::client_config(settings)
                .unwrap()
                .alpn_protocols
        };
        assert_eq!(alpn(false), [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(alpn(true), [b"http/1.1".to_vec()]);
    }

    #[test]
    fn host_dirs_stay_inside_the_roots() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("r.example.com:5000")).unwrap();
        let roots = vec![root.path().join("absent"), root.path().to_owned()];
        assert_eq!(
            find_host_dir(&roots, "r.example.com:5000"),
            Some(root.path().join("r.example.com:5000"))
        );
        assert_eq!(find_host_dir(&roots, "r.example.com"), None);
        for bad in ["", "..", "../etc", "a/b", ".hidden"] {
            assert_eq!(find_host_dir(&roots, bad), None, "{bad}");
        }
    }
}
