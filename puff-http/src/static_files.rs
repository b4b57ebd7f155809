//! Static files served from Rust: `[static]` in puff.toml (`"/url/" = "dir"`) and, with
//! `django = true`, Django's `STATIC_URL` from `STATIC_ROOT`. Built on tower-http's
//! `ServeDir`: paths cannot escape the folder, `HEAD`, ranges, `ETag`-less conditional
//! requests via `Last-Modified`, and a content type from the file extension.

use std::path::{Path, PathBuf};

use tower_http::services::ServeDir;

/// A `[static]` mapping (or Django's `STATIC_URL`) that cannot be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StaticError {
    #[error("`{0}` must be a path below the root, like \"/static/\"")]
    NotBelowRoot(String),
    #[error("`{0}` may not contain `*`, `{{`, `}}`, `?` or `#`")]
    ReservedCharacter(String),
    #[error("`{prefix}` -> `{}` is not a folder", .dir.display())]
    NotAFolder { prefix: String, dir: PathBuf },
}

/// Check a URL prefix and return it without its trailing slash (`/static/` -> `/static`).
pub fn normalize_prefix(prefix: &str) -> Result<String, StaticError> {
    let trimmed = prefix.trim_end_matches('/');
    if !prefix.starts_with('/') || trimmed.is_empty() {
        return Err(StaticError::NotBelowRoot(prefix.to_owned()));
    }
    if trimmed.contains(['*', '{', '}', '?', '#']) {
        return Err(StaticError::ReservedCharacter(prefix.to_owned()));
    }
    Ok(trimmed.to_owned())
}

/// Routes serving each folder under its URL prefix. Folders are read per request, so a
/// folder filled later (`collectstatic`) is served without a restart.
pub fn static_routes(mappings: &[(String, PathBuf)]) -> Result<axum::Router, StaticError> {
    let mut router = axum::Router::new();
    for (prefix, dir) in mappings {
        let prefix = normalize_prefix(prefix)?;
        router = router.nest_service(&prefix, ServeDir::new(dir));
    }
    Ok(router)
}

/// `[static]` entries: the URL prefixes are valid and every folder exists.
pub fn validate(mappings: &[(String, PathBuf)]) -> Result<(), StaticError> {
    for (prefix, dir) in mappings {
        normalize_prefix(prefix)?;
        if !Path::new(dir).is_dir() {
            return Err(StaticError::NotAFolder {
                prefix: prefix.clone(),
                dir: dir.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked_and_trimmed() {
        assert_eq!(normalize_prefix("/static/").as_deref(), Ok("/static"));
        assert_eq!(normalize_prefix("/a/b").as_deref(), Ok("/a/b"));
        assert!(normalize_prefix("/").is_err());
        assert!(normalize_prefix("static/").is_err());
        assert!(normalize_prefix("/x/{y}/").is_err());
    }

    #[test]
    fn missing_folders_are_named() {
        let err = validate(&[("/s/".into(), "/no/such/folder/here".into())]).unwrap_err();
        assert!(err.to_string().contains("/no/such/folder/here"), "{err}");
        assert!(validate(&[("/s/".into(), std::env::temp_dir())]).is_ok());
    }
}
