//! Small builders for DynamoDB expressions and transaction items, so every attribute name goes through an
//! `#name` placeholder (several of ours — `state`, `number`, `kind` — are reserved words).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::invalid;
use super::items::Item;
use kiln_core::ports::build_store::StoreError;

/// Placeholder maps of one expression: `#name` for every attribute, `:value` for every value.
#[derive(Debug, Default, Clone)]
pub(super) struct Names {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Names {
    /// Placeholders `#a` → `a` for each attribute name.
    pub fn attrs(attrs: &[&str]) -> Names {
        Names {
            names: attrs.iter().map(|a| (format!("#{a}"), (*a).to_owned())).collect(),
            values: HashMap::new(),
        }
    }

    /// Adds a `:name` value placeholder.
    pub fn value(mut self, name: &str, value: AttributeValue) -> Names {
        self.values.insert(format!(":{name}"), value);
        self
    }

    fn values_or_none(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A conditional Put inside a transaction.
pub(super) fn put(
    table: &str,
    item: Item,
    condition: &str,
    names: &Names,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names.names.clone()))
        .set_expression_attribute_values(names.values_or_none())
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An Update (conditional when `condition` is given) inside a transaction.
pub(super) fn update(
    table: &str,
    key: Item,
    expression: &str,
    condition: Option<&str>,
    names: &Names,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(Some(names.names.clone()))
        .set_expression_attribute_values(names.values_or_none())
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().update(update).build())
}
