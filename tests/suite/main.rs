//! Kiln's integration tests: one binary, one module per area. Test names read as sentences.

mod aws_dynamodb;
mod aws_ecs;
mod aws_notify;
mod aws_projects;
mod aws_runner;
mod aws_s3;
mod aws_secrets;
mod aws_support;
mod buildspec;
mod codecommit;
mod codecommit_lambda;
mod console;
mod console_http;
mod executor;
mod fn_dispatch;
mod fn_reaper;
mod fn_support;
mod fn_task_events;
mod harness;
mod kiln_run;
mod projects_apply;
mod serve;
mod serve_clock;
mod serve_forks;
mod template;
