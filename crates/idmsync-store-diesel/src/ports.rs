//! The port traits for [`DieselStore`]: each method is one transaction of the functions in
//! `read` and `write`, run through the store's blocking bridge.

use async_trait::async_trait;
use idmsync_domain::{
    ChangeSet, Document, LogLine, RunId, RunRecord, RunResult, SourceId, StoreState, Tenant,
};
use idmsync_ports::{
    DirectoryReader, DynProgress, GroupDetail, GroupView, HistoryLine, LoginField, LoginReader,
    LoginRecord, NewRun, Page, Readiness, RunLogReader, StoreError, SyncStore, Totals, UserDetail,
    UserFilter, UserView,
};

use crate::store::DieselStore;
use crate::{read, write};

#[async_trait]
impl SyncStore for DieselStore {
    async fn load_state(&self, tenant: &Tenant) -> Result<StoreState, StoreError> {
        self.read(|conn| read::load_state(conn, tenant, read::Edges::All))
    }

    async fn load_state_for(
        &self,
        tenant: &Tenant,
        groups: &[SourceId],
        left: &[SourceId],
    ) -> Result<StoreState, StoreError> {
        self.read(|conn| read::load_state(conn, tenant, read::Edges::Of { groups, left }))
    }

    async fn newest_run(&self, tenant: &Tenant) -> Result<Option<RunId>, StoreError> {
        self.read(|conn| read::newest_run(conn, tenant))
    }

    async fn documents(&self, tenant: &Tenant) -> Result<Vec<Document>, StoreError> {
        self.read(|conn| read::documents(conn, tenant))
    }

    async fn last_success(&self, tenant: &Tenant) -> Result<Option<RunRecord>, StoreError> {
        self.read(|conn| read::last_success(conn, tenant))
    }

    /// Fenced (`fence.rs`): only under the tenant's lock taken from this store, still held in
    /// the transaction that marks the tenant's other running runs interrupted. Their holders
    /// provably hold the lock no longer: this run has it.
    async fn begin_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        let fence = self
            .fences()
            .of_tenant(&run.tenant)
            .map_err(|e| e.into_store(self.url()))?;
        let id = self.write(|conn| {
            fence.hold(conn)?;
            write::begin_run(conn, run)
        })?;
        self.fences().bind(id, fence);
        Ok(id)
    }

    async fn record_skipped(&self, run: &NewRun, result: &RunResult) -> Result<RunId, StoreError> {
        self.write(|conn| write::record_skipped(conn, run, result))
    }

    async fn apply(
        &self,
        run: RunId,
        tenant: &Tenant,
        changes: &ChangeSet,
        result: &RunResult,
        progress: &DynProgress,
    ) -> Result<(), StoreError> {
        let fence = self
            .fences()
            .of_run(run, tenant)
            .map_err(|e| e.into_store(self.url()))?;
        self.write(|conn| {
            fence.hold(conn)?;
            write::apply(conn, run, tenant, changes, result, progress)?;
            fence.still_held(conn)
        })?;
        self.fences().ended(run);
        Ok(())
    }

    async fn finish_run(
        &self,
        run: RunId,
        result: &RunResult,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        // Not fenced: it writes only this run's own record, which says how it ended, also when
        // that was losing its lock.
        let ended = self.write(|conn| write::end_run(conn, run, result, lines.iter().cloned()));
        self.fences().ended(run);
        ended
    }
}

#[async_trait]
impl DirectoryReader for DieselStore {
    async fn users(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<UserView>, StoreError> {
        self.read(|conn| read::users(conn, tenant, filter, page))
    }

    async fn groups(
        &self,
        tenant: &Tenant,
        filter: &UserFilter,
        page: Option<Page>,
    ) -> Result<Vec<GroupView>, StoreError> {
        self.read(|conn| read::groups(conn, tenant, filter, page))
    }

    async fn totals(&self, tenant: &Tenant) -> Result<Totals, StoreError> {
        self.read(|conn| read::totals(conn, tenant))
    }

    async fn user(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<UserDetail>, StoreError> {
        self.read(|conn| read::user(conn, tenant, external_id))
    }

    async fn group(
        &self,
        tenant: &Tenant,
        external_id: &str,
    ) -> Result<Option<GroupDetail>, StoreError> {
        self.read(|conn| read::group(conn, tenant, external_id))
    }
}

#[async_trait]
impl LoginReader for DieselStore {
    async fn find_login(
        &self,
        tenant: &Tenant,
        login: &str,
        field: LoginField,
        case_sensitive: bool,
    ) -> Result<Vec<LoginRecord>, StoreError> {
        self.read(|conn| read::find_login(conn, tenant, login, field, case_sensitive))
    }
}

#[async_trait]
impl RunLogReader for DieselStore {
    async fn runs(
        &self,
        tenant: &Tenant,
        page: Option<Page>,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|conn| read::runs(conn, tenant, page))
    }

    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.read(|conn| read::run(conn, id))
    }

    async fn lines(&self, id: RunId) -> Result<Vec<LogLine>, StoreError> {
        self.read(|conn| read::lines(conn, id))
    }

    async fn history(
        &self,
        tenant: &Tenant,
        external_id: &str,
        limit: u64,
    ) -> Result<Vec<HistoryLine>, StoreError> {
        self.read(|conn| read::history(conn, tenant, external_id, limit))
    }
}

/// The database's part of the service's readiness: it answers and its schema is current.
#[async_trait]
impl Readiness for DieselStore {
    async fn ready(&self) -> Result<(), String> {
        match self.pending_migrations() {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!("{}: {n} migrations not applied", self.url())),
            Err(e) => Err(e.to_string()),
        }
    }
}
