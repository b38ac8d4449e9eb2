//! What hosted registries answer when they do not offer an operation
//! through the registry API, and their own way to do it.
//!
//! Docker Hub and GHCR refuse `DELETE` (405) and have no `_catalog`; Harbor
//! lists the catalog for system administrators only; an expired ECR token is
//! a 403 with a plain-text body. A refusal that matches one of these rules
//! becomes [`Error::RegistryHint`], which keeps the registry's answer as its
//! source and names the registry's own way out. The rules match the
//! registry's host name (as the user wrote it), the method, the endpoint and
//! the answer's text; nothing else about the request changes.

use reqwest::StatusCode;
use url::Url;

use crate::error::Error;

/// What a rule looks at.
struct Answer<'a> {
    host: &'a str,
    method: &'a str,
    path: &'a str,
    status: StatusCode,
    /// The error envelope's codes and messages, or the raw body, lowercased.
    text: String,
}

impl Answer<'_> {
    fn catalog(&self) -> bool {
        self.path.ends_with("/v2/_catalog")
    }

    fn refused(&self) -> bool {
        matches!(
            self.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        )
    }
}

struct Rule {
    registry: &'static str,
    applies: fn(&Answer<'_>) -> bool,
    hint: &'static str,
}

fn docker_hub(host: &str) -> bool {
    matches!(
        host,
        "registry-1.docker.io" | "index.docker.io" | "docker.io" | "registry.hub.docker.com"
    )
}

fn ghcr(host: &str) -> bool {
    host == "ghcr.io"
}

const RULES: &[Rule] = &[
    Rule {
        registry: "Docker Hub",
        applies: |a| docker_hub(a.host) && a.catalog() && a.refused(),
        hint: "Docker Hub has no catalog: list a namespace's repositories with Docker Hub's \
               API (GET https://hub.docker.com/v2/namespaces/NAMESPACE/repositories) or on \
               hub.docker.com",
    },
    Rule {
        registry: "Docker Hub",
        applies: |a| {
            docker_hub(a.host) && a.method == "DELETE" && a.status == StatusCode::METHOD_NOT_ALLOWED
        },
        hint: "Docker Hub does not delete through the registry API: delete the tag on \
               hub.docker.com or with Docker Hub's API (DELETE \
               https://hub.docker.com/v2/namespaces/NAMESPACE/repositories/NAME/tags/TAG)",
    },
    Rule {
        registry: "GHCR",
        applies: |a| {
            ghcr(a.host) && a.method == "DELETE" && a.status == StatusCode::METHOD_NOT_ALLOWED
        },
        hint: "ghcr.io does not delete through the registry API: use the GitHub Packages API \
               (DELETE https://api.github.com/user/packages/container/PACKAGE/versions/VERSION_ID, \
               or /orgs/ORG/packages/... for an organization) or the package's settings page",
    },
    Rule {
        registry: "GHCR",
        applies: |a| ghcr(a.host) && a.catalog() && a.refused(),
        hint: "ghcr.io has no catalog: list packages with the GitHub Packages API \
               (GET https://api.github.com/user/packages?package_type=container)",
    },
    Rule {
        registry: "Harbor",
        applies: |a| a.catalog() && a.refused() && a.text.contains("unauthorized to list catalog"),
        hint: "Harbor lists the catalog for system administrators only: use an administrator's \
               credentials, or Harbor's API (GET /api/v2.0/repositories) for the repositories \
               your account can see",
    },
    Rule {
        registry: "Amazon ECR",
        applies: |a| {
            matches!(
                a.status,
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST
            ) && a.text.contains("authorization token has expired")
        },
        hint: "ECR tokens last 12 hours: get a new one with `aws ecr get-login-password \
               --region REGION | docker login --username AWS --password-stdin HOST` (or set \
               REGISTRY_USERNAME=AWS and REGISTRY_PASSWORD to it)",
    },
];

/// `error` with the hint of the first rule it matches, or as it is.
pub(crate) fn explain(error: Error) -> Error {
    let Error::Registry {
        method,
        url,
        status,
        errors,
        body,
    } = &error
    else {
        return error;
    };
    let Ok(parsed) = Url::parse(url) else {
        return error;
    };
    let mut text = String::new();
    for e in errors {
        text.push_str(e.code.as_str());
        text.push(' ');
        text.push_str(&e.message);
        text.push('\n');
    }
    if let Some(body) = body {
        text.push_str(body);
    }
    let answer = Answer {
        host: parsed.host_str().unwrap_or(""),
        method,
        path: parsed.path(),
        status: *status,
        text: text.to_lowercase(),
    };
    match RULES.iter().find(|rule| (rule.applies)(&answer)) {
        Some(rule) => Error::RegistryHint {
            registry: rule.registry.to_owned(),
            hint: rule.hint.to_owned(),
            source: Box::new(error),
        },
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::status::registry_error;

    fn answer(method: &str, url: &str, status: u16, body: &str) -> Error {
        registry_error(
            method.to_owned(),
            url.to_owned(),
            StatusCode::from_u16(status).expect("status"),
            body.as_bytes(),
        )
    }

    #[test]
    fn rules_match_only_their_registry_and_endpoint() {
        let unsupported =
            r#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;
        let hinted = |e: &Error| matches!(e, Error::RegistryHint { .. });
        assert!(hinted(&answer(
            "DELETE",
            "https://ghcr.io/v2/o/t/manifests/sha256:ab",
            405,
            unsupported
        )));
        // The same answer from a self-hosted registry is deletion disabled.
        assert!(!hinted(&answer(
            "DELETE",
            "https://registry.example.com/v2/o/t/manifests/x",
            405,
            unsupported
        )));
        // A GET on GHCR that fails is not about deletion.
        assert!(!hinted(&answer(
            "GET",
            "https://ghcr.io/v2/o/t/manifests/x",
            405,
            unsupported
        )));
        assert!(hinted(&answer(
            "GET",
            "https://registry-1.docker.io/v2/_catalog?n=100",
            401,
            ""
        )));
        assert!(!hinted(&answer(
            "GET",
            "https://registry-1.docker.io/v2/library/a/tags/list",
            401,
            ""
        )));
        let harbor = r#"{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to list catalog: unauthorized to list catalog"}]}"#;
        assert!(hinted(&answer(
            "GET",
            "https://harbor.example.com/v2/_catalog",
            401,
            harbor
        )));
        assert!(!hinted(&answer(
            "GET",
            "https://harbor.example.com/v2/_catalog",
            401,
            ""
        )));
        let ecr = "Your Authorization Token has expired. Please run 'aws ecr get-login' to fetch a new one.";
        assert!(hinted(&answer(
            "GET",
            "https://1.dkr.ecr.us-east-1.amazonaws.com/v2/a/manifests/v1",
            403,
            ecr
        )));
    }

    #[test]
    fn a_hint_keeps_the_registrys_answer_and_status() {
        let e = answer(
            "DELETE",
            "https://ghcr.io/v2/o/t/manifests/sha256:ab",
            405,
            "",
        );
        assert_eq!(e.status(), Some(StatusCode::METHOD_NOT_ALLOWED));
        let text = e.to_string();
        assert!(
            text.starts_with("DELETE https://ghcr.io/v2/o/t/manifests/sha256:ab: "),
            "{text}"
        );
        assert!(text.contains("GitHub Packages API"), "{text}");
    }
}
