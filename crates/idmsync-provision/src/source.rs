//! [`PushedSource`]: the source of a tenant that identity providers push to, as the engine and
//! `config check` see it: there is nothing to read.
//!
//! A run that reads (`idmsync sync`, a schedule, the REST trigger) fails with a sentence that
//! says so, before anything is planned: a full run that read an empty directory would
//! otherwise deactivate every pushed user.

use async_trait::async_trait;
use idmsync_domain::plan::SourceData;
use idmsync_domain::Watermark;
use idmsync_ports::{DynProgress, IdentitySource, SourceCheck, SourceError};

/// What a pushed tenant's runs are recorded as coming from.
pub const SCIM_SOURCE_NAME: &str = "scim";

/// The source of a pushed (SCIM) tenant.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushedSource;

fn nothing_to_read() -> SourceError {
    SourceError::Unavailable(
        "the source is SCIM: identity providers push users and groups to `idmsync serve` at \
         /scim/v2, and there is nothing to read from here; its runs are recorded as the writes \
         arrive"
            .into(),
    )
}

#[async_trait]
impl IdentitySource for PushedSource {
    fn name(&self) -> String {
        SCIM_SOURCE_NAME.into()
    }

    async fn check(&self) -> Result<SourceCheck, SourceError> {
        Ok(SourceCheck {
            server: Some("SCIM 2.0 service provider at /scim/v2".into()),
            pushed: true,
            ..SourceCheck::default()
        })
    }

    async fn user(&self, _login: &str, _groups: &[String]) -> Result<SourceData, SourceError> {
        Err(nothing_to_read())
    }

    async fn watermark(&self) -> Result<Watermark, SourceError> {
        Err(nothing_to_read())
    }

    async fn snapshot(&self, _progress: &DynProgress) -> Result<SourceData, SourceError> {
        Err(nothing_to_read())
    }

    async fn changed_since(
        &self,
        _since: &Watermark,
        _progress: &DynProgress,
    ) -> Result<SourceData, SourceError> {
        Err(nothing_to_read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idmsync_ports::NoProgress;

    #[tokio::test]
    async fn every_read_says_the_source_is_pushed_to() {
        let source = PushedSource;
        let error = source.snapshot(&NoProgress).await.expect_err("nothing");
        assert!(error.to_string().contains("/scim/v2"), "{error}");
        assert!(source.watermark().await.is_err());
        assert!(source.user("x", &[]).await.is_err());
        assert!(source.check().await.is_ok());
    }
}
