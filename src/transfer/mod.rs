//! Moving images: registry to registry ([`Client::copy_image`]), registry to
//! an OCI layout directory ([`Client::pull_to_layout`]) and back
//! ([`Client::push_from_layout`]), every blob verified on the way.
//!
//! [`Client::copy_image`]: crate::Client::copy_image
//! [`Client::pull_to_layout`]: crate::Client::pull_to_layout
//! [`Client::push_from_layout`]: crate::Client::push_from_layout

pub(crate) mod copy;
pub mod layout;

pub use copy::{CopyOptions, CopyReport, Platforms};
pub use layout::{OciLayout, PullReport, INDEX_LIMIT, REF_NAME};
