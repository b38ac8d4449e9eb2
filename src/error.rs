//! The one error type of the crate.

use std::fmt;
use std::path::PathBuf;

use reqwest::StatusCode;

use crate::digest::{Digest, InvalidDigest};
use crate::models::{ErrorCode, RegistryError};

/// Everything that can go wrong in dockreg.
///
/// The enum is `#[non_exhaustive]`: match the variants you care about and keep
/// a catch-all arm. The predicates ([`Error::status`], [`Error::is_not_found`],
/// [`Error::is_unauthorized`], [`Error::code`]) answer the common questions
/// without a match.
///
/// Every message names what was asked: the request's method and URL (never
/// with credentials), the repository and reference, or the local input that was
/// refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given to the crate was malformed (a reference, a repository
    /// name, a tag, a digest, a URL, ...). Raised before any request is sent.
    #[error("invalid {what} {input:?}: {}", Escaped(reason))]
    Invalid {
        /// What kind of value was refused (`"repository name"`, `"tag"`, ...).
        what: &'static str,
        /// The input as it was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// The registry answered with an error status.
    ///
    /// `errors` holds the parsed error envelope when the body was one; `body`
    /// holds the start of the raw body (capped) when it was not JSON, for
    /// example an HTML page from a proxy.
    #[error("{method} {}: {}", Escaped(url), RegistryFailure { status: *status, errors, body: body.as_deref() })]
    Registry {
        /// The HTTP method of the failed request.
        method: String,
        /// The URL of the failed request, without credentials.
        url: String,
        /// The HTTP status the registry answered with.
        status: StatusCode,
        /// The registry's error envelope (`{"errors":[...]}`), possibly empty.
        errors: Vec<RegistryError>,
        /// The raw body, capped, when it was not an error envelope.
        body: Option<String>,
    },

    /// The request could not be sent or its response could not be read
    /// (connection refused, TLS failure, timeout, broken body, ...).
    #[error("{method} {}: {}", Escaped(url), Causes(source))]
    Http {
        /// The HTTP method of the failed request.
        method: String,
        /// The URL of the failed request, without credentials.
        url: String,
        /// The underlying reqwest error.
        #[source]
        source: reqwest::Error,
    },

    /// Bytes did not hash to the digest they were fetched by or announced with.
    #[error(
        "digest mismatch for {}: expected {expected}, got {actual}",
        Escaped(what)
    )]
    DigestMismatch {
        /// What was being verified (a URL, a blob, a manifest).
        what: String,
        /// The digest that was expected.
        expected: Digest,
        /// The digest of the bytes actually received.
        actual: Digest,
    },

    /// A signature of a signed schema 1 manifest does not verify or cannot
    /// be checked, or there is none to check
    /// ([`Manifest::verify_signatures`](crate::Manifest::verify_signatures)).
    #[error("schema 1 manifest signature{}: {source}", index.map(|i| format!(" {i}")).unwrap_or_default())]
    Signature {
        /// The index of the signature refused; `None` when no one
        /// signature is at fault (none at all, too many).
        index: Option<usize>,
        /// Why it was refused.
        #[source]
        source: crate::models::SignatureError,
    },

    /// A body was longer or shorter than announced.
    #[error(
        "size mismatch for {}: expected {expected} bytes, got {actual}",
        Escaped(what)
    )]
    SizeMismatch {
        /// What was being read.
        what: String,
        /// The announced size.
        expected: u64,
        /// The size actually received (at least this much when too long).
        actual: u64,
    },

    /// A body was larger than the cap dockreg reads into memory.
    #[error("{}: body larger than the {limit}-byte limit", Escaped(what))]
    TooLarge {
        /// What was being read (usually a method and URL).
        what: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// A manifest named more items (child manifests, layers) than dockreg
    /// accepts; the caps are in [`Limits`](crate::http::Limits).
    #[error("{}: {count} {items}, more than the limit of {limit}", Escaped(what))]
    TooMany {
        /// What was being read (usually a method and URL).
        what: String,
        /// What was counted (`"child manifests"`, `"layers"`).
        items: &'static str,
        /// How many there were.
        count: u64,
        /// The limit.
        limit: u64,
    },

    /// A body could not be decoded as the JSON document it should be.
    #[error("cannot decode {}: {}", Escaped(what), Escaped(&source.to_string()))]
    Decode {
        /// What was being decoded.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The registry's answer broke the protocol (a missing or malformed
    /// header, a Link to another origin, an unknown media type, ...).
    #[error("{}: {}", Escaped(what), Escaped(reason))]
    Protocol {
        /// What was being done (usually a method and URL).
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },

    /// A hosted registry refused something it does not offer through the
    /// registry API (Docker Hub's and GHCR's `DELETE`, a catalog that is not
    /// there or only for administrators, an expired ECR token): `source` is
    /// the registry's answer, `hint` that registry's own way to do it.
    #[error("{source}; {hint}")]
    RegistryHint {
        /// The registry the rule is about (`GHCR`, `Docker Hub`, ...).
        registry: String,
        /// What to do instead.
        hint: String,
        /// The registry's answer ([`Error::Registry`]).
        #[source]
        source: Box<Error>,
    },

    /// The registry refused a `DELETE` because deletion is disabled in its
    /// configuration (it answers 405 `UNSUPPORTED`).
    #[error(
        "DELETE {}: deletion is disabled on this registry (405 UNSUPPORTED); \
         its operator enables it with storage.delete.enabled: true in the config \
         or REGISTRY_STORAGE_DELETE_ENABLED=true",
        Escaped(url)
    )]
    DeletionDisabled {
        /// The URL of the refused request.
        url: String,
    },

    /// Removing one tag alone ([`Client::untag`](crate::Client::untag))
    /// needs to push a placeholder manifest under the tag, and the registry
    /// refused the push (401, 403 or 405). Nothing was changed: the tag
    /// still names its image.
    #[error(
        "cannot remove tag {} alone: the registry refused to push the placeholder \
         manifest this needs ({source}); it needs push rights on the repository \
         (and a registry that is not read-only), or delete by digest to remove \
         the image with every tag of it",
        Escaped(reference)
    )]
    UntagPushDenied {
        /// The tag, as `NAME:TAG`.
        reference: String,
        /// The refused request.
        #[source]
        source: Box<Error>,
    },

    /// Removing one tag alone ([`Client::untag`](crate::Client::untag))
    /// moved the tag onto a placeholder manifest, and then deleting that
    /// placeholder failed: the tag now names the placeholder, not its image
    /// (which keeps its other tags). Deleting the placeholder by digest
    /// finishes the job.
    #[error(
        "{} now points at the placeholder manifest {placeholder}, not at {kept} \
         (which keeps its other tags), because deleting the placeholder failed: \
         {source}; delete {}@{placeholder} to finish removing the tag",
        Escaped(reference),
        Escaped(repository)
    )]
    UntagIncomplete {
        /// The tag, as `NAME:TAG`.
        reference: String,
        /// The repository.
        repository: String,
        /// The placeholder manifest the tag now names.
        placeholder: Digest,
        /// The digest the tag named before, which its other tags keep.
        kept: Digest,
        /// Why the placeholder could not be deleted.
        #[source]
        source: Box<Error>,
    },

    /// No manifest of an index or manifest list matches the platform asked for.
    #[error(
        "no manifest for platform {} in {} (available: {})",
        Escaped(platform),
        Escaped(what),
        Escaped(available)
    )]
    NoMatchingPlatform {
        /// The manifest list or index that was searched.
        what: String,
        /// The platform that was asked for.
        platform: String,
        /// The platforms the index offers, comma separated.
        available: String,
    },

    /// A request kept failing in a way retries could cure (connection
    /// failures, 429, 503, ...) until the retry policy gave up.
    #[error("gave up after {attempts} attempts: {source}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },

    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The client could not be built (bad TLS material, bad base URL, ...).
    #[error("cannot build client: {0}")]
    Build(String),
}

