//! The batch example's logic (`examples/batch/`): on a small generated tree every digest
//! matches the `sha2` crate and, where `sha256sum` is on PATH, `sha256sum` itself, byte for
//! byte, in listing order, whatever the window, the chunking (read ahead or not) and the
//! number of workers; bad entries are reported while the rest is hashed; a shut-down pool
//! fails every file instead of hanging.

mod common;

/// The program itself, to check its output and exit status without a process around it;
/// its modules are the ones tested below.
#[allow(dead_code)]
#[path = "../examples/batch/main.rs"]
mod program;

use program::{dataset, hash_tree};

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::watchdog;
use corepool::{Pool, Progress, Sizing};
use hash_tree::{Chunking, FileEntry, FileHasher, Sha256Digest};
use sha2::{Digest, Sha256};

/// Far above what these tests take; only a hang gets near it.
const LIMIT: Duration = Duration::from_secs(120);

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(workers)
                .oversubscribe(true)
                .per_core(1)
                .blocking_io(2),
        )
        .build()
        .unwrap()
}

/// Small chunks, and read ahead from two chunks on, so many files of the small tree take
/// the read-ahead path and go through several chunks.
fn tight() -> Chunking {
    Chunking {
        chunk: 16 << 10,
        read_ahead_from: 32 << 10,
    }
}

/// Every result, checked to arrive in listing order; when all succeed, the stream's progress
/// and the hashers' byte count must have seen every listed byte.
fn hash_all(
    pool: &Pool,
    files: &[FileEntry],
    window: usize,
    chunking: Chunking,
) -> Vec<io::Result<Sha256Digest>> {
    let mut results = Vec::new();
    let progress = Progress::new();
    let hashed = Arc::new(AtomicU64::new(0));
    hash_tree::hash_files(
        pool,
        files.iter().cloned(),
        window,
        chunking,
        &progress,
        &hashed,
        |index, file, result| {
            assert_eq!(index, results.len(), "results arrive in listing order");
            assert_eq!(file, files[index], "each with its own file");
            results.push(result);
        },
    );
    assert_eq!(results.len(), files.len());
    if results.iter().all(Result::is_ok) {
        let listed: u64 = files.iter().map(|f| f.len).sum();
        assert_eq!(progress.weight_done(), listed, "progress counts every byte");
        assert_eq!(hashed.load(Ordering::Relaxed), listed, "so do the hashers");
        // Items are parcels of files: all taken were done.
        assert_eq!(progress.items_done(), progress.items_taken());
    }
    results
}

/// A generated tree plus the awkward cases: empty, exactly one chunk, one chunk and a byte,
/// exactly two chunks (the smallest file read ahead) and a byte more, and names `sha256sum`
/// escapes.
fn small_tree(root: &Path) -> dataset::Generated {
    let spec = dataset::Spec {
        total_bytes: 1 << 20,
        files: 60,
        seed: 7,
    };
    let made = dataset::generate(&pool(2), root, &spec).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("one-chunk"), vec![1u8; 16 << 10]).unwrap();
    fs::write(root.join("chunk-and-a-byte"), vec![2u8; (16 << 10) + 1]).unwrap();
    fs::write(root.join("two-chunks"), vec![3u8; 32 << 10]).unwrap();
    fs::write(
        root.join("two-chunks-and-a-byte"),
        vec![4u8; (32 << 10) + 1],
    )
    .unwrap();
    fs::write(root.join("back\\slash"), b"a").unwrap();
    fs::write(root.join("new\nline"), b"b").unwrap();
    made
}

#[test]
fn every_digest_matches_sha2_and_sha256sum() {
    watchdog(
        "every digest matches sha2 and sha256sum",
        LIMIT,
        every_digest_matches_sha2_and_sha256sum_body,
    );
}

