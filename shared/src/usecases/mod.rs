//! Use cases: what the orchestrator does (accept a delivery, start, stop, retry, dispatch, record a phase,
//! finish, reconcile), written against the [`crate::ports`] traits so `kiln serve` (SQLite, child processes)
//! and the Lambda functions (DynamoDB, ECS) run the same code. The clock is a parameter: nothing here reads it.

pub mod notices;
