//! The reaper function against moto: a build whose task runs past its build timeout ends TIMED_OUT and its task
//! is stopped (StopTask); a build past its queued timeout ends TIMED_OUT; the slots are given back.

use std::time::Duration;

use kiln_core::build::BuildId;
use kiln_core::usecases::dispatch_one::DispatchOutcome;
use kiln_fn_reaper::handle;
use serde_json::json;

use crate::aws_support::with_moto;
use crate::fn_support::{now, project, record, stack, start};

#[test]
fn the_reaper_ends_builds_past_their_timeouts_and_stops_their_tasks() {
    with_moto(|clients, endpoint| async move {
        let stack = stack(&clients, &endpoint).await;
        project(&stack, "web", Some(1), json!({})).await;
        let running = start(&stack, "web").await;
        let waiting = start(&stack, "web").await;
        let DispatchOutcome::Launched { task } = stack
            .services
            .dispatch_build(&BuildId::parse(&running).expect("id"), now())
            .await
            .expect("dispatch")
        else {
            panic!("the first build launches");
        };

        let early = handle(&stack.services, now()).await.expect("reaper");
        assert_eq!(early, kiln_fn_reaper::Reaped::default(), "nothing is overdue yet");

        // Past the 60-minute build timeout; the waiting build's 480-minute queued timeout is not reached yet.
        let later = now().plus(Duration::from_secs(61 * 60));
        let reaped = handle(&stack.services, later).await.expect("reaper");
        assert_eq!(reaped.timed_out, std::slice::from_ref(&running));
        assert!(reaped.expired.is_empty() && reaped.faulted.is_empty());
        let ended = record(&stack, &running).await;
        assert_eq!(ended["buildStatus"], "TIMED_OUT");
        assert!(
            ended["phases"][2]["contexts"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("timed out after 60 minutes")
        );
        let described = clients
            .ecs
            .describe_tasks()
            .cluster("builds")
            .tasks(&task)
            .send()
            .await
            .expect("describe");
        assert_eq!(
            described.tasks()[0].desired_status(),
            Some("STOPPED"),
            "StopTask was called"
        );
        assert_eq!(stack.store.running_count(Some("web")).await.expect("count"), 0);

        let much_later = now().plus(Duration::from_secs(481 * 60));
        let reaped = handle(&stack.services, much_later).await.expect("reaper");
        assert_eq!(reaped.expired, std::slice::from_ref(&waiting));
        assert_eq!(record(&stack, &waiting).await["buildStatus"], "TIMED_OUT");
    });
}
