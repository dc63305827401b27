//! AWS in a box: the serverless Kiln of `template.yaml` on one machine, with no AWS account. [`start`] runs
//! the template through the SAM transform ([`template`]), creates its resources in moto ([`provision`]),
//! reads the functions and what invokes them from the transformed template ([`wiring`]), builds the seven
//! functions in-process from their template environments ([`functions`]), and plays the services that would
//! invoke them: Function URLs and the HTTP API on loopback ports ([`gateway`]), SQS event source mappings
//! ([`queues`]), EventBridge rules and schedules ([`rules`]), and ECS running build tasks as local `kiln
//! runner` processes ([`tasks`]). Because everything is read from the template, removing an event source from
//! it removes it from the box.

pub mod functions;
pub mod gateway;
pub mod moto;
pub mod outputs;
pub mod provision;
pub mod queues;
pub mod rules;
mod start;
pub mod tasks;
pub mod template;
pub mod wiring;

pub use start::{BoxError, BoxOptions, Listener, RunningBox, start};

/// moto's account id, the box's account.
pub const ACCOUNT: &str = "123456789012";
