//! `FakeFeed`: a [`ChangeFeed`] the test drives: it sends the events the test gives it, ends the
//! stream when told to, and records where each connection started.

use std::sync::Mutex;

use async_trait::async_trait;
use idmsync_domain::Watermark;
use idmsync_ports::{ChangeFeed, FeedEvent, SourceError};
use tokio::sync::{mpsc, watch};

/// What the test tells the connection that follows.
enum Command {
    Send(FeedEvent),
    Break,
}

/// A change feed in the test's hands. Each `follow` is one connection: it takes the events
/// [`FakeFeed::send`] gives it until [`FakeFeed::cut`] ends it with an error.
pub struct FakeFeed {
    connection: Mutex<Option<mpsc::UnboundedSender<Command>>>,
    /// The position each connection started from, in order.
    starts: watch::Sender<Vec<Option<Watermark>>>,
}

impl Default for FakeFeed {
    fn default() -> Self {
        Self {
            connection: Mutex::new(None),
            starts: watch::Sender::new(Vec::new()),
        }
    }
}

impl FakeFeed {
    /// A feed that no one follows yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until `n` connections have started; returns where each started.
    pub async fn wait_for_connections(&self, n: usize) -> Vec<Option<Watermark>> {
        let mut starts = self.starts.subscribe();
        let starts = starts
            .wait_for(|s| s.len() >= n)
            .await
            .expect("the feed lives as long as the test");
        starts.clone()
    }

    /// Sends `event` on the current connection.
    ///
    /// # Panics
    /// When no connection follows.
    pub fn send(&self, event: FeedEvent) {
        self.command(Command::Send(event));
    }

    /// Ends the current connection as a dropped one.
    ///
    /// # Panics
    /// When no connection follows.
    pub fn cut(&self) {
        self.command(Command::Break);
    }

    fn command(&self, command: Command) {
        let connection = self.connection.lock().expect("the feed's lock");
        let sent = connection.as_ref().is_some_and(|c| c.send(command).is_ok());
        assert!(sent, "no connection follows the feed");
    }
}

#[async_trait]
impl ChangeFeed for FakeFeed {
    async fn follow(
        &self,
        since: Option<Watermark>,
        sink: &(dyn Fn(FeedEvent) + Send + Sync),
    ) -> Result<(), SourceError> {
        let (tx, mut commands) = mpsc::unbounded_channel();
        *self.connection.lock().expect("the feed's lock") = Some(tx);
        self.starts.send_modify(|s| s.push(since));
        while let Some(command) = commands.recv().await {
            match command {
                Command::Send(event) => sink(event),
                Command::Break => break,
            }
        }
        *self.connection.lock().expect("the feed's lock") = None;
        Err(SourceError::Failed(
            "the fake feed's connection was cut".into(),
        ))
    }
}
