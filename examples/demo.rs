//! A tour of dockreg on a throwaway registry: it starts the CNCF registry
//! (`docker-registry`) on a free loopback port with a temporary directory,
//! pushes a few small images it builds itself (no Docker, no network), then
//! walks the jobs people do with curl and jq, printing each call beside the
//! curl command it replaces: ping, catalog, tags, a tag's digest by HEAD, the
//! tag report, deleting one tag of two that share a digest, deleting a
//! digest, and the space report before and after the registry's garbage
//! collection. It stops the registry and removes its directory when done,
//! also on Ctrl-C; `--keep` leaves it running for the other examples.
//!
//! ```text
//! cargo run --release --example demo
//! cargo run --release --example demo -- --keep
//! ```
//!
//! Exit status: 0 success, 1 failure, 2 when `docker-registry` is missing
//! (it prints the command that installs it) or on a usage error.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::Parser;
use dockreg::models::{
    media_type, Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform, RootFs,
};
use dockreg::models::{FsLayer, Schema1History, Schema1Manifest, Signature};
use dockreg::repository::ReportOptions;
use dockreg::usage::{DeleteTarget, UsageOptions};
use dockreg::{Client, Digest, Manifest, Repository};
use futures::TryStreamExt;
use sha2::{Digest as _, Sha256};

/// A tour of dockreg on a throwaway registry that it starts, fills and
/// removes: the curl-and-jq jobs, one typed call each.
#[derive(Parser)]
#[command(
    name = "demo",
    version,
    after_help = "exit status: 0 success, 1 failure, 2 docker-registry missing or a usage error"
)]
struct Args {
    /// Leave the registry running when the tour is done, and print its
    /// address and how to stop it, so the other examples can be tried on it.
    #[arg(long)]
    keep: bool,
    /// The registry binary (default: `docker-registry` on the PATH).
    #[arg(long, value_name = "PATH", default_value = "docker-registry")]
    registry_bin: PathBuf,
    /// Wait for Enter before each step (for showing it to someone).
    #[arg(long)]
    step: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(bin) = find_program(&args.registry_bin) else {
        eprintln!(
            "demo: {} not found; it is the CNCF distribution registry, install it with:\n  \
             sudo apt-get install docker-registry",
            args.registry_bin.display()
        );
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // Listen for Ctrl-C (and a plain `kill`) before the registry starts, so
    // that no moment leaves it running behind an interrupted demo.
    let signals = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    });
    let (mut interrupt, mut terminate) = match signals {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo: cannot listen for Ctrl-C: {e}");
            return ExitCode::from(1);
        }
    };
    let mut registry = match Throwaway::start(&bin, args.keep) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::from(1);
        }
    };
    let mut pace = Pace::new(args.step);
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = tour(&mut registry, &mut pace) => r.map(|()| true),
            _ = interrupt.recv() => Ok(false),
            _ = terminate.recv() => Ok(false),
        }
    });
    // A read of standard input (--step) may still be waiting on a blocking
    // thread: do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(true) if args.keep => {
            registry.keep();
            ExitCode::SUCCESS
        }
        Ok(true) => {
            println!(
                "\nStopped the registry and removed {}.",
                registry.dir.path().display()
            );
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("\ndemo: interrupted; stopped the registry and removed its directory");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("demo: {e}");
            if let Ok(log) = std::fs::read_to_string(registry.dir.path().join("registry.log")) {
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                for line in tail.iter().rev() {
                    eprintln!("  registry: {line}");
                }
            }
            ExitCode::from(1)
        }
    }
}

type Failure = Box<dyn std::error::Error>;

