//! What authentication and metrics read: logins by external id or e-mail, and status totals.

use idmsync_domain::{PasswordHash, UserStatus};
use idmsync_ports::{DirectoryReader, LoginField, LoginReader, Totals};

use crate::support::{backend_tests, directory, sync, tenant};

backend_tests! {
    async fn logins_are_found_by_external_id_or_email_with_or_without_case(db: Db) {
        let acme = tenant("acme");
        sync(&db, &acme, &directory(), 1).await;
        let find = |login: &'static str, field: LoginField, case_sensitive: bool| {
            let store = &db.store;
            let acme = &acme;
            async move {
                store
                    .find_login(acme, login, field, case_sensitive)
                    .await
                    .expect("find_login")
                    .into_iter()
                    .map(|r| r.external_id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(find("jlennon", LoginField::ExternalId, true).await, ["jlennon"]);
        assert!(find("JLennon", LoginField::ExternalId, true).await.is_empty());
        assert_eq!(find("JLennon", LoginField::ExternalId, false).await, ["jlennon"]);
        assert_eq!(
            find("pmccartney@example.com", LoginField::Email, true).await,
            ["pmccartney"]
        );
        assert_eq!(
            find("PMcCartney@Example.com", LoginField::Email, false).await,
            ["pmccartney"]
        );
        assert!(find("%", LoginField::ExternalId, false).await.is_empty());
        assert!(find("nobody", LoginField::ExternalId, true).await.is_empty());

        let john = db
            .store
            .find_login(&acme, "jlennon", LoginField::ExternalId, true)
            .await
            .expect("find_login");
        assert_eq!(john[0].status, UserStatus::Active);
        assert!(john[0].admin);
        // A login verifies the PHC string alone; the check beside it is the planner's.
        assert_eq!(
            john[0].password_hash.as_ref().map(PasswordHash::as_str),
            Some("$argon2id$v=19$hash")
        );
        assert_eq!(john[0].locator.as_deref(), Some("uid=jlennon,ou=people"));
        let ringo = db
            .store
            .find_login(&acme, "rstarr", LoginField::ExternalId, true)
            .await
            .expect("find_login");
        assert_eq!(ringo[0].status, UserStatus::Inactive);
        let other = tenant("other");
        assert!(db
            .store
            .find_login(&other, "jlennon", LoginField::ExternalId, true)
            .await
            .expect("find_login")
            .is_empty());
    }

    async fn totals_count_users_and_groups_by_status(db: Db) {
        let acme = tenant("acme");
        assert_eq!(db.store.totals(&acme).await.expect("totals"), Totals::default());
        sync(&db, &acme, &directory(), 1).await;
        assert_eq!(
            db.store.totals(&acme).await.expect("totals"),
            Totals {
                users_active: 3,
                users_inactive: 1,
                groups_active: 3,
                groups_inactive: 0,
            }
        );
    }
}
