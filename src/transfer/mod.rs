//! Moving images, through one engine ([`copy`], see its module docs
//! below): registry to registry ([`Client::copy_image`]), registry to an OCI
//! layout directory ([`Client::pull_to_layout`]) and back
//! ([`Client::push_from_layout`]), every blob verified on the way, every
//! step reported to an [`Observer`] as an [`Event`].
//!
//! [`Client::copy_image`]: crate::Client::copy_image
//! [`Client::pull_to_layout`]: crate::Client::pull_to_layout
//! [`Client::push_from_layout`]: crate::Client::push_from_layout
//!
//! # The engine
//!
//! The one transfer engine: an image goes from a [`Source`] to a
//! [`Target`], blob by blob and then its manifests, whatever the two ends
//! are. A registry repository ([`RegistryImage`]) and an OCI layout
//! directory ([`LayoutImage`]) are both; [`copy`] moves an image registry to
//! registry, registry to layout, layout to registry, or layout to layout.
//!
//! The engine decides what moves and reports it to an [`Observer`]: a blob
//! the target has is skipped, one the target can mount from the source
//! (two repositories of one registry) is mounted, every other is streamed
//! through, verified against its digest on the way, with at most
//! [`TransferOptions::concurrency`] in flight. The ends decide how: how a
//! registry uploads (chunked, resumable sessions) or a layout writes (a
//! temporary file renamed into place once verified). Upload sessions a
//! dropped transfer leaves open are cancelled (see
//! [`BlobUpload`](crate::api::BlobUpload)).
//!
//! ```no_run
//! use dockreg::transfer::{copy, LayoutImage, OciLayout, RegistryImage, TransferOptions};
//! use dockreg::Client;
//!
//! # async fn run() -> dockreg::Result<()> {
//! let client = Client::builder("127.0.0.1:5000").build()?;
//! let (name, tag) = ("team/app".parse()?, "v1".parse()?);
//! let layout = OciLayout::create("app-layout")?;
//! let options = TransferOptions::default().observer(|event: &dockreg::transfer::Event| {
//!     eprintln!("{event:?}");
//! });
//! let report = copy(
//!     &RegistryImage::new(&client, &name, &tag),
//!     &LayoutImage::new(&layout, Some("v1")),
//!     &options,
//! )
//! .await?;
//! println!("{:?}: {} blobs, {} bytes", report.digest, report.blobs_uploaded, report.bytes_uploaded);
//! # Ok(()) }
//! ```

mod calls;
mod engine;
pub(crate) mod image;
pub mod layout;

pub use calls::{CopyOptions, CopyReport, PullReport};
pub use engine::{
    copy, Arrived, BlobBytes, Event, LayoutImage, Observer, RegistryImage, Source, Target,
    TransferOptions, TransferReport, MAX_REFERRERS,
};
pub use image::{BlobRef, Platforms, Resolved};
pub use layout::{OciLayout, INDEX_LIMIT, REF_NAME};
