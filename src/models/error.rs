//! The registry's error envelope: `{"errors":[{"code","message","detail"}]}`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The body a registry sends with an error status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorEnvelope {
    /// The errors, in the registry's order (`null` reads as empty).
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub errors: Vec<RegistryError>,
}

/// One error of an [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegistryError {
    /// The error code (`MANIFEST_UNKNOWN`, ...). Unknown codes are kept.
    pub code: ErrorCode,
    /// The human-readable message.
    #[serde(default, deserialize_with = "crate::models::null_as_default")]
    pub message: String,
    /// Unstructured detail, as the registry sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl RegistryError {
    /// A registry error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RegistryError {
            code,
            message: message.into(),
            detail: None,
        }
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// An error code of the distribution specification.
        ///
        /// Codes this crate does not know are kept in [`ErrorCode::Other`],
        /// never a parse failure.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code outside the specification, kept as sent.
            Other(String),
        }

        impl ErrorCode {
            /// The code as the registry writes it (`MANIFEST_UNKNOWN`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(s) => s,
                }
            }

            /// Parses a code; unknown codes become [`ErrorCode::Other`].
            pub fn from_code(code: &str) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// The blob is not known to the registry.
    BlobUnknown = "BLOB_UNKNOWN",
    /// An upload failed; the client may retry.
    BlobUploadInvalid = "BLOB_UPLOAD_INVALID",
    /// The upload is not known (cancelled or expired).
    BlobUploadUnknown = "BLOB_UPLOAD_UNKNOWN",
    /// The digest did not match the content.
    DigestInvalid = "DIGEST_INVALID",
    /// A blob referenced by a manifest is not known.
    ManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN",
    /// The manifest is invalid.
    ManifestInvalid = "MANIFEST_INVALID",
    /// The manifest is not known.
    ManifestUnknown = "MANIFEST_UNKNOWN",
    /// The manifest failed signature verification.
    ManifestUnverified = "MANIFEST_UNVERIFIED",
    /// The repository name is invalid.
    NameInvalid = "NAME_INVALID",
    /// The repository is not known.
    NameUnknown = "NAME_UNKNOWN",
    /// The `n` of a paginated request is invalid (the CNCF registry refuses n > 1000).
    PaginationNumberInvalid = "PAGINATION_NUMBER_INVALID",
    /// The content range of a chunk is invalid.
    RangeInvalid = "RANGE_INVALID",
    /// The content is larger or smaller than announced.
    SizeInvalid = "SIZE_INVALID",
    /// The tag is invalid.
    TagInvalid = "TAG_INVALID",
    /// Authentication is required.
    Unauthorized = "UNAUTHORIZED",
    /// Access to the resource was denied.
    Denied = "DENIED",
    /// The operation is not supported (deletion disabled, for example).
    Unsupported = "UNSUPPORTED",
    /// The client sent too many requests.
    TooManyRequests = "TOOMANYREQUESTS",
    /// An unknown error on the registry's side.
    Unknown = "UNKNOWN",
    /// The registry is unavailable.
    Unavailable = "UNAVAILABLE",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ErrorCode::from_code(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_codes_and_detail() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v9"}},
                          {"code":"QUOTA_EXCEEDED","message":null}]}"#,
        )
        .unwrap();
        assert_eq!(e.errors[0].code, ErrorCode::ManifestUnknown);
        assert_eq!(e.errors[0].detail.as_ref().unwrap()["Tag"], "v9");
        assert_eq!(e.errors[1].code, ErrorCode::Other("QUOTA_EXCEEDED".into()));
        assert_eq!(e.errors[1].message, "");
        assert_eq!(
            serde_json::to_value(&e.errors[1].code).unwrap(),
            "QUOTA_EXCEEDED"
        );
    }

    #[test]
    fn null_errors_read_as_empty() {
        let e: ErrorEnvelope = serde_json::from_str(r#"{"errors":null}"#).unwrap();
        assert!(e.errors.is_empty());
    }
}
