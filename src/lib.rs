//! # dockreg
//!
//! A typed, async client for the Docker Registry HTTP API V2 and its
//! continuation, the OCI Distribution Specification.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
pub mod auth;
mod client;
pub mod digest;
mod error;
pub mod models;
pub mod reference;
pub mod transport;

pub use client::{Client, ClientBuilder};
pub use digest::Digest;
pub use error::Error;
pub use models::Manifest;
pub use reference::{Reference, RepositoryName, Tag, TagOrDigest};

/// The crate's result type: `Result<T, dockreg::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
