use std::path::PathBuf;

use super::*;

fn data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

fn group(files: &[&str], format: Option<&str>) -> ReportSpec {
    ReportSpec {
        name: "unit".into(),
        files: files.iter().map(|f| (*f).to_owned()).collect(),
        base_directory: Some("reports".into()),
        discard_paths: false,
        file_format: format.map(str::to_owned),
    }
}

/// (total, passed, failed, skipped, errors)
type Counts = (u64, u64, u64, u64, u64);

/// (files, file-format, counts, failing names)
type Case<'a> = (&'a [&'a str], &'a str, Counts, &'a [&'a str]);

fn counts(s: &ReportGroupSummary) -> Counts {
    (s.total, s.passed, s.failed, s.skipped, s.errors)
}

#[test]
fn a_pytest_junit_report_is_summarised() {
    let s = summarise(&group(&["pytest-junit.xml"], None), &data());
    insta::assert_json_snapshot!(s);
}

#[test]
fn each_test_format_is_counted_by_outcome() {
    let cases: &[Case<'_>] = &[
        (
            &["pytest-junit.xml", "TEST-*.xml"],
            "junitxml",
            (8, 4, 1, 2, 1),
            &["tests.test_api.test_delete_user", "tests.test_db.test_pool"],
        ),
        (&["TEST-*.xml"], "JUnitXml", (3, 2, 0, 1, 0), &[]),
        (
            &["*.trx"],
            "VISUALSTUDIOTRX",
            (3, 1, 1, 1, 0),
            &["Calculator.Tests.DivideTests.Divides_by_zero"],
        ),
        (
            &["cucumber.json"],
            "CucumberJson",
            (3, 1, 1, 1, 0),
            &["Login: Wrong password"],
        ),
        (
            &["nunit3.xml"],
            "NUNIT3XML",
            (3, 1, 0, 1, 1),
            &["Shop.Tests.CartTests.AppliesDiscount"],
        ),
        (
            &["testng-results.xml"],
            "TESTNGXML",
            (3, 1, 1, 1, 0),
            &["com.example.OrderTest.refundsOrder"],
        ),
    ];
    for (files, format, want, failing) in cases {
        let s = summarise(&group(files, Some(format)), &data());
        assert_eq!(counts(&s), *want, "{format} {files:?}: {s:?}");
        assert_eq!(s.failing, *failing, "{format}");
        assert!(s.problems.is_empty(), "{format}: {:?}", s.problems);
        let want_status = if want.2 + want.4 > 0 {
            "FAILED"
        } else {
            "SUCCEEDED"
        };
        assert_eq!(s.status, want_status);
        assert_eq!(s.report_type, "TEST");
    }
}

#[test]
fn durations_come_from_each_format_in_its_own_unit() {
    let trx = summarise(&group(&["dotnet.trx"], Some("VISUALSTUDIOTRX")), &data());
    assert_eq!(trx.duration_seconds, 0.046);
    let cucumber = summarise(&group(&["cucumber.json"], Some("CUCUMBERJSON")), &data());
    assert_eq!(cucumber.duration_seconds, 0.2);
    let testng = summarise(&group(&["testng-results.xml"], Some("TESTNGXML")), &data());
    assert_eq!(testng.duration_seconds, 0.42);
}

#[test]
fn coverage_reports_give_line_coverage() {
    for (file, format, percent) in [
        ("cobertura.xml", "COBERTURAXML", 85.0),
        ("jacoco.xml", "jacocoxml", 80.0),
    ] {
        let s = summarise(&group(&[file], Some(format)), &data());
        assert_eq!(s.line_coverage_percent, Some(percent), "{format}: {s:?}");
        assert_eq!(s.report_type, "CODE_COVERAGE");
        assert_eq!(s.files, 1);
    }
}

fn temp_reports(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join("reports").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

#[test]
fn malformed_files_become_problems_and_good_files_still_count() {
    let dir = temp_reports(&[
        ("a.xml", "<testsuite><testcase name=\"ok\"/></testsuite>"),
        ("b.xml", "<testsuite><testcase name=\"broken\"></testsuite>"),
        ("c.xml", "not xml at all"),
    ]);
    let s = summarise(&group(&["*.xml"], None), dir.path());
    assert_eq!(s.total, 1);
    assert_eq!(s.files, 1);
    assert_eq!(s.problems.len(), 2, "{:?}", s.problems);
    assert!(
        s.problems[0].starts_with("b.xml: invalid XML"),
        "{:?}",
        s.problems
    );
}

#[test]
fn a_group_with_no_files_or_an_unknown_format_is_incomplete_not_an_error() {
    let dir = temp_reports(&[("a.xml", "<testsuite/>")]);
    let none = summarise(&group(&["missing/*.xml"], None), dir.path());
    assert_eq!(none.status, "INCOMPLETE");
    assert!(
        none.problems[0].contains("no report files matched"),
        "{:?}",
        none.problems
    );
    let unknown = summarise(&group(&["a.xml"], Some("XUNITXML")), dir.path());
    assert_eq!(unknown.status, "INCOMPLETE");
    assert_eq!(unknown.format, "XUNITXML");
    assert!(
        unknown.problems[0].contains("unknown file-format"),
        "{:?}",
        unknown.problems
    );
}

#[test]
fn failing_names_are_capped() {
    let cases: String = (0..60)
        .map(|i| format!("<testcase name=\"t{i}\"><failure/></testcase>"))
        .collect();
    let dir = temp_reports(&[("many.xml", &format!("<testsuite>{cases}</testsuite>"))]);
    let s = summarise(&group(&["many.xml"], None), dir.path());
    assert_eq!(s.failed, 60);
    assert_eq!(s.failing.len(), MAX_FAILING);
}

#[test]
fn buildspec_report_groups_convert_and_summarise() {
    let yaml = br#"
version: 0.2
phases:
  build:
    commands:
      - dotnet test
reports:
  dotnet-tests:
    files:
      - '**/*.trx'
    base-directory: reports
    file-format: VisualStudioTrx
"#;
    let parsed = kiln_core::buildspec::parse(yaml).unwrap();
    let spec = ReportSpec::from(&parsed.reports[0]);
    assert_eq!(spec.file_format.as_deref(), Some("VISUALSTUDIOTRX"));
    let s = summarise(&spec, &data());
    assert_eq!((s.name.as_str(), s.total, s.failed), ("dotnet-tests", 3, 1));
}
