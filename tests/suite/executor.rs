//! The executor on real buildspecs from public repositories (`../shared/fixtures/buildspecs/`), run with the
//! library API as the server and `kiln run` call it, with stub tools (`npm`, `aws`, `pip`, ...) on PATH that
//! print their arguments and produce the files the buildspec expects.

// The fixture helpers below are test code outside `#[test]` functions.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::build::{PhaseType, StatusType};
use kiln_executor::artifacts::Packaging;
use kiln_executor::outputs::ArtifactTarget;
use kiln_executor::source::SourceSpec;
use kiln_executor::{BuildRequest, BuildResult, BuildspecSource, CancellationToken, Ports};
use kiln_local::object_store::DirObjectStore;
use kiln_local::{FileLogSink, LocalSecrets};

fn fixtures() -> PathBuf {
    kiln_tests::paths::fixtures_dir()
}

/// A temp workspace: `src/` (the source), `bin/` (stubs), `out/` (artifacts), and the log.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(buildspec: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["src", "bin", "out"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let text = std::fs::read(fixtures().join("buildspecs").join(buildspec)).unwrap();
        std::fs::write(dir.path().join("src/buildspec.yml"), text).unwrap();
        Self { dir }
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// Writes a source file (parents created); `executable` sets mode 755.
    fn file(&self, path: &str, content: &str, executable: bool) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        let full = self.src().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        if executable {
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        self
    }

    /// A stub tool on PATH: prints `stub <name> <args>`, then runs `body` (sh), then exits 0.
    fn stub(&self, name: &str, body: &str) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join("bin").join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"stub {name} $*\"\n{body}\nexit 0\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    async fn run(&self, secrets: &[(&str, &str)]) -> (BuildResult, String) {
        let mut request = BuildRequest::local(SourceSpec::Dir(self.src()), self.dir.path().join("work"));
        request.buildspec = BuildspecSource::Default;
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        request.base_env.retain(|(name, _)| name != "PATH");
        request.base_env.push(("PATH".into(), path));
        let mut local = LocalSecrets::new();
        for (name, value) in secrets {
            local.insert(name, value);
        }
        let log_path = self.dir.path().join("build.log");
        let ports = Ports {
            source: kiln_executor::source::SourceFetcher::default(),
            log: Arc::new(FileLogSink::create(&log_path).unwrap()),
            secrets: Arc::new(local),
            terminal: None,
            artifacts: Some(ArtifactTarget {
                store: Arc::new(DirObjectStore::new(self.dir.path().join("out"))),
                key_prefix: "artifacts".into(),
                packaging: Packaging::None,
            }),
            cache: None,
        };
        let result = kiln_executor::run(request, ports, None, CancellationToken::new()).await;
        (result, std::fs::read_to_string(log_path).unwrap())
    }

    fn artifact(&self, path: &str) -> bool {
        self.dir
            .path()
            .join("out/artifacts/artifact")
            .join(path)
            .is_file()
    }
}

fn statuses(result: &BuildResult) -> Vec<(PhaseType, StatusType)> {
    result
        .phases
        .iter()
        .filter_map(|p| Some((p.phase_type, p.phase_status?)))
        .collect()
}

fn all_succeeded(result: &BuildResult, log: &str) {
    assert_eq!(result.build_status, StatusType::Succeeded, "{log}");
    assert!(
        statuses(result).iter().all(|(_, s)| *s == StatusType::Succeeded),
        "{:?}",
        statuses(result)
    );
    assert_eq!(statuses(result).len(), 10);
}

#[tokio::test]
async fn the_petstore_api_buildspec_packages_its_template_and_uploads_it() {
    // The sample's placeholder `<REPLACE_ME_WITH_UNIQUE_BUCKET_NAME>` is shell redirection, as it would be in
    // CodeBuild: the input file must exist, and the output lands in a file named `--s3-prefix`.
    let f = Fixture::new(
        "aws-samples__aws-codepipeline-codebuild-with-postman__01api__petstore-api-buildspec.yml",
    );
    f.file("01api/petstore-api.yaml", "Resources: {}\n", false)
        .file("01api/REPLACE_ME_WITH_UNIQUE_BUCKET_NAME", "", false)
        .stub(
            "aws",
            r#"while [ $# -gt 0 ]; do [ "$1" = --output-template-file ] && echo packaged > "$2"; shift; done"#,
        );
    let (result, log) = f.run(&[]).await;
    all_succeeded(&result, &log);
    let stdout = std::fs::read_to_string(f.src().join("01api/--s3-prefix")).unwrap();
    assert!(
        stdout.starts_with("stub aws cloudformation package --template-file petstore-api.yaml"),
        "{stdout}"
    );
    assert!(f.artifact("01api/petstore-api-output.yaml"));
}

#[tokio::test]
async fn the_build_with_cache_sample_installs_tests_and_uploads_the_whole_tree() {
    let f = Fixture::new("aws-samples__aws-codebuild-samples__buildspecs__build-with-cache.yml");
    f.file("package.json", "{\"name\":\"sample\"}\n", false).stub(
        "npm",
        r#"case "$1" in install) mkdir -p node_modules/left-pad && echo 'module.exports = 1' > node_modules/left-pad/index.js ;; test) echo '1 passing' ;; esac"#,
    );
    let (result, log) = f.run(&[]).await;
    all_succeeded(&result, &log);
    assert!(
        log.contains("stub npm install") && log.contains("1 passing"),
        "{log}"
    );
    assert!(f.artifact("package.json") && f.artifact("node_modules/left-pad/index.js"));
}

