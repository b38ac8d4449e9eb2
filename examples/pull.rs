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

use common::Cli;
use dockreg::repository::LayoutPullOptions;
use dockreg::transfer::OciLayout;
use dockreg::transfer::Platforms;

const USAGE: &str = "\
usage: pull HOST[:PORT]/NAME[:TAG|@DIGEST] -o DIR [--ref NAME] [--platform OS/ARCH[/VARIANT]]
            [--concurrency N] [--json]
  -o, --output DIR  the OCI image layout to write (created when missing; blobs it
                    already has are not downloaded again)
  --ref NAME        the name of the image in the layout (its
                    org.opencontainers.image.ref.name); default: the tag
                    (`latest` when the reference has none), or the digest's hex
                    when pulled by digest alone. An image of the same name is replaced
  --platform P      of an index, pull only this platform's manifest (default: all,
                    and the index itself)
  --concurrency N   blobs downloaded at once (default 4)
plain output: `pulled REF to DIR as NAME DIGEST (N blobs, X MiB)`
--json: {\"reference\",\"layout\",\"ref_name\",\"digest\",\"blobs_downloaded\",
\"blobs_existing\",\"bytes_downloaded\"}";

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
    let cli = Cli::parse(
        USAGE,
        &["-o", "--output", "--ref", "--platform", "--concurrency"],
        &[],
    );
    let reference = cli.reference(&cli.positional(1)[0]);
    let Some(dir) = cli.value("-o").or(cli.value("--output")).map(PathBuf::from) else {
        cli.usage_error("-o DIR is required")
    };
    let ref_name = match (cli.value("--ref"), reference.tag(), reference.digest()) {
        (Some(name), _, _) if !name.is_empty() => name.to_owned(),
        (Some(_), _, _) => cli.usage_error("--ref needs a name"),
        (None, Some(tag), _) => tag.to_string(),
        (None, None, Some(digest)) => digest.hex().to_owned(),
        (None, None, None) => "latest".to_owned(),
    };
    let platforms = match cli.platform() {
        Some(p) => Platforms::One(p),
        None => Platforms::All,
    };
    let concurrency = cli.concurrency(4);
    common::run(async move {
        check_dir(&dir)?;
        let (repo, target) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let layout = OciLayout::create(&dir)?;
        let mut options = LayoutPullOptions::default()
            .ref_name(ref_name.clone())
            .concurrency(concurrency);
        options.transfer = options.transfer.platforms(platforms);
        let report = repo.pull_to_layout(target, &layout, &options).await?;
        let digest = report.digest.as_ref().map(ToString::to_string);
        if cli.json() {
            common::print_json(&serde_json::json!({
                "reference": reference.to_string(),
                "layout": dir.display().to_string(),
                "ref_name": ref_name,
                "digest": digest,
                "blobs_downloaded": report.blobs_uploaded,
                "blobs_existing": report.blobs_existing,
                "bytes_downloaded": report.bytes_uploaded,
            }));
        } else {
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
