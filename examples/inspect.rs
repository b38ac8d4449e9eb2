//! Shows a manifest: its media type, digest and size, and the manifest itself.
//!
//! ```text
//! cargo run --example inspect -- 127.0.0.1:5000/team/app:v1
//! cargo run --example inspect -- 127.0.0.1:5000/team/app:v1 --raw > manifest.json
//! ```
mod common;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use common::Common;
use dockreg::models::{Descriptor, Platform};
use dockreg::Reference;

const DETAILS: &str = "\
Plain output: reference, media type, digest, size, platforms, image size, then
the manifest, indented.
--json: {\"reference\",\"mediaType\",\"digest\",\"size\",\"manifest\"}: the reference,
the manifest's descriptor (dockreg::models::Descriptor) and the manifest.";

/// Shows a manifest: its media type, digest and size, and the manifest
/// itself (any schema, verified against its digest).
#[derive(Parser)]
#[command(name = "inspect")]
struct Args {
    /// The manifest, by tag or digest (default tag: latest)
    #[arg(value_name = "HOST[:PORT]/NAME[:TAG|@DIGEST]")]
    reference: Reference,
    /// Print the manifest's exact bytes and nothing else
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// For an index or manifest list, show the manifest of this platform
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    #[command(flatten)]
    common: Common,
}

/// `--json`: the reference, the manifest's descriptor, the manifest.
#[derive(serde::Serialize)]
struct Shown<'a> {
    reference: &'a Reference,
    #[serde(flatten)]
    descriptor: Descriptor,
    manifest: serde_json::Value,
}

fn main() -> ExitCode {
    let args: Args = common::parse(DETAILS);
    let reference = args.reference.clone();
    common::run(async move {
        let (repo, target) = args
            .common
            .client(reference.registry())?
            .repository_for(&reference)?;
        let manifest = match &args.platform {
            Some(p) => repo.manifest_for_platform(&target, p).await?,
            None => repo.manifest(&target).await?,
        };
        let digest = manifest.digest()?;
        if args.raw {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(manifest.bytes());
            let _ = out.flush();
            return Ok(());
        }
        let body: serde_json::Value =
            serde_json::from_slice(manifest.bytes()).map_err(|e| dockreg::Error::Decode {
                what: "manifest".into(),
                source: e,
            })?;
        if args.common.json {
            common::print_json(&Shown {
                reference: &reference,
                descriptor: Descriptor::new(
                    manifest.media_type(),
                    digest,
                    manifest.bytes().len() as u64,
                ),
                manifest: body,
            });
        } else {
            println!("reference:  {reference}");
            println!("media type: {}", manifest.media_type());
            println!("digest:     {digest}");
            println!("size:       {} bytes", manifest.bytes().len());
            for p in manifest.platforms() {
                println!("platform:   {p}");
            }
            if let Some(total) = manifest.total_size() {
                println!(
                    "image size: {} ({} layers)",
                    common::human(total),
                    manifest.layers().len()
                );
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        Ok(())
    })
}
