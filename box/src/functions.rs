//! The seven functions, in-process: each `AWS::Lambda::Function` of the template becomes the handler its
//! `Metadata.BuildProperties.Binary` names, built by the function crate's own constructor (`from_wiring`, as
//! its `main` does) from the environment the template gives it, with `Ref`s and `Fn::GetAtt`s resolved to the
//! box's resources. [`Function::invoke`] takes and returns JSON, as Lambda's Invoke does: the payload is read
//! into the handler's event type with the same serde types `lambda_runtime` uses, HTTP functions go through
//! lambda_http's own adapter (`Adapter`, what `lambda_http::run` wraps the router in), errors become Lambda's
//! `{errorType, errorMessage}`, and the function's `Timeout` is enforced.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use kiln_aws::{AwsClients, AwsSettings, SettingsError};
use kiln_core::ports::dispatch_signal::DispatchSignal;
use kiln_core::usecases::Services;
use kiln_fn_dispatch::Dispatcher;
use kiln_fn_schedule::{Schedule, ScheduleInput};
use kiln_fn_task_events::TaskEvents;
use kiln_fn_webhook::Webhook;
use kiln_lambda::Wiring;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Service};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

/// Why a function could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error(
        "function {id} has no Metadata.BuildProperties.Binary; the box picks the handler by it (the template's \
         cargo-lambda binary name)"
    )]
    NoBinary { id: String },
    #[error("function {id} builds binary {binary:?}, which is not one of Kiln's seven functions")]
    UnknownBinary { id: String, binary: String },
    #[error("function {id}: {source} (its Environment in the template)")]
    Settings { id: String, source: SettingsError },
}

/// A function as the template declares it, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The logical id, e.g. `DispatchFunction`.
    pub id: String,
    /// The function's name and ARN (what `Ref` and `Fn::GetAtt Arn` answer).
    pub name: String,
    pub arn: String,
    /// The cargo-lambda binary, e.g. `dispatch`.
    pub binary: String,
    pub timeout: Duration,
    /// Its environment variables, resolved.
    pub environment: BTreeMap<String, String>,
}

enum Handler {
    Http(axum::Router),
    Dispatch(Arc<Dispatcher>),
    TaskEvents(Arc<TaskEvents>),
    Reaper(Services),
    Schedule(Arc<Schedule>),
    CodeCommit(Services, Arc<dyn DispatchSignal>),
}

/// One function, ready to invoke.
pub struct Function {
    pub declaration: Declaration,
    handler: Handler,
}

impl Function {
    /// Builds the function's handler over `clients` (the box's moto), with the declared environment plus the
    /// region Lambda sets.
    pub async fn build(
        declaration: Declaration,
        clients: &AwsClients,
        region: &str,
    ) -> Result<Function, FunctionError> {
        let settings_error = |source| FunctionError::Settings {
            id: declaration.id.clone(),
            source,
        };
        let lookup = |name: &str| match name {
            "AWS_REGION" | "AWS_DEFAULT_REGION" => Some(region.to_owned()),
            _ => declaration.environment.get(name).cloned(),
        };
        let settings = AwsSettings::from_lookup(lookup).map_err(settings_error)?;
        let wiring = Wiring::new(settings, clients.clone()).map_err(settings_error)?;
        let handler = match declaration.binary.as_str() {
            "api" => Handler::Http(
                kiln_fn_api::router(&wiring, lookup)
                    .await
                    .map_err(settings_error)?,
            ),
            "webhook" => Handler::Http(Webhook::from_wiring(&wiring).map_err(settings_error)?.router()),
            "dispatch" => Handler::Dispatch(Arc::new(
                Dispatcher::from_wiring(&wiring).map_err(settings_error)?,
            )),
            "task-events" => Handler::TaskEvents(Arc::new(
                TaskEvents::from_wiring(&wiring).map_err(settings_error)?,
            )),
            "reaper" => Handler::Reaper(wiring.services.clone()),
            "schedule" => {
                Handler::Schedule(Arc::new(Schedule::from_wiring(&wiring).map_err(settings_error)?))
            }
            "codecommit" => Handler::CodeCommit(
                wiring.services.clone(),
                Arc::new(wiring.dispatch_signal().map_err(settings_error)?),
            ),
            other => {
                return Err(FunctionError::UnknownBinary {
                    id: declaration.id.clone(),
                    binary: other.to_owned(),
                });
            }
        };
        Ok(Function { declaration, handler })
    }

