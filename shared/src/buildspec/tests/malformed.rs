//! Malformed buildspecs.
