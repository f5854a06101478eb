//! The traits the domain talks to; adapters in `crate::adapters` implement them.
//!
//! Every port call is network or disk I/O, so `Arc<dyn Port>` costs nothing that matters and
//! keeps signatures plain.

pub mod cdn;
pub mod profile;
pub mod source;
pub mod store;
pub mod tokens;
pub mod upstream;

pub use cdn::{CdnPurge, PurgeError};
pub use profile::{EmailFacts, ProfileError, ProfileStore, UserEmail};
pub use store::{InvalidKey, ObjectKey, ObjectStore, StoreError, StoredObject};
