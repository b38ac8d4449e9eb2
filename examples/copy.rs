//! Copies an image from one reference to another, on the same registry
//! (blobs are mounted, no bytes move) or between registries (blobs are
//! streamed through, verified). Manifests keep their exact bytes, so the
//! digest does not change.
//!
//! ```text
//! cargo run --example copy -- 127.0.0.1:5000/team/app:v1 127.0.0.1:5000/team/app:stable
//! cargo run --release --example copy -- 127.0.0.1:5000/team/app:v1 registry.example.com/team/app:v1
//! cargo run --example copy -- 127.0.0.1:5000/team/app:multi 127.0.0.1:5000/team/app:amd64 --platform linux/amd64
//! cargo run --example copy -- 127.0.0.1:5000/team/app:v1 127.0.0.1:5443/team/app:v1 \
//!     --dest-creds alice:secret --dest-cert-dir certs
//! ```
mod common;

use std::process::ExitCode;
use std::sync::Arc;

use common::Cli;
use dockreg::auth::{Anonymous, Authenticator};
use dockreg::transfer::CopyOptions;
use dockreg::TagOrDigest;

const USAGE: &str = "\
usage: copy SRC DST [--platform OS/ARCH[/VARIANT] | --all-platforms] [--concurrency N] [--json]
  SRC and DST are HOST[:PORT]/NAME[:TAG|@DIGEST], on one registry or two. A DST
  without tag or digest takes SRC's (its digest when SRC names one).
  --all-platforms  copy every platform of an index, byte for byte (the default)
  --platform P     copy only this platform's manifest of an index, tagged as DST
                   (the digest is then that manifest's, not the index's)
  --concurrency N  blobs transferred at once (default 4)
per end, as skopeo has them (each falls back to the common option):
  --src-creds USER:PASSWORD / --dest-creds USER:PASSWORD
                   credentials for that registry only
  --src-cert-dir DIR / --dest-cert-dir DIR
                   *.crt trusted, NAME.cert + NAME.key a client certificate
  --src-tls-verify=false / --dest-tls-verify=false
                   like --insecure for that end (=true: https only, verified)
  --src-plain-http / --dest-plain-http
                   plain http for that end
without --src-creds/--dest-creds, --username/--password-stdin and
REGISTRY_USERNAME/REGISTRY_PASSWORD are sent to each end; the Docker config
picks each registry's own entry
plain output: `copied SRC -> DST DIGEST (N blobs uploaded, M mounted, K already there, X MiB)`
--json: {\"source\",\"destination\",\"digest\",\"manifests\",\"blobs_uploaded\",
\"blobs_mounted\",\"blobs_existing\",\"bytes_uploaded\"}";

fn main() -> ExitCode {
    let cli = Cli::parse(
        USAGE,
        &[
            "--platform",
            "--concurrency",
            "--src-creds",
            "--dest-creds",
            "--src-cert-dir",
            "--dest-cert-dir",
            "--src-tls-verify",
            "--dest-tls-verify",
        ],
        &["--all-platforms", "--src-plain-http", "--dest-plain-http"],
    );
    let (src_end, dest_end) = (cli.end_flags("src"), cli.end_flags("dest"));
    let (src_creds, dest_creds) = (
        common::creds(&cli, "--src-creds"),
        common::creds(&cli, "--dest-creds"),
    );
    let args = cli.positional(2);
    let source = cli.reference(&args[0]);
    let mut dest = cli.reference(&args[1]);
    if dest.tag().is_none() && dest.digest().is_none() {
        dest = match source.target() {
            TagOrDigest::Digest(d) => dest.with_digest(d),
            TagOrDigest::Tag(t) => dest.with_tag(t),
        };
    }
    let platform = cli.platform();
    if platform.is_some() && cli.switch("--all-platforms") {
        cli.usage_error("--platform and --all-platforms exclude each other");
    }
    let mut options = CopyOptions::default().concurrency(cli.concurrency(4));
    if let Some(p) = platform {
        options = options.platform(p);
    }
    common::run(async move {
        // The common credentials once (--password-stdin reads standard
        // input), and only when an end has none of its own.
        let shared = match (&src_creds, &dest_creds) {
            (Some(_), Some(_)) => None,
            _ => Some(cli.credentials()?.0),
        };
        let pick = |own: &Option<Arc<dyn Authenticator>>| -> Arc<dyn Authenticator> {
            own.clone()
                .or_else(|| shared.clone())
                .unwrap_or_else(|| Arc::new(Anonymous::new()))
        };
        let from = src_end.client(source.registry(), pick(&src_creds))?;
        let same_end = dest.registry() == source.registry()
            && cli.value("--src-creds") == cli.value("--dest-creds")
            && src_end == dest_end;
        let to = if same_end {
            from.clone()
        } else {
            dest_end.client(dest.registry(), pick(&dest_creds))?
        };
        let (from, source_target) = from.repository_for(&source)?;
        let (to, dest_target) = to.repository_for(&dest)?;
        let report = from
            .copy_image(source_target, &to, dest_target, &options)
            .await?;
        let digest = report.digest.as_ref().map(ToString::to_string);
        if cli.json() {
            common::print_json(&serde_json::json!({
                "source": source.to_string(),
                "destination": dest.to_string(),
                "digest": digest,
                "manifests": report.manifests,
                "blobs_uploaded": report.blobs_uploaded,
                "blobs_mounted": report.blobs_mounted,
                "blobs_existing": report.blobs_existing,
                "bytes_uploaded": report.bytes_uploaded,
            }));
        } else {
            println!(
                "copied {source} -> {dest} {} ({} blobs uploaded, {} mounted, {} already there, {})",
                digest.as_deref().unwrap_or("-"),
                report.blobs_uploaded,
                report.blobs_mounted,
                report.blobs_existing,
                mib(report.bytes_uploaded),
            );
        }
        Ok(())
    })
}

/// Bytes as MiB with one decimal, as the output line promises.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
