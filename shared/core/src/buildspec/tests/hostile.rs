//! Hostile and degenerate input is refused with a specific error, in bounded time and memory.

use crate::buildspec::{ErrorKind, MAX_BYTES, parse};

fn only_error(bytes: &[u8]) -> (ErrorKind, usize, usize) {
    let errors = match parse(bytes) {
        Ok(_) => panic!("expected an error"),
        Err(errors) => errors,
    };
    let [error] = errors.errors() else {
        panic!("expected one error, got:\n{errors}")
    };
    (error.kind.clone(), error.line, error.column)
}

/// The billion-laughs document: ten levels, each alias list ten times the previous.
pub(crate) fn billion_laughs() -> String {
    let mut yaml = String::from("version: 0.2\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        yaml.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    yaml.push_str("phases: {build: {commands: *a9}}\n");
    yaml
}

#[test]
fn a_file_over_4_mib_is_refused_before_parsing() {
    let bytes = vec![b'#'; 20 * 1024 * 1024];
    let (kind, line, column) = only_error(&bytes);
    assert_eq!(
        kind,
        ErrorKind::TooLarge {
            size: 20 * 1024 * 1024,
            limit: MAX_BYTES
        }
    );
    assert_eq!((line, column), (1, 1));
    assert!(kind.to_string().contains("4 MiB"), "{kind}");
}

#[test]
fn billion_laughs_hits_the_alias_budget() {
    let (kind, line, _) = only_error(billion_laughs().as_bytes());
    assert_eq!(kind, ErrorKind::AliasBudget { limit: 100_000 });
    assert!(
        line >= 6,
        "the budget runs out on a late alias line, got line {line}"
    );
}

#[test]
fn flow_nesting_10000_deep_is_refused_without_overflowing_the_stack() {
    let yaml = format!("version: 0.2\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let (kind, line, column) = only_error(yaml.as_bytes());
    assert_eq!(kind, ErrorKind::TooDeep { limit: 64 });
    // The scanner reads ahead through flow brackets and stops itself at 255 levels (column 4 + 255).
    assert_eq!((line, column), (2, 259));
}

#[test]
fn block_nesting_10000_deep_is_refused_without_overflowing_the_stack() {
    let yaml = format!("version: 0.2\nx:\n{}a\n", "- ".repeat(10_000));
    let (kind, line, _) = only_error(yaml.as_bytes());
    assert_eq!(kind, ErrorKind::TooDeep { limit: 64 });
    assert_eq!(line, 3);
}

#[test]
fn mapping_nesting_10000_deep_is_refused_without_overflowing_the_stack() {
    let yaml = format!(
        "version: 0.2\nx: {}1{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    let (kind, _, _) = only_error(yaml.as_bytes());
    assert_eq!(kind, ErrorKind::TooDeep { limit: 64 });
}

#[test]
fn a_4_mib_file_of_tiny_list_items_hits_the_node_cap() {
    let yaml = format!("version: 0.2\nx: [{}]\n", vec!["a"; 2_000_000].join(","));
    assert!(yaml.len() < MAX_BYTES);
    let (kind, line, _) = only_error(yaml.as_bytes());
    assert_eq!(kind, ErrorKind::TooManyNodes { limit: 250_000 });
    assert_eq!(line, 2);
}

#[test]
fn invalid_utf8_is_reported_at_its_position() {
    let (kind, line, column) = only_error(b"version: 0.2\nphases:\n  build:\n    commands: [\"caf\xe9\"]\n");
    assert_eq!(kind, ErrorKind::NotUtf8 { offset: 49 });
    assert_eq!((line, column), (4, 20));
}

#[test]
fn an_empty_file_and_a_comment_only_file_are_empty() {
    for bytes in [&b""[..], b"   \n\n", b"# nothing here\n", b"---\n"] {
        let (kind, line, column) = only_error(bytes);
        assert_eq!(
            kind,
            ErrorKind::Empty,
            "input {:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!((line, column), (1, 1));
    }
}

#[test]
fn parse_never_panics_on_truncated_or_mangled_fixtures() {
    let dir = super::fixtures_dir().join("buildspecs");
    let mut inputs = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read fixture");
        for cut in (0..bytes.len()).step_by(bytes.len() / 20 + 1) {
            let _ = parse(&bytes[..cut]);
            let mut mangled = bytes.clone();
            mangled[cut] = [b'\t', b'"', b'[', b':', b'&', b'*', 0xff][cut % 7];
            let _ = parse(&mangled);
            inputs += 2;
        }
    }
    assert!(inputs > 1000, "only {inputs} inputs were tried");
}
