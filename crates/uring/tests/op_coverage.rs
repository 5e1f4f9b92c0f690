//! Completeness of the opcode table: every opcode the running kernel supports has a
//! builder, each code is declared once, and the coverage table at the top of
//! `src/opcode.rs` names, for all 63 opcodes of 6.18, a declared builder and `#[test]`
//! functions that exist in `tests/`.
use uring_testkit as common;
use uring_testkit::test_name;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use uring::{Probe, opcode, sys};

/// The source of the opcode table, whose crate docs hold the coverage table.
const OPCODE_RS: &str = include_str!("../src/opcode.rs");

fn op_name(code: u8) -> String {
    Probe::opcode_name(code).map_or_else(|| format!("opcode {code}"), |n| format!("IORING_OP_{n}"))
}

#[test]
fn every_supported_opcode_has_a_builder() {
    let probe = match Probe::with_new_ring() {
        Ok(p) => p,
        Err(e) => return common::skip(test_name!(), &e.to_string()),
    };
    let declared: BTreeSet<u8> = opcode::DECLARED.iter().map(|&(c, _)| c).collect();
    let missing: Vec<String> = probe
        .supported()
        .filter(|c| !declared.contains(c))
        .map(op_name)
        .collect();
    assert!(
        missing.is_empty(),
        "the kernel supports these opcodes, opcode.rs has no builder for them: {missing:?}"
    );
    // The other way round: a builder for an opcode this kernel lacks is fine (older
    // kernel), but visible.
    for &(code, name) in opcode::DECLARED {
        if !probe.is_supported(code) {
            common::skip(
                &format!("builder {name}"),
                &format!("the kernel lacks {}", op_name(code)),
            );
        }
    }
}

#[test]
fn declared_has_each_code_once_and_every_opcode_of_6_18() {
    let mut by_code: BTreeMap<u8, &str> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for &(code, name) in opcode::DECLARED {
        if let Some(prev) = by_code.insert(code, name) {
            panic!("{} is declared twice: {prev} and {name}", op_name(code));
        }
        assert!(names.insert(name), "builder name {name} used twice");
    }
    let codes: Vec<u8> = by_code.keys().copied().collect();
    let want: Vec<u8> = (0..sys::IORING_OP_LAST).collect();
    assert_eq!(
        codes, want,
        "DECLARED must hold IORING_OP_NOP ..= IORING_OP_PIPE"
    );
}

/// One row of the coverage table.
#[derive(Debug)]
struct Row {
    code: u8,
    opcode: String,
    builder: String,
    tests: Vec<(String, String)>,
}

/// Parses `//! | code | `NAME` | [`Builder`] | `file::test`, … |` rows.
fn coverage_rows(src: &str) -> Vec<Row> {
    let strip = |s: &str| {
        s.trim()
            .trim_matches(|c| c == '`' || c == '[' || c == ']')
            .to_string()
    };
    src.lines()
        .filter_map(|l| l.strip_prefix("//! |"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.trim_end().trim_end_matches('|').split('|').collect();
            let code = cols.first()?.trim().parse::<u8>().ok()?;
            assert_eq!(cols.len(), 4, "a row has 4 columns: {l}");
            let tests = cols[3]
                .split(',')
                .map(|t| {
                    let t = strip(t);
                    let (file, func) = t
                        .split_once("::")
                        .unwrap_or_else(|| panic!("test `{t}` is not file::function"));
                    (file.to_string(), func.to_string())
                })
                .collect();
            Some(Row {
                code,
                opcode: strip(cols[1]),
                builder: strip(cols[2]),
                tests,
            })
        })
        .collect()
}

#[test]
fn coverage_table_names_a_builder_and_a_test_for_every_opcode() {
    let rows = coverage_rows(OPCODE_RS);
    let declared: BTreeMap<u8, &str> = opcode::DECLARED.iter().copied().collect();
    let codes: Vec<u8> = rows.iter().map(|r| r.code).collect();
    let want: Vec<u8> = (0..sys::IORING_OP_LAST).collect();
    assert_eq!(codes, want, "one row per opcode, in order");

    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        assert_eq!(
            row.opcode,
            sys::IORING_OP_NAMES[row.code as usize],
            "row {}: the opcode's name",
            row.code
        );
        assert_eq!(
            declared.get(&row.code).copied(),
            Some(row.builder.as_str()),
            "row {} ({}): the builder must be the one DECLARED for the code",
            row.code,
            row.opcode
        );
        assert!(!row.tests.is_empty(), "row {}: no test", row.code);
        for (file, func) in &row.tests {
            let src = sources.entry(file.clone()).or_insert_with(|| {
                std::fs::read_to_string(tests_dir.join(format!("{file}.rs")))
                    .unwrap_or_else(|e| panic!("row {}: tests/{file}.rs: {e}", row.code))
            });
            assert!(
                src.contains(&format!("#[test]\nfn {func}()")),
                "row {} ({}): no #[test] fn {func} in tests/{file}.rs",
                row.code,
                row.opcode
            );
        }
    }
}

#[test]
fn the_table_parser_rejects_what_it_should() {
    // The checks above must be able to fail: a row naming an unknown test or builder.
    let bad = "//! | 0 | `NOP` | [`Nope`] | `op_misc::no_such_test` |\n";
    let rows = coverage_rows(bad);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].builder, "Nope");
    assert_ne!(opcode::DECLARED[0].1, rows[0].builder);
    assert_eq!(
        rows[0].tests,
        [("op_misc".to_string(), "no_such_test".to_string())]
    );
    let src = include_str!("op_misc.rs");
    assert!(!src.contains("#[test]\nfn no_such_test()"));
    // Header and separator lines are not rows.
    assert!(
        coverage_rows("//! | code | opcode | builder | test |\n//! |-----:|--|--|--|\n").is_empty()
    );
}
