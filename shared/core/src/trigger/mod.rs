//! Webhook triggers: signature verification, provider payloads normalised into one [`TriggerEvent`], filter
//! groups with CodeBuild's semantics, and the `CODEBUILD_WEBHOOK_*` variables a triggered build gets.
//!
//! CodeCommit pushes arrive as EventBridge events instead: [`codecommit::parse_codecommit_event`].
//!
//! Entry points: [`parse_webhook`] (verify, then parse: a pure function of headers, raw body and secret),
//! [`FilterGroups::compile`] then [`CompiledFilterGroups::evaluate`], and [`webhook_variables`].

mod bitbucket;
pub mod codecommit;
mod evaluate;
mod event;
pub mod filter;
mod github;
mod gitlab;
mod headers;
mod json;
mod outcome;
mod secret;
mod variables;
mod verify;

pub use evaluate::FilterDecision;
pub use event::{Actor, DeliveryId, GitRef, Repository, TriggerEvent, WebhookEvent};
pub use filter::{CompiledFilterGroups, FilterError, FilterGroups, FilterType, WebhookFilter};
pub use headers::{Headers, Provider};
pub use outcome::{Outcome, parse_unverified, parse_webhook};
pub use secret::WebhookSecret;
pub use variables::{initiator, trigger, webhook_variables};
pub use verify::sign_hex;

#[cfg(test)]
mod tests;
