//! The settings layers as one tree, and a strict deserializer over it.
//!
//! TOML layers keep their own types (a file says `max_pixels = 1000`, or `bucket = "007"`).
//! Environment values arrive as text and are typed by the key they land on: a string key keeps
//! the text exactly (`007` stays `007`), a number or boolean key parses it, a list key splits it
//! on commas. A key that no settings struct declares is refused with the closest known key.

mod deserialize;

use std::collections::BTreeMap;
use std::fmt;

use serde::de;

pub(super) use deserialize::At;

/// The environment prefix; `VISAGE__LIMITS__MAX_PIXELS` is `limits.max_pixels`.
pub(super) const ENV_PREFIX: &str = "VISAGE__";

/// One node of the merged settings tree.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Table(BTreeMap<String, Node>),
    /// A value from a TOML layer, already typed.
    Toml(toml::Value),
    /// A value from the environment variable `var`, typed by the key it lands on.
    Env {
        var: String,
        value: String,
    },
}

impl Node {
    /// The tree of a TOML document.
    pub(super) fn from_toml(table: toml::Table) -> Self {
        Node::Table(
            table
                .into_iter()
                .map(|(key, value)| {
                    let node = match value {
                        toml::Value::Table(t) => Node::from_toml(t),
                        other => Node::Toml(other),
                    };
                    (key, node)
                })
                .collect(),
        )
    }

    /// Lays `overlay` over `self`: tables merge key by key, anything else replaces.
    pub(super) fn merge(&mut self, overlay: Node) {
        match (self, overlay) {
            (Node::Table(base), Node::Table(over)) => {
                for (key, node) in over {
                    match base.get_mut(&key) {
                        Some(existing) => existing.merge(node),
                        None => {
                            base.insert(key, node);
                        }
                    }
                }
            }
            (slot, other) => *slot = other,
        }
    }

    /// Sets the `VISAGE__…` variables of `env` (others are ignored) at their keys.
    pub(super) fn set_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), Error> {
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                return Err(Error::keyed(format!(
                    "{var}: not a settings key (sections and keys are separated by one \"__\")"
                )));
            }
            insert(
                self,
                &path,
                Node::Env {
                    var: var.clone(),
                    value,
                },
            );
        }
        Ok(())
    }

    /// The first environment variable somewhere under this node, to name it in an error.
    fn env_var(&self) -> Option<&str> {
        match self {
            Node::Env { var, .. } => Some(var),
            Node::Table(map) => map.values().find_map(Node::env_var),
            Node::Toml(_) => None,
        }
    }
}

/// Puts `leaf` at `path` under `node`, making tables on the way (a value in the way is replaced:
/// the deserializer then reports the key's type).
fn insert(node: &mut Node, path: &[String], leaf: Node) {
    match path.split_first() {
        None => *node = leaf,
        Some((first, rest)) => {
            if !matches!(node, Node::Table(_)) {
                *node = Node::Table(BTreeMap::new());
            }
            if let Node::Table(map) = node {
                let child = map
                    .entry(first.clone())
                    .or_insert_with(|| Node::Table(BTreeMap::new()));
                insert(child, rest, leaf);
            }
        }
    }
}

/// A settings error. `keyed` once its message starts with the key it is about.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    keyed: bool,
}

impl Error {
    fn keyed(message: String) -> Self {
        Self {
            message,
            keyed: true,
        }
    }

    /// Puts the key in front of a message that does not name one yet.
    fn at(self, path: &str, var: Option<&str>) -> Self {
        if self.keyed {
            return self;
        }
        let key = if path.is_empty() { "settings" } else { path };
        let from = var.map(|v| format!(" (from {v})")).unwrap_or_default();
        Self::keyed(format!("{key}: {}{from}", self.message))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            keyed: false,
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The known name closest to `unknown` (edit distance), for "did you mean …?".
fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .copied()
        .min_by_key(|name| edit_distance(unknown, name))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous_diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous_diagonal + usize::from(ca != *cb);
            previous_diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("max_pixles", "max_pixels"), 2);
        assert_eq!(edit_distance("gravatr", "gravatar"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
