//! Authentication: the challenges registries send in `WWW-Authenticate`.

mod challenge;

pub use challenge::{parse_challenges, Challenge};
