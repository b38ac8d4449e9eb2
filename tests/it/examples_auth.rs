//! The examples against secured registries, as a person or a CI job runs
//! them: basic auth over TLS and token auth, with credentials from flags, from
//! the environment and from a Docker config with a credential helper.
//!
//! The example binaries are built by `cargo build --examples` (scripts/test
//! runs it first); without them these tests say so and skip, except under
//! `CI=true`, where that fails.

use crate::registry;

use std::path::{Path, PathBuf};
use std::process::Output;

use registry::example;

/// A Docker config directory: empty, or naming a credential helper for `host`.
fn docker_config(dir: &Path, helper_for: Option<&str>) -> PathBuf {
    let config = dir.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let json = match helper_for {
        Some(host) => format!(r#"{{"credHelpers":{{"{host}":"dockreg-test"}}}}"#),
        None => "{}".to_owned(),
    };
    std::fs::write(config.join("config.json"), json).unwrap();
    config
}

/// Runs an example with a clean credential environment, the Docker config
/// in `config`, plus `env`, feeding `stdin`.
fn run(example: &Path, args: &[&str], env: &[(&str, &str)], config: &Path, stdin: &str) -> Output {
    let config = config.to_str().expect("UTF-8 temp path");
    let mut all = vec![("DOCKER_CONFIG", config)];
    all.extend_from_slice(env);
    registry::run_example(example, args, &all, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn examples_against_basic_auth_over_tls() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let (Some(ping), Some(tags), Some(report)) =
        (example("ping"), example("tags"), example("report"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let empty = docker_config(dir.path(), None);
    let ca = reg.ca_path();
    let ca = ca.to_str().unwrap();
    let image = &reg.images().alice;
    let repo = format!("{}/{}", reg.host, image.repo);

    // Flags: --username with the password on stdin.
    let out = run(
        &ping,
        &[
            &reg.host,
            "--https",
            "--ca-cert",
            ca,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &[],
        &empty,
        "alice-pass\n",
    );
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said} {}", text(&out.stderr));
    assert!(
        said.contains("OK (registry/2.0), Basic authentication"),
        "{said}"
    );
    assert!(
        said.contains("credentials accepted (user alice (--username))"),
        "{said}"
    );

    // A wrong password: refused, exit 1, said in one line.
    let out = run(
        &ping,
        &[
            &reg.host,
            "--https",
            "--ca-cert",
            ca,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &[],
        &empty,
        "wrong\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("credentials rejected"),
        "{}",
        text(&out.stdout)
    );

    // No credentials: the read fails with the registry's code.
    let out = run(&tags, &[&repo, "--https", "--ca-cert", ca], &[], &empty, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("UNAUTHORIZED"),
        "{}",
        text(&out.stderr)
    );

    // The environment.
    let out = run(
        &tags,
        &[&repo, "--https", "--ca-cert", ca],
        &[
            ("REGISTRY_USERNAME", "alice"),
            ("REGISTRY_PASSWORD", "alice-pass"),
        ],
        &empty,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), image.tag);

    // A Docker config naming a credential helper for this registry.
    let with_helper = docker_config(&dir.path().join("h"), Some(&reg.host));
    let out = run(
        &report,
        &[&repo, "--https", "--ca-cert", ca, "--json"],
        &[],
        &with_helper,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(line["tag"], image.tag.as_str());
    assert_eq!(line["digest"], image.manifest_digest.as_str());

    // Without the CA the certificate is refused (exit 1, one line).
    let out = run(
        &tags,
        &[&repo, "--https"],
        &[
            ("REGISTRY_USERNAME", "alice"),
            ("REGISTRY_PASSWORD", "alice-pass"),
        ],
        &empty,
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.to_ascii_lowercase().contains("certificate"), "{err}");
}

#[test]
fn examples_against_token_auth() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let (Some(ping), Some(tags), Some(inspect), Some(report)) = (
        example("ping"),
        example("tags"),
        example("inspect"),
        example("report"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let empty = docker_config(dir.path(), None);
    let alice = &reg.images().alice;
    let public = &reg.images().public;
    let alice_repo = format!("{}/{}", reg.host, alice.repo);

    // Anonymous: the API answers (an anonymous token has no access, but
    // /v2/ takes it), public images read, alice's are refused.
    let out = run(&ping, &[&reg.host], &[], &empty, "");
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said} {}", text(&out.stderr));
    assert!(
        said.contains("Bearer authentication (realm \"http://127.0.0.1:"),
        "{said}"
    );
    assert!(said.contains("service \"dockreg-test\""), "{said}");
    let out = run(
        &tags,
        &[&format!("{}/{}", reg.host, public.repo)],
        &[],
        &empty,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), public.tag);
    let out = run(&tags, &[&alice_repo], &[], &empty, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("UNAUTHORIZED"),
        "{}",
        text(&out.stderr)
    );

    // Flags.
    let out = run(
        &tags,
        &[&alice_repo, "--username", "alice", "--password-stdin"],
        &[],
        &empty,
        "alice-pass\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), alice.tag);

    // The environment.
    let out = run(
        &inspect,
        &[&format!("{alice_repo}:{}", alice.tag), "--json"],
        &[
            ("REGISTRY_USERNAME", "alice"),
            ("REGISTRY_PASSWORD", "alice-pass"),
        ],
        &empty,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(shown["digest"], alice.manifest_digest.as_str());

    // A Docker config with a credential helper.
    let with_helper = docker_config(&dir.path().join("h"), Some(&reg.host));
    let out = run(&report, &[&alice_repo], &[], &with_helper, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.starts_with(&format!("{} {}", alice.tag, alice.manifest_digest)),
        "{said}"
    );

    // bob's credentials do not open alice's repository.
    let out = run(
        &tags,
        &[&alice_repo],
        &[
            ("REGISTRY_USERNAME", "bob"),
            ("REGISTRY_PASSWORD", "bob-pass"),
        ],
        &empty,
        "",
    );
    assert_eq!(out.status.code(), Some(1));
}
