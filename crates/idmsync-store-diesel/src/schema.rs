//! The diesel schema of `migrations/<backend>`, written by hand so that the SQL types are the
//! ones every backend shares: `BigInt` ids, `Bool`, `Text` and UTC `Timestamp`s (PostgreSQL
//! stores them as `TIMESTAMPTZ`, MySQL as `DATETIME(6)`; the session's zone is UTC on both).

diesel::table! {
    idm_tenants (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    idm_users (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        source_id -> Text,
        external_id -> Text,
        locator -> Nullable<Text>,
        first_name -> Text,
        last_name -> Text,
        email -> Nullable<Text>,
        status -> Text,
        deactivated_by -> Nullable<Text>,
        is_admin -> Bool,
        password_hash -> Nullable<Text>,
        password_check -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_sync_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idm_groups (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        source_id -> Text,
        external_id -> Text,
        locator -> Nullable<Text>,
        name -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_sync_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// SQLite's run locks (PostgreSQL and MySQL use the server's own locks): one row per
    /// tenant whose lock is held, valid until `expires_at` unless its holder renews it, and
    /// the process that holds it (`process.rs`), so that a dead holder's lease is taken over
    /// at once.
    idm_run_locks (tenant) {
        tenant -> Text,
        holder -> Text,
        expires_at -> Timestamp,
        pid -> Nullable<BigInt>,
        boot_id -> Nullable<Text>,
        pid_namespace -> Nullable<Text>,
        process_start -> Nullable<BigInt>,
    }
}

diesel::table! {
    idm_user_memberships (group_id, user_id) {
        group_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    idm_group_nesting (parent_id, child_id) {
        parent_id -> BigInt,
        child_id -> BigInt,
    }
}

diesel::table! {
    idm_sync_runs (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        mode -> Text,
        run_trigger -> Text,
        source -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Text,
        reason -> Nullable<Text>,
        counts -> Text,
        watermark -> Nullable<Text>,
    }
}

diesel::table! {
    idm_sync_log_lines (run_id, seq) {
        run_id -> BigInt,
        seq -> BigInt,
        event -> Text,
        message -> Text,
    }
}

diesel::table! {
    /// What a source knows of an entry beyond its row, as JSON text the store never parses;
    /// one per `(tenant, user or group, source id)`.
    idm_source_documents (tenant_id, is_group, source_id) {
        tenant_id -> BigInt,
        is_group -> Bool,
        source_id -> Text,
        body -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(idm_user_memberships -> idm_users (user_id));
diesel::joinable!(idm_user_memberships -> idm_groups (group_id));
diesel::joinable!(idm_sync_runs -> idm_tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    idm_tenants,
    idm_users,
    idm_groups,
    idm_user_memberships,
    idm_group_nesting,
    idm_sync_runs,
    idm_sync_log_lines,
    idm_source_documents,
);

#[diesel::declare_sql_function]
extern "SQL" {
    /// `LOWER(text)`, for the case-insensitive search of the directory views (PostgreSQL's
    /// `LIKE` is case-sensitive, so the views lower both sides on every backend). SQLite lowers
    /// ASCII letters only.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
