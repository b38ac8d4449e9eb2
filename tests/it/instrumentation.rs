//! The `tracing` instrumentation against a mock registry: a span per
//! request attempt and events for retries, token fetches, mount fallbacks
//! and digest mismatches, with no password, token or query secret in any
//! field.
#![cfg(feature = "tracing")]

use crate::mock;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dockreg::auth::Basic;
use dockreg::http::RetryConfig;
use dockreg::{Client, Digest, Error, RepositoryName};
use futures::TryStreamExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use wiremock::matchers::{header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "hunter2-pw-7731";
const TOKEN: &str = "tok-9f8e7d6c5b4a";
const QUERY_SECRET: &str = "sig-QX81ZZ90";
const STATE_SECRET: &str = "state-HMAC-55AB";

/// A span or an event as captured: its name (the message of an event) and
/// its fields as text.
#[derive(Debug, Clone, Default)]
struct Captured {
    span: bool,
    name: String,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Captured>>>);

/// Spans are kept by id so that fields recorded later (the status) land
/// in them.
#[derive(Default)]
struct SpanIndex(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> Layer<S> for Collector
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !attrs.metadata().target().starts_with("dockreg") {
            return;
        }
        let mut captured = Captured {
            span: true,
            name: attrs.metadata().name().to_owned(),
            ..Captured::default()
        };
        attrs.record(&mut Fields(&mut captured.fields));
        let mut all = self.0.lock().unwrap();
        all.push(captured);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(all.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(index) = span.extensions().get::<SpanIndex>().map(|i| i.0) else {
            return;
        };
        let mut all = self.0.lock().unwrap();
        values.record(&mut Fields(&mut all[index].fields));
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !event.metadata().target().starts_with("dockreg") {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let name = fields.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Captured {
            span: false,
            name,
            fields,
        });
    }
}

impl Collector {
    fn all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }

    fn events(&self, message: &str) -> Vec<Captured> {
        self.all()
            .into_iter()
            .filter(|c| !c.span && c.name.contains(message))
            .collect()
    }

    fn spans(&self) -> Vec<Captured> {
        self.all().into_iter().filter(|c| c.span).collect()
    }

    /// No captured name or field holds any of `secrets`.
    fn assert_clean(&self, secrets: &[&str]) {
        for c in self.all() {
            for (key, value) in c.fields.iter().chain([(&"name".to_owned(), &c.name)]) {
                for secret in secrets {
                    assert!(
                        !value.contains(secret),
                        "{secret:?} in field {key} of {}: {value}",
                        c.name
                    );
                }
            }
        }
    }
}

/// Runs `f` with a subscriber that captures into the returned collector.
async fn capture<F: std::future::Future>(f: F) -> (Collector, F::Output) {
    let collector = Collector::default();
    let subscriber = tracing_subscriber::registry().with(collector.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    (collector, out)
}

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn fast_retry() -> RetryConfig {
    RetryConfig::new(
        3,
        Duration::from_millis(10),
        Duration::from_millis(50),
        Duration::from_secs(10),
    )
}

/// A Bearer registry whose realm carries a query secret, a token server
/// that wants the password, and a tag list that answers 503 once.
async fn registry() -> MockServer {
    let server = mock::server().await;
    let challenge = format!(
        r#"Bearer realm="{}/token?sig={QUERY_SECRET}",service="mock""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token": TOKEN,
            "expires_in": 300,
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"a","tags":["v1"]}"#, "application/json"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/v2/a/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", challenge))
        .with_priority(3)
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .authenticator(Basic::new("user", PASSWORD))
        .retry(fast_retry())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_retried_request_and_a_token_fetch_are_traced_without_secrets() {
    let server = registry().await;
    let client = client(&server);
    let (trace, tags) =
        capture(async { client.tags(&name("a")).try_collect::<Vec<_>>().await }).await;
    assert_eq!(tags.unwrap(), ["v1"]);

    let spans = trace.spans();
    let attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "request" && s.fields["url"].contains("/v2/a/tags/list"))
        .collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for (n, span) in attempts.iter().enumerate() {
        assert_eq!(span.fields["method"], "GET");
        assert_eq!(span.fields["attempt"], (n + 1).to_string());
    }
    assert_eq!(attempts[0].fields["status"], "503");
    assert_eq!(attempts[1].fields["status"], "200");

    let retries = trace.events("retrying");
    assert_eq!(retries.len(), 1, "{:#?}", trace.all());
    assert_eq!(retries[0].fields["attempt"], "1");
    assert!(retries[0].fields.contains_key("delay_ms"));
    assert!(retries[0].fields["reason"].contains("503"));

    let fetched = trace.events("token fetched");
    assert_eq!(fetched.len(), 1, "{:#?}", trace.all());
    let token = &fetched[0].fields;
    assert_eq!(token["realm"], format!("{}/token", server.uri()));
    assert_eq!(token["scopes"], "repository:a:pull");
    assert_eq!(token["lifetime_s"], "300");
    assert_eq!(token["grant"], "basic");

    trace.assert_clean(&[PASSWORD, TOKEN, QUERY_SECRET, "dXNlcjpo"]);
}

#[tokio::test]
async fn a_mount_fallback_and_a_digest_mismatch_are_traced_without_the_upload_state() {
    let server = mock::server().await;
    let digest = Digest::sha256(b"layer");
    let location = format!("/v2/b/blobs/uploads/u1?_state={STATE_SECRET}");
    Mock::given(method("POST"))
        .and(path("/v2/b/blobs/uploads/"))
        .and(query_param("mount", digest.as_str()))
        .respond_with(ResponseTemplate::new(202).insert_header("location", location.as_str()))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/b/blobs/uploads/u1"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("docker-content-digest", Digest::sha256(b"other").as_str()),
        )
        .mount(&server)
        .await;
    let client = mock::client(&server);
    let (trace, pushed) = capture(async {
        let upload = client
            .mount_blob(&name("b"), &digest, &name("a"))
            .await?
            .expect("the mock refuses the mount");
        upload
            .push_stream(
                futures::stream::iter([Ok(bytes::Bytes::from_static(b"layer"))]),
                Some(&digest),
                1 << 20,
            )
            .await
    })
    .await;
    assert!(
        matches!(pushed, Err(Error::DigestMismatch { .. })),
        "{pushed:?}"
    );
    let fallback = trace.events("mount refused");
    assert_eq!(fallback.len(), 1, "{:#?}", trace.all());
    assert_eq!(fallback[0].fields["from"], "a");
    assert_eq!(fallback[0].fields["status"], "202");
    let mismatch = trace.events("digest mismatch");
    assert_eq!(mismatch.len(), 1, "{:#?}", trace.all());
    assert_eq!(mismatch[0].fields["expected"], digest.as_str());
    let put = trace
        .spans()
        .into_iter()
        .find(|s| s.fields.get("method").is_some_and(|m| m == "PUT"))
        .expect("a span for the PUT");
    assert!(
        put.fields["url"].contains("/v2/b/blobs/uploads/u1"),
        "{put:?}"
    );
    trace.assert_clean(&[STATE_SECRET]);
}
