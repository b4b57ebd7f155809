//! Usage errors: bad flags or arguments found after parsing (`cargo xtask serve --example
//! ../x`); `main` maps them to exit code 2.

use std::fmt;

use anyhow::Result;

/// A usage error: bad flags or arguments. `main` maps it to exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a [`UsageError`].
pub fn usage_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(UsageError(msg.into()).into())
}
