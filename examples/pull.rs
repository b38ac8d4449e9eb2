//! Pulls an image into an OCI image layout directory, the format `skopeo`
//! (`oci:DIR:NAME`), `umoci` and `podman` read: every blob verified, the
//! manifest recorded in `index.json` under a name.
//!
//! ```text
//! cargo run --release --example pull -- 127.0.0.1:5000/team/app:v1 -o ./app
//! skopeo inspect oci:./app:v1
//! cargo run --release --example pull -- 127.0.0.1:5000/team/app:multi -o ./app --platform linux/arm64
//! ```
mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use common::progress::Transfer;
use common::Common;
use dockreg::models::Platform;
use dockreg::repository::LayoutPullOptions;
use dockreg::transfer::{OciLayout, Platforms, TransferReport};
use dockreg::Reference;

const DETAILS: &str = "\
A layout that already has a blob does not download it again. An image of the
same name in the layout is replaced.
Plain output: `pulled REF to DIR as NAME DIGEST (N blobs, X MiB)`.
--json: {\"reference\",\"layout\",\"ref_name\"} and the fields of the library's
TransferReport: {\"digest\",\"manifests\",\"blobs_uploaded\",\"blobs_mounted\",
\"blobs_existing\",\"bytes_uploaded\"} (uploaded: written into the layout).";

/// Pulls an image into an OCI image layout directory (skopeo's oci:DIR:NAME,
/// umoci, podman): every blob verified, the manifest recorded in index.json
/// under a name.
#[derive(Parser)]
#[command(name = "pull")]
struct Args {
    /// The image, by tag or digest (default tag: latest)
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// The OCI image layout to write (created when missing)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// The name of the image in the layout (its
    /// org.opencontainers.image.ref.name); default: the tag (`latest` when the
    /// reference has none), or the digest's hex when pulled by digest alone
    #[arg(long = "ref", value_name = "NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    ref_name: Option<String>,
    /// Of an index, pull only this platform's manifest (default: all, and
    /// the index itself)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// Blobs downloaded at once
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 4)]
    concurrency: usize,
    #[command(flatten)]
    common: Common,
}

/// `--json`: where the image went, and the library's report.
#[derive(serde::Serialize)]
struct Pulled<'a> {
    reference: &'a Reference,
    layout: &'a Path,
    ref_name: &'a str,
    #[serde(flatten)]
    report: &'a TransferReport,
}

/// Refuses to scatter `blobs/` and `index.json` into a directory that holds
/// something else.
fn check_dir(dir: &Path) -> dockreg::Result<()> {
    let not_layout = dir.is_dir()
        && !dir.join("oci-layout").exists()
        && std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
    if not_layout {
        return Err(dockreg::Error::Io {
            path: dir.to_owned(),
            source: std::io::Error::other(
                "not empty and not an OCI image layout (no oci-layout file); choose another directory",
            ),
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let reference = args.reference.clone();
    let dir = args.output.clone();
    let ref_name = match (&args.ref_name, reference.tag(), reference.digest()) {
        (Some(name), _, _) => name.clone(),
        (None, Some(tag), _) => tag.to_string(),
        (None, None, Some(digest)) => digest.hex().to_owned(),
        (None, None, None) => "latest".to_owned(),
    };
    let platforms = match args.platform.clone() {
        Some(p) => Platforms::One(p),
        None => Platforms::All,
    };
    common::run(async move {
        check_dir(&dir)?;
        let (repo, target) = args
            .common
            .client(reference.registry())?
            .repository_for(&reference)?;
        let layout = OciLayout::create(&dir)?;
        let bars = Transfer::new(&args.common);
        let mut options = LayoutPullOptions::default()
            .ref_name(ref_name.clone())
            .concurrency(args.concurrency)
            .observer(bars.observer());
        options.transfer = options.transfer.platforms(platforms);
        let report = repo.pull_to_layout(target, &layout, &options).await;
        bars.finish();
        let report = report?;
        if args.common.json {
            common::print_json(&Pulled {
                reference: &reference,
                layout: &dir,
                ref_name: &ref_name,
                report: &report,
            });
        } else {
            let digest = report.digest.as_ref().map(ToString::to_string);
            let existing = match report.blobs_existing {
                0 => String::new(),
                n => format!(", {n} already there"),
            };
            println!(
                "pulled {reference} to {} as {ref_name} {} ({} blobs, {:.1} MiB{existing})",
                dir.display(),
                digest.as_deref().unwrap_or("-"),
                report.blobs_uploaded,
                report.bytes_uploaded as f64 / (1024.0 * 1024.0),
            );
        }
        Ok(())
    })
}
