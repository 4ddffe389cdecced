//! Where the pure-Rust database drivers run. tokio-postgres and mysql_async are async; diesel's
//! query builder, the apply's transactions and the migrations here are synchronous. diesel-async's
//! `AsyncConnectionWrapper` bridges the two by blocking on each driver future, and this module
//! gives it one small runtime for all of them: the driver tasks (tokio-postgres' connection,
//! socket I/O) live there, and a blocking caller waits for its answer from any thread.
//!
//! Why one runtime of its own rather than the application's: a pooled connection outlives the
//! call that opened it and is used from whichever thread takes it from the pool, so its driver
//! task must live on a runtime that is always being driven; and the store must work the same
//! under the service's multi-thread runtime, a current-thread test runtime, or none.

use std::future::Future;
use std::sync::OnceLock;

use diesel_async::async_connection_wrapper::{AsyncConnectionWrapper, BlockOn};
use tokio::runtime::{Builder, Handle, Runtime};

/// A synchronous diesel connection over one of diesel-async's connections, its futures run to
/// completion on [`Drivers`].
pub(crate) type Blocking<C> = AsyncConnectionWrapper<C, Drivers>;

/// The drivers' runtime: one worker thread, which is enough for the socket I/O of a pool of a
/// few connections (decoding rows happens in the blocked caller's thread).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("idmsync-db")
            .enable_all()
            .build()
            // Building a runtime fails only when the process cannot create a thread or an epoll
            // instance, where nothing the store could do would work either.
            .expect("the database drivers' runtime starts")
    })
}

/// The [`BlockOn`] of every server connection: a handle to the drivers' runtime.
pub(crate) struct Drivers(Handle);

impl BlockOn for Drivers {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn get_runtime() -> Self {
        Drivers(runtime().handle().clone())
    }
}

/// Runs `work` (which opens a driver connection) on the drivers' runtime from a blocking
/// caller, so that the tasks it spawns live there.
pub(crate) fn block_on<F: Future>(work: F) -> F::Output {
    runtime().block_on(work)
}
