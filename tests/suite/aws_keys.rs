//! Kiln access keys on DynamoDB against moto: items in the stack's one table beside the builds, the secret
//! sealed, listed newest first through the `byCreation` index, ids unique, revocation kept once.

use std::sync::Arc;

use kiln_aws::{DynamoBuildStore, DynamoKeyStore};
use kiln_core::access_keys::KeyScope;
use kiln_core::access_keys::seal::KeySealer;
use kiln_core::build::Timestamp;
use kiln_core::ports::access_keys::{KeyStore, KeyStoreError};
use kiln_core::usecases::keys::Keyring;

use crate::aws_support::with_moto;

#[test]
fn key_items_are_sealed_listed_newest_first_unique_and_revoked_once() {
    with_moto(|clients, _| async move {
        let builds = DynamoBuildStore::new(clients.dynamodb.clone(), "kiln-keys");
        builds.create_table().await.expect("create the table");
        let store = Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), "kiln-keys"));
        let ring = Keyring::new(
            store.clone(),
            KeySealer::new(b"a stack's sealing secret").expect("sealer"),
        );
        let at = Timestamp::from_epoch_millis;
        let scope = KeyScope::new(vec!["List*".into()], vec!["web-*".into()]).expect("scope");
        let one = ring
            .create("one", scope.clone(), at(1_000))
            .await
            .expect("create");
        let two = ring
            .create("two", KeyScope::everything(), at(2_000))
            .await
            .expect("create");

        let listed = ring.list().await.expect("list");
        let ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, [two.key.id.as_str(), one.key.id.as_str()]);
        assert_eq!(listed[1].scope, scope);
        assert_eq!(listed[1].description, "one");
        let scanned = clients
            .dynamodb
            .scan()
            .table_name("kiln-keys")
            .send()
            .await
            .expect("scan");
        let raw = format!("{:?}", scanned.items());
        assert!(
            !raw.contains(&one.secret) && !raw.contains(&two.secret),
            "no secret in the clear"
        );
        let active = ring.active(&one.key.id).await.expect("active").expect("found");
        assert_eq!(active.credentials.secret_access_key(), one.secret);
        assert_eq!(active.scope, scope);

        assert!(matches!(
            store.create(&two.key).await,
            Err(KeyStoreError::Exists(_))
        ));
        ring.revoke(&one.key.id, at(3_000)).await.expect("revoke");
        ring.revoke(&one.key.id, at(4_000)).await.expect("revoke again");
        assert_eq!(
            store.get(&one.key.id).await.expect("get").and_then(|k| k.revoked),
            Some(at(3_000))
        );
        assert!(ring.active(&one.key.id).await.expect("active").is_none());
        assert!(ring.revoke("KILNNOSUCHKEY0000000", at(5_000)).await.is_err());
        assert!(ring.active(&two.key.id).await.expect("active").is_some());
    });
}
