//! Shows a manifest: its media type, digest and size, and the manifest itself.
//!
//! ```text
//! cargo run --example inspect -- 127.0.0.1:5000/team/app:v1
//! cargo run --example inspect -- 127.0.0.1:5000/team/app:v1 --raw > manifest.json
//! ```
mod common;

use std::io::Write;
use std::process::ExitCode;

use common::Cli;
use dockreg::models::Platform;

const USAGE: &str =
    "usage: inspect HOST[:PORT]/NAME[:TAG|@DIGEST] [--raw] [--platform OS/ARCH[/VARIANT]] [--json]
  --raw        print the manifest's exact bytes and nothing else
  --platform   for an index or manifest list, show the manifest of this platform";

fn main() -> ExitCode {
    let cli = Cli::parse(USAGE, &["--platform"], &["--raw"]);
    let reference = cli.reference(&cli.positional(1)[0]);
    let platform: Option<Platform> = cli.value("--platform").map(|p| {
        p.parse()
            .unwrap_or_else(|e: dockreg::Error| cli.usage_error(&e.to_string()))
    });
    common::run(async move {
        let (repo, target) = cli
            .client(reference.registry())?
            .repository_for(&reference)?;
        let manifest = match &platform {
            Some(p) => repo.manifest_for_platform(&target, p).await?,
            None => repo.manifest(&target).await?,
        };
        let digest = manifest.digest()?;
        if cli.switch("--raw") {
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
        if cli.json() {
            common::print_json(&serde_json::json!({
                "reference": reference.to_string(),
                "media_type": manifest.media_type(),
                "digest": digest.to_string(),
                "size": manifest.bytes().len(),
                "manifest": body,
            }));
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
