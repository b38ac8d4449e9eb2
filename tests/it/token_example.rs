//! The `token` example, the seed's "where can I get the token to do API
//! access?": it runs the registry's challenge and token flow and prints the
//! bearer token alone on stdout, for `curl -H "Authorization: Bearer ..."`.
//! Against the token registry (the token proves itself on a real `GET` of
//! the tags list), an OpenShift-style realm on the registry's own origin, a
//! Basic-auth registry and an open one.

use crate::{mock, registry};

use std::process::Output;

use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the built `token` example off the runtime (a wiremock server may be
/// answering on it).
async fn token(args: &[&str], env: &[(&str, &str)]) -> Output {
    let example = registry::example("token").expect("token example");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        registry::run_example(&example, &args, &env, "")
    })
    .await
    .expect("example thread")
}

const ALICE: &[(&str, &str)] = &[
    ("REGISTRY_USERNAME", "alice"),
    ("REGISTRY_PASSWORD", "alice-pass"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_token_from_the_token_registry_opens_the_tags_list() {
    let Some(reg) = registry::shared_token() else {
        return;
    };
    let alice = &reg.images().alice;
    let reference = format!("{}/{}", reg.host, alice.repo);

    let out = token(&[&reference], ALICE).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    // The token alone, on one line: `$(...)` takes it as it is.
    let bearer = stdout.trim_end_matches('\n');
    assert!(
        !bearer.is_empty() && !bearer.contains(char::is_whitespace),
        "{stdout:?}"
    );
    assert_eq!(bearer.matches('.').count(), 2, "a JWT: {bearer}");
    // stderr names where it came from and what it is good for.
    assert!(
        stderr.contains("realm: http://127.0.0.1:") && stderr.contains("/token"),
        "{stderr}"
    );
    assert!(stderr.contains("service: dockreg-test"), "{stderr}");
    assert!(
        stderr.contains(&format!("granted: repository:{}:pull", alice.repo)),
        "{stderr}"
    );
    assert!(stderr.contains("expires: "), "{stderr}");
    assert!(!stderr.contains(bearer), "the token goes only to stdout");
    assert!(!format!("{stdout}{stderr}").contains("alice-pass"));

    // The curl of the seed, with reqwest: the token opens the tags list.
    let url = format!("{}/v2/{}/tags/list", reg.base_url, alice.repo);
    let http = reqwest::Client::new();
    let listed = http
        .get(&url)
        .header("Authorization", format!("Bearer {bearer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&listed.bytes().await.unwrap()).unwrap();
    assert_eq!(body["tags"][0], alice.tag.as_str(), "{body}");
    // Without it, the registry refuses.
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);

    // pull,push as JSON: one object, the granted scope read from the JWT.
    let out = token(&[&reference, "--scope", "pull,push", "--json"], ALICE).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let shown: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(shown["service"], "dockreg-test");
    assert!(shown["realm"].as_str().unwrap().ends_with("/token"));
    assert_eq!(
        shown["scope"],
        serde_json::json!([format!("repository:{}:pull,push", alice.repo)])
    );
    assert_eq!(shown["scope_from"], "token");
    assert!(shown["token"].as_str().unwrap().contains('.'));
    assert!(
        shown["expires_at"].as_str().unwrap().ends_with('Z'),
        "{shown}"
    );

    // The catalog scope.
    let out = token(&[&reg.host, "--scope", "catalog"], ALICE).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("granted: registry:catalog:*"),
        "{}",
        text(&out.stderr)
    );

    // bob gets a token that grants nothing on alice's repository: said.
    let out = token(
        &[&reference],
        &[
            ("REGISTRY_USERNAME", "bob"),
            ("REGISTRY_PASSWORD", "bob-pass"),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("granted none of the actions asked"),
        "{}",
        text(&out.stderr)
    );

    // A wrong password: the token server's refusal, exit 1, one line.
    let out = token(
        &[&reference],
        &[
            ("REGISTRY_USERNAME", "alice"),
            ("REGISTRY_PASSWORD", "nope"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("UNAUTHORIZED"),
        "{}",
        text(&out.stderr)
    );

    // A bad --scope is a usage error.
    let out = token(&[&reference, "--scope", "pul"], ALICE).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openshift_realm_on_the_registrys_own_origin() {
    let server = mock::server().await;
    let realm = format!("{}/openshift/token", server.uri());
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", format!("Bearer realm=\"{realm}\"").as_str())
                .insert_header("Docker-Distribution-Api-Version", "registry/2.0")
                .set_body_string(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
                ),
        )
        .mount(&server)
        .await;
    // `curl -u openshift:TOKEN ".../openshift/token?scope=repository:NS/NAME:pull,push"`
    // ("openshift:sha256~abc" in Basic).
    Mock::given(method("GET"))
        .and(path("/openshift/token"))
        .and(query_param(
            "scope",
            "repository:demo1-ds/busybox:pull,push",
        ))
        .and(header(
            "authorization",
            "Basic b3BlbnNoaWZ0OnNoYTI1Nn5hYmM=",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": "sha256~opaque-openshift-token",
            "access_token": "sha256~opaque-openshift-token",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    let out = token(
        &[
            &format!("{host}/demo1-ds/busybox"),
            "--plain-http",
            "--scope",
            "pull,push",
        ],
        &[
            ("REGISTRY_USERNAME", "openshift"),
            ("REGISTRY_PASSWORD", "sha256~abc"),
        ],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), "sha256~opaque-openshift-token\n");
    assert!(stderr.contains(&format!("realm: {realm}")), "{stderr}");
    assert!(stderr.contains("service: (none"), "{stderr}");
    // An opaque token: the scope asked, said to be unread.
    assert!(
        stderr.contains("repository:demo1-ds/busybox:pull,push (requested; the token is not a JWT"),
        "{stderr}"
    );
    assert!(stderr.contains("expires: "), "{stderr}");
    assert!(!stderr.contains("sha256~abc") && !stderr.contains("opaque-openshift"));
}

#[test]
fn a_basic_auth_registry_has_no_token_to_give() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let Some(example) = registry::example("token") else {
        return;
    };
    let ca = reg.ca_path();
    let repo = format!("{}/{}", reg.host, reg.images().alice.repo);
    let out = registry::run_example(
        &example,
        &[&repo, "--https", "--ca-cert", ca.to_str().unwrap()],
        ALICE,
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(stderr.contains("Basic authentication"), "{stderr}");
    assert!(stderr.contains("curl -u USER:PASSWORD"), "{stderr}");
    assert!(!stderr.contains("alice-pass"), "{stderr}");
}

#[test]
fn an_open_registry_needs_no_token() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let Some(example) = registry::example("token") else {
        return;
    };
    let out = registry::run_example(&example, &[&format!("{}/any/repo", reg.host)], &[], "");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(stderr.contains("no token is needed"), "{stderr}");
}
