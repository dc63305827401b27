//! Item layout of the single table: key builders, the build item <-> [`StoredBuild`] conversion, and page tokens.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use kiln_core::build::{Build, BuildId, Timestamp};
use kiln_core::ports::build_store::{BuildState, StoreError, StoredBuild};

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// Sort key of a build item (`pk` = `BUILD#<id>`).
pub(super) const SK_BUILD: &str = "#BUILD";
/// Sort key of a project's build-number counter (`pk` = `PROJECT#<name>`).
pub(super) const SK_COUNTER: &str = "#COUNTER";
/// Sort key of a running-build count (`pk` = `PROJECT#<name>`, or `GLOBAL` for all projects).
pub(super) const SK_RUNNING: &str = "#RUNNING";
/// Sort key of an idempotency-key item (`pk` = `KEY#<key>`).
pub(super) const SK_KEY: &str = "#KEY";
/// Partition key of the global running count.
pub(super) const PK_GLOBAL: &str = "GLOBAL";
/// The constant `kind` of build items (hash key of the `byCreation` index).
pub(super) const KIND_BUILD: &str = "BUILD";
/// The constant `activeKind` of queued and running builds (hash key of the sparse `active` index).
pub(super) const KIND_ACTIVE: &str = "ACTIVE";

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The primary key of an item.
pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(super) fn build_key(id: &BuildId) -> Item {
    key(format!("BUILD#{id}"), SK_BUILD)
}

pub(super) fn project_pk(project: &str) -> String {
    format!("PROJECT#{project}")
}

pub(super) fn idempotency_key(key_value: &str) -> Item {
    key(format!("KEY#{key_value}"), SK_KEY)
}

/// The creation-order sort key: zero-padded epoch milliseconds, then the id to break ties.
pub(super) fn seq(created_ms: u64, id: &str) -> String {
    format!("{created_ms:015}#{id}")
}

/// A build item as stored, with the dispatch fields the port does not expose.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub build: StoredBuild,
    /// In the dispatch queue (waiting or holding a slot).
    pub active: bool,
    /// Holds a concurrency slot.
    pub claimed: bool,
    pub task: Option<String>,
}

/// The stored form of a record: CodeBuild's `Build` JSON.
pub(super) fn encode(build: &Build) -> Result<String, StoreError> {
    serde_json::to_string(build).map_err(|e| StoreError::Backend {
        message: format!("encoding build {}: {e}", build.id()),
        retryable: false,
    })
}

/// The full item of a new QUEUED build.
pub(super) fn new_build_item(build: &StoredBuild, created_ms: u64) -> Result<Item, StoreError> {
    let id = build.id().as_str();
    let order = seq(created_ms, id);
    let mut item = build_key(build.id());
    item.extend([
        ("id".to_owned(), s(id)),
        ("project".to_owned(), s(build.project().as_str())),
        ("number".to_owned(), n(build.number())),
        ("state".to_owned(), s(build.state.as_str())),
        ("version".to_owned(), n(build.version)),
        ("record".to_owned(), s(encode(&build.build)?)),
        ("createdAt".to_owned(), n(created_ms)),
        ("kind".to_owned(), s(KIND_BUILD)),
        ("seq".to_owned(), s(order.clone())),
        ("activeKind".to_owned(), s(KIND_ACTIVE)),
        ("activeSeq".to_owned(), s(order)),
        ("claimed".to_owned(), AttributeValue::Bool(false)),
    ]);
    Ok(item)
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A time as the items keep it: epoch milliseconds (0 for a time before 1970).
pub(super) fn millis(at: Timestamp) -> u64 {
    u64::try_from(at.epoch_millis()).unwrap_or(0)
}

/// The time in attribute `name` (epoch milliseconds).
pub(super) fn get_time(item: &Item, name: &str) -> Option<Timestamp> {
    get_n(item, name).map(|ms| Timestamp::from_epoch_millis(i64::try_from(ms).unwrap_or(i64::MAX)))
}

pub(super) fn get_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}

