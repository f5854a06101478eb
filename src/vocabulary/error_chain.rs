//! An error with its whole `source()` chain, for logs: `outer: middle: root cause`.
//!
//! Errors keep their causes as typed `#[source]`s and their own message names only their own
//! step, so the chain reads as one sentence without repeats.

use std::error::Error;
use std::fmt;

/// Displays `error` and each of its sources, separated by `: `.
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("root cause")]
    struct Root;

    #[derive(Debug, thiserror::Error)]
    #[error("middle step")]
    struct Middle(#[source] Root);

    #[derive(Debug, thiserror::Error)]
    #[error("outer step")]
    struct Outer(#[source] Middle);

    #[test]
    fn every_source_once_in_order() {
        assert_eq!(
            ErrorChain(&Outer(Middle(Root))).to_string(),
            "outer step: middle step: root cause"
        );
        assert_eq!(ErrorChain(&Root).to_string(), "root cause");
    }
}
