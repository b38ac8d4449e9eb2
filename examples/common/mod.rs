//! What every example shares: flags, the client from a reference, output and
//! exit codes (0 success, 1 failure, 2 usage error).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use dockreg::auth::{Authenticator, Basic, CredentialChain, CredentialSource};
use dockreg::models::Platform;
use dockreg::{Client, Reference};

/// Flags every example accepts, with a value.
const COMMON_VALUES: &[&str] = &["--ca-cert", "--cert-dir", "--client-cert", "--username"];
/// Flags every example accepts, without a value.
const COMMON_SWITCHES: &[&str] = &[
    "--plain-http",
    "--https",
    "--insecure",
    "--http1.1",
    "--json",
    "--password-stdin",
    "--help",
    "-h",
];

const COMMON_HELP: &str = "\
common options:
  --json            one JSON object per line instead of plain text
  --plain-http      use plain http, no TLS
  --https           use https only, even for localhost and 127.0.0.0/8
                    (which otherwise try https, then plain http)
  --insecure        try https, fall back to plain http, and do not verify the
                    registry's TLS certificate (docker's insecure-registries;
                    also allows a plain-http token server)
  --http1.1         speak only HTTP/1.1 over TLS (HTTP/2 is used when the
                    registry offers it)
  --ca-cert FILE    trust the PEM certificate(s) in FILE: CAs, or the
                    registry's own (self-signed) certificate
  --cert-dir DIR    use DIR instead of the certs.d directory for the host:
                    *.crt trusted, NAME.cert + NAME.key a client certificate
  --client-cert FILE  present the client certificate and key in the PEM FILE (mutual TLS)
  --username U      with --password-stdin: the password is read from standard input
trust: the system store (or SSL_CERT_FILE / SSL_CERT_DIR), --ca-cert, and the
host's certs.d directory (~/.config/containers/certs.d/HOST:PORT,
/etc/containers/certs.d/HOST:PORT, /etc/docker/certs.d/HOST:PORT; the list of
roots is $DOCKREG_CERTS_D when set); TLS material for a host means https only
credentials: --username/--password-stdin, else REGISTRY_USERNAME and
REGISTRY_PASSWORD, else the Docker config ($DOCKER_CONFIG/config.json,
~/.docker/config.json, credential helpers, podman's auth.json)
exit status: 0 success, 1 failure, 2 usage error";

/// Parsed command line.
pub struct Cli {
    usage: &'static str,
    positional: Vec<String>,
    values: HashMap<String, String>,
    switches: HashSet<String>,
}

impl Cli {
    /// Parses `std::env::args`, accepting the common flags plus `values`
    /// (flags taking a value) and `switches`. Exits 2 on a usage error and 0
    /// after printing help.
    pub fn parse(usage: &'static str, values: &[&str], switches: &[&str]) -> Cli {
        Self::parse_from(usage, values, switches, std::env::args().skip(1))
    }

    fn parse_from(
        usage: &'static str,
        values: &[&str],
        switches: &[&str],
        args: impl Iterator<Item = String>,
    ) -> Cli {
        let mut cli = Cli {
            usage,
            positional: Vec::new(),
            values: HashMap::new(),
            switches: HashSet::new(),
        };
        let mut args = args.peekable();
        let mut only_positional = false;
        while let Some(arg) = args.next() {
            if only_positional || !arg.starts_with('-') || arg == "-" {
                cli.positional.push(arg);
                continue;
            }
            if arg == "--" {
                only_positional = true;
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            if values.contains(&name.as_str()) || COMMON_VALUES.contains(&name.as_str()) {
                let value = match inline.or_else(|| args.next()) {
                    Some(v) => v,
                    None => cli.usage_error(&format!("{name} needs a value")),
                };
                cli.values.insert(name, value);
            } else if switches.contains(&name.as_str()) || COMMON_SWITCHES.contains(&name.as_str())
            {
                if inline.is_some() {
                    cli.usage_error(&format!("{name} takes no value"));
                }
                cli.switches.insert(name);
            } else {
                cli.usage_error(&format!("unknown option {name}"));
            }
        }
        if cli.switch("--help") || cli.switch("-h") {
            println!("{}\n{COMMON_HELP}", cli.usage);
            std::process::exit(0);
        }
        if cli.switch("--https") && cli.switch("--plain-http") {
            cli.usage_error("--https and --plain-http exclude each other");
        }
        if cli.switch("--password-stdin") != cli.value("--username").is_some() {
            cli.usage_error("--username and --password-stdin go together");
        }
        cli
    }

    /// Prints a usage error and exits 2.
    pub fn usage_error(&self, message: &str) -> ! {
        eprintln!("error: {message}\n{}", self.usage);
        std::process::exit(2)
    }

    /// Whether a switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(name)
    }

    /// A flag's value, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A flag's value parsed, or the default; exits 2 when it does not parse.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.value(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| self.usage_error(&format!("bad value {v:?} for {name}"))),
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.switch("--json")
    }

    /// The positional arguments; exits 2 unless there are exactly `n`.
    pub fn positional(&self, n: usize) -> &[String] {
        if self.positional.len() != n {
            self.usage_error(&format!(
                "expected {n} argument(s), got {}",
                self.positional.len()
            ));
        }
        &self.positional
    }

    /// `--concurrency N` (at least 1), or the default; exits 2 when bad.
    pub fn concurrency(&self, default: usize) -> usize {
        let n = self.parsed("--concurrency", default);
        if n == 0 {
            self.usage_error("--concurrency must be at least 1");
        }
        n
    }

    /// `--platform OS/ARCH[/VARIANT]`, if given; exits 2 when malformed.
    pub fn platform(&self) -> Option<Platform> {
        self.value("--platform").map(|p| {
            p.parse()
                .unwrap_or_else(|e: dockreg::Error| self.usage_error(&e.to_string()))
        })
    }

    /// Parses a docker-style reference argument; exits 2 when malformed.
    pub fn reference(&self, arg: &str) -> Reference {
        arg.parse()
            .unwrap_or_else(|e: dockreg::Error| self.usage_error(&e.to_string()))
    }

    /// Where credentials come from, in the order of DESIGN: flags, the
    /// environment, the Docker config ([`CredentialChain`]), with a line
    /// saying which. Reads the password from standard input for
    /// `--password-stdin`.
    pub fn credentials(&self) -> dockreg::Result<(Arc<dyn Authenticator>, String)> {
        let mut chain = CredentialChain::builder();
        if let Some(username) = self.value("--username") {
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
        self.end_flags("").client(registry, auth)
    }

    /// The connection flags of one end: `--PREFIX-plain-http`,
    /// `--PREFIX-tls-verify=BOOL`, `--PREFIX-cert-dir DIR` (skopeo's
    /// names), each falling back to the common flag; `""` gives the common
    /// flags alone. The command must accept the prefixed flags.
    pub fn end_flags(&self, prefix: &str) -> EndFlags {
        let own = |name: &str| (!prefix.is_empty()).then(|| format!("--{prefix}-{name}"));
        let value = |name: &str| {
            own(name)
                .and_then(|n| self.value(&n).map(str::to_owned))
                .or_else(|| self.value(&format!("--{name}")).map(str::to_owned))
        };
        let switch = |name: &str| {
            own(name).is_some_and(|n| self.switch(&n)) || self.switch(&format!("--{name}"))
        };
        let tls_verify = own("tls-verify").and_then(|n| {
            self.value(&n).map(|v| match v {
                "true" => true,
                "false" => false,
                _ => self.usage_error(&format!("{n} takes true or false")),
            })
        });
        let mut flags = EndFlags {
            plain_http: switch("plain-http"),
            https: switch("https"),
            insecure: switch("insecure"),
            http1_only: self.switch("--http1.1"),
            ca_cert: value("ca-cert"),
            cert_dir: value("cert-dir"),
            client_cert: value("client-cert"),
        };
        match tls_verify {
            Some(false) => flags.insecure = true,
            Some(true) => {
                flags.insecure = false;
                flags.https = true;
            }
            None => {}
        }
        if flags.https && flags.plain_http {
            self.usage_error("https and plain http exclude each other");
        }
        flags
    }
}

/// How to reach one registry: scheme and TLS (see [`Cli::end_flags`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndFlags {
    pub plain_http: bool,
    pub https: bool,
    pub insecure: bool,
    pub http1_only: bool,
    pub ca_cert: Option<String>,
    pub cert_dir: Option<String>,
    pub client_cert: Option<String>,
}