fn every_digest_matches_sha2_and_sha256sum_body() {
    let dir = tempfile::tempdir().unwrap();
    let made = small_tree(dir.path());
    let listing = hash_tree::list(&[dir.path().to_path_buf()]);
    assert!(listing.problems.is_empty(), "{:?}", listing.problems);
    assert!(listing.skipped.is_empty(), "{:?}", listing.skipped);
    assert_eq!(listing.files.len(), made.files + 7);
    let mut sorted = listing.files.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(sorted, listing.files, "listed depth-first in name order");

    let expected: Vec<Sha256Digest> = listing
        .files
        .iter()
        .map(|file| Sha256::digest(fs::read(&file.path).unwrap()).into())
        .collect();
    for (workers, window, chunking) in [
        (2, 4, tight()),
        (1, 4, tight()),
        (2, 1, tight()),
        (2, 64, Chunking::default()),
    ] {
        let results = hash_all(&pool(workers), &listing.files, window, chunking);
        for ((file, result), expected) in listing.files.iter().zip(results).zip(&expected) {
            let got = result.unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
            assert_eq!(
                &got,
                expected,
                "{} ({workers} workers, window {window}, {chunking:?})",
                file.path.display()
            );
        }
    }

    // Fed by a walk still going (as the main job does): the same files, in the same order,
    // with the same digests.
    let progress = Progress::new();
    let hashed = Arc::new(AtomicU64::new(0));
    let mut walked = Vec::new();
    let walk = hash_tree::Walk::new(&[dir.path().to_path_buf()]).map(|found| match found {
        hash_tree::Found::File(file) => file,
        other => panic!("only files here: {other:?}"),
    });
    hash_tree::hash_files(
        &pool(2),
        walk,
        4,
        tight(),
        &progress,
        &hashed,
        |i, file, r| {
            assert_eq!(i, walked.len());
            walked.push((file, r.unwrap()));
        },
    );
    let (walked_files, walked_digests): (Vec<_>, Vec<_>) = walked.into_iter().unzip();
    assert_eq!(walked_files, listing.files);
    assert_eq!(walked_digests, expected);

    // One thread, and a one-worker pool (no idle worker to read ahead).
    let mut alone = FileHasher::on_this_thread(tight());
    let no_lane = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(1))
        .build()
        .unwrap();
    let mut no_lane = FileHasher::new(&no_lane, tight());
    for (file, expected) in listing.files.iter().zip(&expected) {
        for hasher in [&mut alone, &mut no_lane] {
            let opened = hash_tree::open(&file.path).unwrap();
            assert_eq!(&hasher.hash(opened, file.len).unwrap(), expected);
        }
    }

    let results = hash_all(&pool(2), &listing.files, 4, tight());
    let ours: Vec<u8> = listing
        .files
        .iter()
        .zip(&results)
        .flat_map(|(file, result)| hash_tree::checksum_line(result.as_ref().unwrap(), &file.path))
        .collect();
    let paths: Vec<&PathBuf> = listing.files.iter().map(|f| &f.path).collect();
    match Command::new("sha256sum").args(&paths).output() {
        Ok(out) => {
            assert!(out.status.success(), "sha256sum failed: {out:?}");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&out.stdout),
                "our lines differ from sha256sum's"
            );
            let sums = dir.path().join("SHA256SUMS");
            fs::write(&sums, &ours).unwrap();
            let check = Command::new("sha256sum")
                .args(["--check", "--strict", "--quiet"])
                .arg(&sums)
                .output()
                .unwrap();
            assert!(check.status.success(), "sha256sum -c rejected: {check:?}");
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!("sha256sum not on PATH: compared with the sha2 crate only");
        }
        Err(e) => panic!("running sha256sum: {e}"),
    }
}

#[cfg(unix)]
#[test]
fn bad_entries_are_reported_and_the_rest_is_hashed() {
    watchdog(
        "bad entries are reported and the rest is hashed",
        LIMIT,
        bad_entries_are_reported_and_the_rest_is_hashed_body,
    );
}

#[cfg(unix)]
fn bad_entries_are_reported_and_the_rest_is_hashed_body() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/a"), b"alpha").unwrap();
    fs::write(root.join("z"), b"zulu").unwrap();
    symlink("nowhere", root.join("broken")).unwrap();
    symlink("sub", root.join("dir-link")).unwrap();
    symlink("z", root.join("file-link")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
    let missing = root.join("missing");

    let listing = hash_tree::list(&[missing.clone(), root.to_path_buf()]);
    let problems: Vec<_> = listing.problems.iter().map(|p| &p.path).collect();
    assert_eq!(problems, [&missing, &root.join("broken")]);
    assert!(listing.problems[1]
        .error
        .to_string()
        .contains("broken symbolic link"));
    let skipped: Vec<_> = listing.skipped.iter().map(|s| &s.path).collect();
    assert_eq!(skipped, [&root.join("dir-link"), &root.join("socket")]);
    let files: Vec<_> = listing.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        files,
        [root.join("file-link"), root.join("sub/a"), root.join("z")]
    );

    // A directory symlink named as a root is followed.
    let via_link = hash_tree::list(&[root.join("dir-link")]);
    assert!(via_link.problems.is_empty());
    assert_eq!(via_link.files[0].path, root.join("dir-link/a"));

    // A file that vanishes between listing and hashing fails alone.
    fs::remove_file(root.join("sub/a")).unwrap();
    let results = hash_all(&pool(2), &listing.files, 2, tight());
    let zulu: Sha256Digest = Sha256::digest(b"zulu").into();
    assert_eq!(results[0].as_ref().unwrap(), &zulu);
    assert_eq!(
        results[1].as_ref().unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(results[2].as_ref().unwrap(), &zulu);
}

