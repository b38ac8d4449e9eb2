//! Images built with umoci and pushed with skopeo (OCI, Docker schema 2,
//! signed schema 1), a multi-arch OCI index pushed with the raw API, and
//! skopeo wrappers for interop comparisons.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::http::{block_on, Http};
use super::{find_program, lock, media, sha256_digest, tiny_layer, Registry};

/// `created` of the umoci-built image.
pub const SKOPEO_IMAGE_CREATED: &str = "2023-05-06T07:08:09Z";
/// Label set on the umoci-built image.
pub const SKOPEO_IMAGE_LABEL: (&str, &str) = ("org.dockreg.test.source", "umoci");
/// `created` of both images of the multi-arch index.
pub const MULTI_CREATED: &str = "2022-02-02T12:00:00Z";

/// One image pushed by [`Registry::seed_skopeo_images`].
#[derive(Debug, Clone)]
pub struct PushedImage {
    pub name: String,
    pub tag: String,
    /// The manifest's media type as the registry serves it.
    pub media_type: String,
    /// `Docker-Content-Digest` the registry reports (for signed schema 1:
    /// the digest of the payload without the signatures).
    pub manifest_digest: String,
    /// Length of the manifest as served (for schema 1: with signatures).
    pub manifest_size: u64,
    /// `None` for schema 1.
    pub config_digest: Option<String>,
    /// Layer digests in manifest order (schema 1: `fsLayers[].blobSum`,
    /// top-most first, including the empty-layer blobs skopeo adds).
    pub layer_digests: Vec<String>,
    /// The image's `created`.
    pub created: String,
}

/// One platform of [`PushedIndex`].
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
    /// An OCI image manifest.
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub config_digest: String,
    pub layer_digest: String,
}

/// The multi-arch OCI index pushed by [`Registry::seed_skopeo_images`].
#[derive(Debug, Clone)]
pub struct PushedIndex {
    pub name: String,
    pub tag: String,
    /// `application/vnd.oci.image.index.v1+json`.
    pub media_type: String,
    pub index_digest: String,
    pub index_size: u64,
    /// linux/amd64, then linux/arm64/v8.
    pub manifests: Vec<PlatformImage>,
}

/// Everything [`Registry::seed_skopeo_images`] pushed.
#[derive(Debug, Clone)]
pub struct SkopeoImages {
    /// `oci/image:v1`, OCI image manifest (`skopeo copy --format oci`).
    pub oci: PushedImage,
    /// `docker/image:v1`, Docker schema 2 (`--format v2s2`).
    pub docker: PushedImage,
    /// `schema1/image:v1`, signed schema 1 (`--format v2s1`).
    pub schema1: PushedImage,
    /// `multi/image:v1`, OCI index of linux/amd64 and linux/arm64/v8.
    pub multi: PushedIndex,
    /// The umoci-built OCI layout the three images came from (`DIR:v1`).
    pub layout: PathBuf,
}

fn require(program: &str) {
    if find_program(program).is_none() {
        panic!(
            "{program} is required by this test fixture; install the Debian package {program} \
             (scripts/test installs docker-registry, skopeo and umoci)"
        );
    }
}

/// Runs a command, panics with its output if it fails; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// Writes files with a fixed mtime so the layers come out the same each run.
fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_683_356_889);
    for (path, data) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write file");
    }
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                dirs.push(p.clone());
            }
            let f = std::fs::File::open(&p).expect("open");
            f.set_modified(when).expect("set mtime");
        }
    }
    std::fs::File::open(root)
        .and_then(|f| f.set_modified(when))
        .expect("set mtime");
}

fn skopeo() -> Command {
    require("skopeo");
    let mut c = Command::new("skopeo");
    // No policy.json needed, and no proxies for loopback.
    c.arg("--insecure-policy")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY");
    c
}

/// `skopeo inspect --tls-verify=false [--raw] docker://HOST/REF` where
/// `image_ref` is `NAME:TAG` or `NAME@DIGEST`. For an index without `--raw`
/// skopeo picks the linux/amd64 image.
pub fn skopeo_inspect(reg: &Registry, image_ref: &str, raw: bool) -> Value {
    let mut c = skopeo();
    c.args(["inspect", "--tls-verify=false"]);
    if raw {
        c.arg("--raw");
    }
    c.arg(format!("docker://{}/{}", reg.host, image_ref));
    let out = run(&mut c);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo inspect output ({e}): {out}"))
}

/// `skopeo inspect --tls-verify=false --config docker://HOST/REF`: the image
/// config blob as JSON.
pub fn skopeo_inspect_config(reg: &Registry, image_ref: &str) -> Value {
    let mut c = skopeo();
    c.args(["inspect", "--tls-verify=false", "--config"]);
    c.arg(format!("docker://{}/{}", reg.host, image_ref));
    let out = run(&mut c);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo inspect output ({e}): {out}"))
}

