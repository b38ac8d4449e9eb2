//! Downloads one blob and verifies its digest; nothing appears at the
//! destination unless the digest matched.
//!
//! ```text
//! cargo run --release --example pull-blob -- 127.0.0.1:5000/team/app@sha256:... -o layer.tar.gz
//! ```
mod common;

use std::process::ExitCode;

use common::{Cli, Progress};

const USAGE: &str = "usage: pull-blob HOST[:PORT]/NAME@DIGEST -o FILE [--json]";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["-o", "--output"], &[]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let Some(digest) = reference.digest().cloned() else {
        cli.usage_error("the reference must name a blob by digest: NAME@sha256:...")
    };
    let Some(output) = cli
        .value("-o")
        .or(cli.value("--output"))
        .map(std::path::PathBuf::from)
    else {
        cli.usage_error("-o FILE is required")
    };
    common::run(async move {
        let (repo, _) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let mut progress = Progress::new(digest.to_string());
        let size = repo
            .download_blob_with(&digest, None, &output, |done, total| {
                progress.update(done, total)
            })
            .await;
        progress.finish();
        let size = size?;
        if cli.json() {
            common::print_json(&serde_json::json!({
                "digest": digest.to_string(),
                "size": size,
                "path": output.display().to_string(),
            }));
        } else {
            println!("{digest} {size} {}", output.display());
        }
        Ok(())
    })
}
