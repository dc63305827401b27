//! Buildspecs: arbitrary bytes through the whole parser (YAML events, tree with caps, validation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Either outcome is fine; a panic, a hang or unbounded memory is the bug.
    let _ = kiln_core::buildspec::parse(data);
});
