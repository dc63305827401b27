//! EventBridge on this machine: the template's rules with an event pattern form the box's default bus
//! ([`Bus::put`] matches an event against each pattern and invokes the targets asynchronously, retried twice on
//! a function error as Lambda's asynchronous invocation does, here after 1 and 2 seconds); rules with a
//! schedule expression fire their targets with a "Scheduled Event" on their `rate(..)` or `cron(..)` (or every
//! `--schedule-every`, to see the reaper work without waiting five minutes).
//!
//! Patterns are matched as EventBridge matches literal values: each key of the pattern must be in the event;
//! a list matches a value in it (or, for a list in the event, any shared value); an object matches an object
//! recursively. Content filters (`prefix`, `anything-but`, `numeric`, `exists`, ...) are refused at start.

use std::sync::Arc;
use std::time::Duration;

use kiln_core::schedule::Schedule;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::functions::Function;
use crate::wiring::RuleSource;

/// A rule with its targets' functions.
pub struct Rule {
    pub source: RuleSource,
    pub targets: Vec<(Arc<Function>, Option<Value>)>,
}

/// The event bus the box's ECS plays into (task state changes).
pub struct Bus {
    rules: Vec<Rule>,
    pub region: String,
    pub account: String,
}

/// Why a rule cannot be played.
pub fn check_pattern(pattern: &Value) -> Result<(), String> {
    match pattern {
        Value::Object(map) => map.values().try_for_each(check_pattern),
        Value::Array(items) => items.iter().try_for_each(|item| match item {
            Value::Object(filter) => Err(format!(
                "content filter {} is not matched by the box",
                filter.keys().next().map_or("{}", String::as_str)
            )),
            _ => Ok(()),
        }),
        other => Err(format!(
            "{other} is not a pattern (lists of values and objects are)"
        )),
    }
}

/// Whether `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, wanted)| {
        let Some(value) = event.get(key) else {
            return false;
        };
        match wanted {
            Value::Array(allowed) => match value {
                Value::Array(values) => values.iter().any(|v| allowed.contains(v)),
                scalar => allowed.contains(scalar),
            },
            Value::Object(_) => matches(wanted, value),
            _ => false,
        }
    })
}

impl Bus {
    /// The bus of the rules that have a pattern.
    pub fn new(rules: Vec<Rule>, region: &str, account: &str) -> Bus {
        Bus {
            rules: rules.into_iter().filter(|r| r.source.pattern.is_some()).collect(),
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }

    /// An event in EventBridge's envelope.
    pub fn envelope(&self, source: &str, detail_type: &str, resources: &[String], detail: Value) -> Value {
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": detail_type,
            "source": source,
            "account": self.account,
            "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": self.region,
            "resources": resources,
            "detail": detail
        })
    }

    /// Puts `event` on the bus: every matching rule's targets are invoked (not awaited); returns how many.
    pub fn put(&self, event: &Value) -> usize {
        let mut delivered = 0;
        for rule in &self.rules {
            if rule.source.pattern.as_ref().is_some_and(|p| matches(p, event)) {
                for (function, input) in &rule.targets {
                    deliver(function.clone(), input.clone().unwrap_or_else(|| event.clone()));
                    delivered += 1;
                }
            }
        }
        delivered
    }
}

/// Invokes asynchronously: two retries after a function error.
fn deliver(function: Arc<Function>, payload: Value) {
    tokio::spawn(async move {
        for attempt in 0..3_u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            if function.invoke(payload.clone()).await.is_ok() {
                return;
            }
        }
        tracing::warn!(function = %function.declaration.id, "an event failed three times and is dropped");
    });
}

/// Fires a scheduled rule until `shutdown`, every `every` when given, else on its expression.
pub async fn run_schedule(rule: Rule, bus: Arc<Bus>, every: Option<Duration>, shutdown: CancellationToken) {
    let Some(expression) = rule.source.schedule.clone() else {
        return;
    };
    let schedule = match Schedule::parse(&expression, "UTC") {
        Ok(schedule) => schedule.starting_at(chrono::Utc::now()),
        Err(err) => {
            tracing::error!(rule = %rule.source.id, error = %err, "the schedule expression does not parse");
            return;
        }
    };
    loop {
        let wait = match every {
            Some(every) => every,
            None => match schedule.next_after(chrono::Utc::now()) {
                Some(next) => (next - chrono::Utc::now()).to_std().unwrap_or_default(),
                None => return,
            },
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let event = bus.envelope(
            "aws.events",
            "Scheduled Event",
            std::slice::from_ref(&rule.source.arn),
            json!({}),
        );
        tracing::info!(rule = %rule.source.id, "schedule fired");
        for (function, input) in &rule.targets {
            deliver(function.clone(), input.clone().unwrap_or_else(|| event.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_task_of_the_cluster_matches_and_others_do_not() {
        let pattern = json!({
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {"clusterArn": ["arn:aws:ecs:us-east-1:1:cluster/builds"], "lastStatus": ["STOPPED"]}
        });
        let event = |cluster: &str, status: &str| {
            json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "resources": ["t"],
                   "detail": {"clusterArn": cluster, "lastStatus": status, "containers": []}})
        };
        assert!(matches(
            &pattern,
            &event("arn:aws:ecs:us-east-1:1:cluster/builds", "STOPPED")
        ));
        assert!(!matches(
            &pattern,
            &event("arn:aws:ecs:us-east-1:1:cluster/other", "STOPPED")
        ));
        assert!(!matches(
            &pattern,
            &event("arn:aws:ecs:us-east-1:1:cluster/builds", "RUNNING")
        ));
        assert!(matches(&json!({"resources": ["t", "u"]}), &event("c", "STOPPED")));
        assert!(check_pattern(&pattern).is_ok());
        let err = check_pattern(&json!({"source": [{"prefix": "aws."}]})).expect_err("refused");
        assert!(err.contains("prefix"), "{err}");
    }
}
