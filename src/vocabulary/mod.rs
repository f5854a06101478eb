//! The shared vocabulary: value types that ports, adapters, settings, the domain and the HTTP
//! edge all speak. A leaf: it imports nothing else of this crate (tests/architecture.rs checks).

pub mod edges;
pub mod error_chain;
pub mod format;
pub mod url;

pub use edges::{AVATAR_EDGES, EdgeRange, PICTURE_EDGES};
pub use error_chain::ErrorChain;
pub use format::{Format, NotAnUpload, UPLOAD_FORMATS, sniff_upload};
