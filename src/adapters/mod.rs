//! Adapters: the only place where SDK and HTTP client types appear.

pub mod auth0;
pub(crate) mod cdn;
pub mod fs;
pub(crate) mod gravatar;
pub(crate) mod jwks;
pub(crate) mod no_profile;
pub mod s3;
pub(crate) mod source_fetch;
pub(crate) mod timed;
