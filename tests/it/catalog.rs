//! `GET /v2/_catalog` against the real registry: 1,200 repositories, the
//! registry's n cap of 1000, Link pagination.

use crate::registry;

use dockreg::models::ErrorCode;
use futures::TryStreamExt;

fn many(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n.starts_with("many/"))
        .collect()
}

#[tokio::test]
async fn lists_every_repository_whatever_the_page_size() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_many_repos(1200);
    let client = reg.client();

    // Registry default (100 a page), its maximum, a size it refuses (lowered
    // to 1000 rather than failing), and small pages.
    for page_size in [None, Some(1000), Some(5000), Some(7)] {
        let mut stream = client.catalog();
        if let Some(n) = page_size {
            stream = stream.page_size(n);
        }
        let repos: Vec<String> = stream.try_collect().await.unwrap();
        assert_eq!(many(repos), seeded.names, "page size {page_size:?}");
    }
}

#[tokio::test]
async fn pages_follow_the_registry_links() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_many_repos(1200);
    let client = reg.client();
    let pages: Vec<dockreg::http::Page> = client
        .catalog()
        .page_size(1000)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert!(
        pages.len() >= 2,
        "1,200 repositories need two pages of 1000"
    );
    assert_eq!(pages[0].items.len(), 1000);
    assert!(pages[0].next.is_some());
    assert!(pages.last().unwrap().next.is_none());
    let all: Vec<String> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(many(all), seeded.names);
}

#[tokio::test]
async fn single_pages_take_n_and_last() {
    let Some(reg) = registry::shared() else {
        return;
    };
    let seeded = reg.seed_many_repos(1200);
    let client = reg.client();
    let page = client
        .catalog_page(Some(10), Some(&seeded.names[99]))
        .await
        .unwrap();
    assert_eq!(page.items, seeded.names[100..110]);
    let next = page.next.expect("a Link to the next page");
    assert_eq!(next.origin(), client.base_url().origin());

    // A single page asked for too much is the registry's typed error.
    let err = client.catalog_page(Some(1001), None).await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::PaginationNumberInvalid));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert!(err.to_string().contains("_catalog?n=1001"), "{err}");
}
