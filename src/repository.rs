//! [`Repository`]: one repository of one registry, the handle every
//! per-repository call hangs off.
//!
//! A handle is a [`Client`] clone and a validated [`RepositoryName`]: cheap
//! to make, cheap to clone, and it does not repeat the name on every call.
//! Get one from a client ([`Client::repository`]) or straight from a
//! docker-style reference ([`Client::for_reference`],
//! [`Client::repository_for`]).
//!
//! Inputs take what a program has at hand: a tag, digest or tag-or-digest as
//! `&str`, `String`, [`Tag`], [`Digest`], [`TagOrDigest`] or a [`Reference`]
//! to the same repository (see [`IntoTagOrDigest`], [`IntoTag`],
//! [`IntoDigest`], [`IntoRepositoryName`]). A string that does not parse is
//! [`Error::Invalid`] before any request is sent. What comes back is typed:
//! listings yield [`Tag`] and [`RepositoryName`], pushes a [`PushedBlob`],
//! mounts a [`Mount`]. Calls with several settings take an options struct
//! ([`ReportOptions`], [`BlobPushOptions`], [`LayoutPullOptions`],
//! [`LayoutPushOptions`], [`CopyOptions`]).
//!
//! Every method delegates to the endpoint of the same name on [`Client`]
//! (see [`api`](crate::api) and [`transfer`](crate::transfer)), so the
//! rules written there (verification, limits, retries) hold here too.
//!
//! ```no_run
//! use dockreg::{Client, Tag};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> dockreg::Result<()> {
//! let client = Client::builder("127.0.0.1:5000").build()?;
//! let repo = client.repository("team/app")?;                 // validated, no request yet
//! let tags: Vec<Tag> = repo.tags().try_collect().await?;     // follows Link pages
//! let manifest = repo.manifest("v1").await?;                 // any schema, verified
//! let digest = repo.manifest_digest("v1").await?;            // HEAD, as docker pull resolves it
//! if let Some(layer) = manifest.layers().first() {
//!     repo.download_blob(&layer.digest, "layer.tar.gz").await?; // verified, atomic
//! }
//! let others = repo.tags_with_digest(&digest).await?;         // what deleting v1 takes along
//! println!("{} tags, v1 = {digest} shared with {others:?}", tags.len());
//!
//! // A docker-style reference names its registry too.
//! let reference: dockreg::Reference = "127.0.0.1:5000/team/app:v1".parse()?;
//! let (repo, target) = Client::for_reference(&reference)?;
//! let manifest = repo.manifest(&target).await?;
//! # let _ = manifest;
//! # Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use url::Url;

use crate::api::{
    BlobStream, BlobUpload, DeletePlan, PushOutcome, Referrers, ReportEvent, TagInfo, TagReport,
    Untagged, DEFAULT_CHUNK_SIZE,
};
use crate::artifact::{Artifact, PulledArtifact, PushedArtifact};
use crate::client::Client;
use crate::digest::Digest;
use crate::error::Error;
use crate::http::{Page, Paginated, RateLimit};
use crate::models::{Descriptor, ImageConfig, Manifest, Platform};
use crate::reference::{Reference, RepositoryName, Tag, TagOrDigest};
use crate::transfer::{
    CopyOptions, CopyReport, LayoutImage, Observer, OciLayout, RegistryImage, TransferOptions,
    TransferReport,
};
use crate::Result;

/// How many requests the handle's fan-out calls
/// ([`Repository::tags_with_digest`], [`ReportOptions::default`]) keep in
/// flight; the client's [`max_in_flight`](crate::ClientBuilder::max_in_flight)
/// and the registry's rate limits lower it further.
pub const DEFAULT_CONCURRENCY: usize = 8;

mod sealed {
    pub trait Sealed {}
}

/// What [`Client::repository`] and [`Repository::mount_blob`] accept as a
/// repository name: `&str`, `String`, [`RepositoryName`] (owned or
/// borrowed), or another [`Repository`] (its name).
///
/// A string that is not a valid name is [`Error::Invalid`].
pub trait IntoRepositoryName: sealed::Sealed {
    /// The validated name.
    fn into_repository_name(self) -> Result<RepositoryName>;
}

/// What the manifest calls accept as a tag or digest: `&str` and `String`
/// (a `:` makes it a digest, as in [`TagOrDigest`]'s `FromStr`), [`Tag`],
/// [`Digest`], [`TagOrDigest`] (owned or borrowed), or a [`Reference`] to
/// the handle's repository (its [`Reference::target`]: the digest, else the
/// tag, else `latest`).
///
/// A string that does not parse, or a reference to another repository, is
/// [`Error::Invalid`] before any request.
pub trait IntoTagOrDigest: sealed::Sealed {
    /// The tag or digest, checked against the repository the call is for.
    #[doc(hidden)]
    fn into_tag_or_digest(self, repository: &RepositoryName) -> Result<TagOrDigest>;
}

/// What the tag calls accept as a tag: `&str`, `String`, [`Tag`] (owned or
/// borrowed). A string that is not a valid tag is [`Error::Invalid`].
pub trait IntoTag: sealed::Sealed {
    /// The validated tag.
    fn into_tag(self) -> Result<Tag>;
}