    /// Invokes the function with `payload` as Lambda would; the error is Lambda's `{errorType, errorMessage}`.
    pub async fn invoke(&self, payload: Value) -> Result<Value, Diagnostic> {
        let seconds = self.declaration.timeout.as_secs();
        let id = self.declaration.id.as_str();
        tracing::debug!(function = id, "invoke");
        match tokio::time::timeout(self.declaration.timeout, self.run(payload)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                tracing::warn!(function = id, error_type = %err.error_type, error = %err.error_message, "invocation failed");
                Err(err)
            }
            Err(_) => Err(diagnostic(
                "Sandbox.Timedout",
                format!("Task timed out after {seconds}.00 seconds"),
            )),
        }
    }

    async fn run(&self, payload: Value) -> Result<Value, Diagnostic> {
        let now = kiln_lambda::now();
        match &self.handler {
            Handler::Http(router) => {
                let request: LambdaRequest = parse(payload)?;
                let event = LambdaEvent::new(request, self.context());
                // The adapter is not `Send` (it holds a marker of the response type): only its future is awaited.
                // A router is always ready, so `poll_ready` answers at once.
                let future = {
                    let mut adapter = Adapter::from(router.clone());
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    let _ready = adapter.poll_ready(&mut cx);
                    adapter.call(event)
                };
                let Ok(response) = future.await;
                output(&response)
            }
            Handler::Dispatch(dispatcher) => {
                let event: SqsEvent = parse(payload)?;
                output(&kiln_fn_dispatch::handle(dispatcher, event, now).await)
            }
            Handler::TaskEvents(function) => {
                let event: EventBridgeEvent = parse(payload)?;
                let outcome = kiln_fn_task_events::handle(function, event, now)
                    .await
                    .map_err(|e| diagnostic("KilnTaskEventError", e.to_string()))?;
                tracing::info!(outcome = ?outcome, "task state change handled");
                Ok(Value::Null)
            }
            Handler::Reaper(services) => {
                let reaped = kiln_fn_reaper::handle(services, now)
                    .await
                    .map_err(|e| diagnostic("KilnUseCaseError", e.to_string()))?;
                output(&reaped)
            }
            Handler::Schedule(schedule) => {
                let input: ScheduleInput = parse(payload)?;
                let fired = kiln_fn_schedule::handle(schedule, input)
                    .await
                    .map_err(|e| diagnostic("KilnScheduleError", e.to_string()))?;
                output(&fired)
            }
            Handler::CodeCommit(services, dispatch) => {
                kiln_fn_codecommit::handle(services, dispatch.as_ref(), &payload, now)
                    .await
                    .map_err(Diagnostic::from)
            }
        }
    }

    fn context(&self) -> Context {
        let mut context = Context::default();
        context.request_id = uuid::Uuid::new_v4().to_string();
        context.invoked_function_arn = self.declaration.arn.clone();
        context
    }
}

fn parse<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, Diagnostic> {
    serde_json::from_value(payload).map_err(|e| diagnostic("Runtime.UnmarshalError", e.to_string()))
}

fn output<T: Serialize>(value: &T) -> Result<Value, Diagnostic> {
    serde_json::to_value(value).map_err(|e| diagnostic("Runtime.MarshalError", e.to_string()))
}

fn diagnostic(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.into(),
    }
}

/// The functions of the stack, by logical id.
#[derive(Default)]
pub struct Functions {
    by_id: BTreeMap<String, Arc<Function>>,
}

impl Functions {
    /// Adds a function.
    pub fn insert(&mut self, function: Function) {
        self.by_id
            .insert(function.declaration.id.clone(), Arc::new(function));
    }

    /// The function with this logical id.
    pub fn get(&self, id: &str) -> Option<Arc<Function>> {
        self.by_id.get(id).cloned()
    }

    /// Every function, by logical id.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.by_id.values()
    }
}
