//! GitLab deliveries: arbitrary body bytes for each hook the parser knows.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for event in [
        "Push Hook",
        "Tag Push Hook",
        "Merge Request Hook",
        "Release Hook",
        "System Hook",
    ] {
        kiln_fuzz::run(&[("X-Gitlab-Event", event)], data);
    }
});
