//! `ChangeFeed`: a source that can send its changes as they happen (`sync.live`).

use async_trait::async_trait;
use idmsync_domain::plan::SourceData;
use idmsync_domain::Watermark;

use crate::source::SourceError;

/// What a [`ChangeFeed`] reports while it follows its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// The feed has sent what changed while it was not following and now sends changes as
    /// they happen.
    Following,
    /// Changes, as a differential read returns them (entries sent, entries that left), and
    /// the source's position after them: stored with the run that applies them, a later
    /// differential run or feed continues from it.
    Changes {
        /// What changed.
        data: SourceData,
        /// The position after it, in the form of the source's watermarks.
        position: Watermark,
    },
}

/// A source that keeps a search open and reports each change as it happens. It has no mockall
/// twin (mockall cannot mock the `Fn` sink); tests drive `idmsync-test-doubles`' `FakeFeed`.
///
/// # Contract
/// - `follow` first sends what changed since `since` (everything, as a read that names what is
///   still there, when `since` is `None` or a position the source no longer knows), then
///   [`FeedEvent::Following`], then each change as it happens; positions only move forward.
/// - The changes sent up to a position, applied in order, bring a store that was at `since` to
///   that position: nothing is missed, and sending a change twice is allowed.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Follows the source from `since`, calling `sink` for each event, until the connection
    /// ends. It never returns `Ok` while following; `Ok` only when the source ended the
    /// stream itself.
    ///
    /// # Errors
    /// `Unavailable` when the source cannot be reached, `Failed` when the stream breaks off (a
    /// dropped connection), `Invalid` when the source cannot follow at all (no provider); the
    /// caller reconnects later from its stored position.
    async fn follow(
        &self,
        since: Option<Watermark>,
        sink: &(dyn Fn(FeedEvent) + Send + Sync),
    ) -> Result<(), SourceError>;
}
