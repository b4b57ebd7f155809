//! `Router`: the seeds' route builder, a thin layer over `axum::Router`.

use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

/// Rust routes served by Puff; anything unmatched falls through to the Python app.
#[derive(Clone, Default)]
pub struct Router {
    inner: axum::Router,
}

macro_rules! method_fn {
    ($name:ident, $routing:ident) => {
        #[doc = concat!("Route `", stringify!($name), "` requests for `path` to `handler`.")]
        pub fn $name<H, T>(self, path: &str, handler: H) -> Self
        where
            H: Handler<T, ()>,
            T: 'static,
        {
            self.route(path, $routing(handler))
        }
    };
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    method_fn!(get, get);
    method_fn!(post, post);
    method_fn!(put, put);
    method_fn!(patch, patch);
    method_fn!(delete, delete);

    /// Add any axum `MethodRouter` at `path`.
    pub fn route(self, path: &str, method_router: MethodRouter) -> Self {
        Router {
            inner: self.inner.route(path, method_router),
        }
    }

    /// Merge a plain `axum::Router` (its own state already applied).
    pub fn merge(self, other: impl Into<axum::Router>) -> Self {
        Router {
            inner: self.inner.merge(other.into()),
        }
    }

    /// The underlying axum router.
    pub fn into_axum(self) -> axum::Router {
        self.inner
    }
}

impl From<axum::Router> for Router {
    fn from(inner: axum::Router) -> Self {
        Router { inner }
    }
}
