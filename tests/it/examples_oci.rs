//! The OCI 1.1 examples against the real registry: `attach` an SBOM to an
//! image, `referrers` lists it (plain and `--json` with the library's field
//! names), `push-artifact` and `pull-artifact` round-trip files, and a title
//! that would leave the directory is exit 1 with nothing pushed.

use crate::registry;

use dockreg::models::{media_type, ImageConfig, ImageManifest};
use dockreg::Manifest;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the `referrers` example lists for `reference` (it must succeed),
/// and its whole output.
fn referrers_of(reference: &str) -> (String, std::process::Output) {
    let exe = registry::example("referrers").unwrap();
    let out = registry::run_example(&exe, &[reference], &[], "");
    assert!(out.status.success(), "referrers: {}", text(&out.stderr));
    (text(&out.stdout), out)
}

/// Pushes a one-layer image to `name:tag` and returns its digest.
async fn push_image(reg: &registry::Registry, name: &str, tag: &str) -> String {
    let repo = reg.client().repository(name).unwrap();
    let layer = repo
        .push_blob(format!("layer of {name}").into_bytes())
        .await
        .unwrap();
    let config = serde_json::to_vec(&ImageConfig::new("linux", "amd64")).unwrap();
    let config = repo.push_blob(config).await.unwrap();
    let manifest = ImageManifest::new(
        config.descriptor(media_type::OCI_CONFIG),
        vec![layer.descriptor(media_type::OCI_LAYER_TAR)],
    );
    let manifest = Manifest::from_image_manifest(&manifest).unwrap();
    repo.put_manifest(tag, &manifest).await.unwrap().to_string()
}

