//! Tests of the buildspec parser: the real fixtures (pinned with insta snapshots), malformed buildspecs with
//! their exact errors, and hostile input.

mod accepted;
mod fixtures;
mod hostile;
mod malformed;

pub(crate) use crate::test_support::fixtures_dir;
