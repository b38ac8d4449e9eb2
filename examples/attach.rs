//! Attaches files to an image as an OCI 1.1 referrer (an SBOM, a signature,
//! a scan report): one artifact manifest whose `subject` is the image.
//! Registries without the Referrers API (CNCF distribution 2.8.2) get the
//! fallback tag `sha256-<hex>` updated, as the OCI 1.1 spec says.
//!
//! ```text
//! cargo run --example attach -- 127.0.0.1:5000/team/app:v1 \
//!     --artifact-type application/spdx+json sbom.spdx.json
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::Common;
use dockreg::Reference;

const DETAILS: &str = "\
FILE[:TITLE]: the file, and the title it gets in the artifact (default: its
file name; no '..', no absolute paths).
Plain output: the referrer's reference, HOST/NAME@DIGEST.
--json: {\"digest\",\"subject\",\"artifact_type\",\"files\"}.";

/// Attaches files to an image as an OCI referrer (an SBOM, a signature, ...)
#[derive(Parser)]
#[command(name = "attach")]
struct Args {
    /// The image the files are about
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// The artifact's type (`artifactType`), e.g. application/spdx+json
    #[arg(long, value_name = "TYPE")]
    artifact_type: String,
    /// The files to attach
    #[arg(value_name = "FILE[:TITLE]", required = true)]
    files: Vec<String>,
    /// An annotation of the artifact manifest (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = common::artifact::key_value)]
    annotation: Vec<(String, String)>,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let artifact =
        common::artifact::artifact_of(&args.artifact_type, &args.files, &args.annotation);
    common::run(async move {
        let (repo, target) = args
            .common
            .client(args.reference.registry())?
            .repository_for(&args.reference)?;
        let pushed = repo.attach(&target, &artifact).await?;
        let files: Vec<&str> = artifact.files.iter().map(|f| f.title.as_str()).collect();
        if args.common.json {
            common::print_json(&serde_json::json!({
                "digest": pushed.digest,
                "subject": args.reference.to_string(),
                "artifact_type": artifact.artifact_type,
                "files": files,
            }));
        } else {
            println!("{}", repo.reference(&pushed.digest)?);
        }
        Ok(())
    })
}
