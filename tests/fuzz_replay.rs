//! Every saved fuzz input replayed through its target: `fuzz/regressions/TARGET/*` (the
//! findings, committed) and `fuzz/corpus/TARGET/*` where a corpus was kept, each through the
//! same function the libFuzzer binary of TARGET calls (`fuzz/src/lib.rs`), in `cargo test`.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

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
