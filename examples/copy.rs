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
//! cargo run --example copy -- 127.0.0.1:5000/team/app:v1 127.0.0.1:5001/team/app:v1 --referrers
//! ```
mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use common::progress::Transfer;
use common::{Common, Creds, EndFlags};
use dockreg::auth::{Anonymous, Authenticator};
use dockreg::models::Platform;
use dockreg::transfer::{CopyOptions, TransferReport};
use dockreg::{Reference, TagOrDigest};

const DETAILS: &str = "\
SRC and DST are on one registry (blobs are mounted, no bytes move) or two (blobs
are streamed through, verified). A DST without tag or digest takes SRC's (its
digest when SRC names one).
Without --src-creds/--dest-creds, --username/--password-stdin and
REGISTRY_USERNAME/REGISTRY_PASSWORD are sent to each end; the Docker config
picks each registry's own entry. Each --src-*/--dest-* option falls back to the
common one.
--referrers copies the referrers of the image (and of an index's manifests) by
digest, then theirs; on a destination without the Referrers API their fallback
tags (sha256-HEX) are written as the OCI 1.1 spec says.
Plain output: `copied SRC -> DST DIGEST (N blobs uploaded, M mounted, K already there, X MiB)`,
with `, R referrers` before the parenthesis closes under --referrers.
--json: {\"source\",\"destination\"} and the fields of the library's TransferReport:
{\"digest\",\"manifests\",\"blobs_uploaded\",\"blobs_mounted\",\"blobs_existing\",
\"bytes_uploaded\",\"referrers\"}.";

/// Copies an image from one reference to another, on the same registry or
/// between registries. Manifests keep their exact bytes, so the digest does
/// not change.
#[derive(Parser)]
#[command(name = "copy")]
struct Args {
    /// The image to copy
    #[arg(value_name = "SRC")]
    source: Reference,
    /// Where to copy it, HOST[:PORT]/NAME[:TAG|@DIGEST]
    #[arg(value_name = "DST")]
    dest: Reference,
    /// Copy only this platform's manifest of an index, tagged as DST (the
    /// digest is then that manifest's, not the index's)
    #[arg(
        long,
        value_name = "OS/ARCH[/VARIANT]",
        conflicts_with = "all_platforms"
    )]
    platform: Option<Platform>,
    /// Copy every platform of an index, byte for byte (the default)
    #[arg(long)]
    all_platforms: bool,
    /// Bring the image's referrers along (signatures, SBOMs, attestations,
    /// and theirs, recursively), as the Referrers API or fallback tags list
    /// them
    #[arg(long)]
    referrers: bool,
    /// Blobs transferred at once
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 4)]
    concurrency: usize,
    #[command(flatten)]
    src: SrcEnd,
    #[command(flatten)]
    dest_end: DestEnd,
    #[command(flatten)]
    common: Common,
}

/// The source's own connection flags, as skopeo spells them.
#[derive(clap::Args)]
#[command(next_help_heading = "Source options")]
struct SrcEnd {
    /// Credentials for the source registry only
    #[arg(id = "src_creds", long = "src-creds", value_name = "USER:PASSWORD", value_parser = common::creds)]
    creds: Option<Creds>,
    /// For the source: *.crt trusted, NAME.cert + NAME.key a client certificate
    #[arg(id = "src_cert_dir", long = "src-cert-dir", value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// false: like --insecure for the source; true: https only, verified
    #[arg(id = "src_tls_verify", long = "src-tls-verify", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    tls_verify: Option<bool>,
    /// Plain http for the source
    #[arg(id = "src_plain_http", long = "src-plain-http")]
    plain_http: bool,
}

/// The destination's own connection flags, as skopeo spells them.
#[derive(clap::Args)]
#[command(next_help_heading = "Destination options")]
struct DestEnd {
    /// Credentials for the destination registry only
    #[arg(id = "dest_creds", long = "dest-creds", value_name = "USER:PASSWORD", value_parser = common::creds)]
    creds: Option<Creds>,
    /// For the destination: *.crt trusted, NAME.cert + NAME.key a client
    /// certificate
    #[arg(id = "dest_cert_dir", long = "dest-cert-dir", value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// false: like --insecure for the destination; true: https only, verified
    #[arg(id = "dest_tls_verify", long = "dest-tls-verify", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    tls_verify: Option<bool>,
    /// Plain http for the destination
    #[arg(id = "dest_plain_http", long = "dest-plain-http")]
    plain_http: bool,
}

