//! One integration binary: every test builds the real app on port 0 with `visage::serve`.

// `unreachable_pub` keeps the library's layers; helpers shared between these modules are `pub`.
#![allow(unreachable_pub)]

mod auth0;
mod avatar;
mod browser;
mod cleanup;
mod cluster;
mod common;
mod crop;
mod current;
mod editor;
mod faults;
mod formats;
mod foundation;
mod import;
mod initials;
mod lifecycle;
mod limits;
mod operations;
mod page;
mod pictures;
mod pipeline;
mod quality;
mod reconcile;
mod secrets;
mod storage_contract;
mod tokens;
mod upload;