/// An error with its causes: `error sending request: connection refused`.
/// reqwest's own message ("error decoding response body") hides the cause
/// (a reset, a truncation, a timeout) in its source chain.
struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        write!(f, "{}", Escaped(&shown))?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                write!(f, ": {}", Escaped(&text))?;
                shown = text;
            }
            cause = c.source();
        }
        Ok(())
    }
}

/// Text from a server, shown so that it cannot drive a terminal: control
/// characters (C0, DEL, C1: escape sequences, carriage returns, bells) and
/// the Unicode bidirectional controls that reorder what is displayed
/// (U+202E and its kin) are written as escapes (`\u{1b}`, `\r`, `\u{202e}`).
/// Everything else is written as is.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_debug())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Whether a character could change how a terminal shows what follows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Formats a registry failure as `404 Not Found: MANIFEST_UNKNOWN: manifest unknown`.
struct RegistryFailure<'a> {
    status: StatusCode,
    errors: &'a [RegistryError],
    body: Option<&'a str>,
}

impl fmt::Display for RegistryFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{}: {}", Escaped(e.code.as_str()), Escaped(&e.message))?;
        }
        if self.errors.is_empty() {
            if let Some(body) = self.body.map(str::trim).filter(|b| !b.is_empty()) {
                let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
                let mut end = line.len().min(200);
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                write!(f, ": {}", Escaped(&line[..end]))?;
            }
        }
        Ok(())
    }
}

