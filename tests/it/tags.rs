//! `GET /v2/NAME/tags/list`: the real registry first, then the quirks only a
//! mock produces (`tags: null`, relative and hostile Links, n caps).

use crate::mock;
use crate::registry;

use dockreg::{Error, RepositoryName};
use futures::TryStreamExt;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::Mock;

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

#[tokio::test]
async fn tags_null_is_an_empty_list() {
    let server = mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"team/app","tags":null}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let tags: Vec<String> = client.tags(&name("team/app")).try_collect().await.unwrap();
    assert!(tags.is_empty());
    let page = client
        .tags_page(&name("team/app"), None, None)
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

#[tokio::test]
async fn follows_relative_and_absolute_links() {
    let server = mock::server().await;
    let uri = server.uri();
    Mock::given(path("/v2/a/tags/list"))
        .and(query_param("n", "2"))
        .and(query_param_is_missing("last"))
        .respond_with(
            mock::json(
                200,
                "application/json",
                r#"{"name":"a","tags":["t1","t2"]}"#,
            )
            .insert_header("link", r#"</v2/a/tags/list?n=2&last=t2>; rel="next""#),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(query_param("last", "t2"))
        .respond_with(
            mock::json(
                200,
                "application/json",
                r#"{"name":"a","tags":["t3","t4"]}"#,
            )
            .insert_header(
                "link",
                format!(r#"<{uri}/v2/a/tags/list?n=2&last=t4>; rel="next""#),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(query_param("last", "t4"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"a","tags":["t5"]}"#,
        ))
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let tags: Vec<String> = client
        .tags(&name("a"))
        .page_size(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tags, ["t1", "t2", "t3", "t4", "t5"]);
    let page = client.tags_page(&name("a"), Some(2), None).await.unwrap();
    assert_eq!(page.items, ["t1", "t2"]);
    assert_eq!(page.next.unwrap().query(), Some("n=2&last=t2"));
}

#[tokio::test]
async fn a_link_to_another_origin_is_refused() {
    let server = mock::server().await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(
            mock::json(200, "application/json", r#"{"name":"a","tags":["t1"]}"#).insert_header(
                "link",
                r#"<https://elsewhere.example.com/v2/a/tags/list?last=t1>; rel="next""#,
            ),
        )
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let err = client
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("another origin"), "{err}");
}

#[tokio::test]
async fn a_link_back_to_the_same_page_stops_with_an_error() {
    let server = mock::server().await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(
            mock::json(200, "application/json", r#"{"name":"a","tags":["t1"]}"#)
                .insert_header("link", r#"</v2/a/tags/list?n=1>; rel="next""#),
        )
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .tags(&name("a"))
        .page_size(1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn a_page_size_over_the_registry_cap_is_lowered() {
    let server = mock::server().await;
    let refuse = r#"{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested","detail":{"n":5000}}]}"#;
    Mock::given(path("/v2/a/tags/list"))
        .and(query_param("n", "5000"))
        .respond_with(mock::json(400, "application/json", refuse))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(query_param("n", "1000"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"a","tags":["x","y"]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let tags: Vec<String> = mock::client(&server)
        .tags(&name("a"))
        .page_size(5000)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tags, ["x", "y"]);
}

#[tokio::test]
async fn a_garbage_page_is_a_decode_error_naming_the_request() {
    let server = mock::server().await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(mock::json(
            200,
            "application/json",
            r#"{"name":"a","tags":"v1"}"#,
        ))
        .mount(&server)
        .await;
    let err = mock::client(&server)
        .tags(&name("a"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("/v2/a/tags/list"), "{err}");
}

#[tokio::test]
async fn an_unknown_repository_is_not_found() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let client = dockreg::Client::builder(&reg.host).build().unwrap();
    let err = client
        .tags(&name("no/such/repo"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.code(), Some(&dockreg::models::ErrorCode::NameUnknown));
}

// ---- the real registry ----------------------------------------------------

#[tokio::test]
async fn lists_all_1100_tags_as_skopeo_does() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_many_tags("tags/many", 1100);
    let client = reg.client();
    let repo = name(&seeded.repo);
    // 2.8.2 ignores n for tags and sends them all, unsorted and without Link.
    for page_size in [None, Some(100), Some(5000)] {
        let mut stream = client.tags(&repo);
        if let Some(n) = page_size {
            stream = stream.page_size(n);
        }
        let mut tags: Vec<String> = stream.try_collect().await.unwrap();
        tags.sort();
        assert_eq!(tags, seeded.tags, "page size {page_size:?}");
    }
    let mut skopeo = registry::skopeo_list_tags(reg, &seeded.repo);
    skopeo.sort();
    assert_eq!(skopeo, seeded.tags);
}
