//! Downloads one blob and verifies its digest; nothing appears at the
//! destination unless the digest matched.
//!
//! ```text
//! cargo run --release --example pull-blob -- 127.0.0.1:5000/team/app@sha256:... -o layer.tar.gz
//! ```
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use common::progress::Transfer;
use common::Common;
use dockreg::transfer::Event;
use dockreg::Reference;

const DETAILS: &str = "\
Plain output: `DIGEST SIZE FILE`.
--json: {\"digest\",\"size\",\"path\"}.";

/// Downloads one blob and verifies its digest; nothing appears at the
/// destination unless the digest matched.
#[derive(Parser)]
#[command(name = "pull-blob")]
struct Args {
    /// The blob, by digest
    #[arg(value_name = "HOST[:PORT]/NAME@DIGEST")]
    reference: Reference,
    /// The file to write (atomically, once verified)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let Some(digest) = args.reference.digest().cloned() else {
        common::usage_error::<Args>("the reference must name a blob by digest: NAME@sha256:...")
    };
    common::run(async move {
        let (repo, _) = args
            .common
            .client(args.reference.registry())?
            .repository_for(&args.reference)?;
        let bars = Transfer::new(&args.common);
        let mut started = false;
        let size = repo
            .download_blob_with(&digest, None, &args.output, |done, size| {
                if !started {
                    started = true;
                    bars.event(&Event::BlobStarted {
                        digest: digest.clone(),
                        size,
                    });
                }
                bars.event(&Event::Progress {
                    digest: digest.clone(),
                    done,
                    size,
                });
            })
            .await;
        bars.finish();
        let size = size?;
        if args.common.json {
            common::print_json(&serde_json::json!({
                "digest": digest,
                "size": size,
                "path": args.output,
            }));
        } else {
            println!("{digest} {size} {}", args.output.display());
        }
        Ok(())
    })
}
