//! What runs around the routes: the front layer and its parts (request ids, the
//! access log, the guard, CORS, client identity), admin authentication and the
//! render budget of /search.

pub mod access_log;
pub mod auth;
pub mod client;
pub mod cors;
pub mod guard;
pub mod policy;
pub mod render_budget;
pub mod request_id;