/// `skopeo list-tags --tls-verify=false docker://HOST/REPO` (skopeo follows
/// the registry's pagination, if any).
pub fn skopeo_list_tags(reg: &Registry, repo: &str) -> Vec<String> {
    let mut c = skopeo();
    c.args(["list-tags", "--tls-verify=false"]);
    c.arg(format!("docker://{}/{}", reg.host, repo));
    let out = run(&mut c);
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("list-tags output ({e}): {out}"));
    v["Tags"]
        .as_array()
        .unwrap_or_else(|| panic!("list-tags output has no Tags: {out}"))
        .iter()
        .map(|t| t.as_str().expect("tag string").to_string())
        .collect()
}

impl Registry {
    /// Builds an OCI layout with umoci (two layers, amd64/linux, created
    /// [`SKOPEO_IMAGE_CREATED`], a label, a cmd), pushes it with skopeo as
    /// `oci/image:v1`, `docker/image:v1` and `schema1/image:v1` (the last
    /// needs schema1 enabled), and pushes `multi/image:v1`, an OCI index of
    /// two platform images, with the raw API.
    pub fn seed_skopeo_images(&self) -> SkopeoImages {
        let mut done = lock(&self.fixtures.skopeo);
        if let Some(v) = done.as_ref() {
            return v.clone();
        }
        let seeded = self.with_log("seed_skopeo_images", || self.build_and_push_images());
        *done = Some(seeded.clone());
        seeded
    }
}

impl Registry {
    fn build_and_push_images(&self) -> SkopeoImages {
        assert!(
            self.config.schema1,
            "seed_skopeo_images needs a registry with schema1 enabled"
        );
        require("umoci");
        require("skopeo");
        let work = self.dir().join("umoci");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("mkdir umoci work dir");
        let layout = work.join("layout");
        let image = format!("{}:v1", layout.display());
        let rootless: &[&str] = if is_root() { &[] } else { &["--rootless"] };

        let src1 = work.join("src1");
        write_tree(
            &src1,
            &[
                (
                    "etc/dockreg/hello.txt",
                    b"hello from the dockreg test image\n",
                ),
                (
                    "usr/share/dockreg/data.bin",
                    &[0u8, 1, 2, 3, 4, 5, 6, 7, 255],
                ),
            ],
        );
        let src2 = work.join("src2");
        write_tree(&src2, &[("second.txt", b"second layer\n")]);

        let history = [
            "--history.created",
            SKOPEO_IMAGE_CREATED,
            "--history.author",
            "dockreg tests",
        ];
        run(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout));
        run(Command::new("umoci").args(["new", "--image", &image]));
        run(Command::new("umoci")
            .arg("insert")
            .args(rootless)
            .args(history)
            .args(["--history.created_by", "insert src1 /"])
            .args(["--image", &image])
            .arg(&src1)
            .arg("/"));
        run(Command::new("umoci")
            .arg("insert")
            .args(rootless)
            .args(history)
            .args(["--history.created_by", "insert src2 /opt/second"])
            .args(["--image", &image])
            .arg(&src2)
            .arg("/opt/second"));
        let label = format!("{}={}", SKOPEO_IMAGE_LABEL.0, SKOPEO_IMAGE_LABEL.1);
        run(Command::new("umoci")
            .arg("config")
            .args(history)
            .args(["--image", &image])
            .args([
                "--config.cmd",
                "/bin/cat",
                "--config.cmd",
                "/etc/dockreg/hello.txt",
            ])
            .args(["--config.env", "DOCKREG=1"])
            .args(["--config.label", &label])
            .args(["--architecture", "amd64", "--os", "linux"])
            .args(["--created", SKOPEO_IMAGE_CREATED])
            .args(["--author", "dockreg tests"]));

        let push = |name: &str, format: &str| -> String {
            let digestfile = work.join(format!("digest-{format}"));
            run(skopeo()
                .args([
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    "--format",
                    format,
                ])
                .arg("--digestfile")
                .arg(&digestfile)
                .arg(format!("oci:{image}"))
                .arg(format!("docker://{}/{name}:v1", self.host)));
            std::fs::read_to_string(&digestfile)
                .expect("skopeo --digestfile")
                .trim()
                .to_string()
        };
        let oci_digest = push("oci/image", "oci");
        let docker_digest = push("docker/image", "v2s2");
        let schema1_digest = push("schema1/image", "v2s1");

