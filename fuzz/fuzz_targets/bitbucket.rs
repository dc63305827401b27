//! Bitbucket Cloud deliveries: arbitrary body bytes for each event key the parser knows.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for event in [
        "repo:push",
        "pullrequest:created",
        "pullrequest:fulfilled",
        "pullrequest:rejected",
    ] {
        kiln_fuzz::run(&[("X-Event-Key", event), ("X-Hook-UUID", "{fuzz}")], data);
    }
});