#[test]
fn attach_then_referrers_lists_the_sbom() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let image = registry::run_async(
        std::time::Duration::from_secs(60),
        push_image(reg, "ocix/app", "v1"),
    );
    let attach = registry::example("attach").unwrap();
    let referrers = registry::example("referrers").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("sbom.json");
    std::fs::write(&sbom, br#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    let reference = format!("{}/ocix/app:v1", reg.host);

    let out = registry::run_example(
        &attach,
        &[
            &reference,
            "--artifact-type",
            "application/spdx+json",
            &format!("{}:sbom.spdx.json", sbom.display()),
            "--annotation",
            "org.example.tool=test",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "attach: {}", text(&out.stderr));
    let printed = text(&out.stdout);
    let referrer = printed
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_else(|| panic!("no digest in {printed:?}"));

    let (listed, out) = referrers_of(&reference);
    assert!(
        listed.starts_with(&format!("{referrer} application/spdx+json ")),
        "{listed}"
    );
    assert!(listed.contains("org.example.tool=test"), "{listed}");
    assert!(
        text(&out.stderr).contains("through the fallback tag sha256-"),
        "{}",
        text(&out.stderr)
    );

    let out = registry::run_example(&referrers, &[&reference, "--json"], &[], "");
    assert!(
        out.status.success(),
        "referrers --json: {}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["subject"], image.as_str());
    assert_eq!(json["source"], "fallback_tag");
    assert_eq!(json["manifests"][0]["digest"], referrer.as_str());
    assert_eq!(
        json["manifests"][0]["artifactType"],
        "application/spdx+json"
    );

    // A filter that matches nothing lists nothing.
    let out = registry::run_example(
        &referrers,
        &[
            &reference,
            "--artifact-type",
            "application/vnd.example.none",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn push_artifact_and_pull_artifact_round_trip_and_refuse_escaping_titles() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let push = registry::example("push-artifact").unwrap();
    let pull = registry::example("pull-artifact").unwrap();
    let src = tempfile::tempdir().unwrap();
    let a = src.path().join("a.txt");
    std::fs::write(&a, b"alpha\n").unwrap();
    let b = src.path().join("b.bin");
    std::fs::write(&b, vec![9u8; 100_000]).unwrap();
    let reference = format!("{}/ocix/docs:v1", reg.host);

    let out = registry::run_example(
        &push,
        &[
            &reference,
            "--artifact-type",
            "application/vnd.example.docs",
            a.to_str().unwrap(),
            &format!("{}:data/b.bin", b.display()),
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "push-artifact: {}", text(&out.stderr));
    let dest = tempfile::tempdir().unwrap();
    let into = dest.path().join("out");
    let out = registry::run_example(
        &pull,
        &[&reference, into.to_str().unwrap(), "--json"],
        &[],
        "",
    );
    assert!(out.status.success(), "pull-artifact: {}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["bytes"], 100_006);
    assert_eq!(json["artifact_type"], "application/vnd.example.docs");
    assert_eq!(std::fs::read(into.join("a.txt")).unwrap(), b"alpha\n");
    assert_eq!(
        std::fs::read(into.join("data/b.bin")).unwrap().len(),
        100_000
    );

    let bad = format!("{}/ocix/docs:evil", reg.host);
    let out = registry::run_example(
        &push,
        &[
            &bad,
            "--artifact-type",
            "application/vnd.example.docs",
            &format!("{}:../escape.txt", a.display()),
        ],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("../escape.txt"),
        "{}",
        text(&out.stderr)
    );
    let tags = registry::run_async(std::time::Duration::from_secs(30), async {
        reg.client()
            .repository("ocix/docs")
            .unwrap()
            .tags_page(None, None)
            .await
            .unwrap()
    });
    assert!(
        !tags.items.iter().any(|t| t.as_str() == "evil"),
        "the refused artifact was pushed"
    );
}

/// OCI 1.1 from the command line, end to end: `attach` an SBOM to an image,
/// `copy --referrers` to a second registry, where `referrers` lists it and
/// skopeo sees the image and the fallback tag; then `delete
/// --with-referrers --dry-run` says what would go and changes nothing, and
/// without `--dry-run` the image, the SBOM and the fallback tag go.
#[test]
fn copy_with_referrers_to_a_second_registry_then_delete_with_them() {
    let (Some(reg), Some(dst)) = (registry::shared(), registry::second()) else {
        return;
    };
    let image = registry::run_async(
        std::time::Duration::from_secs(60),
        push_image(reg, "ocix/travel", "v1"),
    );
    let [attach, copy, delete] =
        ["attach", "copy", "delete"].map(|e| registry::example(e).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("sbom.json");
    std::fs::write(&sbom, br#"{"spdxVersion":"SPDX-2.3","name":"travel"}"#).unwrap();
    let source = format!("{}/ocix/travel:v1", reg.host);
    let mirrored = format!("{}/ocix/mirror:v1", dst.host);
    let file = format!("{}:sbom.spdx.json", sbom.display());
    let attach_args = [&*source, "--artifact-type", "application/spdx+json", &file];
    let out = registry::run_example(&attach, &attach_args, &[], "");
    assert!(out.status.success(), "attach: {}", text(&out.stderr));
    let printed = text(&out.stdout);
    let (_, sbom_digest) = printed.trim().rsplit_once('@').expect("a digest");

    let out = registry::run_example(&copy, &[&source, &mirrored, "--referrers"], &[], "");
    assert!(out.status.success(), "copy: {}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains(&format!(" {image} (")), "{printed}");
    assert!(printed.contains(", 1 referrer)"), "{printed}");

    let (listed, _) = referrers_of(&mirrored);
    assert!(
        listed.starts_with(&format!("{sbom_digest} application/spdx+json")),
        "{listed}"
    );
    let inspected = registry::skopeo_inspect(dst, "ocix/mirror:v1", false);
    assert_eq!(inspected["Digest"], image.as_str());
    let fallback = image.replacen(':', "-", 1);
    let tags = registry::skopeo_list_tags(dst, "ocix/mirror");
    assert!(tags.contains(&fallback), "{tags:?}");

    let out = registry::run_example(
        &delete,
        &[&mirrored, "--with-referrers", "--dry-run"],
        &[],
        "",
    );
    assert!(
        out.status.success(),
        "delete --dry-run: {}",
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    let repo = format!("{}/ocix/mirror", dst.host);
    assert!(
        said.starts_with(&format!("would delete ocix/mirror@{image} (tags: v1)")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "  would delete referrer ocix/mirror@{sbom_digest} application/spdx+json"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "  would delete fallback tag ocix/mirror:{fallback}"
        )),
        "{said}"
    );
    assert_eq!(
        registry::skopeo_list_tags(dst, "ocix/mirror"),
        tags,
        "a dry run changes nothing"
    );

    let out = registry::run_example(&delete, &[&mirrored, "--with-referrers", "--json"], &[], "");
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["deleted"], true);
    assert_eq!(json["digest"], image.as_str());
    assert_eq!(json["referrers"][0]["digest"], sbom_digest);
    assert_eq!(
        json["referrers"][0]["artifactType"],
        "application/spdx+json"
    );
    assert_eq!(json["fallback_tags"][0]["tag"], fallback.as_str());
    let left: Vec<String> = registry::run_async(std::time::Duration::from_secs(30), async {
        use futures::TryStreamExt;
        let repo = dst.client().repository("ocix/mirror").unwrap();
        repo.tags()
            .map_ok(|t| t.to_string())
            .try_collect()
            .await
            .unwrap()
    });
    assert!(left.is_empty(), "{repo}: {left:?}");
    // The source keeps the image and its SBOM.
    let (listed, _) = referrers_of(&source);
    assert!(listed.starts_with(sbom_digest), "{listed}");
}
