//! Progress on a terminal, the one mechanism of every example: bars drawn
//! with `indicatif` on stderr from the library's transfer events
//! ([`dockreg::transfer::Event`]), one bar per blob in flight plus a total,
//! and a count for work over tags. Nothing is drawn unless
//! [`Common::progress_wanted`] (stdout and stderr are terminals, no
//! `--json`, no `--quiet`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dockreg::transfer::Event;
use dockreg::Digest;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Common;

/// The bars of this run, once some are drawn.
static MULTI: OnceLock<MultiProgress> = OnceLock::new();

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)))
}

/// Runs `f` (which prints) with the bars lifted off the screen, so a line
/// never lands inside a bar.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match MULTI.get() {
        Some(m) => m.suspend(f),
        None => f(),
    }
}

/// Removes every bar from the screen (before the result is printed).
pub fn clear() {
    if let Some(m) = MULTI.get() {
        let _ = m.clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

const BLOB: &str =
    "{prefix:>14} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta:>3} {msg}";
const TOTAL: &str = "{prefix:>14} [{bar:30.bold}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta:>3} {msg}";
const SPINNER: &str = "{prefix:>14} {spinner} {msg} ({elapsed})";
const COUNT: &str = "{prefix:>14} [{bar:30}] {pos}/{len} {msg} ({elapsed})";

/// A blob as its bar says it: the first 12 hex digits.
fn short(digest: &Digest) -> String {
    digest.hex().chars().take(12).collect()
}

/// One bar per blob in flight and a total, fed by transfer events.
pub struct Transfer {
    /// `None` when nothing is drawn.
    bars: Option<Bars>,
}

struct Bars {
    total: ProgressBar,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Blobs in flight: the bar and the bytes it counted into the total.
    blobs: HashMap<Digest, (ProgressBar, u64)>,
    moved: usize,
    mounted: usize,
    skipped: usize,
    retries: usize,
}

impl State {
    fn message(&self) -> String {
        let mut parts = vec![format!("{} moved", self.moved)];
        if self.mounted > 0 {
            parts.push(format!("{} mounted", self.mounted));
        }
        if self.skipped > 0 {
            parts.push(format!("{} already there", self.skipped));
        }
        if self.retries > 0 {
            parts.push(format!("{} retried", self.retries));
        }
        parts.join(", ")
    }
}

impl Transfer {
    /// Bars for a transfer, when `common` wants them.
    pub fn new(common: &Common) -> Arc<Transfer> {
        let bars = common.progress_wanted().then(|| {
            let total = multi().add(ProgressBar::new(0));
            total.set_style(style(TOTAL));
            total.set_prefix("total");
            total.enable_steady_tick(Duration::from_millis(200));
            Bars {
                total,
                state: Mutex::new(State::default()),
            }
        });
        Arc::new(Transfer { bars })
    }

    /// An observer for [`dockreg::transfer::TransferOptions::observer`].
    pub fn observer(self: &Arc<Self>) -> impl Fn(&Event) + Send + Sync + 'static {
        let this = Arc::clone(self);
        move |event| this.event(event)
    }

    /// Draws what `event` says.
    pub fn event(&self, event: &Event) {
        let Some(bars) = &self.bars else {
            return;
        };
        let mut state = bars.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::BlobStarted { digest, size } => {
                if state.blobs.contains_key(digest) {
                    return;
                }
                let bar = multi().insert_before(&bars.total, ProgressBar::new(size.unwrap_or(0)));
                bar.set_style(style(BLOB));
                bar.set_prefix(short(digest));
                bars.total.inc_length(size.unwrap_or(0));
                state.blobs.insert(digest.clone(), (bar, 0));
            }
            Event::Progress { digest, done, size } => {
                let Some((bar, counted)) = state.blobs.get_mut(digest) else {
                    return;
                };
                if let Some(size) = size {
                    if bar.length() != Some(*size) {
                        bars.total
                            .inc_length(size.saturating_sub(bar.length().unwrap_or(0)));
                        bar.set_length(*size);
                    }
                }
                bar.set_position(*done);
                // A retried blob starts again: the total goes back with it.
                if *done >= *counted {
                    bars.total.inc(*done - *counted);
                } else {
                    let back = *counted - *done;
                    bars.total
                        .set_position(bars.total.position().saturating_sub(back));
                }
                *counted = *done;
            }
            Event::BlobDone { digest, bytes } => {
                if let Some((bar, counted)) = state.blobs.remove(digest) {
                    if *bytes > counted {
                        bars.total.inc(*bytes - counted);
                    }
                    bar.finish_and_clear();
                    multi().remove(&bar);
                }
                state.moved += 1;
            }
            Event::Mounted { .. } => state.mounted += 1,
            Event::Skipped { .. } => state.skipped += 1,
            Event::Retried {
                digest,
                attempt,
                delay,
                reason,
            } => {
                state.retries += 1;
                if let Some((bar, _)) = state.blobs.get(digest) {
                    bar.set_message(format!(
                        "retry {attempt} in {:.1}s: {}",
                        delay.as_secs_f64(),
                        super::one_line(reason)
                    ));
                }
            }
            _ => {}
        }
        bars.total.set_message(state.message());
    }

    /// Takes the bars off the screen.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            let state = bars.state.lock().unwrap_or_else(|e| e.into_inner());
            for (bar, _) in state.blobs.values() {
                bar.finish_and_clear();
            }
            bars.total.finish_and_clear();
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A count of items done out of a total (tags of a report or a cleanup).
pub struct Count {
    bar: Option<ProgressBar>,
}

impl Count {
    /// A bar counting `what` (`tags`), when `common` wants one; `total` when
    /// known (else it grows with [`Count::add_total`]).
    pub fn new(common: &Common, label: &str, what: &str, total: u64) -> Count {
        let bar = common.progress_wanted().then(|| {
            let bar = multi().add(ProgressBar::new(total));
            bar.set_style(style(COUNT));
            bar.set_prefix(label.to_owned());
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Count { bar }
    }

    /// A spinner saying `what` is under way, for work that tells no count.
    pub fn spinner(common: &Common, label: &str, what: &str) -> Count {
        let bar = common.progress_wanted().then(|| {
            let bar = multi().add(ProgressBar::new_spinner());
            bar.set_style(style(SPINNER));
            bar.set_prefix(label.to_owned());
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Count { bar }
    }

    /// Whether the bar is drawn.
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts one for each tag of `name` whose manifest the library reads
    /// (a `GET` or, with the cache, `HEAD /v2/NAME/manifests/TAG` request span of its `tracing`
    /// instrumentation closing; each tag once, retries not counted again),
    /// for library calls that read every tag and tell no progress of their
    /// own (`retention::Policy::plan`). Installs the process's tracing
    /// subscriber; nothing when the bar is not drawn.
    pub fn follow_tag_reads(&self, name: &dockreg::RepositoryName) {
        use tracing_subscriber::layer::SubscriberExt;
        let Some(bar) = &self.bar else {
            return;
        };
        let layer = tag_reads::TagReads {
            marker: format!("/v2/{name}/manifests/"),
            seen: Mutex::new(std::collections::HashSet::new()),
            bar: bar.clone(),
        };
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    }

    /// An observer of a library tag report (`ReportOptions::observer`):
    /// each tag listed adds one to the total, each tag read counts one.
    pub fn report_observer(
        &self,
    ) -> impl Fn(&dockreg::api::ReportEvent<'_>) + Send + Sync + 'static {
        let bar = self.bar.clone();
        move |event| {
            if let Some(bar) = &bar {
                match event {
                    dockreg::api::ReportEvent::Listed { .. } => bar.inc_length(1),
                    dockreg::api::ReportEvent::Read { .. } => bar.inc(1),
                    _ => {}
                }
            }
        }
    }

    /// More items to do.
    pub fn add_total(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    /// One more done.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Says what is under way.
    pub fn message(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_owned());
        }
    }

    /// Takes the bar off the screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The tracing layer of [`Count::follow_tag_reads`].
mod tag_reads {
    use std::collections::HashSet;
    use std::fmt;
    use std::sync::Mutex;

    use indicatif::ProgressBar;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::Subscriber;
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::registry::LookupSpan;

    pub struct TagReads {
        /// `/v2/NAME/manifests/`: what a tag's manifest URL holds.
        pub marker: String,
        /// The tags counted.
        pub seen: Mutex<HashSet<String>>,
        pub bar: ProgressBar,
    }

    /// The tag of a request span, kept until the span closes.
    struct TagOf(String);

    #[derive(Default)]
    struct Fields {
        method: String,
        url: String,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            match field.name() {
                "method" => self.method = format!("{value:?}"),
                "url" => self.url = format!("{value:?}"),
                _ => {}
            }
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "method" => self.method = value.to_owned(),
                "url" => self.url = value.to_owned(),
                _ => {}
            }
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TagReads {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let meta = attrs.metadata();
            if meta.target() != "dockreg" || meta.name() != "request" {
                return;
            }
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            // GET, or HEAD when the cache holds the manifest.
            if fields.method != "GET" && fields.method != "HEAD" {
                return;
            }
            let Some((_, tag)) = fields.url.split_once(&self.marker) else {
                return;
            };
            // By digest (an index's child): not a tag.
            if tag.is_empty() || tag.contains(':') {
                return;
            }
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(TagOf(tag.to_owned()));
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(&id) else {
                return;
            };
            let extensions = span.extensions();
            let Some(TagOf(tag)) = extensions.get::<TagOf>() else {
                return;
            };
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.insert(tag.clone()) {
                self.bar.inc(1);
            }
        }
    }
}
