//! visage: avatars for apps that sign users in with Auth0.
//!
//! [`app::serve`] builds the exact service that production runs; `main.rs` and the tests both
//! call it.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod domain;
pub mod error;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod settings;
pub mod telemetry;
pub mod vocabulary;

pub use app::serve;
pub use settings::Settings;
