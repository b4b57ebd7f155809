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

/// Two sets of routes define the same path; the message names the subsystem.
#[derive(Debug, thiserror::Error)]
#[error("the routes of `{name}` overlap routes already defined: {detail}")]
pub struct RouteOverlap {
    pub name: String,
    /// axum's panic message.
    pub detail: String,
}

/// Routes a subsystem serves on every HTTP server of the program (e.g. the endpoints of
/// `[[graphql]]` entries), registered in the resource registry under the subsystem's name.
pub struct MountedRoutes(pub axum::Router);

impl Router {
    /// These routes plus every [`MountedRoutes`] in `resources`. A path defined twice is
    /// an error naming the path (axum itself would panic).
    pub fn with_mounted(
        self,
        resources: &puff_greenlet::Resources,
    ) -> Result<Router, RouteOverlap> {
        let mut inner = self.inner;
        for name in resources.names::<MountedRoutes>() {
            let Some(mounted) = resources.get::<MountedRoutes>(&name) else {
                continue;
            };
            let routes = mounted.0.clone();
            let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.clone().merge(routes)
            }));
            inner = merged.map_err(|panic| RouteOverlap {
                name: name.clone(),
                detail: puff_greenlet::error::panic_message(&*panic),
            })?;
        }
        Ok(Router { inner })
    }
}
