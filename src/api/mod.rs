//! The registry's endpoints, one file per group, each an `impl Client` block.
//!
//! Every per-repository call below is also on the
//! [`Repository`](crate::Repository) handle, which takes the name once and
//! its inputs as `&str`, `Tag`, `Digest` or `Reference`
//! ([`repository`](crate::repository) lists the calls).
//!
//! | group | calls |
//! |---|---|
//! | base | [`Client::ping`](crate::Client::ping), [`Client::token`](crate::Client::token) |
//! | catalog | [`Client::catalog`](crate::Client::catalog), [`Client::catalog_page`](crate::Client::catalog_page) |
//! | tags | [`Client::tags`](crate::Client::tags), [`Client::tags_page`](crate::Client::tags_page) |
//! | manifests | [`Client::manifest`](crate::Client::manifest), [`Client::manifest_digest`](crate::Client::manifest_digest), [`Client::manifest_for_platform`](crate::Client::manifest_for_platform), [`Client::image_config`](crate::Client::image_config) |
//! | uploads | [`Client::push_blob`](crate::Client::push_blob), [`Client::push_blob_stream`](crate::Client::push_blob_stream), [`Client::start_upload`](crate::Client::start_upload), [`Client::mount_blob`](crate::Client::mount_blob) |
//! | delete | [`Client::delete_tag`](crate::Client::delete_tag), [`Client::delete_manifest`](crate::Client::delete_manifest), [`Client::delete_blob`](crate::Client::delete_blob), [`Client::tags_with_digest`](crate::Client::tags_with_digest), [`Client::untag`](crate::Client::untag), [`Client::untag_plan`](crate::Client::untag_plan) |
//! | copy ([`transfer`](crate::transfer)) | [`Client::copy_image`](crate::Client::copy_image), [`Client::put_manifest`](crate::Client::put_manifest) |
//! | report | [`Client::tag_report`](crate::Client::tag_report), [`Client::tag_info`](crate::Client::tag_info) |
//! | referrers | [`Client::referrers`](crate::Client::referrers), [`Client::delete_plan`](crate::Client::delete_plan), [`Client::apply_delete_plan`](crate::Client::apply_delete_plan), [`Client::delete_with_referrers`](crate::Client::delete_with_referrers) |
//! | artifacts ([`artifact`](crate::artifact)) | [`Client::push_artifact`](crate::Client::push_artifact), [`Client::pull_artifact`](crate::Client::pull_artifact) |
//! | rate limit | [`Client::rate_limit`](crate::Client::rate_limit) |
//! | blobs | [`Client::blob_stream`](crate::Client::blob_stream), [`Client::download_blob`](crate::Client::download_blob), [`Client::blob_size`](crate::Client::blob_size), [`Client::blob_exists`](crate::Client::blob_exists), [`Client::blob_bytes`](crate::Client::blob_bytes) |

mod base;
mod blobs;
mod catalog;
mod manifests;
mod ratelimit;
mod referrers;
mod report;
mod tags;
mod untag;
mod uploads;

pub use base::{PingResponse, TokenGrant};

use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::Scope;
use crate::client::Client;
use crate::error::Error;
use crate::http::Request;

impl Client {
    /// `DELETE url`: a 405 from a registry with deletion disabled becomes
    /// [`Error::DeletionDisabled`], which says how to enable it.
    pub(crate) async fn delete_resource(&self, url: Url, scope: Scope) -> crate::Result<()> {
        match self
            .send(Request::new(Method::DELETE, url).scope(scope))
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::Registry { status, url, .. })
                if status == StatusCode::METHOD_NOT_ALLOWED =>
            {
                Err(Error::DeletionDisabled { url })
            }
            Err(e) => Err(e),
        }
    }
}
pub use blobs::BlobStream;
pub(crate) use blobs::{persist_beside, temp_beside};
pub(crate) use manifests::{check_fan_out, platform_entry, verify_manifest};
pub use referrers::{referrers_tag, DeletePlan, FallbackTag, Referrers, ReferrersSource};
pub(crate) use report::dated_entry;
pub use report::{ReportEvent, TagError, TagInfo, TagReport};
pub use untag::{Untagged, PLACEHOLDER_ARTIFACT_TYPE};
pub use uploads::{BlobUpload, PushOutcome, DEFAULT_CHUNK_SIZE};
