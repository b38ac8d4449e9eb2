//! The integration tests, one crate: the real-registry harness
//! ([`registry`]), the wiremock helpers ([`mock`]) and the fault-injecting
//! proxy ([`fault_proxy`]) compile once, and every group of tests is a
//! module. Registry-backed tests fail, never pass, when the registry or a
//! tool they need is missing (scripts/test installs them).

mod fault_proxy;
mod mock;
mod registry;

mod artifact;
mod auth;
mod auth_mock;
mod base;
mod blobs;
mod cache;
mod catalog;
mod copy;
mod delete;
mod demo;
mod examples_auth;
mod examples_cli;
mod examples_oci;
mod faults;
mod harness;
mod hostile_bounds;
mod hostile_creds;
mod hostile_layout;
mod hostile_numbers;
mod hostile_pages;
mod hostile_schema1;
mod hostile_tls;
mod http2;
mod instrumentation;
mod layout;
mod manifests;
mod progress;
mod props;
mod proxy;
mod quirks;
mod referrers;
mod repository;
mod schema1_sigs;
mod shedding;
mod tags;
mod token_example;
mod transfer;
mod untag;
mod upload_retry;
mod uploads;
mod usage;
