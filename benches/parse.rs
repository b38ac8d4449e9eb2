//! Micro-benchmarks of the CPU-bound paths: manifest parsing (every schema),
//! digest hashing throughput, reference, Link and challenge parsing.
//!
//! `cargo bench --bench parse`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dockreg::digest::{Algorithm, Digest};
use dockreg::Manifest;

const FIXTURES: &[(&str, &[u8], &str)] = &[
    (
        "schema1-signed",
        include_bytes!("../tests/fixtures/schema1-signed.json"),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    ),
    (
        "docker-v2",
        include_bytes!("../tests/fixtures/docker-v2.json"),
        "application/vnd.docker.distribution.manifest.v2+json",
    ),
    (
        "docker-list",
        include_bytes!("../tests/fixtures/docker-list.json"),
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ),
    (
        "oci-manifest",
        include_bytes!("../tests/fixtures/oci-manifest.json"),
        "application/vnd.oci.image.manifest.v1+json",
    ),
    (
        "oci-index",
        include_bytes!("../tests/fixtures/oci-index.json"),
        "application/vnd.oci.image.index.v1+json",
    ),
];

fn manifests(c: &mut Criterion) {
    let mut group = c.benchmark_group("manifest");
    for (name, bytes, content_type) in FIXTURES {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", name), bytes, |b, bytes| {
            b.iter(|| Manifest::from_bytes(black_box(bytes.to_vec()), Some(content_type)).unwrap())
        });
        let parsed = Manifest::from_bytes(bytes.to_vec(), Some(content_type)).unwrap();
        group.bench_function(BenchmarkId::new("digest", name), |b| {
            b.iter(|| black_box(&parsed).digest().unwrap())
        });
    }
    group.finish();
}

fn hashing(c: &mut Criterion) {
    let data = vec![0x5au8; 8 << 20];
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    for alg in [Algorithm::Sha256, Algorithm::Sha512] {
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| Digest::compute(alg, black_box(&data)))
        });
    }
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("reference", |b| {
        b.iter(|| {
            black_box(
                "registry.example.com:5000/team/app/web:v1.2.3@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            )
            .parse::<dockreg::Reference>()
            .unwrap()
        })
    });
    group.bench_function("challenge", |b| {
        b.iter(|| {
            dockreg::auth::parse_challenges(black_box(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push",error="insufficient_scope""#,
            ))
        })
    });
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::LINK,
        r#"</v2/_catalog?last=team%2Fapp-0999&n=1000>; rel="next""#
            .parse()
            .unwrap(),
    );
    let url = url::Url::parse("http://127.0.0.1:5000/v2/_catalog?n=1000").unwrap();
    group.bench_function("link", |b| {
        b.iter(|| dockreg::http::next_link(black_box(&headers), &url).unwrap())
    });
    group.finish();
}

criterion_group!(benches, manifests, hashing, parsers);
criterion_main!(benches);