        let http = Http::new(self);
        block_on(|| async move {
            let oci = describe(&http, "oci/image", media::OCI_MANIFEST).await;
            assert_eq!(oci.manifest_digest, oci_digest, "skopeo vs registry digest");
            let docker = describe(&http, "docker/image", media::DOCKER_MANIFEST_V2).await;
            assert_eq!(docker.manifest_digest, docker_digest, "skopeo vs registry");
            let schema1 = describe(&http, "schema1/image", media::DOCKER_MANIFEST_V1_SIGNED).await;
            assert_eq!(
                schema1.manifest_digest, schema1_digest,
                "skopeo vs registry"
            );
            let multi = push_multi(&http, "multi/image", "v1").await;
            SkopeoImages {
                oci,
                docker,
                schema1,
                multi,
                layout,
            }
        })
    }
}

/// GETs `NAME:v1` with `accept` and describes what the registry serves.
async fn describe(http: &Http, name: &str, accept: &str) -> PushedImage {
    let path = format!("/v2/{name}/manifests/v1");
    let r = http
        .raw(reqwest::Method::GET, &path, &[("Accept", accept)])
        .await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    let media_type = r.header("content-type").unwrap_or_default().to_string();
    assert_eq!(media_type, accept, "GET {path}: Content-Type");
    let manifest_digest = r
        .header("docker-content-digest")
        .expect("Docker-Content-Digest")
        .to_string();
    let m = r.json();
    let (config_digest, layer_digests, created) = if accept == media::DOCKER_MANIFEST_V1_SIGNED {
        let layers = m["fsLayers"]
            .as_array()
            .expect("fsLayers")
            .iter()
            .map(|l| l["blobSum"].as_str().expect("blobSum").to_string())
            .collect();
        let top: Value = serde_json::from_str(
            m["history"][0]["v1Compatibility"]
                .as_str()
                .expect("v1Compatibility"),
        )
        .expect("v1Compatibility json");
        let created = top["created"].as_str().unwrap_or_default().to_string();
        (None, layers, created)
    } else {
        assert_eq!(manifest_digest, sha256_digest(&r.body));
        let config_digest = m["config"]["digest"].as_str().expect("config").to_string();
        let layers = m["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["digest"].as_str().expect("layer digest").to_string())
            .collect();
        let cfg = http
            .raw(
                reqwest::Method::GET,
                &format!("/v2/{name}/blobs/{config_digest}"),
                &[],
            )
            .await;
        assert_eq!(cfg.status, 200, "GET config of {name}");
        let created = cfg.json()["created"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (Some(config_digest), layers, created)
    };
    PushedImage {
        name: name.to_string(),
        tag: "v1".to_string(),
        media_type,
        manifest_digest,
        manifest_size: r.body.len() as u64,
        config_digest,
        layer_digests,
        created,
    }
}

/// Pushes two OCI platform images and an OCI index listing them.
async fn push_multi(http: &Http, repo: &str, tag: &str) -> PushedIndex {
    let mut manifests = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let text = format!("built for linux/{arch}\n");
        let layer = tiny_layer(&[("etc/dockreg/arch.txt", text.as_bytes())]);
        let mut config = json!({
            "architecture": arch,
            "os": "linux",
            "created": MULTI_CREATED,
            "config": {"Cmd": ["/bin/cat", "/etc/dockreg/arch.txt"]},
            "history": [{"created": MULTI_CREATED, "created_by": format!("add {arch}")}],
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        let config = serde_json::to_vec(&config).expect("config json");
        let config_digest = http.push_blob(repo, config.clone()).await;
        let layer_digest = http.push_blob(repo, layer.gz.clone()).await;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "size": config.len(), "digest": config_digest},
            "layers": [{"mediaType": media::OCI_LAYER, "size": layer.gz.len(), "digest": layer_digest}],
        }))
        .expect("manifest json");
        let digest = sha256_digest(&manifest);
        let got = http
            .put_manifest(repo, &digest, media::OCI_MANIFEST, manifest.clone())
            .await;
        assert_eq!(got, digest);
        manifests.push(PlatformImage {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(Into::into),
            manifest_digest: digest,
            manifest_size: manifest.len() as u64,
            config_digest,
            layer_digest,
        });
    }
    let entries: Vec<Value> = manifests
        .iter()
        .map(|p| {
            let mut platform = json!({"architecture": p.architecture, "os": p.os});
            if let Some(v) = &p.variant {
                platform["variant"] = json!(v);
            }
            json!({
                "mediaType": media::OCI_MANIFEST,
                "size": p.manifest_size,
                "digest": p.manifest_digest,
                "platform": platform,
            })
        })
        .collect();
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": entries,
    }))
    .expect("index json");
    let index_digest = http
        .put_manifest(repo, tag, media::OCI_INDEX, index.clone())
        .await;
    assert_eq!(index_digest, sha256_digest(&index));
    PushedIndex {
        name: repo.to_string(),
        tag: tag.to_string(),
        media_type: media::OCI_INDEX.to_string(),
        index_digest,
        index_size: index.len() as u64,
        manifests,
    }
}
