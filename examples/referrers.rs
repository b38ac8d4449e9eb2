//! Lists the referrers of an image (signatures, SBOMs, attestations): the
//! Referrers API where the registry has it, else the fallback tag
//! `sha256-<hex>`.
//!
//! ```text
//! cargo run --example referrers -- 127.0.0.1:5000/team/app:v1
//! cargo run --example referrers -- 127.0.0.1:5000/team/app:v1 --artifact-type application/spdx+json
//! ```
mod common;

use std::process::ExitCode;

use clap::Parser;
use common::Common;
use dockreg::api::ReferrersSource;
use dockreg::Reference;

const DETAILS: &str = "\
Plain output: one line per referrer, DIGEST ARTIFACT_TYPE SIZE, then its
annotations as KEY=VALUE; where the list came from on stderr.
--json: the library's Referrers value: {\"subject\",\"manifests\":[descriptors],
\"source\":\"api\"|\"fallback_tag\",\"filtered_by_registry\"}.";

/// Lists the referrers of an image (signatures, SBOMs, attestations)
#[derive(Parser)]
#[command(name = "referrers")]
struct Args {
    /// The image
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// Only referrers of this artifactType
    #[arg(long, value_name = "TYPE")]
    artifact_type: Option<String>,
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
        let digest = repo.manifest_digest(&target).await?;
        let found = repo
            .referrers(&digest, args.artifact_type.as_deref())
            .await?;
        if args.common.json {
            common::print_json(&found);
            return Ok(());
        }
        for r in &found.manifests {
            let mut line = format!(
                "{} {} {}",
                r.digest,
                r.artifact_type.as_deref().unwrap_or("-"),
                r.size
            );
            for (k, v) in &r.annotations {
                line.push_str(&format!(" {k}={v}"));
            }
            println!("{line}");
        }
        let via = match found.source {
            ReferrersSource::Api => "the Referrers API".to_owned(),
            ReferrersSource::FallbackTag => {
                format!("the fallback tag {}", dockreg::api::referrers_tag(&digest))
            }
            _ => "the registry".to_owned(),
        };
        if !args.common.quiet {
            eprintln!(
                "{} referrer(s) of {}, through {via}",
                found.manifests.len(),
                repo.reference(&digest)?
            );
        }
        Ok(())
    })
}
