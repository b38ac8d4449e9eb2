//! # dockreg
//!
//! A typed, async client for the Docker Registry HTTP API V2 and its
//! continuation, the OCI Distribution Specification: check the API, list
//! repositories and tags, read manifests of every schema (Docker schema 1
//! signed and unsigned, schema 2, manifest lists, OCI manifests and indexes),
//! resolve digests, read image configs and download blobs, every byte with a
//! digest verified.
//!
//! ## Quick start
//!
//! ```no_run
//! use dockreg::{Client, RepositoryName};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> dockreg::Result<()> {
//! let client = Client::builder("127.0.0.1:5000")          // loopback: https first, then plain http
//!     .authenticator(dockreg::auth::DockerConfig::load()?) // docker/podman login credentials
//!     .build()?;
//! client.ping().await?;
//! let repos: Vec<String> = client.catalog().try_collect().await?;   // follows Link pages
//! let name: RepositoryName = "team/app".parse()?;                   // validated locally
//! let tags: Vec<String> = client.tags(&name).try_collect().await?;
//! let manifest = client.manifest(&name, &"v1".parse()?).await?;     // any schema, verified
//! let digest = client.manifest_digest(&name, &"v1".parse()?).await?;
//! let config = client.image_config(&name, &manifest).await?;
//! println!("{digest} created {:?}", config.created);
//! if let Some(layer) = manifest.layers().first() {
//!     client.download_blob(&name, &layer.digest, "layer.tar.gz").await?; // verified, atomic
//! }
//! # Ok(()) }
//! ```
//!
//! ## Map
//!
//! - [`Client`] / [`ClientBuilder`]: one registry, cheap to clone.
//! - [`api`]: the endpoints, each an `impl Client` block.
//! - [`auth`]: authenticators, the token flow, Docker credentials.
//! - [`models`]: serde types of everything the registry sends.
//! - [`reference`](mod@reference), [`digest`](mod@digest): validated value types.
//! - [`http`]: the request pipeline: limits, retry, pagination, TLS.
//! - [`Error`]: the one error type.
//!
//! ## Features
//!
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform's library.
//! - `tracing` (default): a `tracing` span per request attempt (target
//!   `dockreg`, name `request`, with `method`, `url` without credentials or
//!   query, `attempt` and `status`) and events for retries and back-off,
//!   host pauses, token fetches, download resumes, mount fallbacks and
//!   digest mismatches. No field carries a credential, a token or a query.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
pub mod auth;
mod client;
pub mod digest;
mod error;
pub mod http;
pub mod models;
pub mod reference;
mod trace;
pub mod transfer;

pub use client::{Client, ClientBuilder};
pub use digest::Digest;
pub use error::Error;
pub use models::Manifest;
pub use reference::{Reference, RepositoryName, Tag, TagOrDigest};

/// The crate's result type: `Result<T, dockreg::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
