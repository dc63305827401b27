//! Gitea/Forgejo deliveries (they also send X-GitHub-Event): arbitrary body bytes for each event.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for event in ["push", "pull_request", "release"] {
        kiln_fuzz::run(
            &[
                ("X-Gitea-Event", event),
                ("X-Forgejo-Event", event),
                ("X-GitHub-Event", event),
            ],
            data,
        );
    }
});
