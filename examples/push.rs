//! Pushes an image from an OCI image layout directory (as `pull` writes it,
//! or `skopeo copy ... oci:DIR:NAME`, `umoci`, `buildah push ... oci:DIR`):
//! blobs the registry lacks are uploaded from their files, then the
//! manifests with their exact bytes, so the digest is the layout's.
//!
//! ```text
//! cargo run --release --example push -- ./app 127.0.0.1:5000/team/app:v1
//! cargo run --release --example push -- ./app 127.0.0.1:5000/team/app:v2 --ref v2
//! ```
mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use common::progress::Transfer;
use common::Common;
use dockreg::repository::LayoutPushOptions;
use dockreg::transfer::{OciLayout, TransferReport, REF_NAME};
use dockreg::{Reference, Tag};

const DETAILS: &str = "\
A reference without tag or digest is tagged with the image's name in the layout
when that is a valid tag, else `latest`.
Plain output: `pushed DIR:NAME to REF DIGEST (N blobs uploaded, M already there, X)`.
--json: {\"layout\",\"ref_name\",\"reference\"} and the fields of the library's
TransferReport: {\"digest\",\"manifests\",\"blobs_uploaded\",\"blobs_mounted\",
\"blobs_existing\",\"bytes_uploaded\"}.";

/// Pushes an image from an OCI image layout directory (as pull writes it,
/// or skopeo copy ... oci:DIR:NAME): blobs the registry lacks are uploaded,
/// then the manifests with their exact bytes, so the digest is the layout's.
#[derive(Parser)]
#[command(name = "push")]
struct Args {
    /// An OCI image layout (oci-layout, index.json, blobs/)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Where to push it
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// The image to push, by its name in the layout
    /// (org.opencontainers.image.ref.name); default: the layout's only
    /// image, else the one named like the reference's tag
    #[arg(long = "ref", value_name = "NAME")]
    ref_name: Option<String>,
    /// Blobs uploaded at once
    #[arg(long, value_name = "N", value_parser = common::at_least_one, default_value_t = 4)]
    concurrency: usize,
    #[command(flatten)]
    common: Common,
}

/// `--json`: what was pushed where, and the library's report.
#[derive(serde::Serialize)]
struct Pushed<'a> {
    layout: &'a Path,
    ref_name: Option<&'a str>,
    reference: &'a Reference,
    #[serde(flatten)]
    report: &'a TransferReport,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let dir = args.dir.clone();
    let mut reference = args.reference.clone();
    common::run(async move {
        let layout = OciLayout::open(&dir)?;
        // Which image: --ref, else the only one, else the tag's namesake.
        let ref_name = match args.ref_name.clone() {
            Some(name) => Some(name),
            None if layout.index()?.manifests.len() == 1 => None,
            None => reference.tag().map(ToString::to_string),
        };
        let descriptor = layout.find(ref_name.as_deref())?;
        let name_in_layout = descriptor.annotations.get(REF_NAME).cloned();
        if reference.tag().is_none() && reference.digest().is_none() {
            let tag = name_in_layout
                .as_deref()
                .and_then(|n| n.parse::<Tag>().ok())
                .unwrap_or_else(Tag::latest);
            reference = reference.with_tag(tag);
        }
        let (repo, target) = args
            .common
            .client(reference.registry())?
            .repository_for(&reference)?;
        let bars = Transfer::new(&args.common);
        let mut options = LayoutPushOptions::default()
            .concurrency(args.concurrency)
            .observer(bars.observer());
        if let Some(name) = &ref_name {
            options = options.ref_name(name.clone());
        }
        let report = repo.push_from_layout(&layout, target, &options).await;
        bars.finish();
        let report = report?;
        if args.common.json {
            common::print_json(&Pushed {
                layout: &dir,
                ref_name: name_in_layout.as_deref(),
                reference: &reference,
                report: &report,
            });
        } else {
            let digest = report
                .digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            println!(
                "pushed {}:{} to {reference} {digest} ({} blobs uploaded, {} already there, {})",
                dir.display(),
                name_in_layout.as_deref().unwrap_or("-"),
                report.blobs_uploaded,
                report.blobs_existing,
                common::human(report.bytes_uploaded),
            );
        }
        Ok(())
    })
}
