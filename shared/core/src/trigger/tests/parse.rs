//! Every fixture payload, signed and delivered, pinned as a snapshot of its outcome.

use super::fixtures::{all_webhook_files, deliver};
use crate::trigger::Outcome;

#[test]
fn there_are_sixty_eight_webhook_fixtures() {
    assert_eq!(all_webhook_files().len(), 68);
}

#[test]
fn every_fixture_maps_to_a_typed_outcome_and_matches_its_snapshot() {
    for (provider, file) in all_webhook_files() {
        let outcome = deliver(&provider, &file);
        assert!(
            !matches!(outcome, Outcome::Unauthenticated { .. }),
            "{provider}/{file} failed verification: {outcome:?}"
        );
        let name = format!("{provider}__{}", file.trim_end_matches(".json"));
        insta::assert_yaml_snapshot!(name, outcome);
    }
}
