//! The command-line habits every example shares: `--help` and `--version`
//! exit 0, usage errors exit 2, `--json` lines carry the field names of the
//! library's `Serialize` types, listings take `--filter REGEX`, `tags`
//! sorts lexically or by version, and a policy over many tags (cleanup)
//! deletes only with `--yes`.

use crate::delete::push_image;
use crate::registry::{self, Registry};

use dockreg::repository::ReportOptions;
use dockreg::retention::Policy;
use dockreg::RepositoryName;

/// Every example but the lead's demo.
const EXAMPLES: &[&str] = &[
    "catalog",
    "cleanup",
    "copy",
    "delete",
    "inspect",
    "ping",
    "pull",
    "pull-blob",
    "push",
    "report",
    "tags",
    "token",
    "usage",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs example `name` with `args`; returns exit code, stdout, stderr.
fn run(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let exe = registry::example(name).unwrap();
    let out = registry::run_example(&exe, args, &[], "");
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Runs example `name` and expects success; returns stdout.
fn ok(name: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(name, args);
    assert_eq!(code, Some(0), "{name} {args:?}: {stdout}{stderr}");
    stdout
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn shared() -> &'static Registry {
    registry::shared().expect("the shared registry")
}

#[test]
fn every_example_has_version_help_and_exit_2_on_usage_errors() {
    for name in EXAMPLES {
        let version = ok(name, &["--version"]);
        assert_eq!(
            version.trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION")),
            "{name} --version"
        );
        let help = ok(name, &["--help"]);
        for needle in [
            "--json",
            "--quiet",
            "--username",
            "--password-stdin",
            "--plain-http",
            "--ca-cert",
            "Exit status: 0 success, 1 failure, 2 usage error",
        ] {
            assert!(
                help.contains(needle),
                "{name} --help lacks {needle}:\n{help}"
            );
        }
        let (code, stdout, stderr) = run(name, &["--no-such-flag"]);
        assert_eq!(code, Some(2), "{name} --no-such-flag: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{name}: a usage error prints on stderr");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(stderr.contains("--no-such-flag"), "{name}: {stderr}");
        let (code, _, stderr) = run(name, &[]);
        assert_eq!(code, Some(2), "{name} without arguments: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
    }
}

#[test]
fn username_and_password_stdin_go_together() {
    let (code, _, stderr) = run("tags", &["127.0.0.1:1/a/b", "--username", "u"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    let (code, _, stderr) = run("tags", &["127.0.0.1:1/a/b", "--https", "--plain-http"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn tags_filter_and_sort() {
    let reg = shared();
    let repo = "cli/sorted";
    push_image(
        reg,
        repo,
        "cli-sorted",
        &["v1.9", "v1.10", "v2", "latest", "v1.9-rc1"],
    );
    let at = format!("{}/{repo}", reg.host);

    let all = ok("tags", &[&at]);
    assert_eq!(all, "latest\nv1.10\nv1.9\nv1.9-rc1\nv2\n");
    let versions = ok(
        "tags",
        &[&at, "--filter", "^v[0-9.]+$", "--sort", "version"],
    );
    assert_eq!(versions, "v1.9\nv1.10\nv2\n");
    let lexical = ok("tags", &[&at, "--filter", "^v[0-9.]+$"]);
    assert_eq!(lexical, "v1.10\nv1.9\nv2\n");

    let lines = json_lines(&ok("tags", &[&at, "--filter", "rc", "--json"]));
    assert_eq!(
        lines,
        [serde_json::json!({"repository": repo, "tag": "v1.9-rc1"})]
    );

    let (code, _, stderr) = run("tags", &[&at, "--filter", "("]);
    assert_eq!(code, Some(2), "a bad regex is a usage error: {stderr}");
    let (code, _, stderr) = run("tags", &[&at, "--sort", "date"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn catalog_filter() {
    let reg = shared();
    push_image(reg, "cli/catalog-a", "cli-catalog-a", &["x"]);
    push_image(reg, "cli/catalog-b", "cli-catalog-b", &["x"]);
    let out = ok("catalog", &[&reg.host, "--filter", "^cli/catalog-"]);
    assert_eq!(out, "cli/catalog-a\ncli/catalog-b\n");
    let lines = json_lines(&ok(
        "catalog",
        &[&reg.host, "--filter", "catalog-b$", "--json"],
    ));
    assert_eq!(lines, [serde_json::json!({"repository": "cli/catalog-b"})]);
}

/// What the library's `Serialize` types say, field for field.
#[test]
fn report_and_cleanup_json_are_the_library_types() {
    let reg = shared();
    let repo = "cli/json";
    push_image(reg, repo, "cli-json-1", &["one", "uno"]);
    push_image(reg, repo, "cli-json-2", &["two"]);
    let at = format!("{}/{repo}", reg.host);
    let name: RepositoryName = repo.parse().unwrap();
    let client = reg.client();
    let (rows, plan) = registry::run_async(std::time::Duration::from_secs(60), async move {
        let repo = client.repository(name).unwrap();
        let report = repo.tag_report(&ReportOptions::default()).await.unwrap();
        let plan = Policy::default().keep(1).plan(&repo).await.unwrap();
        (report.rows, plan)
    });

    let lines = json_lines(&ok("report", &[&at, "--json"]));
    let expected: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(lines, expected);
    let lines = json_lines(&ok("report", &[&at, "--json", "--filter", "^t"]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["tag"], "two");

    let lines = json_lines(&ok("cleanup", &[&at, "--keep", "1", "--json"]));
    let expected: Vec<serde_json::Value> = plan
        .tags
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    assert_eq!(&lines[..lines.len() - 1], &expected[..]);
    let summary = &lines[lines.len() - 1]["summary"];
    assert_eq!(summary["repository"], repo);
    assert_eq!(summary["dry_run"], true);
    assert_eq!(
        summary["manifests"],
        serde_json::to_value(&plan.manifests).unwrap()
    );
    assert_eq!(summary["freed_bytes"], plan.freed_bytes);
    assert_eq!(summary["tags_kept"], plan.tags_kept());
    assert_eq!(summary["tags_removed"], plan.tags_removed());
}

/// One explicit reference acts at once; a policy over many tags needs
/// `--yes`, and `--dry-run` (or no `--yes`) changes nothing.
#[test]
fn cleanup_deletes_only_with_yes() {
    let reg = shared();
    let repo = "cli/policy";
    push_image(reg, repo, "cli-policy-1", &["a"]);
    push_image(reg, repo, "cli-policy-2", &["b"]);
    let at = format!("{}/{repo}", reg.host);
    let before = ok("tags", &[&at]);
    assert_eq!(before, "a\nb\n");

    for args in [&["--keep", "0"][..], &["--keep", "0", "--dry-run"][..]] {
        let mut all = vec![at.as_str()];
        all.extend_from_slice(args);
        let out = ok("cleanup", &all);
        assert!(out.contains("dry run: would delete 2 manifest(s)"), "{out}");
        assert_eq!(ok("tags", &[&at]), before, "cleanup {args:?} deleted");
    }
    let (code, _, stderr) = run("cleanup", &[&at, "--keep", "0", "--yes", "--dry-run"]);
    assert_eq!(
        code,
        Some(2),
        "--yes and --dry-run exclude each other: {stderr}"
    );
    let (code, _, stderr) = run("cleanup", &[&at, "--keep", "0", "--yes", "--filter", "a"]);
    assert_eq!(
        code,
        Some(2),
        "--filter hides lines, so not with --yes: {stderr}"
    );
    let filtered = ok("cleanup", &[&at, "--keep", "0", "--filter", "^a$"]);
    assert!(filtered.starts_with("delete a "), "{filtered}");
    assert!(!filtered.contains("delete b "), "{filtered}");

    let out = ok("cleanup", &[&at, "--keep", "0", "--yes", "--quiet"]);
    assert!(out.contains("deleted 2 manifest(s)"), "{out}");
    assert!(!out.contains("note:"), "--quiet drops the note: {out}");
    let (code, stdout, stderr) = run("tags", &[&at]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "", "every tag went");
}

/// `--cache-layers`: `pull-blob` keeps the blob in the user's cache, and a
/// second pull of it needs no registry at all (the port it names is shut);
/// without the flag nothing of the layer is kept.
#[test]
fn pull_blob_with_cache_layers_reads_the_blob_back_from_the_cache() {
    let reg = shared();
    let data = b"a layer worth keeping\n".repeat(4096);
    let digest = registry::run_async(std::time::Duration::from_secs(60), async {
        let repo = reg.client().repository("cli/layers").unwrap();
        repo.push_blob(data.clone()).await.unwrap().digest
    });
    let exe = registry::example("pull-blob").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let env = [("XDG_CACHE_HOME", cache.to_str().unwrap())];
    let entry = cache.join("dockreg/blobs/sha256").join(digest.hex());
    let pull = |host: &str, file: &str, flags: &[&str]| {
        let reference = format!("{host}/cli/layers@{digest}");
        let out = dir.path().join(file);
        let mut args = vec![reference.as_str(), "-o", out.to_str().unwrap()];
        args.extend(flags);
        let ran = registry::run_example(&exe, &args, &env, "");
        (ran, out)
    };

    let (ran, _) = pull(&reg.host, "plain", &[]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert!(!entry.exists(), "a layer kept without --cache-layers");

    let (ran, out) = pull(&reg.host, "first", &["--cache-layers"]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert!(std::fs::read(&out).unwrap() == data);
    assert!(
        std::fs::read(&entry).unwrap() == data,
        "the cache holds the blob"
    );

    // Nothing listens on the port of a listener just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let (ran, out) = pull(&host, "again", &["--cache-layers"]);
    assert!(
        ran.status.success(),
        "from the cache: {}",
        text(&ran.stderr)
    );
    assert!(std::fs::read(&out).unwrap() == data);
    let (ran, _) = pull(&host, "without", &[]);
    assert_eq!(
        ran.status.code(),
        Some(1),
        "without the flag the registry is asked"
    );
}