/// The tour: seeding, then one numbered step per job.
async fn tour(registry: &mut Throwaway, pace: &mut Pace) -> Result<(), Failure> {
    let started = Instant::now();
    let host = registry.host();
    let url = format!("http://{host}");
    println!(
        "Started docker-registry at {url} (storage in {}).",
        registry.storage().display()
    );

    let client = Client::builder(host.as_str()).plain_http(true).build()?;
    let app = client.repository("demo/app")?;
    let multi = client.repository("demo/multi")?;
    let old = client.repository("demo/old")?;
    let legacy = client.repository("demo/legacy")?;

    // Seed: built here, pushed with dockreg.
    let v1 = push_image(
        &app,
        "v1",
        "hello from v1\n",
        "2026-01-05T10:00:00Z",
        "amd64",
    )
    .await?;
    let v2 = push_image(
        &app,
        "v2",
        "hello from v2\n",
        "2026-03-09T12:30:00Z",
        "amd64",
    )
    .await?;
    app.put_manifest("latest", &v2).await?;
    let _ = v1;
    let amd64 = push_image(
        &multi,
        "amd64",
        "multi amd64\n",
        "2026-02-01T08:00:00Z",
        "amd64",
    )
    .await?;
    let arm64 = push_image(
        &multi,
        "arm64",
        "multi arm64\n",
        "2026-02-01T08:00:00Z",
        "arm64",
    )
    .await?;
    let index = ImageIndex::new(vec![
        descriptor_of(&amd64)?.with_platform(Platform::new("linux", "amd64")),
        descriptor_of(&arm64)?.with_platform(Platform::new("linux", "arm64")),
    ]);
    multi
        .put_manifest("1.0", &Manifest::from_index(&index)?)
        .await?;
    let old_image = push_image(
        &old,
        "1.0",
        "an old release\n",
        "2025-06-01T00:00:00Z",
        "amd64",
    )
    .await?;
    old.put_manifest("1.0.0", &old_image).await?;
    let schema1 = match push_schema1(&legacy, "v1").await {
        Ok(()) => "demo/legacy:v1 (signed schema 1)",
        Err(e) => {
            println!("  (the registry refused a schema 1 manifest: {e})");
            "no schema 1 image"
        }
    };
    println!(
        "Pushed demo/app:v1, demo/app:v2 and demo/app:latest (= v2), demo/multi:1.0 (an index for \
         linux/amd64 and linux/arm64), demo/old:1.0 and demo/old:1.0.0 (one digest), {schema1}."
    );

    pace.wait().await;
    step(
        1,
        "Is it a registry, and does it want credentials?",
        &format!("curl -si {url}/v2/"),
    );
    let ping = client.ping().await?;
    say(
        "client.ping()",
        &format!(
            "{} {}, {}",
            ping.status.as_u16(),
            ping.api_version
                .as_deref()
                .unwrap_or("(no Docker-Distribution-Api-Version)"),
            if ping.needs_auth() {
                "credentials needed"
            } else {
                "no credentials needed"
            }
        ),
    );

    pace.wait().await;
    step(
        2,
        "Which repositories are there?",
        &format!("curl -s '{url}/v2/_catalog?n=100' | jq -r '.repositories[]'  # and follow Link"),
    );
    let names: Vec<_> = client.repositories().try_collect().await?;
    say("client.repositories()", &join(&names));

    pace.wait().await;
    step(
        3,
        "Which tags does demo/app have?",
        &format!("curl -s {url}/v2/demo/app/tags/list | jq -r '.tags[]'  # and follow Link"),
    );
    let tags: Vec<_> = app.tags().try_collect().await?;
    say("repo.tags()", &join(&tags));

    pace.wait().await;
    step(
        4,
        "What digest does demo/app:v2 point at?",
        &format!(
            "curl -sI -H 'Accept: {}' -H 'Accept: {}' ... {url}/v2/demo/app/manifests/v2 | grep -i docker-content-digest",
            media_type::OCI_MANIFEST,
            media_type::DOCKER_MANIFEST_V2,
        ),
    );
    let digest = app.manifest_digest("v2").await?;
    say(
        "repo.manifest_digest(\"v2\")  # HEAD, every manifest type accepted",
        digest.as_ref(),
    );

    pace.wait().await;
    step(
        5, "Every tag with its digest and created date", "for t in $(curl ... tags/list | jq -r '.tags[]'); do curl manifest; curl config | jq .created; done");
    let report = app.tag_report(&ReportOptions::default()).await?;
    say("repo.tag_report(&ReportOptions::default())", "");
    for row in &report.rows {
        println!(
            "    demo/app:{:<10} {}  {}",
            row.tag.to_string(),
            short(&row.digest),
            row.created.as_deref().unwrap_or("-")
        );
    }
    for failed in &report.errors {
        println!("    demo/app:{:<10} error: {}", failed.tag, failed.error);
    }
    // A schema 1 image reports too: its created date is in its history.
    let legacy_rows = legacy.tag_report(&ReportOptions::default()).await?;
    for row in &legacy_rows.rows {
        println!(
            "    demo/legacy:{:<7} {}  {}  ({})",
            row.tag.to_string(),
            short(&row.digest),
            row.created.as_deref().unwrap_or("-"),
            row.media_type
        );
    }

    pace.wait().await;
    step(
        6,
        "Delete demo/app:latest, but keep v2, which has the same digest",
        "curl -X DELETE .../manifests/sha256:...  # would delete v2 as well",
    );
    let plan = app.untag_plan("latest").await?;
    say("repo.untag_plan(\"latest\")", &describe_untag(&plan));
    let done = app.untag("latest").await?;
    say("repo.untag(\"latest\")", &describe_untag(&done));
    let tags: Vec<_> = app.tags().try_collect().await?;
    say("repo.tags()", &join(&tags));
    say(
        "repo.manifest_digest(\"v2\")",
        &format!("{} (unchanged)", app.manifest_digest("v2").await?),
    );

    let before = client.usage(&UsageOptions::default()).await?;
    let old_digest = old.manifest_digest("1.0").await?;
    let target = DeleteTarget::Digest(old.name().clone(), old_digest.clone());
    let what_if = client
        .what_if_delete(&target, &UsageOptions::default())
        .await?;

    pace.wait().await;
    step(
        7,
        "Delete demo/old by digest: both of its tags go",
        &format!("curl -X DELETE {url}/v2/demo/old/manifests/{old_digest}"),
    );
    say(
        &format!("client.what_if_delete(demo/old@{})", short(&old_digest)),
        &format!(
            "frees {} in {} blob(s) after garbage collection; tags going: {}",
            human(what_if.total_bytes()),
            what_if.blobs.len(),
            join(&what_if.tags)
        ),
    );
    old.delete_manifest(&old_digest).await?;
    say(
        &format!("repo.delete_manifest({})", short(&old_digest)),
        "deleted",
    );
    let raw = raw_get(&client, &format!("{url}/v2/demo/old/tags/list")).await?;
    let tags: Vec<_> = old.tags().try_collect().await?;
    say(
        "repo.tags()",
        &format!("[{}]  (the registry answers {raw})", join(&tags)),
    );

    pace.wait().await;
    step(
        8,
        "Where are the bytes, and what does garbage collection free?",
        "du -sch /var/lib/registry; docker-registry garbage-collect config.yml; du -sch /var/lib/registry",
    );
    say("client.usage() before", "");
    print_usage(&before);
    let du_before = du(&registry.storage());
    let gc = registry.garbage_collect()?;
    let du_after = du(&registry.storage());
    let after = client.usage(&UsageOptions::default()).await?;
    say("client.usage() after delete and garbage-collect", "");
    print_usage(&after);
    println!(
        "    du of the storage: {} before, {} after garbage-collect: {} freed\n    \
         garbage-collect: {gc}\n    \
         dockreg predicted {} for demo/old (its layer, config and manifest); the rest is the \
         placeholder of step 6 and the registry's link files",
        human(du_before),
        human(du_after),
        human(du_before.saturating_sub(du_after)),
        human(what_if.total_bytes()),
    );

    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Builds and pushes a one-layer OCI image (a real gzipped tar holding
/// `hello.txt`), tags it, and returns its manifest.
async fn push_image(
    repo: &Repository,
    tag: &str,
    text: &str,
    created: &str,
    architecture: &str,
) -> Result<Manifest, Failure> {
    let tar = tar_one_file("hello.txt", text.as_bytes());
    let layer = gzip_stored(&tar);
    let mut config = ImageConfig::new("linux", architecture);
    config.created = Some(created.to_owned());
    config.author = Some("dockreg demo".to_owned());
    config.rootfs = Some(RootFs::new(vec![Digest::sha256(&tar)]));
    let config_bytes = serde_json::to_vec(&config)?;
    repo.push_blob(layer.clone()).await?;
    repo.push_blob(config_bytes.clone()).await?;
    let manifest = ImageManifest::new(
        Descriptor::for_bytes(media_type::OCI_CONFIG, &config_bytes),
        vec![Descriptor::for_bytes(media_type::OCI_LAYER, &layer)],
    );
    let manifest = Manifest::from_image_manifest(&manifest)?;
    repo.put_manifest(tag, &manifest).await?;
    Ok(manifest)
}

fn descriptor_of(manifest: &Manifest) -> Result<Descriptor, Failure> {
    Ok(Descriptor::new(
        manifest.media_type(),
        manifest.digest()?,
        manifest.bytes().len() as u64,
    ))
}

/// Pushes a schema 1 manifest of one layer, signed as libtrust signs it
/// (ES256, the key in the `jwk` header, `formatLength`/`formatTail` in the
/// protected header). The key is derived from a fixed seed, so the digest is
/// the same on every run.
async fn push_schema1(repo: &Repository, tag: &str) -> Result<(), Failure> {
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature as EcSignature, SigningKey};

    let tar = tar_one_file("legacy.txt", b"a schema 1 image\n");
    let layer = gzip_stored(&tar);
    let pushed = repo.push_blob(layer).await?;
    let v1 = serde_json::json!({
        "id": hex(&Sha256::digest(b"dockreg demo legacy layer")),
        "created": "2024-04-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "author": "dockreg demo",
    });
    let mut manifest = Schema1Manifest::new(repo.name().to_string(), tag, "amd64");
    manifest.fs_layers.push(FsLayer::new(pushed.digest.clone()));
    manifest.history.push(Schema1History::new(v1.to_string()));
    let payload = serde_json::to_vec_pretty(&manifest)?;

    // libtrust: the payload up to the last character before the closing
    // brace, then the tail (the brace and what follows it).
    let close = payload
        .iter()
        .rposition(|b| *b == b'}')
        .ok_or("no closing brace")?;
    let format_length = payload[..close]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let tail = &payload[format_length..];
    let protected = serde_json::json!({
        "formatLength": format_length,
        "formatTail": URL_SAFE_NO_PAD.encode(tail),
        "time": "2024-04-01T00:00:00Z",
    });
    let protected = URL_SAFE_NO_PAD.encode(protected.to_string());
    let signing_input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(&payload));

    let key = SigningKey::from_slice(&Sha256::digest(b"dockreg demo schema 1 key"))?;
    let signature: EcSignature = key.sign(signing_input.as_bytes());
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().ok_or("no x")?, point.y().ok_or("no y")?);
    let header = serde_json::json!({
        "jwk": {
            "crv": "P-256",
            "kid": libtrust_key_id(point.as_bytes()),
            "kty": "EC",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        },
        "alg": "ES256",
    });
    let signatures = vec![Signature::new(
        header,
        URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        protected,
    )];
    let mut body = payload[..format_length].to_vec();
    body.extend_from_slice(b",\n  \"signatures\": ");
    body.extend_from_slice(&serde_json::to_vec(&signatures)?);
    body.extend_from_slice(tail);
    let signed = Manifest::from_bytes(body, Some(media_type::DOCKER_MANIFEST_V1_SIGNED))?;
    repo.put_manifest(tag, &signed).await?;
    Ok(())
}

