//! Adapters: the only place where SDK and HTTP client types appear.

pub mod fs;
pub mod s3;
