//! The CSV example's logic (`examples/csv_aggregate.rs`): on small generated files every
//! engine — corepool's stream, rayon, one thread — gives the totals of an independent
//! line-by-line model, and a malformed line is reported with its line number, wherever it
//! is; chunk boundaries (tiny chunks, lines longer than a chunk, no final newline) change
//! nothing; and the corepool engine stops reading the file within a window of the error.

mod common;

#[allow(dead_code)]
#[path = "../examples/csv_aggregate.rs"]
mod csv_aggregate;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use corepool::{Pool, Progress, Sizing};
use csv_aggregate::{
    aggregate_corepool, aggregate_rayon, aggregate_serial, generate, Malformed, RunError, Stats,
    StreamOptions, Summary,
};

const LIMIT: Duration = Duration::from_secs(120);

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers))
        .build()
        .unwrap()
}

/// The totals, computed the plain way: `str::lines`, `split(',')`, `str::parse`.
fn model(path: &Path) -> BTreeMap<String, Stats> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut stores: BTreeMap<String, Stats> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (quantity, price): (u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        let s = stores.entry(f[1].to_string()).or_default();
        s.orders += 1;
        s.units += quantity;
        s.revenue_cents += quantity * price;
        s.largest_order_cents = s.largest_order_cents.max(quantity * price);
    }
    stores
}

/// Every engine on `path`, corepool and one thread with several chunk sizes.
fn every_engine(path: &Path) -> Vec<(String, Result<Summary, RunError>)> {
    let mut runs = Vec::new();
    for workers in [1, 2] {
        let pool = pool(workers);
        for (chunk_bytes, window) in [(16, 1), (4 << 10, 3), (1 << 20, 8)] {
            let options = StreamOptions {
                chunk_bytes,
                window,
            };
            let progress = Progress::new();
            let result = aggregate_corepool(&pool, path, options, &progress, &mut || {});
            if result.is_ok() {
                let size = std::fs::metadata(path).unwrap().len();
                assert_eq!(progress.weight_done(), size, "every byte counted once");
            }
            runs.push((format!("corepool {workers}w {options:?}"), result));
        }
    }
    for chunk_bytes in [16, 4 << 10] {
        let result = aggregate_serial(path, chunk_bytes, &mut |_| {});
        runs.push((format!("serial chunk {chunk_bytes}"), result));
    }
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    runs.push(("rayon".to_string(), aggregate_rayon(&rayon, path)));
    runs
}

#[test]
fn every_engine_gives_the_models_totals() {
    common::watchdog("csv totals", LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sales.csv");
        let generated = generate(&path, 300 << 10, None).unwrap();
        let expected = model(&path);
        assert!(expected.len() > 500, "{} stores", expected.len());
        for (engine, result) in every_engine(&path) {
            let summary = result.unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!(summary.lines, generated.lines, "{engine}");
            assert_eq!(summary.records, generated.lines - 1, "{engine}");
            assert!(summary.stores == expected, "{engine}: totals differ");
        }
    });
}

#[test]
fn a_malformed_line_is_named_by_its_number() {
    common::watchdog("csv bad line", LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        let lines = generate(&path, 200 << 10, None).unwrap().lines;
        for bad in [1, 2, 3, 777, lines / 2, lines - 1, lines] {
            generate(&path, 200 << 10, Some(bad)).unwrap();
            for (engine, result) in every_engine(&path) {
                match result {
                    Err(RunError::Malformed { line, why }) => {
                        assert_eq!(line, bad, "{engine}");
                        if bad == 1 {
                            assert_eq!(why, Malformed::Header, "{engine}");
                        } else {
                            assert_eq!(
                                why,
                                Malformed::NotANumber("quantity", "three".into()),
                                "{engine}"
                            );
                        }
                    }
                    other => panic!("{engine}, bad line {bad}: {other:?}"),
                }
            }
        }
    });
}

#[test]
fn the_first_of_two_malformed_lines_wins_and_odd_shapes_parse() {
    common::watchdog("csv shapes", LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.csv");
        generate(&path, 100 << 10, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();

        // No final newline, and a line far longer than the smallest chunk.
        lines[10] = format!("10,store-{},SKU-1,1,5", "x".repeat(300));
        std::fs::write(&path, lines.join("\n")).unwrap();
        let expected = model(&path);
        for (engine, result) in every_engine(&path) {
            let summary = result.unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!(summary.lines, lines.len() as u64, "{engine}");
            assert!(summary.stores == expected, "{engine}: totals differ");
        }

        // An empty line at line 200 and a short one at 1,500: corepool and one thread stop
        // at the first; rayon reports whichever it meets first, so it is checked for being
        // one of the two.
        lines[199].clear();
        lines[1_499] = "1,store-1,SKU-1,1".to_string();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for (engine, result) in every_engine(&path) {
            match result {
                Err(RunError::Malformed { line, why }) if engine == "rayon" => {
                    assert!(
                        (line, &why) == (200, &Malformed::FieldCount(1))
                            || (line, &why) == (1_500, &Malformed::FieldCount(4)),
                        "rayon: line {line}: {why}"
                    );
                }
                Err(RunError::Malformed { line, why }) => {
                    assert_eq!((line, why), (200, Malformed::FieldCount(1)), "{engine}");
                }
                other => panic!("{engine}: {other:?}"),
            }
        }
    });
}

#[test]
fn an_empty_file_lacks_its_header_and_a_header_alone_is_no_records() {
    common::watchdog("csv empty", LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.csv");
        std::fs::write(&path, "").unwrap();
        for (engine, result) in every_engine(&path) {
            assert!(
                matches!(
                    result,
                    Err(RunError::Malformed {
                        line: 1,
                        why: Malformed::Header
                    })
                ),
                "{engine}: {result:?}"
            );
        }
        std::fs::write(&path, format!("{}\n", csv_aggregate::HEADER)).unwrap();
        for (engine, result) in every_engine(&path) {
            let summary = result.unwrap_or_else(|e| panic!("{engine}: {e}"));
            assert_eq!((summary.lines, summary.records), (1, 0), "{engine}");
            assert!(summary.stores.is_empty(), "{engine}");
        }
    });
}

#[test]
fn the_corepool_engine_stops_reading_at_the_malformed_line() {
    common::watchdog("csv stops reading", LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("early.csv");
        let bad = 1_000;
        let generated = generate(&path, 4 << 20, Some(bad)).unwrap();
        let text = std::fs::read(&path).unwrap();
        let bad_at = text
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(bad as usize - 1)
            .map(|(i, _)| i as u64)
            .unwrap();
        for workers in [1, 2] {
            let pool = pool(workers);
            let options = StreamOptions {
                chunk_bytes: 4 << 10,
                window: 3,
            };
            let progress = Progress::new();
            let result = aggregate_corepool(&pool, &path, options, &progress, &mut || {});
            assert!(
                matches!(result, Err(RunError::Malformed { line, .. }) if line == bad),
                "{result:?}"
            );
            // Taken from the file: the chunks up to the bad line, and at most a window's
            // worth beyond it (a chunk is 4 KiB plus the partial line carried into it).
            let bound = bad_at + (options.window as u64 + 1) * (options.chunk_bytes as u64 + 64);
            let taken = progress.weight_taken();
            assert!(
                taken <= bound,
                "{workers} workers: read {taken} bytes of {}, the bad line ends at {bad_at}",
                generated.bytes
            );
        }
    });
}
