//! Console sessions on DynamoDB against moto: items in the stack's one table beside the builds, used only while
//! live (not revoked, not ended, not idle), listed most recently used first, with the table's TTL attribute set.

use kiln_aws::{DynamoBuildStore, DynamoSessionStore};
use kiln_core::build::Timestamp;
use kiln_core::ports::build_store::ProjectStore;
use kiln_core::ports::sessions::{ConsoleSession, SessionStore};

use crate::aws_support::with_moto;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_epoch_millis(secs * 1000)
}

#[test]
fn a_session_item_is_used_until_it_is_revoked_ends_or_sits_idle() {
    with_moto(|clients, _| async move {
        let builds = DynamoBuildStore::new(clients.dynamodb.clone(), "kiln-sessions");
        builds.create_table().await.expect("create the table");
        let sessions = DynamoSessionStore::new(clients.dynamodb.clone(), "kiln-sessions");
        let one = ConsoleSession::new("one".into(), at(100), at(1_000), "Firefox");
        let two = ConsoleSession::new("two".into(), at(200), at(1_000), "Chromium");
        sessions.create(&one).await.expect("create");
        sessions.create(&two).await.expect("create");

        let used = sessions.touch("one", at(300), at(0)).await.expect("touch");
        assert_eq!(used.map(|s| s.last_used), Some(at(300)));
        let listed = sessions.list(at(300), at(0)).await.expect("list");
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["one", "two"], "most recently used first");
        assert_eq!(listed[1].user_agent, "Chromium");
        assert_eq!(listed[1].created, at(200));
        assert_eq!(listed[1].expires, at(1_000));

        assert_eq!(
            sessions.touch("two", at(400), at(250)).await.expect("touch"),
            None,
            "idle"
        );
        assert_eq!(
            sessions.list(at(400), at(250)).await.expect("list").len(),
            1,
            "an idle session is not listed"
        );
        assert_eq!(
            sessions.touch("one", at(1_000), at(0)).await.expect("touch"),
            None,
            "ended"
        );
        assert_eq!(
            sessions.touch("nobody", at(300), at(0)).await.expect("touch"),
            None
        );
        sessions.revoke("one").await.expect("revoke");
        sessions.revoke("one").await.expect("revoking twice is fine");
        assert_eq!(
            sessions.touch("one", at(301), at(0)).await.expect("touch"),
            None,
            "revoked"
        );

        let item = clients
            .dynamodb
            .get_item()
            .table_name("kiln-sessions")
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("SESSION#two".into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("#SESSION".into()),
            )
            .send()
            .await
            .expect("get");
        let ttl = item
            .item()
            .and_then(|i| i.get("expiresAt"))
            .and_then(|v| v.as_n().ok())
            .cloned();
        assert_eq!(
            ttl.as_deref(),
            Some("1000"),
            "the TTL attribute, in epoch seconds"
        );
        assert!(
            builds.project_names().await.expect("names").is_empty(),
            "sessions are not projects"
        );
    });
}