/// libtrust's key ID: the SHA-256 of the key's DER (SubjectPublicKeyInfo),
/// its first 240 bits in base32, in twelve groups of four.
fn libtrust_key_id(uncompressed_point: &[u8]) -> String {
    const P256_SPKI_PREFIX: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(uncompressed_point);
    let hash = Sha256::digest(&der);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut nbits = 0;
    let mut out = String::new();
    for byte in &hash[..30] {
        bits = (bits << 8) | u64::from(*byte);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(ALPHABET[((bits >> nbits) & 31) as usize] as char);
        }
    }
    let groups: Vec<&str> = (0..12).map(|i| &out[i * 4..i * 4 + 4]).collect();
    groups.join(":")
}

/// A ustar archive holding one regular file.
fn tar_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let fields: [(usize, String); 5] = [
        (100, "0000644\0".to_owned()),
        (108, "0000000\0".to_owned()),
        (116, "0000000\0".to_owned()),
        (124, format!("{:011o}\0", content.len())),
        (136, format!("{:011o}\0", 1_700_000_000u64)),
    ];
    for (at, value) in fields {
        header[at..at + value.len()].copy_from_slice(value.as_bytes());
    }
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.resize(tar.len() + 1024, 0);
    tar
}

/// `data` as a gzip member of stored (uncompressed) deflate blocks: a valid
/// `.tar.gz` without a compression library.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The registry, its directory and its process; dropping it stops the
/// process and removes the directory.
struct Throwaway {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    child: Option<Child>,
    /// Outlives the demo (`--keep`); otherwise the registry is stopped when
    /// the demo's process dies, even by SIGKILL.
    keep: bool,
}

