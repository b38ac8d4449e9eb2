//! What every example shares: the common flags (one `clap` struct,
//! flattened into each example's own), the client from a reference, output,
//! progress ([`progress`]) and exit codes (0 success, 1 failure, 2 usage
//! error).
#![allow(dead_code)]

pub mod artifact;
pub mod progress;

use std::cmp::Ordering;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use dockreg::auth::{Authenticator, Basic, CredentialChain, CredentialSource};
use dockreg::Client;

/// The long help every example ends with: where trust and credentials come
/// from, and the exit status.
pub const COMMON_HELP: &str = "\
Trust: the system store (or SSL_CERT_FILE / SSL_CERT_DIR), --ca-cert, and the
host's certs.d directory (~/.config/containers/certs.d/HOST:PORT,
/etc/containers/certs.d/HOST:PORT, /etc/docker/certs.d/HOST:PORT; the list of
roots is $DOCKREG_CERTS_D when set); TLS material for a host means https only.
localhost and 127.0.0.0/8 try https, then plain http.

Credentials: --username/--password-stdin, else REGISTRY_USERNAME and
REGISTRY_PASSWORD, else the Docker config ($DOCKER_CONFIG/config.json,
~/.docker/config.json, credential helpers, podman's auth.json).

Output: plain lines for people; --json prints one JSON object per line.
Progress bars are drawn on stderr only when both stdout and stderr are a
terminal, and never with --json or --quiet. An error is one line on stderr.

Exit status: 0 success, 1 failure, 2 usage error.";

/// The short help's last line.
const SHORT_AFTER: &str = "See --help for output fields, trust, credentials and exit status.";

/// The flags every example accepts: credentials, scheme and TLS, output.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Common options")]
pub struct Common {
    /// User name to log in with; the password is read from standard input
    /// (with --password-stdin)
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the password for --username from standard input
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Use plain http, no TLS
    #[arg(long, conflicts_with = "https")]
    pub plain_http: bool,
    /// Use https only, even for localhost and 127.0.0.0/8 (which otherwise
    /// try https, then plain http)
    #[arg(long)]
    pub https: bool,
    /// Try https, fall back to plain http, and do not verify the registry's
    /// TLS certificate (docker's insecure-registries; also allows a
    /// plain-http token server)
    #[arg(long)]
    pub insecure: bool,
    /// Speak only HTTP/1.1 over TLS (HTTP/2 is used when the registry
    /// offers it)
    #[arg(long = "http1.1")]
    pub http1_only: bool,
    /// Trust the PEM certificate(s) in FILE: CAs, or the registry's own
    /// (self-signed) certificate
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Use DIR instead of the certs.d directory for the host: *.crt trusted,
    /// NAME.cert + NAME.key a client certificate
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Present the client certificate and key in the PEM FILE (mutual TLS)
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// One JSON object per line instead of plain text (and no progress)
    #[arg(long)]
    pub json: bool,
    /// No progress bars and no notes; results and errors are still printed
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Do not use the on-disk cache of manifests and configs
    /// ($XDG_CACHE_HOME/dockreg, else ~/.cache/dockreg; every cached byte
    /// is verified again when read)
    #[arg(long)]
    pub no_cache: bool,
    /// Also keep layer blobs in that cache (pull, pull-blob, pull-artifact
    /// read them from it next time), bounded at 4 GiB instead of 256 MiB
    #[arg(long, conflicts_with = "no_cache")]
    pub cache_layers: bool,
}

/// The cache's bound with `--cache-layers`.
const LAYER_CACHE_BYTES: u64 = 4 << 30;

/// Parses the command line into `T` (an example's `clap::Parser`), with
/// `details` (its output and behaviour) and [`COMMON_HELP`] at the end of
/// `--help`. Exits 2 on a usage error, 0 after `--help` or `--version`.
pub fn parse<T: Parser>(details: &'static str) -> T {
    let long = if details.is_empty() {
        COMMON_HELP.to_owned()
    } else {
        format!("{details}\n\n{COMMON_HELP}")
    };
    let mut command = T::command()
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(SHORT_AFTER)
        .after_long_help(long);
    let matches = command
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|e| exit_usage(e));
    T::from_arg_matches(&matches).unwrap_or_else(|e| exit_usage(e.format(&mut command)))
}

