//! A deployed stack's outputs, read with CloudFormation's DescribeStacks (feature `stack`): how
//! `kiln projects apply --stack NAME` finds the stack's table, schedule group and schedule target without flags.

use std::collections::BTreeMap;

use super::retry::describe;

/// Why a stack's outputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "cannot read the outputs of stack {stack:?}: {message} (check the stack's name, the region in AWS_REGION and the credentials)"
    )]
    Describe { stack: String, message: String },
    #[error("stack {stack:?} was not found: check its name and the region in AWS_REGION")]
    NotFound { stack: String },
}

/// A CloudFormation client from the environment's region and credentials, sending every request to
/// `endpoint_override` when given (as [`super::AwsClients::from_env`]).
pub async fn client(endpoint_override: Option<&str>) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&super::config::load_sdk_config(endpoint_override).await)
}

/// The outputs of `stack`, by output key.
pub async fn stack_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<BTreeMap<String, String>, StackError> {
    let described = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| StackError::Describe {
            stack: stack.to_owned(),
            message: describe(&e),
        })?;
    let found = described.stacks().first().ok_or_else(|| StackError::NotFound {
        stack: stack.to_owned(),
    })?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// Why a stand-in stack could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("cannot record stack {stack:?} and its outputs: {message}")]
pub struct RecordError {
    pub stack: String,
    pub message: String,
}

/// Records `stack` in CloudFormation with `outputs` and one resource that does nothing (a wait-condition
/// handle): what "AWS in a box" does so that every `--stack NAME` reader (`kiln projects apply`, `kiln keys`,
/// the client commands) finds the box's names and URLs as it would a deployed stack's. An existing stack of
/// that name is replaced.
pub async fn record_outputs(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
    outputs: &BTreeMap<String, String>,
) -> Result<(), RecordError> {
    let fail = |message: String| RecordError {
        stack: stack.to_owned(),
        message,
    };
    let outputs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::json!({ "Value": value })))
        .collect();
    let body = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Stands for a Kiln stack whose resources were created one by one (AWS in a box).",
        "Resources": { "Placeholder": { "Type": "AWS::CloudFormation::WaitConditionHandle" } },
        "Outputs": outputs,
    });
    // A stack of that name from an earlier box on the same moto is replaced.
    let _ = client.delete_stack().stack_name(stack).send().await;
    client
        .create_stack()
        .stack_name(stack)
        .template_body(body.to_string())
        .send()
        .await
        .map_err(|e| fail(describe(&e)))?;
    Ok(())
}

/// A CloudFormation client on `config` (for a box's static keys and endpoint).
pub fn client_from(config: &aws_config::SdkConfig) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(config)
}
