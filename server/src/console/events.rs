//! The notice stream's page, `GET /console/events`: the latest 200 notices (build state and phase changes),
//! newest first, read from the notice feed.

use axum::extract::State;
use kiln_core::notice::{NoticeDetail, NoticeEvent};
use maud::{Markup, html};

use super::ConsoleError;
use super::html::{self, pct};
use crate::AppState;

/// How many notices the events page shows.
const EVENTS_SHOWN: usize = 200;

/// The largest cursor in the feed (0 when empty): doubling, then bisection, over "is there a notice after c?".
async fn last_cursor(feed: &dyn kiln_core::ports::notifier::NoticeFeed) -> Result<u64, ConsoleError> {
    let exists_after = |c: u64| async move { Ok::<_, ConsoleError>(!feed.after(c, 1).await?.is_empty()) };
    if !exists_after(0).await? {
        return Ok(0);
    }
    let mut low = 0; // a notice exists after `low`
    let mut high = 1024; // none after `high`, once found
    while exists_after(high).await? {
        low = high;
        high = high.saturating_mul(2);
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if exists_after(mid).await? {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(high)
}

/// `GET /console/events`: the latest notices, newest first.
pub async fn events(State(state): State<AppState>) -> Result<Markup, ConsoleError> {
    // The feed reads forwards only: find the last cursor in O(log n) probes, then read the last 200 from there.
    let Some(feed) = &state.feed else {
        return Err(ConsoleError::NotFound(
            "this deployment keeps no notice feed; notices go to the notice topic and queue".into(),
        ));
    };
    let last = last_cursor(feed.as_ref()).await?;
    let recent = feed
        .after(last.saturating_sub(EVENTS_SHOWN as u64), EVENTS_SHOWN)
        .await?;
    let body = html! {
        h1 { "Events" }
        p { "Build state and phase changes, newest first (the last 200)." }
        div class="scroll" { table {
            thead { tr {
                th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Type" }
                th scope="col" { "Project" } th scope="col" { "Build" } th scope="col" { "State" }
            } }
            tbody { @for (cursor, event) in recent.iter().rev() { (event_row(*cursor, event)) } }
        } }
    };
    Ok(html::page("Events", body))
}

/// One row of the events table: cursor, time, type, project, build and what changed.
fn event_row(cursor: u64, event: &NoticeEvent) -> Markup {
    let detail = &event.detail;
    let id = detail.build_arn().as_str();
    let (phase, state_text) = match detail {
        NoticeDetail::State(d) => ("", d.build_status.as_str()),
        NoticeDetail::Phase(d) => (d.completed_phase.as_str(), d.completed_phase_status.as_str()),
    };
    html! {
        tr {
            td { (cursor) }
            td { (html::time(html::parse_iso(&event.time))) }
            td { (event.detail_type) }
            td { (detail.project_name().as_str()) }
            td {
                @match id.rsplit_once('/') {
                    Some((_, short)) => a href={ "/console/builds/" (pct(short)) } { (short) },
                    None => (id),
                }
            }
            td { (phase) " " (html::status(state_text)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::build::{AccountContext, Build, BuildId, Timestamp};
    use kiln_core::ports::BoxFuture;
    use kiln_core::ports::build_store::StoreError;
    use kiln_core::usecases::notices::{NoticeSource, notices_for};

    struct Cursors(Vec<u64>);

    /// Some notice (the probe only counts them).
    fn event() -> NoticeEvent {
        let id = BuildId::parse("web:0b0e7a9c-6c1c-4c3a-9a57-1d2e3f405162").expect("id");
        let build = Build::new(id, 1, &AccountContext::local(), Timestamp::from_epoch_millis(0));
        notices_for(&NoticeSource::default(), None, &build, 0)
            .remove(0)
            .event
    }

    impl kiln_core::ports::notifier::NoticeFeed for Cursors {
        fn after(
            &self,
            cursor: u64,
            limit: usize,
        ) -> BoxFuture<'_, Result<Vec<(u64, NoticeEvent)>, StoreError>> {
            let found = self
                .0
                .iter()
                .filter(|c| **c > cursor)
                .take(limit)
                .map(|c| (*c, event()));
            let found: Vec<_> = found.collect();
            Box::pin(async move { Ok(found) })
        }
    }

    #[test]
    fn the_last_cursor_is_found_by_probing_whatever_the_gaps() {
        let cases: [(Vec<u64>, u64); 5] = [
            (vec![], 0),
            (vec![1], 1),
            ((1..=5000).collect(), 5000),
            (vec![3, 1500, 70_000], 70_000),
            ((1..=1024).collect(), 1024),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for (cursors, expected) in cases {
            let feed = Cursors(cursors);
            let last = runtime.block_on(last_cursor(&feed)).expect("probe");
            assert_eq!(last, expected);
        }
    }
}