/// Prints a usage error for the example `T` and exits 2.
pub fn usage_error<T: CommandFactory>(message: impl std::fmt::Display) -> ! {
    exit_usage(T::command().error(clap::error::ErrorKind::ValueValidation, message))
}

/// `--help` and `--version` as clap prints them (exit 0); any other error
/// as one line on stderr, `error: ... (see --help)`, and exit 2.
fn exit_usage(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit()
    }
    // The message is the text before the first blank line (clap goes on
    // with tips and the usage).
    let text = e.render().to_string();
    let message: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
    eprintln!("{} (see --help)", one_line(&message.join(" ")));
    std::process::exit(2)
}

/// A number that is at least 1 (`--concurrency`, `--page-size`).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A `HOST[:PORT]` argument.
pub fn registry_host(s: &str) -> Result<String, String> {
    dockreg::reference::parse_registry_host(s).map_err(|e| e.to_string())
}

impl Common {
    /// Whether progress may be drawn: stdout and stderr are terminals, and
    /// neither `--json` nor `--quiet` was given.
    pub fn progress_wanted(&self) -> bool {
        !self.json
            && !self.quiet
            && std::io::stderr().is_terminal()
            && std::io::stdout().is_terminal()
    }

    /// A note for people: on stdout with plain output, on stderr with
    /// `--json`, nowhere with `--quiet`.
    pub fn note(&self, text: &str) {
        if self.quiet {
        } else if self.json {
            eprintln!("note: {text}");
        } else {
            println!("note: {text}");
        }
    }

    /// Where credentials come from, in the order of DESIGN: flags, the
    /// environment, the Docker config ([`CredentialChain`]), with a line
    /// saying which. Reads the password from standard input for
    /// `--password-stdin`.
    pub fn credentials(&self) -> dockreg::Result<(Arc<dyn Authenticator>, String)> {
        let mut chain = CredentialChain::builder();
        if let Some(username) = &self.username {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|source| dockreg::Error::Io {
                    path: "<stdin>".into(),
                    source,
                })?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            chain = chain.credentials(username, password);
        }
        let chain = chain.build()?;
        let source = match chain.source() {
            CredentialSource::Explicit { username } => format!("user {username} (--username)"),
            other => other.to_string(),
        };
        Ok((Arc::new(chain), source))
    }

    /// A client for `registry` (`HOST[:PORT]`) built from the common flags.
    pub fn client(&self, registry: &str) -> dockreg::Result<Client> {
        let (auth, _) = self.credentials()?;
        self.client_with(registry, auth)
    }

    /// A client for `registry` with a given authenticator and the common
    /// connection flags.
    pub fn client_with(
        &self,
        registry: &str,
        auth: Arc<dyn Authenticator>,
    ) -> dockreg::Result<Client> {
        self.end().client(registry, auth)
    }

    /// The connection flags alone.
    pub fn end(&self) -> EndFlags {
        EndFlags {
            plain_http: self.plain_http,
            https: self.https,
            insecure: self.insecure,
            http1_only: self.http1_only,
            ca_cert: self.ca_cert.clone(),
            cert_dir: self.cert_dir.clone(),
            client_cert: self.client_cert.clone(),
            no_cache: self.no_cache,
            cache_layers: self.cache_layers,
        }
    }
}

/// How to reach one registry: scheme and TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndFlags {
    pub plain_http: bool,
    pub https: bool,
    pub insecure: bool,
    pub http1_only: bool,
    pub ca_cert: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    /// `--no-cache`: no on-disk cache of manifests and configs.
    pub no_cache: bool,
    /// `--cache-layers`: layer blobs too.
    pub cache_layers: bool,
}

impl EndFlags {
    /// A client for `registry` with these settings and `auth`.
    pub fn client(&self, registry: &str, auth: Arc<dyn Authenticator>) -> dockreg::Result<Client> {
        let mut builder = Client::builder(registry)
            .user_agent(concat!("dockreg-examples/", env!("CARGO_PKG_VERSION")))
            .shared_authenticator(auth)
            .on_warning(print_warning)
            .http1_only(self.http1_only);
        if !self.no_cache {
            if let Some(dir) = dockreg::cache::CacheConfig::default_dir() {
                let mut cache = dockreg::cache::CacheConfig::new(dir);
                if self.cache_layers {
                    cache = cache.layers(true).max_bytes(LAYER_CACHE_BYTES);
                }
                builder = builder.cache(cache);
            }
        }
        if self.plain_http {
            builder = builder.plain_http(true);
        }
        if self.https {
            builder = builder.plain_http(false);
        }
        if self.insecure {
            builder = builder
                .insecure_registry(true)
                .danger_accept_invalid_certs(true)
                .danger_allow_insecure_realm(true);
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| dockreg::Error::Io {
                path: path.clone(),
                source,
            })
        };
        if let Some(path) = &self.ca_cert {
            builder = builder.root_certificate_pem(&read(path)?);
        }
        if let Some(dir) = &self.cert_dir {
            builder = builder.cert_dir(dir);
        }
        if let Some(path) = &self.client_cert {
            builder = builder.client_identity_pem(&read(path)?);
        }
        builder.build()
    }
}

