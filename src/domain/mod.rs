//! The domain: pure logic that knows nothing of HTTP, S3 or Auth0.

pub mod access;
pub mod avatar;
pub mod cache;
pub mod cleanup;
pub mod counts;
pub mod image;
pub mod initials;
pub mod picture;
pub mod pictures;
pub mod placeholder;
pub mod rate_limit;
pub mod readiness;
pub mod render;
pub mod upload;