/// What the blob calls accept as a digest: `&str`, `String`, [`Digest`]
/// (owned or borrowed). A string that is not a valid digest is
/// [`Error::Invalid`].
pub trait IntoDigest: sealed::Sealed {
    /// The validated digest.
    fn into_digest(self) -> Result<Digest>;
}

macro_rules! sealed {
    ($($t:ty),* $(,)?) => { $(impl sealed::Sealed for $t {})* };
}

sealed!(
    &str,
    String,
    &String,
    RepositoryName,
    &RepositoryName,
    &Repository,
    Tag,
    &Tag,
    Digest,
    &Digest,
    TagOrDigest,
    &TagOrDigest,
    Reference,
    &Reference,
);

/// Parses a string through `FromStr`, whatever its error type, into the
/// crate's error.
fn parse<T>(s: &str) -> Result<T>
where
    T: std::str::FromStr,
    Error: From<T::Err>,
{
    Ok(s.parse::<T>()?)
}

macro_rules! from_strings {
    ($trait:ident, $method:ident, $t:ty) => {
        impl $trait for &str {
            fn $method(self) -> Result<$t> {
                parse(self)
            }
        }
        impl $trait for String {
            fn $method(self) -> Result<$t> {
                parse(&self)
            }
        }
        impl $trait for &String {
            fn $method(self) -> Result<$t> {
                parse(self)
            }
        }
        impl $trait for $t {
            fn $method(self) -> Result<$t> {
                Ok(self)
            }
        }
        impl $trait for &$t {
            fn $method(self) -> Result<$t> {
                Ok(self.clone())
            }
        }
    };
}

from_strings!(IntoRepositoryName, into_repository_name, RepositoryName);
from_strings!(IntoTag, into_tag, Tag);
from_strings!(IntoDigest, into_digest, Digest);

impl IntoRepositoryName for &Repository {
    fn into_repository_name(self) -> Result<RepositoryName> {
        Ok(self.name.clone())
    }
}

macro_rules! target_from {
    ($($t:ty => $conv:expr),* $(,)?) => {
        $(impl IntoTagOrDigest for $t {
            fn into_tag_or_digest(self, _: &RepositoryName) -> Result<TagOrDigest> {
                #[allow(clippy::redundant_closure_call)]
                ($conv)(self)
            }
        })*
    };
}

target_from!(
    &str => |s: &str| parse::<TagOrDigest>(s),
    String => |s: String| parse::<TagOrDigest>(&s),
    &String => |s: &String| parse::<TagOrDigest>(s),
    Tag => |t: Tag| Ok(TagOrDigest::Tag(t)),
    &Tag => |t: &Tag| Ok(TagOrDigest::Tag(t.clone())),
    Digest => |d: Digest| Ok(TagOrDigest::Digest(d)),
    &Digest => |d: &Digest| Ok(TagOrDigest::Digest(d.clone())),
    TagOrDigest => Ok,
    &TagOrDigest => |t: &TagOrDigest| Ok(t.clone()),
);

impl IntoTagOrDigest for &Reference {
    fn into_tag_or_digest(self, repository: &RepositoryName) -> Result<TagOrDigest> {
        if self.repository() != repository {
            return Err(Error::invalid(
                "reference",
                &self.to_string(),
                format!("names repository {}, not {repository}", self.repository()),
            ));
        }
        Ok(self.target())
    }
}

impl IntoTagOrDigest for Reference {
    fn into_tag_or_digest(self, repository: &RepositoryName) -> Result<TagOrDigest> {
        (&self).into_tag_or_digest(repository)
    }
}

// ---------------------------------------------------------------------------

/// One repository of one registry: a [`Client`] clone and the repository's
/// name. Cheap to clone; see the [module docs](self) for what it takes and
/// returns.
#[derive(Clone)]
pub struct Repository {
    client: Client,
    name: RepositoryName,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("registry", &self.client.base_url().as_str())
            .field("name", &self.name.as_str())
            .finish()
    }
}

impl Client {
    /// A handle on the repository `name` of this registry: `&str`, `String`
    /// or [`RepositoryName`]. Sends nothing; a malformed name is
    /// [`Error::Invalid`].
    ///
    /// ```no_run
    /// # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
    /// let repo = client.repository("team/app")?;
    /// let manifest = repo.manifest("v1").await?;
    /// # let _ = manifest; Ok(()) }
    /// ```
    pub fn repository(&self, name: impl IntoRepositoryName) -> Result<Repository> {
        Ok(Repository {
            client: self.clone(),
            name: name.into_repository_name()?,
        })
    }

    /// A handle on the repository a reference names, with what to fetch from
    /// it ([`Reference::target`]: the digest, else the tag, else `latest`),
    /// on this client, which must be for the reference's registry: a
    /// reference to another registry is [`Error::Invalid`], as this client's
    /// settings (credentials, TLS) are for its own. Sends nothing.
    ///
    /// Use it when the client needs settings; [`Client::for_reference`]
    /// builds one with the defaults.
    ///
    /// ```no_run
    /// # async fn run() -> dockreg::Result<()> {
    /// let reference: dockreg::Reference = "registry.example.com/team/app:v1".parse()?;
    /// let client = dockreg::Client::builder(reference.registry_host())
    ///     .authenticator(dockreg::auth::DockerConfig::load()?)
    ///     .build()?;
    /// let (repo, target) = client.repository_for(&reference)?;
    /// let manifest = repo.manifest(&target).await?;
    /// # let _ = manifest; Ok(()) }
    /// ```
    pub fn repository_for(&self, reference: &Reference) -> Result<(Repository, TagOrDigest)> {
        if !self.serves(reference) {
            return Err(Error::invalid(
                "reference",
                &reference.to_string(),
                format!(
                    "names registry {}, and this client is for {}",
                    reference.registry(),
                    self.base_url()
                ),
            ));
        }
        let repo = self.repository(reference.repository())?;
        Ok((repo, reference.target()))
    }

