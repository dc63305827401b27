//! GitHub deliveries: arbitrary body bytes for each event the parser knows.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for event in ["push", "pull_request", "release"] {
        kiln_fuzz::run(&[("X-GitHub-Event", event), ("X-GitHub-Delivery", "fuzz")], data);
    }
});
