//! `hostseal install`: puts each secret on the host at activation (docs/manifest.md), and `status`.
//!
//! The pipeline, one module per step: [`manifest`] (typed JSON) → [`validate`] ([`plan::Plan`],
//! exit 6) → [`lock`] → [`mount`] → [`identities`] → [`extract`] (each sealed file opened once)
//! and [`templates`] → [`generation`] (staging build, switch, prune) → [`custom_paths`] →
//! [`units`] (restarts) → [`status`]. [`fs`] holds the fd-relative system call helpers, [`trust`]
//! the one rule every file root reads at activation must pass, [`failure`] why one secret failed.

pub mod activate;
pub mod check;
pub mod credentials;
pub mod credstore;
pub mod custom_paths;
pub mod defaults;
pub mod extract;
pub mod failure;
pub mod fs;
pub mod generation;
pub mod identities;
pub mod lock;
pub mod log;
pub mod manifest;
pub mod mount;
pub mod plan;
pub mod platform;
pub mod run;
pub mod status;
pub mod templates;
pub mod trust;
pub mod units;
pub mod unknown_fields;
pub mod user_mode;
pub mod users;
pub mod validate;
