//! Forward proxies, as users of every other registry tool set them:
//! `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` in the environment, with a
//! real proxy (Debian's `tinyproxy`) on loopback.
//!
//! Each test runs an example binary with the proxy variables set and reads
//! the proxy's own log to see which requests went through it. The example
//! binaries are built by `cargo build --examples` (scripts/test runs it
//! first); without them, or without tinyproxy, these tests say so and skip,
//! except under `CI=true`, where that fails.

use crate::registry;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use registry::{example, run_example as run};
use std::time::{Duration, Instant};

/// A tinyproxy on a free loopback port, logging every request to a file;
/// stopped when dropped.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start() -> Option<Tinyproxy> {
        let Some(program) = registry::find_program("tinyproxy") else {
            registry::require_programs(&["tinyproxy"]);
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        // No ConnectPort line: CONNECT is allowed to any port, as the
        // registries here listen on ephemeral ones.
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogLevel Connect\nLogFile \"{}\"\n\
                 MaxClients 64\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new(program)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Tinyproxy {
            child,
            port,
            log,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines the proxy logged (`GET http://...`, `CONNECT ...`).
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once("): ").map(|(_, r)| r.to_owned()))
            .filter(|r| r.contains(" HTTP/1."))
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn http_proxy_carries_plain_http_requests_and_no_proxy_bypasses_it() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let Some(tags) = example("tags") else { return };
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let seeded = reg.seed_many_tags("proxy/app", 3);
    let repo = format!("{}/proxy/app", reg.host);

    let direct = run(&tags, &[&repo], &[], "");
    assert!(direct.status.success(), "{}", text(&direct.stderr));
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());

    let proxied = run(&tags, &[&repo], &[("HTTP_PROXY", &proxy.url())], "");
    assert!(proxied.status.success(), "{}", text(&proxied.stderr));
    assert_eq!(text(&proxied.stdout), text(&direct.stdout));
    let mut listed: Vec<String> = text(&proxied.stdout).lines().map(str::to_owned).collect();
    listed.sort();
    let mut expected = seeded.tags.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let through = proxy.requests();
    let wanted = format!("GET http://{}/v2/proxy/app/tags/list", reg.host);
    assert!(
        through.iter().any(|r| r.starts_with(&wanted)),
        "the proxy saw {through:?}, not {wanted}"
    );

    // The lower-case spelling works too, and NO_PROXY naming the host
    // sends the requests around the proxy.
    let before = proxy.requests().len();
    let bypassed = run(
        &tags,
        &[&repo],
        &[("http_proxy", &proxy.url()), ("NO_PROXY", "127.0.0.1")],
        "",
    );
    assert!(bypassed.status.success(), "{}", text(&bypassed.stderr));
    assert_eq!(text(&bypassed.stdout), text(&direct.stdout));
    assert_eq!(proxy.requests().len(), before, "{:?}", proxy.requests());
}

#[test]
fn https_proxy_tunnels_tls_with_credentials_intact() {
    let Some(reg) = registry::shared_htpasswd() else {
        return;
    };
    let Some(tags) = example("tags") else { return };
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let image = &reg.images().alice;
    let repo = format!("{}/{}", reg.host, image.repo);
    let ca = reg.ca_path();
    let args = [
        repo.as_str(),
        "--ca-cert",
        ca.to_str().unwrap(),
        "--https",
        "--username",
        "alice",
        "--password-stdin",
    ];

    let out = run(
        &tags,
        &args,
        &[("HTTPS_PROXY", &proxy.url())],
        "alice-pass\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.lines().any(|l| l == image.tag),
        "{said} lacks {}",
        image.tag
    );
    let through = proxy.requests();
    let wanted = format!("CONNECT {} HTTP/1.", reg.host);
    assert!(
        through.iter().any(|r| r.starts_with(&wanted)),
        "the proxy saw {through:?}, not {wanted}"
    );
    // Inside the tunnel the proxy sees no request line: nothing in clear.
    assert!(!through.iter().any(|r| r.contains("/v2/")), "{through:?}");
}
