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
