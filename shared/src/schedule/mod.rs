//! EventBridge schedule expressions: `rate(..)` and `cron(..)` with time zones, and their fire times.
