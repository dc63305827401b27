//! `kiln serve --sqlite-sync full`: every commit synced to disk. The server accepts and runs builds as with the
//! default, and its runners are started with the same setting.

use kiln_tests::kiln::{GitRepo, TestKiln};

#[test]
fn a_server_with_full_sync_runs_builds_and_passes_the_setting_to_its_runners() {
    let repo = GitRepo::with_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 1\n");
    let config = format!(
        "projects:\n  - name: app\n    source:\n      type: GIT\n      location: {}\n    artifacts:\n      \
         type: NO_ARTIFACTS\n",
        repo.url()
    );
    let kiln = TestKiln::spawn_with(&config, &["--sqlite-sync", "full"]);
    let id = kiln.start_build("app");
    // While the build sleeps, its runner's command line carries the setting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let cmdline = loop {
        let found = kiln.runner_pids().into_iter().find_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.iter().any(|a| a == "runner").then_some(args)
        });
        if let Some(args) = found {
            break args;
        }
        assert!(std::time::Instant::now() < deadline, "no runner process appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        cmdline
            .windows(2)
            .any(|w| w[0] == "--sqlite-sync" && w[1] == "full"),
        "{cmdline:?}"
    );
    let build = kiln.wait_for(&id, "TERMINAL");
    assert_eq!(build["buildStatus"], "SUCCEEDED", "{build}");
}

#[test]
fn an_unknown_sync_mode_is_refused_with_the_choices() {
    let out = std::process::Command::new(kiln_tests::kiln::kiln_bin())
        .args(["serve", "--sqlite-sync", "sometimes"])
        .output()
        .expect("kiln runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sometimes") && stderr.contains("normal or full"),
        "{stderr}"
    );
}