/// The connection settings of one end: its own flags over the common ones.
fn end(
    common: &Common,
    plain_http: bool,
    cert_dir: &Option<PathBuf>,
    tls_verify: Option<bool>,
    which: &str,
) -> EndFlags {
    let mut flags = common.end();
    flags.plain_http |= plain_http;
    if let Some(dir) = cert_dir {
        flags.cert_dir = Some(dir.clone());
    }
    match tls_verify {
        Some(false) => flags.insecure = true,
        Some(true) => {
            flags.insecure = false;
            flags.https = true;
        }
        None => {}
    }
    if flags.https && flags.plain_http {
        common::usage_error::<Args>(format!("{which}: https and plain http exclude each other"));
    }
    flags
}

/// `--json`: from where to where, and the library's report.
#[derive(serde::Serialize)]
struct Copied<'a> {
    source: &'a Reference,
    destination: &'a Reference,
    #[serde(flatten)]
    report: &'a TransferReport,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let cli = &args.common;
    let src_end = end(
        cli,
        args.src.plain_http,
        &args.src.cert_dir,
        args.src.tls_verify,
        "source",
    );
    let dest_end = end(
        cli,
        args.dest_end.plain_http,
        &args.dest_end.cert_dir,
        args.dest_end.tls_verify,
        "destination",
    );
    let source = args.source.clone();
    let mut dest = args.dest.clone();
    if dest.tag().is_none() && dest.digest().is_none() {
        dest = match source.target() {
            TagOrDigest::Digest(d) => dest.with_digest(d),
            TagOrDigest::Tag(t) => dest.with_tag(t),
        };
    }
    let bars = Transfer::new(cli);
    let mut options = CopyOptions::default()
        .concurrency(args.concurrency)
        .referrers(args.referrers)
        .observer(bars.observer());
    if let Some(p) = args.platform.clone() {
        options = options.platform(p);
    }
    let same_creds = args.src.creds == args.dest_end.creds;
    let (src_creds, dest_creds) = (
        args.src.creds.clone().map(|c| c.0),
        args.dest_end.creds.clone().map(|c| c.0),
    );
    common::run(async move {
        // The common credentials once (--password-stdin reads standard
        // input), and only when an end has none of its own.
        let shared = match (&src_creds, &dest_creds) {
            (Some(_), Some(_)) => None,
            _ => Some(args.common.credentials()?.0),
        };
        let pick = |own: &Option<Arc<dyn Authenticator>>| -> Arc<dyn Authenticator> {
            own.clone()
                .or_else(|| shared.clone())
                .unwrap_or_else(|| Arc::new(Anonymous::new()))
        };
        let from = src_end.client(source.registry(), pick(&src_creds))?;
        let same_end = dest.registry() == source.registry() && same_creds && src_end == dest_end;
        let to = if same_end {
            from.clone()
        } else {
            dest_end.client(dest.registry(), pick(&dest_creds))?
        };
        let (from, source_target) = from.repository_for(&source)?;
        let (to, dest_target) = to.repository_for(&dest)?;
        let report = from
            .copy_image(source_target, &to, dest_target, &options)
            .await;
        bars.finish();
        let report = report?;
        if args.common.json {
            common::print_json(&Copied {
                source: &source,
                destination: &dest,
                report: &report,
            });
        } else {
            let referrers = match (args.referrers, report.referrers) {
                (false, _) => String::new(),
                (true, 1) => ", 1 referrer".to_owned(),
                (true, n) => format!(", {n} referrers"),
            };
            println!(
                "copied {source} -> {dest} {} ({} blobs uploaded, {} mounted, {} already there, {}{referrers})",
                report.digest.as_ref().map(ToString::to_string).as_deref().unwrap_or("-"),
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