/// Reads a build item back.
pub(super) fn row_from_item(item: &Item) -> Result<Row, StoreError> {
    let id = get_s(item, "id").unwrap_or_default().to_owned();
    let corrupt = |reason: String| StoreError::Corrupt {
        id: id.clone(),
        reason,
    };
    let field =
        |name: &str| get_s(item, name).ok_or_else(|| corrupt(format!("attribute {name:?} is missing")));
    let number =
        |name: &str| get_n(item, name).ok_or_else(|| corrupt(format!("attribute {name:?} is missing")));
    let state_text = field("state")?;
    let state =
        BuildState::parse(state_text).ok_or_else(|| corrupt(format!("unknown state {state_text:?}")))?;
    let build =
        serde_json::from_str(field("record")?).map_err(|e| corrupt(format!("record is not a build: {e}")))?;
    Ok(Row {
        build: StoredBuild {
            state,
            version: number("version")?,
            build,
        },
        active: item.contains_key("activeKind"),
        claimed: get_bool(item, "claimed").unwrap_or(false),
        task: get_s(item, "task").map(str::to_owned),
    })
}

/// One key attribute in a page token, as DynamoDB's JSON writes it: `{"S": ".."}` or `{"N": ".."}`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum TokenValue {
    S(String),
    N(String),
}

/// Encodes the key of the last item of a page (table key plus index key) as an opaque token.
pub(super) fn encode_token(item: &Item, index_keys: &[&str]) -> String {
    let mut map = std::collections::BTreeMap::new();
    for name in ["pk", "sk"].iter().chain(index_keys) {
        let value = match item.get(*name) {
            Some(AttributeValue::S(v)) => TokenValue::S(v.clone()),
            Some(AttributeValue::N(v)) => TokenValue::N(v.clone()),
            _ => continue,
        };
        map.insert(*name, value);
    }
    aws_smithy_types::base64::encode(serde_json::to_string(&map).unwrap_or_default())
}

/// Decodes a token made by [`encode_token`] into an `ExclusiveStartKey`, checking it has `index_keys`.
pub(super) fn decode_token(token: &str, index_keys: &[&str]) -> Result<Item, StoreError> {
    let bad = || StoreError::BadToken(token.to_owned());
    let bytes = aws_smithy_types::base64::decode(token).map_err(|_| bad())?;
    let map: HashMap<String, TokenValue> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let mut item = Item::new();
    for (name, typed) in map {
        let value = match typed {
            TokenValue::S(v) => AttributeValue::S(v),
            TokenValue::N(v) if v.parse::<u64>().is_ok() => AttributeValue::N(v),
            TokenValue::N(_) => return Err(bad()),
        };
        item.insert(name, value);
    }
    let complete = ["pk", "sk"]
        .iter()
        .chain(index_keys)
        .all(|k| item.contains_key(*k));
    if !complete || item.len() != 2 + index_keys.len() {
        return Err(bad());
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::build::{AccountContext, Timestamp};

    const ID_1: &str = "web:00000000-0000-4000-8000-000000000001";
    const ID_2: &str = "web:00000000-0000-4000-8000-000000000002";

    fn stored(id: &str, number: u64, state: BuildState, version: u64) -> StoredBuild {
        let id = BuildId::parse(id).expect("id");
        let build = Build::new(
            id,
            number,
            &AccountContext::local(),
            Timestamp::from_epoch_millis(0),
        );
        StoredBuild {
            state,
            version,
            build,
        }
    }

    #[test]
    fn a_page_token_round_trips_and_a_forged_one_is_refused() {
        let build = stored(ID_1, 7, BuildState::Queued, 1);
        let item = new_build_item(&build, 1_700_000_000_000).expect("item");
        let token = encode_token(&item, &["project", "number"]);
        let key = decode_token(&token, &["project", "number"]).expect("own token");
        assert_eq!(key.get("number"), Some(&n(7)));
        assert_eq!(key.get("pk"), Some(&s(format!("BUILD#{ID_1}"))));
        assert!(matches!(
            decode_token("nope", &["project", "number"]),
            Err(StoreError::BadToken(_))
        ));
        assert!(matches!(
            decode_token(&token, &["kind", "seq"]),
            Err(StoreError::BadToken(_))
        ));
    }

    #[test]
    fn a_build_item_reads_back_as_the_same_build() {
        let build = stored(ID_2, 3, BuildState::InProgress, 4);
        let row = row_from_item(&new_build_item(&build, 5).expect("item")).expect("valid item");
        assert_eq!(row.build, build);
        assert!(row.active && !row.claimed && row.task.is_none());
    }
}
