//! The kernels' build folders (kernel/build-folder.sh): compiled artifacts are shared hard links,
//! every file cargo locks or rewrites in place is a folder's own, the cell crate's outputs and the
//! incremental caches are left out; the clean-up removes dead kernels' and REPLs' folders and
//! never a folder that is being made.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::{dead_pid, temp_dir};

fn bash(script: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(". {root}/kernel/build-folder.sh; {script}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Sets `p`'s mtime (`touch -d WHEN`).
fn touch(p: &Path, when: &str) {
    assert!(Command::new("touch")
        .args(["-d", when])
        .arg(p)
        .status()
        .unwrap()
        .success());
}

fn ino(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().ino()
}

#[test]
fn new_folder_shares_artifacts_only() {
    let root = temp_dir("kernel-folders");
    let master = root.join("evcxr-target");
    let t = master.join("target/debug");
    for f in [
        "deps/libsbert-1.rlib",
        "deps/libsbert-1.rmeta",
        "deps/libcandle-2.so",
        "build/ring-3/build-script-build",
        ".cargo-lock",
        ".fingerprint/sbert-1/lib-sbert",
        "deps/sbert-1.d",
        "build/ring-3/output",
        "incremental/sbert-1/s-x.lock",
        "libcode_7.so",
        "deps/ctx-9.rlib",
    ] {
        write(&t.join(f), f);
    }
    write(&master.join("Cargo.lock"), "lock");
    // Cargo compares nanosecond mtimes: a copy that keeps whole seconds makes every dependency
    // look stale (tar's default format did: the first cell rebuilt everything).
    touch(
        &t.join(".fingerprint/sbert-1/lib-sbert"),
        "2026-01-01 10:00:00.123456789",
    );
    let dir = bash(&format!("new_build_folder {} k", master.display()));
    let dir = Path::new(&dir);
    assert!(dir.starts_with(root.join("kernels")));
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("k."));
    let n = dir.join("target/debug");
    for shared in [
        "deps/libsbert-1.rlib",
        "deps/libsbert-1.rmeta",
        "deps/libcandle-2.so",
        "build/ring-3/build-script-build",
    ] {
        assert_eq!(
            ino(&n.join(shared)),
            ino(&t.join(shared)),
            "{shared} linked"
        );
    }
    for own in [
        ".cargo-lock",
        ".fingerprint/sbert-1/lib-sbert",
        "deps/sbert-1.d",
        "build/ring-3/output",
    ] {
        assert_ne!(ino(&n.join(own)), ino(&t.join(own)), "{own} copied");
        let (a, b) = (
            std::fs::metadata(n.join(own)).unwrap(),
            std::fs::metadata(t.join(own)).unwrap(),
        );
        assert_eq!(
            (a.mtime(), a.mtime_nsec()),
            (b.mtime(), b.mtime_nsec()),
            "{own}'s mtime"
        );
        assert_eq!(std::fs::read_to_string(n.join(own)).unwrap(), own);
    }
    for left_out in ["incremental", "libcode_7.so", "deps/ctx-9.rlib"] {
        assert!(!n.join(left_out).exists(), "{left_out} left out");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.lock")).unwrap(),
        "lock"
    );
    assert!(std::fs::read_to_string(dir.join(".pid"))
        .unwrap()
        .trim()
        .parse::<u32>()
        .is_ok());
    // Rewriting a fingerprint in place in the new folder leaves the warm build as it was.
    std::fs::write(n.join(".fingerprint/sbert-1/lib-sbert"), "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(t.join(".fingerprint/sbert-1/lib-sbert")).unwrap(),
        ".fingerprint/sbert-1/lib-sbert"
    );
}

#[test]
fn clean_up_removes_only_dead_owners_folders() {
    let base = temp_dir("kernel-clean").join("kernels");
    let dead = dead_pid();
    let mine = std::process::id();
    for (name, pid) in [
        ("k.dead", Some(dead)),
        ("repl.dead", Some(dead)),
        ("k.alive", Some(mine)),
        ("repl.alive", Some(mine)),
        (".new.k.making", None),
        ("k.nopid-new", None),
        ("other", Some(dead)),
    ] {
        std::fs::create_dir_all(base.join(name)).unwrap();
        if let Some(p) = pid {
            std::fs::write(base.join(name).join(".pid"), p.to_string()).unwrap();
        }
    }
    // A folder without .pid left long ago (a kill between mktemp and the .pid).
    std::fs::create_dir_all(base.join("k.nopid-old")).unwrap();
    touch(&base.join("k.nopid-old"), "2 hours ago");
    bash(&format!("clean_build_folders {}", base.display()));
    let mut left: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".new.k.making",
            "k.alive",
            "k.nopid-new",
            "other",
            "repl.alive"
        ]
    );
}