    /// A client for the registry a reference names, with the default
    /// settings (anonymous; https, or for localhost and loopback https then
    /// plain http: see [`Client::builder`]), and a handle on its repository
    /// with what to fetch ([`Reference::target`]). Sends nothing.
    ///
    /// For credentials or TLS settings, build the client with
    /// `Client::builder(reference.registry_host())` and call
    /// [`Client::repository_for`].
    ///
    /// ```no_run
    /// # async fn run() -> dockreg::Result<()> {
    /// let reference: dockreg::Reference = "busybox:1.36".parse()?; // docker.io/library/busybox
    /// let (repo, target) = dockreg::Client::for_reference(&reference)?;
    /// let digest = repo.manifest_digest(&target).await?;
    /// # let _ = digest; Ok(()) }
    /// ```
    pub fn for_reference(reference: &Reference) -> Result<(Repository, TagOrDigest)> {
        Client::builder(reference.registry_host())
            .build()?
            .repository_for(reference)
    }

    /// Whether the reference's registry is this client's (host and port,
    /// the default port of the client's scheme filled in on both sides).
    fn serves(&self, reference: &Reference) -> bool {
        let base = self.base_url();
        let Ok(theirs) = Url::parse(&format!(
            "{}://{}/",
            base.scheme(),
            reference.registry_host()
        )) else {
            return false;
        };
        theirs.host_str() == base.host_str()
            && theirs.port_or_known_default() == base.port_or_known_default()
    }

    /// Every repository of the registry as a [`RepositoryName`], fetched
    /// page by page as the stream is consumed (following `Link`); the
    /// typed form of [`Client::catalog`].
    ///
    /// An entry the registry sends that is not a valid repository name is an
    /// [`Error::Protocol`] item naming it; the listing goes on after it.
    ///
    /// ```no_run
    /// # async fn run(client: dockreg::Client) -> dockreg::Result<()> {
    /// use futures::TryStreamExt;
    /// let names: Vec<dockreg::RepositoryName> =
    ///     client.repositories().page_size(1000).try_collect().await?;
    /// # let _ = names; Ok(()) }
    /// ```
    pub fn repositories(&self) -> Listing<RepositoryName> {
        Listing::new(
            self.catalog(),
            "catalog listing".to_owned(),
            "repository name",
        )
    }
}

// ---------------------------------------------------------------------------

/// A listing whose entries are typed: [`Repository::tags`] yields [`Tag`],
/// [`Client::repositories`] yields [`RepositoryName`].
///
/// The entries are fetched page by page as the stream is consumed, as
/// [`Paginated`] describes (its bounds on pages, entries and `Link` loops
/// hold). An entry that does not parse is an [`Error::Protocol`] item
/// naming it; the stream goes on after it, so a consumer that skips bad
/// entries can (`try_collect` stops at the first).
#[must_use = "streams do nothing unless polled"]
pub struct Listing<T> {
    inner: Paginated,
    listing: String,
    what: &'static str,
    _entries: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Listing<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listing")
            .field("listing", &self.listing)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T> Listing<T> {
    fn new(inner: Paginated, listing: String, what: &'static str) -> Listing<T> {
        Listing {
            inner,
            listing,
            what,
            _entries: PhantomData,
        }
    }

    /// Asks for pages of `n` entries (`?n=`), as [`Paginated::page_size`].
    pub fn page_size(mut self, n: usize) -> Listing<T> {
        self.inner = self.inner.page_size(n);
        self
    }

    /// The untyped listing underneath, entries as the registry sent them.
    pub fn into_untyped(self) -> Paginated {
        self.inner
    }
}

/// A registry's entry as `T`, or [`Error::Protocol`] naming the listing and
/// the entry.
fn entry<T>(listing: &str, what: &str, raw: String) -> Result<T>
where
    T: std::str::FromStr,
    Error: From<T::Err>,
{
    parse::<T>(&raw).map_err(|e| {
        Error::protocol(
            listing,
            format!("the registry listed {raw:?}, which is not a valid {what}: {e}"),
        )
    })
}

impl<T> Stream for Listing<T>
where
    T: std::str::FromStr,
    Error: From<T::Err>,
{
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.inner)
            .poll_next(cx)
            .map(|item| item.map(|raw| raw.and_then(|raw| entry(&this.listing, this.what, raw))))
    }
}

/// One page of a typed listing ([`Repository::tags_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPage<T> {
    /// The entries of this page, in the registry's order.
    pub items: Vec<T>,
    /// The next page's URL from the `Link` header, when there is one.
    pub next: Option<Url>,
}

// ---------------------------------------------------------------------------

