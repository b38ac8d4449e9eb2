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

use std::path::PathBuf;
use std::process::ExitCode;

use common::Cli;
use dockreg::repository::LayoutPushOptions;
use dockreg::transfer::{OciLayout, REF_NAME};
use dockreg::Tag;

const USAGE: &str = "\
usage: push DIR HOST[:PORT]/NAME[:TAG|@DIGEST] [--ref NAME] [--concurrency N] [--json]
  DIR is an OCI image layout (oci-layout, index.json, blobs/)
  --ref NAME       the image to push, by its name in the layout
                   (org.opencontainers.image.ref.name); default: the layout's only
                   image, else the one named like the reference's tag
  --concurrency N  blobs uploaded at once (default 4)
a reference without tag or digest is tagged with the image's name in the layout
when that is a valid tag, else `latest`
plain output: `pushed DIR:NAME to REF DIGEST`
--json: {\"layout\",\"ref_name\",\"reference\",\"digest\"}";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--ref", "--concurrency"], &[]);
    let args = cli.positional(2);
    let dir = PathBuf::from(&args[0]);
    let mut reference = cli.reference(&args[1]);
    let concurrency = cli.concurrency(4);
    let asked = cli.value("--ref").map(str::to_owned);
    common::run(async move {
        let layout = OciLayout::open(&dir)?;
        // Which image: --ref, else the only one, else the tag's namesake.
        let ref_name = match asked {
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
        let (repo, target) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let mut options = LayoutPushOptions::default().concurrency(concurrency);
        if let Some(name) = &ref_name {
            options = options.ref_name(name.clone());
        }
        let report = repo.push_from_layout(&layout, target, &options).await?;
        let digest = report
            .digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if cli.json() {
            common::print_json(&serde_json::json!({
                "layout": dir.display().to_string(),
                "ref_name": name_in_layout,
                "reference": reference.to_string(),
                "digest": digest,
                "manifests": report.manifests,
                "blobs_uploaded": report.blobs_uploaded,
                "blobs_existing": report.blobs_existing,
                "bytes_uploaded": report.bytes_uploaded,
            }));
        } else {
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