impl From<InvalidDigest> for Error {
    fn from(e: InvalidDigest) -> Error {
        Error::Invalid {
            what: e.what,
            input: e.input,
            reason: e.reason,
        }
    }
}

impl Error {
    /// The HTTP status of a registry error, or of a reqwest error that has one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::RetriesExhausted { source, .. }
            | Error::UntagPushDenied { source, .. }
            | Error::RegistryHint { source, .. } => source.status(),
            Error::Registry { status, .. } => Some(*status),
            Error::Http { source, .. } => source.status(),
            Error::DeletionDisabled { .. } => Some(StatusCode::METHOD_NOT_ALLOWED),
            _ => None,
        }
    }

    /// Whether the registry answered 404, or named an `*_UNKNOWN` error code.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
            || matches!(
                self.code(),
                Some(
                    ErrorCode::BlobUnknown
                        | ErrorCode::ManifestUnknown
                        | ErrorCode::NameUnknown
                        | ErrorCode::BlobUploadUnknown
                )
            )
    }

    /// Whether the registry answered 401 Unauthorized.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// The first error code of the registry's error envelope, if there was one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::RetriesExhausted { source, .. }
            | Error::UntagPushDenied { source, .. }
            | Error::RegistryHint { source, .. } => source.code(),
            Error::Registry { errors, .. } => errors.first().map(|e| &e.code),
            Error::DeletionDisabled { .. } => Some(&ErrorCode::Unsupported),
            _ => None,
        }
    }

    /// Every error the registry reported in its envelope (empty otherwise).
    pub fn registry_errors(&self) -> &[RegistryError] {
        match self {
            Error::RetriesExhausted { source, .. } | Error::RegistryHint { source, .. } => {
                source.registry_errors()
            }
            Error::Registry { errors, .. } => errors,
            _ => &[],
        }
    }

    /// Whether bytes failed verification against a digest or a size.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Error::DigestMismatch { .. } | Error::SizeMismatch { .. }
        )
    }

    pub(crate) fn invalid(what: &'static str, input: &str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// [`Error::Http`] for a request that failed: neither the URL nor the
    /// one reqwest keeps in its error (shown in both `Display` and `Debug`)
    /// carries credentials or a query string that could be a signature.
    pub(crate) fn http(
        method: impl Into<String>,
        url: &url::Url,
        mut source: reqwest::Error,
    ) -> Error {
        if let Some(u) = source.url_mut() {
            *u = crate::http::redact::redacted(u);
        }
        Error::Http {
            method: method.into(),
            url: crate::http::redact::redact(url),
            source,
        }
    }

    /// [`Error::DigestMismatch`], reported as a `tracing` event too.
    pub(crate) fn digest_mismatch(
        what: impl Into<String>,
        expected: Digest,
        actual: Digest,
    ) -> Error {
        let what = what.into();
        crate::trace::warning!(
            what = %what,
            expected = %expected,
            actual = %actual,
            "digest mismatch"
        );
        Error::DigestMismatch {
            what,
            expected,
            actual,
        }
    }

    pub(crate) fn protocol(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Protocol {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn decode(what: impl Into<String>, source: serde_json::Error) -> Error {
        Error::Decode {
            what: what.into(),
            source,
        }
    }
}