impl EndFlags {
    /// A client for `registry` with these settings and `auth`.
    pub fn client(&self, registry: &str, auth: Arc<dyn Authenticator>) -> dockreg::Result<Client> {
        let mut builder = Client::builder(registry)
            .user_agent(concat!("dockreg-examples/", env!("CARGO_PKG_VERSION")))
            .shared_authenticator(auth)
            .on_warning(print_warning)
            .http1_only(self.http1_only);
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
        let read = |path: &str| {
            std::fs::read(path).map_err(|source| dockreg::Error::Io {
                path: path.into(),
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

/// `USER:PASSWORD` (skopeo's `--creds`) as basic credentials; exits 2 when
/// there is no colon.
pub fn creds(cli: &Cli, flag: &str) -> Option<Arc<dyn Authenticator>> {
    let value = cli.value(flag)?;
    let Some((user, password)) = value.split_once(':') else {
        cli.usage_error(&format!("{flag} takes USER:PASSWORD"));
    };
    Some(Arc::new(Basic::new(user, password)))
}

/// Prints a registry's OCI warning on stderr, once per text for the whole
/// run (each client already drops its repeats; `copy` has two clients).
fn print_warning(warning: &str) {
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !shown.iter().any(|w| w == warning) {
        shown.push(warning.to_owned());
        eprintln!("warning: {warning}");
    }
}

/// Said after manifests were deleted: the registry frees layers only when
/// its garbage collection runs.
pub const GC_REMINDER: &str = "layer space is reclaimed by the registry's garbage \
collection, run while it is read-only or stopped: `registry garbage-collect CONFIG` \
(`docker-registry garbage-collect CONFIG` with the Debian package)";

/// Runs an example's body on a tokio runtime: prints a failure to stderr in
/// one line and exits 1, else exits 0.
pub fn run<F>(body: F) -> ExitCode
where
    F: Future<Output = dockreg::Result<()>>,
{
    // One thread is enough: dockreg hashes and writes large blobs on threads
    // of its own, and the rest is waiting on the network. A multi-thread
    // runtime cost a 1 GiB download 0.3 s more CPU (cargo bench --bench e2e).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
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

/// Prints one JSON object on its own line.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// A progress line on stderr when it is a terminal; silent otherwise.
pub struct Progress {
    enabled: bool,
    label: String,
    last_percent: Option<u64>,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            label: label.into(),
            last_percent: None,
        }
    }

    pub fn update(&mut self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let percent = total.filter(|t| *t > 0).map(|t| done * 100 / t);
        if percent.is_some() && percent == self.last_percent {
            return;
        }
        self.last_percent = percent;
        match (percent, total) {
            (Some(p), Some(t)) => {
                eprint!("\r{}: {} / {} ({p}%)", self.label, human(done), human(t))
            }
            _ => eprint!("\r{}: {}", self.label, human(done)),
        }
    }

    pub fn finish(&mut self) {
        if self.enabled {
            eprintln!();
        }
    }
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
