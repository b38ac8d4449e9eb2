//! The media types of manifests, configs and layers, as registries send them in
//! `Content-Type` headers and `mediaType` fields.

/// Docker image manifest, schema 1, unsigned. Deprecated; registries still
/// serve it to old clients.
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";

/// Docker image manifest, schema 1, signed with a JSON Web Signature. The
/// digest of such a manifest is computed over its signed payload, not over
/// the body (see [`crate::models::signed_payload`]).
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Docker manifest list ("fat manifest"), schema 2.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Docker image configuration.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// OCI image configuration.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The OCI empty descriptor's media type (`{}`), used as the config of
/// artifacts that have none.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Docker layer: a gzipped tar.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Docker foreign layer: a gzipped tar fetched from its `urls`, never pushed.
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// OCI layer: a gzipped tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// OCI layer: an uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// OCI layer: a zstd-compressed tar.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Every manifest media type this crate parses, in order of preference:
/// indexes and manifest lists, then image manifests (OCI and Docker schema 2),
/// then Docker schema 1 last.
pub const ALL_MANIFESTS: &[&str] = &[
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST_V2,
    DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V1,
];

/// The value of an `Accept` header asking for any manifest: [`ALL_MANIFESTS`]
/// joined with `", "` (indexes first, schema 1 last).
///
/// ```
/// use dockreg::models::media_type;
/// assert!(media_type::manifest_accept().starts_with(media_type::OCI_INDEX));
/// ```
pub fn manifest_accept() -> &'static str {
    // Kept equal to ALL_MANIFESTS.join(", ") by a test.
    "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.v1+prettyjws, \
     application/vnd.docker.distribution.manifest.v1+json"
}

/// Whether `media_type` is one of the manifest media types of
/// [`ALL_MANIFESTS`] (exact match, without parameters).
pub fn is_manifest(media_type: &str) -> bool {
    ALL_MANIFESTS.contains(&media_type)
}

/// Whether `media_type` is an OCI index or a Docker manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// The media type part of a `Content-Type` value: parameters
/// (`; charset=utf-8`) dropped, surrounding blanks trimmed, lower-cased.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_lists_all_manifests_in_order() {
        assert_eq!(manifest_accept(), ALL_MANIFESTS.join(", "));
        assert_eq!(ALL_MANIFESTS.len(), 6);
        assert_eq!(ALL_MANIFESTS.last(), Some(&DOCKER_MANIFEST_V1));
        assert!(ALL_MANIFESTS.iter().all(|m| is_manifest(m)));
        assert!(!is_manifest(DOCKER_CONFIG));
        assert!(is_index(DOCKER_MANIFEST_LIST) && is_index(OCI_INDEX));
        assert!(!is_index(OCI_MANIFEST));
    }

    #[test]
    fn essence_drops_parameters() {
        assert_eq!(
            essence(" Application/JSON ; charset=utf-8"),
            "application/json"
        );
        assert_eq!(essence(OCI_MANIFEST), OCI_MANIFEST);
        assert_eq!(essence(""), "");
    }
}