#[test]
fn a_shut_down_pool_fails_every_file_instead_of_hanging() {
    watchdog(
        "a shut down pool fails every file instead of hanging",
        LIMIT,
        a_shut_down_pool_fails_every_file_instead_of_hanging_body,
    );
}

fn a_shut_down_pool_fails_every_file_instead_of_hanging_body() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        fs::write(dir.path().join(format!("f{i}")), vec![i as u8; 100]).unwrap();
    }
    let listing = hash_tree::list(&[dir.path().to_path_buf()]);
    let pool = pool(1);
    pool.shutdown();
    let results = hash_all(&pool, &listing.files, 4, tight());
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(Result::is_err));
}

#[test]
fn the_program_prints_lines_in_order_and_its_exit_status_counts_failures() {
    watchdog("the program", LIMIT, the_program_body);
}

fn run_program(args: &[&str]) -> (u8, String) {
    let mut out = Vec::new();
    let status = program::exit_status(args.iter().map(OsString::from), &mut out);
    (status, String::from_utf8(out).unwrap())
}

fn the_program_body() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/b"), b"bravo").unwrap();
    fs::write(root.join("a"), b"alpha").unwrap();
    // Big enough to be read ahead with the program's own chunking.
    let big: Vec<u8> = (0..(hash_tree::Chunking::default().read_ahead_from as u32) + 7)
        .map(|i| (i % 251) as u8)
        .collect();
    fs::write(root.join("big"), &big).unwrap();
    let missing = root.join("missing");
    let (root_arg, missing_arg) = (root.to_str().unwrap(), missing.to_str().unwrap());

    let line = |bytes: &[u8], name: &str| {
        let digest: Sha256Digest = Sha256::digest(bytes).into();
        format!(
            "{}  {}\n",
            hash_tree::hex(&digest),
            root.join(name).display()
        )
    };
    let expected = [
        line(b"alpha", "a"),
        line(&big, "big"),
        line(b"bravo", "sub/b"),
    ]
    .concat();

    assert_eq!(
        run_program(&["--no-progress", root_arg]),
        (0, expected.clone())
    );
    // A missing path fails alone: the rest is still hashed and printed, and the status is 1.
    assert_eq!(
        run_program(&["--no-progress", missing_arg, root_arg]),
        (1, expected.clone())
    );
    // --compare hashes three times; only the first run prints.
    assert_eq!(
        run_program(&["--compare", "--no-progress", root_arg]),
        (0, expected)
    );

    assert_eq!(run_program(&["--bogus"]).0, 2);
    assert_eq!(run_program(&["--mib", "lots"]).0, 2);
    assert_eq!(run_program(&["--files", "3", root_arg]).0, 2);
    let (status, usage) = run_program(&["--help"]);
    assert_eq!(status, 0);
    assert!(usage.starts_with("usage: batch"), "{usage}");
}

#[test]
fn checksum_lines_escape_like_sha256sum() {
    let d = [0xabu8; 32];
    let hex = "ab".repeat(32);
    let line = |p: &str| String::from_utf8(hash_tree::checksum_line(&d, Path::new(p))).unwrap();
    assert_eq!(line("plain name"), format!("{hex}  plain name\n"));
    assert_eq!(line("a\\b"), format!("\\{hex}  a\\\\b\n"));
    assert_eq!(line("a\nb\rc"), format!("\\{hex}  a\\nb\\rc\n"));
}

#[test]
fn the_data_set_is_deterministic_and_heavy_tailed() {
    let spec = dataset::Spec::new(256, 2000);
    let sizes = dataset::sizes(&spec);
    assert_eq!(sizes, dataset::sizes(&spec));
    let total: u64 = sizes.iter().sum();
    assert!((250 << 20..270 << 20).contains(&total), "{total}");
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert_eq!(*min, dataset::MIN_FILE);
    assert!(*max > 10 << 20, "largest {max}");
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    assert!(
        sorted[sizes.len() / 2] < 100 << 10,
        "median {}",
        sorted[1000]
    );
}