#[tokio::test]
async fn the_amplify_test_buildspec_sources_its_script_in_bash_and_summarises_coverage() {
    let f = Fixture::new("aws-amplify__amplify-category-api__codebuild_specs__test.yml");
    f.file(
        "shared-scripts.sh",
        "_testLinux() {\n  [ -n \"$BASH_VERSION\" ] || return 9\n  echo \"node options: $NODE_OPTIONS\"\n  mkdir -p packages/api/coverage\n  printf '<coverage><project><metrics statements=\"10\" coveredstatements=\"8\"/></project></coverage>' > packages/api/coverage/clover.xml\n}\n",
        false,
    );
    let (result, log) = f.run(&[]).await;
    all_succeeded(&result, &log);
    assert!(log.contains("node options: --max-old-space-size=8192"), "{log}");
    assert!(f.artifact("shared-scripts.sh"));
    assert_eq!(result.reports.len(), 1);
    assert_eq!(result.reports[0].report_type, "CODE_COVERAGE");
}

#[tokio::test]
async fn the_deployment_framework_app_buildspec_expands_variables_in_artifact_paths() {
    let f = Fixture::new(
        "awslabs__aws-deployment-framework__samples__sample-mono-repo__apps__alpha__buildspec.yml",
    );
    f.file("apps/alpha/template.yml", "Resources: {}\n", false)
        .file(
            "apps/alpha/adf-build/generate_params.py",
            "import os\nos.makedirs('params', exist_ok=True)\nopen('params/global.json', 'w').write('{}')\n",
            false,
        )
        .file("apps/alpha/adf-build/requirements.txt", "", false)
        .stub("aws", "")
        .stub("pip", "")
        .stub("python", r#"exec python3 "$@""#);
    let (result, log) = f.run(&[]).await;
    all_succeeded(&result, &log);
    assert_eq!(result.runtime_versions[0].runtime, "python");
    assert!(f.artifact("apps/alpha/template.yml"), "{log}");
    assert!(f.artifact("apps/alpha/params/global.json"), "{log}");
}

#[tokio::test]
async fn the_postman_newman_buildspec_keeps_its_directory_across_phases_and_reports_junit() {
    let f = Fixture::new(
        "aws-samples__aws-codepipeline-codebuild-with-postman__03codebuild__postman-newman-buildspec.yml",
    );
    f.file("02postman/update-postman-env-file.sh", "#!/bin/sh\necho updated env file\n", true)
        .stub("yum", "")
        .stub("aws", "")
        .stub("npm", "")
        .stub(
            "newman",
            r#"mkdir -p newman && printf '<testsuites><testsuite name="pets" tests="2"><testcase name="list pets" time="0.1"/><testcase name="get pet" time="0.2"/></testsuite></testsuites>' > newman/report.xml"#,
        );
    let (result, log) = f.run(&[]).await;
    all_succeeded(&result, &log);
    assert!(log.contains("updated env file"), "{log}");
    assert!(
        log.contains("Build started on") && log.contains("from dir"),
        "{log}"
    );
    assert!(f.src().join("02postman/newman/report.xml").exists());
    assert_eq!((result.reports[0].total, result.reports[0].passed), (2, 2));
    assert!(result.runtime_versions.iter().any(|r| r.runtime == "nodejs"));
}

#[tokio::test]
async fn the_sonarqube_buildspec_reads_parameter_store_secrets_and_masks_them() {
    let f = Fixture::new("aws-samples__aws-codebuild-samples__buildspecs__sonarqube.yml");
    f.stub("wget", "touch sonar-scanner-cli-3.3.0.1492-linux.zip").stub(
        "unzip",
        "mkdir -p sonar-scanner-3.3.0.1492-linux/bin && printf '#!/bin/sh\\necho \"scanning $SONARQUBE_ENDPOINT with $SONARQUBE_TOKEN\"\\n' > sonar-scanner-3.3.0.1492-linux/bin/sonar-scanner && chmod +x sonar-scanner-3.3.0.1492-linux/bin/sonar-scanner",
    );
    let (result, log) = f
        .run(&[
            ("SonarQubeToken", "sqp_0123456789abcdef"),
            ("SonarQubeEndpoint", "https://sonar.example"),
        ])
        .await;
    all_succeeded(&result, &log);
    assert!(log.contains("scanning *** with ***"), "{log}");
    assert!(!log.contains("sqp_0123456789abcdef"));
}

#[tokio::test]
async fn a_batch_buildspec_fails_download_source_with_a_clear_yaml_file_error() {
    let f = Fixture::new("aws__aws-encryption-sdk-javascript__buildspec.yml");
    let (result, _) = f.run(&[]).await;
    let download = result
        .phases
        .iter()
        .find(|p| p.phase_type == PhaseType::DownloadSource)
        .unwrap();
    assert_eq!(download.phase_status, Some(StatusType::Failed));
    assert_eq!(download.contexts[0].status_code, "YAML_FILE_ERROR");
    assert!(download.contexts[0].message.contains("batch"));
}