impl Throwaway {
    fn start(bin: &Path, keep: bool) -> Result<Throwaway, Failure> {
        let dir = tempfile::Builder::new().prefix("dockreg-demo-").tempdir()?;
        let mut registry = Throwaway {
            dir,
            port: 0,
            bin: bin.to_owned(),
            child: None,
            keep,
        };
        let mut last = String::new();
        // A free port can be taken between the probe and the registry's
        // bind: try a few.
        for _ in 0..5 {
            registry.port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            std::fs::write(registry.config(), registry.config_yaml())?;
            match registry.spawn() {
                Ok(()) => return Ok(registry),
                Err(e) => {
                    last = e.to_string();
                    reap(registry.child.take());
                }
            }
        }
        Err(format!("docker-registry did not start: {last}").into())
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    fn config_yaml(&self) -> String {
        format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  \
             filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: \
             127.0.0.1:{}\ncompatibility:\n  schema1:\n    enabled: true\n",
            self.storage().display(),
            self.port
        )
    }

    /// Starts the process in a process group of its own (a Ctrl-C on the
    /// terminal reaches the demo, which stops it) and waits until `/v2/`
    /// answers.
    fn spawn(&mut self) -> Result<(), Failure> {
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::File::create(self.dir.path().join("registry.log"))?;
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .arg(self.config())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        #[cfg(target_os = "linux")]
        if !self.keep {
            // SAFETY: prctl is async-signal-safe and touches no memory of
            // the parent; it runs in the forked child before exec.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command.spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(self.dir.path().join("registry.log"))
                    .unwrap_or_default();
                return Err(
                    format!("it exited ({status}): {}", log.lines().last().unwrap_or("")).into(),
                );
            }
            if answers_v2(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("it did not answer /v2/ within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the registry, runs `docker-registry garbage-collect` on its
    /// storage (it wants a registry that is not serving), and starts it
    /// again on the same port. Returns garbage-collect's summary line.
    fn garbage_collect(&mut self) -> Result<String, Failure> {
        reap(self.child.take());
        let out = Command::new(&self.bin)
            .arg("garbage-collect")
            .arg(self.config())
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "docker-registry garbage-collect failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        self.spawn()?;
        // "N blobs marked, M blobs and K manifests eligible for deletion"
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = text
            .lines()
            .find(|l| l.contains("eligible for deletion"))
            .unwrap_or("")
            .trim()
            .to_owned();
        Ok(summary)
    }

    /// Leaves the registry running and its directory in place.
    fn keep(mut self) {
        let child = self.child.take();
        let pid = child.as_ref().map_or(0, Child::id);
        let dir =
            std::mem::replace(&mut self.dir, tempfile::TempDir::new().expect("a temp dir")).keep();
        println!(
            "\nThe registry keeps running at {} (pid {pid}, directory {}).\n\
             Try the other examples on it:\n  \
             cargo run --example tags -- {}/demo/app\n  \
             cargo run --example report -- {}/demo/app\n  \
             cargo run --example usage -- {}\n\
             Stop it with:\n  kill {pid} && rm -rf {}",
            self.host(),
            dir.display(),
            self.host(),
            self.host(),
            self.host(),
            dir.display()
        );
        std::mem::forget(child);
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        reap(self.child.take());
    }
}

fn reap(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// With `--step`, waits for Enter before each step (and stops waiting at
/// the end of standard input).
struct Pace {
    lines: Option<tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>>,
}

impl Pace {
    fn new(enabled: bool) -> Pace {
        use tokio::io::AsyncBufReadExt as _;
        Pace {
            lines: enabled.then(|| tokio::io::BufReader::new(tokio::io::stdin()).lines()),
        }
    }

    async fn wait(&mut self) {
        let Some(lines) = &mut self.lines else { return };
        print!("\n[Enter: next step] ");
        let _ = std::io::stdout().flush();
        if !matches!(lines.next_line().await, Ok(Some(_))) {
            self.lines = None;
        }
    }
}

/// A step's heading and the curl command it replaces.
fn step(n: usize, what: &str, curl: &str) {
    println!("\n{n}. {what}\n   curl:    {curl}");
}

/// A dockreg call and what it gave.
fn say(call: &str, result: &str) {
    if result.is_empty() {
        println!("   dockreg: {call}");
    } else {
        println!("   dockreg: {call}\n            -> {result}");
    }
    let _ = std::io::stdout().flush();
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

/// `sha256:` and the first 12 hex digits, as docker shows image IDs.
fn short(digest: &Digest) -> String {
    let s = digest.to_string();
    s.chars().take("sha256:".len() + 12).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Bytes in binary units, as `du -h` shows them.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_usage(usage: &dockreg::usage::Usage) {
    println!(
        "    {:<12} {:>4} {:>9} {:>10} {:>10}",
        "REPOSITORY", "TAGS", "MANIFESTS", "BYTES", "SHARED"
    );
    for row in &usage.repositories {
        println!(
            "    {:<12} {:>4} {:>9} {:>10} {:>10}",
            row.repository.to_string(),
            row.tags,
            row.manifests,
            human(row.bytes),
            row.shared_bytes.map_or_else(|| "-".to_owned(), human)
        );
    }
    let t = &usage.totals;
    println!(
        "    {:<12} {:>4} {:>9} {:>10}  (each blob once)",
        "total",
        t.tags,
        t.manifests,
        human(t.bytes)
    );
}

/// The bytes of the regular files under `dir`, as `du -sb` counts them.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// What curl would print for `url`: the registry's own JSON, unparsed.
async fn raw_get(client: &Client, url: &str) -> Result<String, Failure> {
    let _ = client;
    let body = dockreg::reqwest::get(url).await?.text().await?;
    Ok(body.trim().to_owned())
}

fn describe_untag(untagged: &dockreg::api::Untagged) -> String {
    match untagged {
        dockreg::api::Untagged::TagOnly {
            tag,
            digest_kept,
            other_tags,
            placeholder,
            ..
        } => match placeholder {
            None => format!(
                "will point {tag} at a placeholder manifest and delete that; {} keeps naming {}",
                join(other_tags),
                short(digest_kept)
            ),
            Some(p) => format!(
                "{tag} pointed at placeholder {}, which was deleted; {} still names {}",
                short(p),
                join(other_tags),
                short(digest_kept)
            ),
        },
        dockreg::api::Untagged::Manifest { tag, digest, .. } => {
            format!(
                "{tag} was the only tag of {}: the manifest is deleted",
                short(digest)
            )
        }
        other => format!("{other:?}"),
    }
}

/// Whether `GET /v2/` on the port answers 200.
fn answers_v2(port: u16) -> bool {
    use std::io::Read as _;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// `program` itself when it has a slash, else the first match on `PATH`.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
