//! Pushes files as one OCI artifact (what `oras push` does): an artifact
//! manifest with `artifactType`, the empty config, one layer per file titled
//! `org.opencontainers.image.title`, optionally with a `subject`.
//!
//! ```text
//! cargo run --example push-artifact -- 127.0.0.1:5000/team/docs:v1 \
//!     --artifact-type application/vnd.example.docs README.md guide/intro.md:intro.md
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::Common;
use dockreg::Reference;

const DETAILS: &str = "\
FILE[:TITLE]: the file, and the title it gets in the artifact (default: its
file name; no '..', no absolute paths).
Plain output: the artifact's reference, HOST/NAME@DIGEST.
--json: {\"digest\",\"tag\",\"artifact_type\",\"files\"}.";

/// Pushes files as one OCI artifact
#[derive(Parser)]
#[command(name = "push-artifact")]
struct Args {
    /// Where to push it (a tag, or no tag for a push by digest)
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG]")]
    reference: Reference,
    /// The artifact's type (`artifactType`)
    #[arg(long, value_name = "TYPE")]
    artifact_type: String,
    /// The files
    #[arg(value_name = "FILE[:TITLE]")]
    files: Vec<String>,
    /// An annotation of the artifact manifest (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = common::artifact::key_value)]
    annotation: Vec<(String, String)>,
    /// The manifest the artifact refers to (`subject`), a tag or digest in
    /// the same repository
    #[arg(long, value_name = "TAG|DIGEST")]
    subject: Option<String>,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    if args.reference.digest().is_some() {
        common::usage_error::<Args>(
            "push to a tag, or to the repository (by digest), not to a digest",
        );
    }
    let mut artifact =
        common::artifact::artifact_of(&args.artifact_type, &args.files, &args.annotation);
    common::run(async move {
        let (repo, _) = args
            .common
            .client(args.reference.registry())?
            .repository_for(&args.reference)?;
        if let Some(subject) = &args.subject {
            let manifest = repo.manifest(subject.as_str()).await?;
            artifact = artifact.subject(manifest.descriptor()?);
        }
        let tag = args.reference.tag().map(|t| t.to_string());
        let pushed = repo.push_artifact(&artifact, tag.as_deref()).await?;
        let files: Vec<&str> = artifact.files.iter().map(|f| f.title.as_str()).collect();
        if args.common.json {
            common::print_json(&serde_json::json!({
                "digest": pushed.digest,
                "tag": tag,
                "artifact_type": artifact.artifact_type,
                "files": files,
            }));
        } else {
            println!("{}", repo.reference(&pushed.digest)?);
        }
        Ok(())
    })
}
