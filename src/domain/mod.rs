//! The domain: pure logic that knows nothing of HTTP, S3 or Auth0.

pub(crate) mod access;
pub mod avatar;
pub mod cache;
pub(crate) mod cleanup;
pub mod counts;
pub mod directory;
pub mod image;
pub mod import;
pub mod initials;
pub mod lifecycle;
pub mod picture;
pub mod pictures;
pub mod placeholder;
pub(crate) mod rate_limit;
pub(crate) mod readiness;
pub mod render;
pub mod upload;
