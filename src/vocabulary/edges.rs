//! The square edges each route accepts, defined once for the HTTP edge, the domain and settings.

use std::fmt;

/// An inclusive range of square edges, in pixels, and the edge used when none is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeRange {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

impl EdgeRange {
    pub const fn contains(self, edge: u32) -> bool {
        self.min <= edge && edge <= self.max
    }

    /// The nearest edge inside the range.
    pub fn clamp(self, edge: u32) -> u32 {
        edge.clamp(self.min, self.max)
    }
}

impl fmt::Display for EdgeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// `/initials`, `/pictures` and every picture visage draws itself.
pub const PICTURE_EDGES: EdgeRange = EdgeRange {
    min: 16,
    max: 1024,
    default: 128,
};

/// `/avatar`: Gravatar's own range and default.
pub const AVATAR_EDGES: EdgeRange = EdgeRange {
    min: 1,
    max: 2048,
    default: 80,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_defaults_inside() {
        for range in [PICTURE_EDGES, AVATAR_EDGES] {
            assert!(range.contains(range.min) && range.contains(range.max));
            assert!(!range.contains(range.min - 1) && !range.contains(range.max + 1));
            assert!(range.contains(range.default));
        }
        assert_eq!(PICTURE_EDGES.to_string(), "16..=1024");
        assert_eq!(PICTURE_EDGES.clamp(2048), 1024);
    }
}
