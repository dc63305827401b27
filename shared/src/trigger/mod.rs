//! Webhook triggers: signature verification, provider payloads normalised into one event, filter groups.
pub mod filter;
