//! The routes: one file per group, each handler with its OpenAPI documentation.

pub mod admin;
pub mod events;
pub mod openapi;
pub mod ops;
pub mod recent;
pub mod search;
pub mod status;