/// `USER:PASSWORD` (skopeo's `--creds`) as basic credentials, and the text
/// given (to tell two ends with the same credentials).
#[derive(Clone)]
pub struct Creds(pub Arc<dyn Authenticator>, String);

impl PartialEq for Creds {
    fn eq(&self, other: &Creds) -> bool {
        self.1 == other.1
    }
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Creds(<redacted>)")
    }
}

/// Parses `USER:PASSWORD`.
pub fn creds(s: &str) -> Result<Creds, String> {
    match s.split_once(':') {
        Some((user, password)) => Ok(Creds(Arc::new(Basic::new(user, password)), s.to_owned())),
        None => Err("takes USER:PASSWORD".to_owned()),
    }
}

/// Prints a registry's OCI warning on stderr, once per text for the whole
/// run (each client already drops its repeats; `copy` has two clients).
fn print_warning(warning: &str) {
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !shown.iter().any(|w| w == warning) {
        shown.push(warning.to_owned());
        progress::suspend(|| eprintln!("warning: {warning}"));
    }
}

/// Said after manifests were deleted: the registry frees layers only when
/// its garbage collection runs.
pub const GC_REMINDER: &str = "layer space is reclaimed by the registry's garbage \
collection, run while it is read-only or stopped: `registry garbage-collect CONFIG` \
(`docker-registry garbage-collect CONFIG` with the Debian package)";

/// What an example's body ends with: `()` for success, or an exit code of
/// its own (1 when some of the work failed and was reported).
pub trait Finish {
    /// The exit code.
    fn code(self) -> ExitCode;
}

impl Finish for () {
    fn code(self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

impl Finish for ExitCode {
    fn code(self) -> ExitCode {
        self
    }
}

/// Runs an example's body on a tokio runtime: prints a failure to stderr in
/// one line and exits 1, else exits with the body's code.
pub fn run<F, T>(body: F) -> ExitCode
where
    F: Future<Output = dockreg::Result<T>>,
    T: Finish,
{
    // One thread is enough: dockreg hashes and writes large blobs on threads
    // of its own, and the rest is waiting on the network. A multi-thread
    // runtime cost a 1 GiB download 0.3 s more CPU (cargo bench --bench e2e).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(body);
    progress::clear();
    match outcome {
        Ok(done) => done.code(),
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

/// A message on one line: runs of whitespace, newlines included, become one
/// space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prints one value as a JSON object on its own line.
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string(value) {
        Ok(line) => progress::suspend(|| println!("{line}")),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

/// `--filter REGEX`: only names matching the regular expression.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only names matching this regular expression (anchor it with ^ and $
    /// for a whole-name match)
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<regex::Regex>,
}

impl Filter {
    /// Whether `name` passes.
    pub fn matches(&self, name: &str) -> bool {
        self.filter.as_ref().is_none_or(|r| r.is_match(name))
    }
}

/// How tags are listed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// By bytes, as the registry lists them (`crane ls`, `regctl tag ls`)
    #[default]
    Lexical,
    /// Runs of digits compared as numbers: v1.9 before v1.10
    Version,
}

impl Sort {
    /// Sorts `names` in place.
    pub fn apply<T: AsRef<str>>(self, names: &mut [T]) {
        match self {
            Sort::Lexical => names.sort_by(|a, b| a.as_ref().cmp(b.as_ref())),
            Sort::Version => names.sort_by(|a, b| version_cmp(a.as_ref(), b.as_ref())),
        }
    }
}

/// Compares runs of digits as numbers and the rest as bytes, then the whole
/// strings (so `v01` and `v1` still have an order).
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Bytes for people: `1.5 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
