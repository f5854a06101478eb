//! Adapters: the only place where SDK and HTTP client types appear.

pub mod auth0;
pub mod fs;
pub mod gravatar;
pub mod jwks;
pub mod no_profile;
pub mod s3;
pub mod timed;