/// A blob pushed by [`Repository::push_blob`] or
/// [`Repository::push_blob_stream`]: what it is and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushedBlob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it was uploaded, or already there.
    pub outcome: PushOutcome,
}

impl PushedBlob {
    /// The descriptor a manifest names the blob by, with `media_type`.
    pub fn descriptor(&self, media_type: impl Into<String>) -> Descriptor {
        Descriptor::new(media_type, self.digest.clone(), self.size)
    }
}

/// How a cross-repository mount ([`Repository::mount_blob`]) ended: the two
/// answers the protocol allows.
// Returned once per mount and matched at once, never stored in bulk: a Box
// would cost every caller an allocation and a deref for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[must_use = "a started upload is open on the registry until it is finished or cancelled"]
pub enum Mount {
    /// The registry mounted the blob (201 Created): no bytes moved.
    Mounted,
    /// The registry did not mount it (202 Accepted) and opened an upload
    /// session instead, to push the bytes through (or cancel).
    Started(BlobUpload),
}

impl Mount {
    /// Whether the blob was mounted.
    pub fn is_mounted(&self) -> bool {
        matches!(self, Mount::Mounted)
    }

    /// The upload session the registry opened instead, if it did.
    pub fn into_upload(self) -> Option<BlobUpload> {
        match self {
            Mount::Mounted => None,
            Mount::Started(upload) => Some(upload),
        }
    }
}

/// Settings of [`Repository::push_blob_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobPushOptions {
    /// The digest the bytes must hash to (default: none, computed on the
    /// way). When given, the registry is asked first and nothing is sent if
    /// it has the blob.
    pub digest: Option<Digest>,
    /// The size of one `PATCH` (default [`DEFAULT_CHUNK_SIZE`]; raised to the
    /// registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: usize,
}

impl Default for BlobPushOptions {
    fn default() -> Self {
        BlobPushOptions {
            digest: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl BlobPushOptions {
    /// The digest the bytes must hash to.
    pub fn digest(mut self, digest: Digest) -> Self {
        self.digest = Some(digest);
        self
    }

    /// The size of one `PATCH`.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }
}

/// Settings of [`Repository::tag_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportOptions {
    /// For a multi-platform tag, the platform whose image gives the date
    /// (default `linux/amd64`; the first entry when none matches).
    pub platform: Platform,
    /// Tags looked at at once (default [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Whether a tag's digest, media type and date may come from the tag
    /// listing itself when the registry puts them there (Google's
    /// registries do: [`TagList::manifests`](crate::models::TagList::manifests)),
    /// sparing that tag's manifest and config requests (default `true`).
    /// A row dated so has no [`platform`](crate::api::TagInfo::platform);
    /// set `false` to read every manifest and config.
    pub from_listing: bool,
    pub(crate) filter: Option<Hook<TagFilter>>,
    pub(crate) observer: Option<Hook<ReportObserver>>,
}

/// What [`ReportOptions::filter`] holds.
type TagFilter = dyn Fn(&str) -> bool + Send + Sync;
/// What [`ReportOptions::observer`] holds.
type ReportObserver = dyn Fn(&ReportEvent<'_>) + Send + Sync;

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            platform: Platform::new("linux", "amd64"),
            concurrency: DEFAULT_CONCURRENCY,
            from_listing: true,
            filter: None,
            observer: None,
        }
    }
}

/// A caller's function in an options struct: equal to itself only, shown
/// as `<fn>`.
pub(crate) struct Hook<F: ?Sized>(pub(crate) Arc<F>);

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<F: ?Sized> PartialEq for Hook<F> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<F: ?Sized> Eq for Hook<F> {}

impl<F: ?Sized> fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<fn>")
    }
}

impl ReportOptions {
    /// The platform whose image dates a multi-platform tag.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// Tags looked at at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether dates may come from the tag listing: see
    /// [`ReportOptions::from_listing`](#structfield.from_listing).
    pub fn from_listing(mut self, yes: bool) -> Self {
        self.from_listing = yes;
        self
    }

    /// Reports only the tags `keep` returns true for; the others are not
    /// fetched at all.
    pub fn filter(mut self, keep: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Hook(Arc::new(keep)));
        self
    }

    /// Calls `observer` with each tag listed and each tag read, as the
    /// report goes (for a progress bar: listed is the total so far).
    pub fn observer(mut self, observer: impl Fn(&ReportEvent<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Hook(Arc::new(observer)));
        self
    }
}

/// Settings of [`Repository::pull_to_layout`] and
/// [`Repository::push_from_layout`]: the image's name in the layout and the
/// [`TransferOptions`] (platforms, concurrency, observer).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LayoutOptions {
    /// The image's `org.opencontainers.image.ref.name` in `index.json`: the
    /// name a pull records (default: none), the image a push takes
    /// (default: the layout's only image).
    pub ref_name: Option<String>,
    /// How the transfer runs (default: every platform, 4 blobs at once).
    pub transfer: TransferOptions,
}

/// The settings of a pull into a layout: [`LayoutOptions`].
pub type LayoutPullOptions = LayoutOptions;

/// The settings of a push from a layout: [`LayoutOptions`].
pub type LayoutPushOptions = LayoutOptions;

