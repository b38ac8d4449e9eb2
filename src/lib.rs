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
//! use dockreg::{Client, RepositoryName, Tag};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> dockreg::Result<()> {
//! let client = Client::builder("127.0.0.1:5000")            // loopback: https first, then plain http
//!     .authenticator(dockreg::auth::DockerConfig::load()?)   // docker/podman login credentials
//!     .build()?;
//! client.ping().await?;
//! let repos: Vec<RepositoryName> = client.repositories().try_collect().await?; // follows Link pages
//! let repo = client.repository("team/app")?;                 // validated before any request
//! let tags: Vec<Tag> = repo.tags().try_collect().await?;
//! let manifest = repo.manifest("v1").await?;                 // any schema, verified
//! let digest = repo.manifest_digest("v1").await?;            // HEAD with the right Accept
//! let config = repo.image_config(&manifest).await?;          // created, os, architecture
//! println!("{digest} created {:?}; {} repositories, {} tags", config.created, repos.len(), tags.len());
//! if let Some(layer) = manifest.layers().first() {
//!     repo.download_blob(&layer.digest, "layer.tar.gz").await?; // verified, atomic
//! }
//!
//! // A docker-style reference names the registry too.
//! let reference: dockreg::Reference = "127.0.0.1:5000/team/app:v1".parse()?;
//! let (repo, target) = client.repository_for(&reference)?;   // or Client::for_reference(&reference)
//! let digest = repo.manifest_digest(&target).await?;
//! # let _ = digest;
//! # Ok(()) }
//! ```
//!
//! ## Map
//!
//! - [`Client`] / [`ClientBuilder`]: one registry, cheap to clone.
//! - [`Repository`]: one repository of it, the handle every per-repository
//!   call hangs off ([`Client::repository`], [`Client::repository_for`]).
//! - [`api`]: the endpoints, each an `impl Client` block.
//! - [`auth`]: authenticators, the token flow, Docker credentials.
//! - [`cache`]: the optional on-disk cache of manifests and configs.
//! - [`models`]: serde types of everything the registry sends.
//! - [`artifact`]: files pushed and pulled as one OCI artifact (ORAS style).
//! - [`retention`]: which tags to keep and delete, as a plan, then applied.
//! - [`usage`]: where the bytes are, and what a deletion would free.
//! - [`reference`](mod@reference), [`digest`](mod@digest): validated value types.
//! - [`http`]: the request pipeline: limits, retry, pagination, TLS.
//! - [`Error`]: the one error type.
//!
//! ## reqwest in the API
//!
//! A few public items name [reqwest](https://docs.rs/reqwest) types: the
//! `StatusCode` of [`Error::Registry`] and [`Error::status`], the
//! `reqwest::Error` inside [`Error::Http`], the `HeaderMap` that
//! [`auth::challenges_of`] reads, and the `reqwest::Client` that
//! [`ClientBuilder::http_client`] injects. They are part of dockreg's API on
//! purpose, and the crate re-exports the reqwest it was built with as
//! [`dockreg::reqwest`](crate::reqwest), so a program names exactly those
//! types without depending on a matching reqwest itself. A reqwest major
//! upgrade is therefore a dockreg major version.
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
pub mod artifact;
pub mod auth;
pub mod cache;
mod client;
pub mod digest;
mod error;
pub mod http;
mod local_fs;
pub mod models;
pub mod reference;
pub mod repository;
pub mod retention;
mod trace;
pub mod transfer;
pub mod usage;
pub mod verify;

pub use client::{Client, ClientBuilder};
pub use digest::Digest;
pub use error::Error;
pub use models::Manifest;
pub use reference::{Reference, RepositoryName, Tag, TagOrDigest};
pub use repository::Repository;
/// The reqwest dockreg is built with (see the crate docs, "reqwest in the
/// API").
pub use reqwest;

/// The crate's result type: `Result<T, dockreg::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's Rust examples, compiled as doc tests so they cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
