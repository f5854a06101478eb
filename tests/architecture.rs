//! The layers of docs/ARCHITECTURE.md, checked over the source: which top-level module may
//! name which (`crate::…` paths outside comments), no cycle between them, no I/O or web crate in
//! the domain, and no source file over 450 lines. `unreachable_pub` keeps the other half: what
//! is not used outside a layer is `pub(crate)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may name. `app` wires everything and may name all.
const ALLOWED: &[(&str, &[&str])] = &[
    ("vocabulary", &[]),
    ("ports", &["vocabulary"]),
    ("domain", &["ports", "vocabulary"]),
    ("settings", &["vocabulary"]),
    ("telemetry", &["settings", "vocabulary"]),
    ("metrics", &["domain", "vocabulary"]),
    ("adapters", &["metrics", "ports", "settings", "vocabulary"]),
    ("error", &["domain", "ports", "vocabulary"]),
    (
        "http",
        &[
            "domain",
            "error",
            "metrics",
            "ports",
            "telemetry",
            "vocabulary",
        ],
    ),
    ("healthcheck", &["settings"]),
    ("cli", &["settings"]),
    (
        "app",
        &[
            "adapters",
            "domain",
            "error",
            "http",
            "metrics",
            "ports",
            "settings",
            "telemetry",
            "vocabulary",
        ],
    ),
];

/// Crates the domain must not use: it decides, adapters and the edge do the I/O.
const NOT_IN_THE_DOMAIN: &[&str] = &[
    "actix",
    "aws_",
    "reqwest",
    "prometheus",
    "jsonwebtoken",
    "hyper",
];

const MAX_LINES: usize = 450;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/domain/avatar/mod.rs` → `domain`); `None` for
/// the crate root and the binary.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The code of a line, without a trailing `//` comment (doc comments and comments name other
/// modules in prose; strings here never hold `//`).
fn code_of(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") {
        return "";
    }
    line.split("//").next().unwrap_or(line)
}

/// `(module, the modules it names, with the first place each is named)`.
fn imports() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read");
        for (number, line) in text.lines().enumerate() {
            let code = code_of(line);
            for (at, _) in code.match_indices("crate::") {
                let name: String = code[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(name)
                        .or_insert_with(|| format!("{}:{}", file.display(), number + 1));
                }
            }
        }
        graph.entry(module).or_default();
    }
    graph
}

#[test]
fn every_module_names_only_the_layers_it_may() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(module, may)| (*module, may.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (module, named) in imports() {
        let Some(may) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{module} is a new top-level module: add it to ALLOWED and to docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for (target, place) in named {
            if !may.contains(target.as_str()) {
                wrong.push(format!("{module} names {target} at {place}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
}

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = imports();
    // Kahn's algorithm: a graph is acyclic when every node can be removed in dependency order.
    let mut remaining: BTreeMap<String, BTreeSet<String>> = graph
        .iter()
        .map(|(module, named)| {
            let named = named
                .keys()
                .filter(|n| graph.contains_key(*n))
                .cloned()
                .collect();
            (module.clone(), named)
        })
        .collect();
    while let Some(free) = remaining
        .iter()
        .find(|(_, named)| named.is_empty())
        .map(|(module, _)| module.clone())
    {
        remaining.remove(&free);
        for named in remaining.values_mut() {
            named.remove(&free);
        }
    }
    assert!(remaining.is_empty(), "modules in a cycle: {remaining:?}");
}

#[test]
fn the_domain_uses_no_io_or_web_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (number, line) in text.lines().enumerate() {
            let code = code_of(line);
            for name in NOT_IN_THE_DOMAIN {
                let named = code.contains(&format!("{name}::"))
                    || code.contains(&format!("use {name}"))
                    || code.contains("crate::settings")
                    || code.contains("crate::metrics");
                if named {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found.dedup();
    assert!(
        found.is_empty(),
        "the domain reaches out:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_source_file_is_over_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).expect("read").lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_checks_see_what_they_check() {
    // The reader finds the edges it is meant to find: if it found none, every check above would
    // pass on any code.
    let graph = imports();
    let named = |from: &str, to: &str| graph.get(from).is_some_and(|n| n.contains_key(to));
    assert!(named("domain", "ports") && named("http", "domain") && named("app", "settings"));
    assert!(
        !named("ports", "adapters"),
        "a doc comment is not an import"
    );
    assert_eq!(code_of("    // crate::settings"), "");
    assert_eq!(code_of("use crate::x; // crate::y"), "use crate::x; ");
}