impl LayoutOptions {
    /// The image's name in `index.json`.
    pub fn ref_name(mut self, name: impl Into<String>) -> Self {
        self.ref_name = Some(name.into());
        self
    }

    /// Of an index, pulls only `platform` (a push takes the layout's image
    /// as it is).
    pub fn platform(mut self, platform: Platform) -> Self {
        self.transfer = self.transfer.platform(platform);
        self
    }

    /// Blobs moved at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.transfer = self.transfer.concurrency(n);
        self
    }

    /// Reports every transfer [`Event`](crate::transfer::Event) to `observer`.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.transfer = self.transfer.observer(observer);
        self
    }
}

// ---------------------------------------------------------------------------

impl Repository {
    /// The repository's name.
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    /// The client the handle sends through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A docker-style reference to `target` in this repository
    /// (`127.0.0.1:5000/team/app:v1`), for messages and for other tools.
    pub fn reference(&self, target: impl IntoTagOrDigest) -> Result<Reference> {
        let (tag, digest) = match target.into_tag_or_digest(&self.name)? {
            TagOrDigest::Tag(t) => (Some(t), None),
            TagOrDigest::Digest(d) => (None, Some(d)),
        };
        let base = self.client.base_url();
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => base.as_str().to_owned(),
        };
        let host = if host == "registry-1.docker.io" {
            "docker.io".to_owned()
        } else {
            host
        };
        Reference::new(&host, self.name.clone(), tag, digest)
    }

    fn target(&self, reference: impl IntoTagOrDigest) -> Result<TagOrDigest> {
        reference.into_tag_or_digest(&self.name)
    }

    // ---- tags ---------------------------------------------------------------

    /// Every tag, as a stream of [`Tag`] that fetches pages as it is consumed
    /// (following `Link`). A repository whose tags are `null` (all deleted)
    /// yields nothing; an entry that is not a valid tag is an
    /// [`Error::Protocol`] item (see [`Listing`]).
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// use futures::TryStreamExt;
    /// let tags: Vec<dockreg::Tag> = repo.tags().try_collect().await?;
    /// # let _ = tags; Ok(()) }
    /// ```
    pub fn tags(&self) -> Listing<Tag> {
        Listing::new(
            self.client.tags(&self.name),
            format!("tag listing of {}", self.name),
            "tag",
        )
    }

    /// One page of tags: at most `n` after `last`. An entry that is not a
    /// valid tag fails the page with [`Error::Protocol`].
    pub async fn tags_page(&self, n: Option<usize>, last: Option<&str>) -> Result<ListPage<Tag>> {
        let Page { items, next, .. } = self.client.tags_page(&self.name, n, last).await?;
        let listing = format!("tag listing of {}", self.name);
        let items = items
            .into_iter()
            .map(|raw| entry(&listing, "tag", raw))
            .collect::<Result<_>>()?;
        Ok(ListPage { items, next })
    }

    /// The tags whose manifest has `digest`, sorted: the ones
    /// [`Repository::delete_manifest`] (or deleting any of them) takes
    /// along. A `HEAD` per tag, [`DEFAULT_CONCURRENCY`] at a time.
    pub async fn tags_with_digest(&self, digest: impl IntoDigest) -> Result<Vec<Tag>> {
        let digest = digest.into_digest()?;
        let listing = format!("tag listing of {}", self.name);
        self.client
            .tags_with_digest(&self.name, &digest, DEFAULT_CONCURRENCY)
            .await?
            .into_iter()
            .map(|raw| entry(&listing, "tag", raw))
            .collect()
    }

    /// One tag's digest, created date and platform; see
    /// [`Client::tag_info`].
    pub async fn tag_info(&self, tag: impl IntoTag, platform: &Platform) -> Result<TagInfo> {
        let tag = tag.into_tag()?;
        self.client.tag_info(&self.name, &tag, platform).await
    }

    /// Every tag with its digest and created date, sorted oldest first
    /// (then by tag; undated tags last), and an error per tag that could
    /// not be read; see [`Client::tag_report`].
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// use dockreg::repository::ReportOptions;
    /// let report = repo.tag_report(&ReportOptions::default().concurrency(16)).await?;
    /// for t in &report.rows {
    ///     println!("{} {} {}", t.tag, t.digest, t.created.as_deref().unwrap_or("-"));
    /// }
    /// for e in &report.errors {
    ///     eprintln!("{e}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tag_report(&self, options: &ReportOptions) -> Result<TagReport> {
        self.client.report(&self.name, options).await
    }

    // ---- manifests ----------------------------------------------------------

    /// A manifest of any schema by tag or digest, verified; see
    /// [`Client::manifest`].
    pub async fn manifest(&self, reference: impl IntoTagOrDigest) -> Result<Manifest> {
        let reference = self.target(reference)?;
        self.client.manifest(&self.name, &reference).await
    }

    /// The digest a tag (or digest) resolves to, as `docker pull` would
    /// resolve it; see [`Client::manifest_digest`].
    pub async fn manifest_digest(&self, reference: impl IntoTagOrDigest) -> Result<Digest> {
        let reference = self.target(reference)?;
        self.client.manifest_digest(&self.name, &reference).await
    }

    /// The manifest for one platform of an index (any other manifest as it
    /// is); see [`Client::manifest_for_platform`].
    pub async fn manifest_for_platform(
        &self,
        reference: impl IntoTagOrDigest,
        platform: &Platform,
    ) -> Result<Manifest> {
        let reference = self.target(reference)?;
        self.client
            .manifest_for_platform(&self.name, &reference, platform)
            .await
    }

    /// The image configuration of a manifest of this repository; see
    /// [`Client::image_config`].
    pub async fn image_config(&self, manifest: &Manifest) -> Result<ImageConfig> {
        self.client.image_config(&self.name, manifest).await
    }

    /// Pushes a manifest under a tag or its digest and returns its digest;
    /// see [`Client::put_manifest`].
    pub async fn put_manifest(
        &self,
        reference: impl IntoTagOrDigest,
        manifest: &Manifest,
    ) -> Result<Digest> {
        let reference = self.target(reference)?;
        self.client
            .put_manifest(&self.name, &reference, manifest)
            .await
    }

    /// Deletes a tag by deleting the manifest it resolves to, and returns that
    /// digest. Every other tag of the digest goes too: see
    /// [`Repository::tags_with_digest`], and [`Client::delete_tag`]; to
    /// remove the tag alone, [`Repository::untag`].
    pub async fn delete_tag(&self, tag: impl IntoTag) -> Result<Digest> {
        let tag = tag.into_tag()?;
        self.client.delete_tag(&self.name, &tag).await
    }

    /// Removes one tag and nothing else: when other tags share its digest,
    /// the tag is pointed at a placeholder manifest that is then deleted, so
    /// the image keeps its other tags ([`Untagged::TagOnly`]); when it is
    /// the digest's only tag, the manifest is deleted ([`Untagged::Manifest`]).
    /// See [`Client::untag`] for the steps and the errors (deletion
    /// disabled, push denied, a placeholder left behind).
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// use dockreg::api::Untagged;
    /// match repo.untag_plan("v1").await? {                      // nothing changed yet
    ///     Untagged::TagOnly { other_tags, .. } => println!("v1 goes, {other_tags:?} stay"),
    ///     Untagged::Manifest { digest, .. } => println!("v1 was the only tag of {digest}"),
    ///     _ => {}
    /// }
    /// let done = repo.untag("v1").await?;
    /// # let _ = done; Ok(()) }
    /// ```
    pub async fn untag(&self, tag: impl IntoTag) -> Result<Untagged> {
        let tag = tag.into_tag()?;
        self.client.untag(&self.name, &tag).await
    }

    /// What [`Repository::untag`] would do, doing nothing; see
    /// [`Client::untag_plan`].
    pub async fn untag_plan(&self, tag: impl IntoTag) -> Result<Untagged> {
        let tag = tag.into_tag()?;
        self.client.untag_plan(&self.name, &tag).await
    }

    /// Deletes a manifest by digest, and every tag on it; see
    /// [`Client::delete_manifest`].
    pub async fn delete_manifest(&self, digest: impl IntoDigest) -> Result<()> {
        let digest = digest.into_digest()?;
        self.client.delete_manifest(&self.name, &digest).await
    }

    // ---- referrers (OCI 1.1) -------------------------------------------------

    /// The referrers of the manifest `digest` (signatures, SBOMs,
    /// attestations), only those of `artifact_type` when given: the
    /// Referrers API when the registry has it, else the fallback tag; see
    /// [`Client::referrers`].
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// let digest = repo.manifest_digest("v1").await?;
    /// for r in repo.referrers(&digest, Some("application/spdx+json")).await?.manifests {
    ///     println!("{} {:?} {:?}", r.digest, r.artifact_type, r.annotations);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn referrers(
        &self,
        digest: impl IntoDigest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let digest = digest.into_digest()?;
        self.client
            .referrers(&self.name, &digest, artifact_type)
            .await
    }

    /// What [`Repository::delete_with_referrers`] would delete, deleting
    /// nothing; see [`Client::delete_plan`].
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// let digest = repo.manifest_digest("v1").await?;
    /// let plan = repo.delete_plan(&digest).await?;              // a dry run
    /// println!("{} referrers, {} fallback tags", plan.referrers.len(), plan.fallback_tags.len());
    /// repo.apply_delete_plan(&plan).await?;                      // then the deletion
    /// # Ok(()) }
    /// ```
    pub async fn delete_plan(&self, digest: impl IntoDigest) -> Result<DeletePlan> {
        let digest = digest.into_digest()?;
        self.client.delete_plan(&self.name, &digest).await
    }

    /// Carries out a [`DeletePlan`]; see [`Client::apply_delete_plan`].
    pub async fn apply_delete_plan(&self, plan: &DeletePlan) -> Result<()> {
        self.client.apply_delete_plan(&self.name, plan).await
    }

    /// Deletes a manifest with its referrers, recursively, and the fallback
    /// tags that go with them; see [`Client::delete_with_referrers`].
    pub async fn delete_with_referrers(&self, digest: impl IntoDigest) -> Result<DeletePlan> {
        let digest = digest.into_digest()?;
        self.client.delete_with_referrers(&self.name, &digest).await
    }

    // ---- artifacts ----------------------------------------------------------

    /// Pushes a set of files as one OCI artifact (see [`crate::artifact`]),
    /// under `tag` or else by digest only, and returns its digest and
    /// manifest. Each file is hashed, then uploaded unless the repository
    /// has it; the config is the empty blob `{}`. An artifact with a
    /// subject is a referrer: the subject's fallback tag is updated on a
    /// registry without the Referrers API (see [`Client::put_manifest`]).
    /// Bad titles are [`Error::Invalid`] before any request.
    pub async fn push_artifact(
        &self,
        artifact: &Artifact,
        tag: Option<&str>,
    ) -> Result<PushedArtifact> {
        let tag = tag.map(|t| t.into_tag()).transpose()?;
        self.client
            .push_artifact(&self.name, artifact, tag.as_ref())
            .await
    }

    /// Pushes `artifact` as a referrer of the manifest `subject` (a tag or
    /// digest of this repository), by digest only: its subject is the
    /// descriptor of the manifest `subject` names now.
    pub async fn attach(
        &self,
        subject: impl IntoTagOrDigest,
        artifact: &Artifact,
    ) -> Result<PushedArtifact> {
        artifact.check()?;
        let subject = self.target(subject)?;
        let manifest = self.client.manifest(&self.name, &subject).await?;
        let artifact = artifact.clone().subject(manifest.descriptor()?);
        self.client.push_artifact(&self.name, &artifact, None).await
    }

    /// Pulls an artifact into `dir` (made when missing): each layer with a
    /// title becomes the file of that name, verified and renamed into
    /// place; see [`crate::artifact`] for the titles refused and the
    /// symlinks never followed.
    pub async fn pull_artifact(
        &self,
        reference: impl IntoTagOrDigest,
        dir: impl AsRef<Path>,
    ) -> Result<PulledArtifact> {
        let reference = self.target(reference)?;
        self.client
            .pull_artifact(&self.name, &reference, dir.as_ref())
            .await
    }

    /// The registry's rate limit, read with a `HEAD` on a manifest; see
    /// [`Client::rate_limit`].
    pub async fn rate_limit(&self, reference: impl IntoTagOrDigest) -> Result<Option<RateLimit>> {
        let reference = self.target(reference)?;
        self.client.rate_limit(&self.name, &reference).await
    }

    // ---- blobs --------------------------------------------------------------

    /// Streams a blob, verifying it as it goes; see [`Client::blob_stream`].
    pub async fn blob_stream(&self, digest: impl IntoDigest) -> Result<BlobStream> {
        let digest = digest.into_digest()?;
        self.client.blob_stream(&self.name, &digest).await
    }

    /// Like [`Repository::blob_stream`], also checking the size a descriptor
    /// announced; see [`Client::blob_stream_sized`].
    pub async fn blob_stream_sized(
        &self,
        digest: impl IntoDigest,
        expected_size: Option<u64>,
    ) -> Result<BlobStream> {
        let digest = digest.into_digest()?;
        self.client
            .blob_stream_sized(&self.name, &digest, expected_size)
            .await
    }

    /// Downloads a blob to `path`, verified and atomic, and returns its size;
    /// see [`Client::download_blob`].
    pub async fn download_blob(
        &self,
        digest: impl IntoDigest,
        path: impl AsRef<Path>,
    ) -> Result<u64> {
        let digest = digest.into_digest()?;
        self.client.download_blob(&self.name, &digest, path).await
    }

    /// Like [`Repository::download_blob`], also checking an expected size and
    /// calling `progress(bytes_so_far, total)` after each chunk; see
    /// [`Client::download_blob_with`].
    pub async fn download_blob_with(
        &self,
        digest: impl IntoDigest,
        expected_size: Option<u64>,
        path: impl AsRef<Path>,
        progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<u64> {
        let digest = digest.into_digest()?;
        self.client
            .download_blob_with(&self.name, &digest, expected_size, path, progress)
            .await
    }

    /// A blob's size (`HEAD`), or `None` when the repository does not have it.
    pub async fn blob_size(&self, digest: impl IntoDigest) -> Result<Option<u64>> {
        let digest = digest.into_digest()?;
        self.client.blob_size(&self.name, &digest).await
    }

    /// Whether the repository has a blob (`HEAD`).
    pub async fn blob_exists(&self, digest: impl IntoDigest) -> Result<bool> {
        let digest = digest.into_digest()?;
        self.client.blob_exists(&self.name, &digest).await
    }

    /// A whole blob in memory, verified, refused past `limit` bytes; see
    /// [`Client::blob_bytes`].
    pub async fn blob_bytes(&self, digest: impl IntoDigest, limit: u64) -> Result<Bytes> {
        let digest = digest.into_digest()?;
        self.client.blob_bytes(&self.name, &digest, limit).await
    }

    /// Deletes a blob from the repository; see [`Client::delete_blob`].
    pub async fn delete_blob(&self, digest: impl IntoDigest) -> Result<()> {
        let digest = digest.into_digest()?;
        self.client.delete_blob(&self.name, &digest).await
    }

    // ---- uploads ------------------------------------------------------------

    /// Pushes a blob held in memory: nothing when the repository has it,
    /// else one monolithic upload; see [`Client::push_blob`].
    ///
    /// ```no_run
    /// # async fn run(repo: dockreg::Repository) -> dockreg::Result<()> {
    /// let pushed = repo.push_blob(&b"{}"[..]).await?;
    /// let config = pushed.descriptor(dockreg::models::media_type::OCI_CONFIG);
    /// # let _ = config; Ok(()) }
    /// ```
    pub async fn push_blob(&self, data: impl Into<Bytes>) -> Result<PushedBlob> {
        // The media type only goes into the descriptor, which the caller
        // makes with the one it means (PushedBlob::descriptor).
        let (descriptor, outcome) = self
            .client
            .push_blob(&self.name, data, "application/octet-stream")
            .await?;
        Ok(PushedBlob {
            digest: descriptor.digest,
            size: descriptor.size,
            outcome,
        })
    }

    /// Pushes a blob from a byte stream in chunks, hashing as it goes; see
    /// [`Client::push_blob_stream`] and [`BlobPushOptions`].
    pub async fn push_blob_stream<S>(
        &self,
        stream: S,
        options: &BlobPushOptions,
    ) -> Result<PushedBlob>
    where
        S: Stream<Item = Result<Bytes>> + Send,
    {
        let (digest, size, outcome) = self
            .client
            .push_blob_stream(
                &self.name,
                stream,
                options.digest.as_ref(),
                options.chunk_size,
            )
            .await?;
        Ok(PushedBlob {
            digest,
            size,
            outcome,
        })
    }

    /// Starts an upload session, to feed chunk by chunk; see
    /// [`Client::start_upload`].
    pub async fn start_upload(&self) -> Result<BlobUpload> {
        self.client.start_upload(&self.name).await
    }

    /// Mounts a blob from another repository of this registry (`from`: a
    /// name or another [`Repository`]): [`Mount::Mounted`], or
    /// [`Mount::Started`] with the upload session the registry opened
    /// instead.
    ///
    /// ```no_run
    /// # async fn run(src: dockreg::Repository, dst: dockreg::Repository, digest: dockreg::Digest) -> dockreg::Result<()> {
    /// use dockreg::repository::Mount;
    /// match dst.mount_blob(&digest, &src).await? {
    ///     Mount::Mounted => {}
    ///     Mount::Started(upload) => upload.cancel().await?, // or push the bytes
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn mount_blob(
        &self,
        digest: impl IntoDigest,
        from: impl IntoRepositoryName,
    ) -> Result<Mount> {
        let digest = digest.into_digest()?;
        let from = from.into_repository_name()?;
        Ok(
            match self.client.mount_blob(&self.name, &digest, &from).await? {
                None => Mount::Mounted,
                Some(upload) => Mount::Started(upload),
            },
        )
    }

    // ---- transfers ----------------------------------------------------------

    /// Copies `reference` of this repository to `dest_reference` of `dest`
    /// (this registry or another); see [`Client::copy_image`].
    ///
    /// ```no_run
    /// # async fn run(src: dockreg::Repository, dst: dockreg::Repository) -> dockreg::Result<()> {
    /// let options = dockreg::transfer::CopyOptions::default().concurrency(8);
    /// let report = src.copy_image("v1", &dst, "v1", &options).await?;
    /// # let _ = report; Ok(()) }
    /// ```
    pub async fn copy_image(
        &self,
        reference: impl IntoTagOrDigest,
        dest: &Repository,
        dest_reference: impl IntoTagOrDigest,
        options: &CopyOptions,
    ) -> Result<CopyReport> {
        let reference = self.target(reference)?;
        let dest_reference = dest.target(dest_reference)?;
        self.client
            .copy_image(
                &self.name,
                &reference,
                &dest.client,
                &dest.name,
                &dest_reference,
                options,
            )
            .await
    }

    /// This repository's image `reference` as an end of a
    /// [`transfer::copy`](crate::transfer::copy).
    pub fn image<'a>(&'a self, reference: &'a TagOrDigest) -> RegistryImage<'a> {
        RegistryImage::new(&self.client, &self.name, reference)
    }

    /// Downloads `reference` into an OCI layout: [`transfer::copy`] to a
    /// [`LayoutImage`] (see [`Client::pull_to_layout`] and
    /// [`LayoutPullOptions`]).
    ///
    /// [`transfer::copy`]: crate::transfer::copy
    pub async fn pull_to_layout(
        &self,
        reference: impl IntoTagOrDigest,
        layout: &OciLayout,
        options: &LayoutPullOptions,
    ) -> Result<TransferReport> {
        let reference = self.target(reference)?;
        let target =
            LayoutImage::new(layout, options.ref_name.as_deref()).settings_of(&self.client);
        crate::transfer::copy(&self.image(&reference), &target, &options.transfer).await
    }

    /// Pushes an image of an OCI layout to `reference`: [`transfer::copy`]
    /// from a [`LayoutImage`] (see [`Client::push_from_layout`] and
    /// [`LayoutPushOptions`]).
    ///
    /// [`transfer::copy`]: crate::transfer::copy
    pub async fn push_from_layout(
        &self,
        layout: &OciLayout,
        reference: impl IntoTagOrDigest,
        options: &LayoutPushOptions,
    ) -> Result<TransferReport> {
        let reference = self.target(reference)?;
        let source =
            LayoutImage::new(layout, options.ref_name.as_deref()).settings_of(&self.client);
        crate::transfer::copy(&source, &self.image(&reference), &options.transfer).await
    }
}
