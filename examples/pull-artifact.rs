//! Pulls an OCI artifact's files into a directory (what `oras pull` does):
//! each file verified against its digest and size and renamed into place
//! whole; titles with `..` or absolute paths, and symlinks in the
//! destination, are refused before a byte is written.
//!
//! ```text
//! cargo run --example pull-artifact -- 127.0.0.1:5000/team/docs:v1 ./docs
//! ```
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use common::{human, Common};
use dockreg::Reference;

const DETAILS: &str = "\
Plain output: each file written, then the total.
--json: {\"digest\",\"artifact_type\",\"files\",\"bytes\"}.";

/// Pulls an OCI artifact's files into a directory, verified
#[derive(Parser)]
#[command(name = "pull-artifact")]
struct Args {
    /// The artifact
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// The directory the files go into (made when missing)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    common::run(async move {
        let (repo, target) = args
            .common
            .client(args.reference.registry())?
            .repository_for(&args.reference)?;
        let pulled = repo.pull_artifact(&target, &args.dir).await?;
        if args.common.json {
            common::print_json(&pulled);
        } else {
            for file in &pulled.files {
                println!("{}", file.display());
            }
            args.common.note(&format!(
                "{} file(s), {} from {}",
                pulled.files.len(),
                human(pulled.bytes),
                repo.reference(&pulled.digest)?
            ));
        }
        Ok(())
    })
}
