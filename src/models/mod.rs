//! Serde types for everything a registry sends and accepts. Models do no I/O.

mod config;
mod descriptor;
mod error;
mod jws;
mod lists;
mod manifest;
pub mod media_type;
mod schema1;
mod time;

pub use config::{ContainerConfig, History, ImageConfig, RootFs};
pub use descriptor::{Descriptor, Platform};
pub use error::{ErrorCode, ErrorEnvelope, RegistryError};
pub use jws::{KeyId, SignatureError};
pub use lists::{Catalog, ListedManifest, TagList};
pub use manifest::{ImageIndex, ImageManifest, Manifest, ManifestBody};
pub use schema1::{
    signed_payload, FsLayer, Schema1History, Schema1Manifest, Signature, V1Compatibility,
};
pub use time::{format_rfc3339, parse_rfc3339};

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default (registries send `"tags": null`).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
