//! Property tests: next_after against a brute-force minute-by-minute matcher.
