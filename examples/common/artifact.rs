//! What the artifact examples share: `FILE[:TITLE]` and `KEY=VALUE`
//! arguments, and the artifact they make.

use std::path::Path;

use dockreg::artifact::Artifact;

/// A `KEY=VALUE` argument (`--annotation`).
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The artifact of `artifact_type` holding `files` (`FILE[:TITLE]`, the
/// title defaulting to the file name) with `annotations`. A title the
/// library refuses (`..`, absolute) fails the push before any request.
pub fn artifact_of(
    artifact_type: &str,
    files: &[String],
    annotations: &[(String, String)],
) -> Artifact {
    let mut artifact = Artifact::new(artifact_type);
    for spec in files {
        // A path may hold ':' itself; the title is what follows the last
        // one only when the part before it names an existing file.
        let (path, title) = match spec.rsplit_once(':') {
            Some((path, title)) if Path::new(path).is_file() && !title.is_empty() => {
                (path.to_owned(), title.to_owned())
            }
            _ => {
                let name = Path::new(spec)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| spec.clone());
                (spec.clone(), name)
            }
        };
        artifact = artifact.file(title, path);
    }
    for (k, v) in annotations {
        artifact = artifact.annotation(k.clone(), v.clone());
    }
    artifact
}
