//! Every saved fuzz input replayed through its target: `fuzz/regressions/TARGET/*` (the
//! findings, committed) and `fuzz/corpus/TARGET/*` where a corpus was kept, each through the
//! same function the libFuzzer binary of TARGET calls (`fuzz/src/lib.rs`), in `cargo test`.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::collections::BTreeSet;
use std::path::Path;

/// Runs every file under `root/TARGET/`; returns how many ran and which failed (and why).
fn replay(root: &Path) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut failed = Vec::new();
    let Ok(folders) = std::fs::read_dir(root) else {
        return (0, failed);
    };
    for folder in folders.flatten() {
        let name = folder.file_name().to_string_lossy().into_owned();
        let Some(&(_, run)) = targets::TARGETS.iter().find(|(target, _)| *target == name) else {
            panic!("{}: no fuzz target is named {name}", root.display());
        };
        let mut files: Vec<_> = std::fs::read_dir(folder.path())
            .expect("a target's folder")
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).expect("input");
            ran += 1;
            if let Err(panic) = std::panic::catch_unwind(|| run(&input)) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failed.push(format!("{}: {why}", file.display()));
            }
        }
    }
    (ran, failed)
}

#[test]
fn every_saved_fuzz_input_replays_through_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let (regressions, mut failed) = replay(&fuzz.join("regressions"));
    // The findings are committed: finding none means the path or the layout is wrong.
    assert!(regressions > 0, "no input under fuzz/regressions/");
    let (corpus, corpus_failed) = replay(&fuzz.join("corpus"));
    failed.extend(corpus_failed);
    eprintln!("replayed {regressions} regression inputs and {corpus} corpus inputs");
    assert!(
        failed.is_empty(),
        "{} inputs failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Each target runs, and its checks hold, on inputs written here (the targets are not left to
/// the fuzzer alone).
#[test]
fn the_crop_and_percent_targets_accept_what_they_should() {
    for input in [
        &b"\x000,0,1600,1200"[..],
        b"\x01100,50,16,16",
        b"\x02 1584 , 1184 , 16 , 16",
        b"\x05 0,0,64,64",
        b"\x000,0,1601,1200",
        b"\x010,0,15,900",
        b"\x044294967295,0,16,16",
        b"\x03not a crop",
    ] {
        targets::crop(input);
    }
    for input in [
        "",
        "a%20b",
        "%",
        "%%41",
        "%C3%A9",
        "%FF",
        "%e9t%C3%A9",
        "x%2",
        "%zz",
    ] {
        targets::percent_decode(input.as_bytes());
    }
}

/// `scripts/test` builds the fuzz targets in the main target folder right after `cargo test`,
/// and reuses every crate it built only when the fuzz workspace resolves the same versions with
/// the same features: its manifest lists the main crate's dev-dependencies (feature
/// unification) and its lock pins what the main lock pins. Drift would not break the build,
/// only make it compile ~95 crates again (8 minutes on a fresh 2-core machine): caught here.
#[test]
fn the_fuzz_workspace_resolves_as_the_main_one_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read_toml = |path: &str| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(root.join(path)).expect(path)).expect(path)
    };
    let main = read_toml("Cargo.toml");
    let fuzz = read_toml("fuzz/Cargo.toml");
    let dev = main["dev-dependencies"]
        .as_table()
        .expect("[dev-dependencies]");
    let fuzz_deps = fuzz["dependencies"]
        .as_table()
        .expect("fuzz [dependencies]");
    for (name, spec) in dev {
        assert_eq!(
            fuzz_deps.get(name),
            Some(spec),
            "fuzz/Cargo.toml must list the dev-dependency {name} as ../Cargo.toml does"
        );
    }
    let profile = |table: &toml::Table| table.get("profile").and_then(|p| p.get("dev")).cloned();
    let main_dev = profile(&main).expect("[profile.dev.*] in Cargo.toml");
    let fuzz_dev = profile(&fuzz).expect("[profile.dev.*] in fuzz/Cargo.toml");
    for (package, settings) in main_dev["package"]
        .as_table()
        .expect("dev package profiles")
    {
        assert_eq!(
            fuzz_dev["package"].get(package),
            Some(settings),
            "fuzz/Cargo.toml's [profile.dev.package.{package}] must be the main crate's"
        );
    }

    let versions = |path: &str| -> BTreeSet<(String, String)> {
        let lock = read_toml(path);
        lock["package"]
            .as_array()
            .expect("[[package]]")
            .iter()
            .map(|package| {
                (
                    package["name"].as_str().expect("name").to_owned(),
                    package["version"].as_str().expect("version").to_owned(),
                )
            })
            .collect()
    };
    let main_lock = versions("Cargo.lock");
    let main_names: BTreeSet<_> = main_lock.iter().map(|(name, _)| name.clone()).collect();
    let differing: Vec<_> = versions("fuzz/Cargo.lock")
        .into_iter()
        .filter(|(name, _)| main_names.contains(name))
        .filter(|package| !main_lock.contains(package))
        .collect();
    assert!(
        differing.is_empty(),
        "fuzz/Cargo.lock pins other versions than Cargo.lock: {differing:?} \
         (copy Cargo.lock to fuzz/Cargo.lock, then `cargo metadata --manifest-path fuzz/Cargo.toml`)"
    );
}
