//! Kiln's integration tests: one binary, one module per area. Test names read as sentences.

mod aws_dynamodb;
mod aws_ecs;
mod aws_notify;
mod aws_s3;
mod aws_secrets;
mod aws_support;
mod buildspec;
mod console;
mod console_http;
mod executor;
mod fn_api;
mod fn_schedule;
mod fn_support;
mod fn_webhook;
mod harness;
mod kiln_run;
mod serve;
mod template;
