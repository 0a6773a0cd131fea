//! Guard rails: what one query may cost the server.
//!
//! Every statement, from HTTP, the series API or the PostgreSQL wire
//! protocol, runs under [`Limits`]:
//!
//! - **Concurrency.** At most [`QueryOptions::max_concurrent`] statements
//!   run at once; the rest wait for a slot. A statement still waiting when
//!   its timeout ends gets [`Error::Busy`] (`503` with `Retry-After`), so a
//!   burst of heavy queries queues instead of thrashing two cores.
//! - **Time.** [`QueryOptions::timeout`] bounds waiting, planning and
//!   running together. When it ends the statement's future is dropped,
//!   which cancels its DataFusion tasks, and the client gets
//!   [`Error::Timeout`].
//! - **Memory.** Each statement executes with its own DataFusion memory
//!   pool of [`QueryOptions::memory_limit`] bytes (a `GreedyMemoryPool`
//!   tracking its top consumers), sharing the session's caches, disk
//!   manager and object stores. Sorts, joins and aggregations that exceed it
//!   spill to disk where DataFusion can; otherwise the statement fails with
//!   [`Error::MemoryLimit`], naming its largest consumers. A pool per
//!   statement rather than one for the server means a runaway query
//!   exhausts only its own budget: concurrent small queries never fail
//!   because of it, and the server's total is bounded by
//!   `max_concurrent × memory_limit`.
//! - **Result size.** A result is collected in memory before it is encoded,
//!   so it is capped at [`QueryOptions::max_result_bytes`] (Arrow in-memory
//!   size): beyond it the statement stops with [`Error::ResultTooLarge`]
//!   instead of growing without bound.

use std::sync::Arc;
use std::time::Duration;

use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// The limits and cache size of a [`crate::QueryEngine`].
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Longest a statement may wait for a slot, plan and run.
    pub timeout: Duration,
    /// Bytes of DataFusion operator memory one statement may hold.
    pub memory_limit: usize,
    /// Largest result, in Arrow in-memory bytes, a statement may return.
    pub max_result_bytes: usize,
    /// Statements running at once; the rest wait.
    pub max_concurrent: usize,
    /// Bytes of results kept in the result cache; 0 disables it.
    pub cache_bytes: u64,
    /// Whether the series API reads aggregated files through their series
    /// indexes where they have one ([`crate::series`]); `false` reads
    /// everything with SQL (to compare the two).
    pub series_index: bool,
}

impl Default for QueryOptions {
    /// 30 s, 1 GiB per statement, 256 MiB results, twice the cores
    /// (at least 2) at once, a 256 MiB cache.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            timeout: Duration::from_secs(30),
            memory_limit: 1 << 30,
            max_result_bytes: 256 << 20,
            max_concurrent: (2 * cores).max(2),
            cache_bytes: 256 << 20,
            series_index: true,
        }
    }
}

/// Admission and per-statement resources under [`QueryOptions`].
#[derive(Debug)]
pub(crate) struct Limits {
    options: QueryOptions,
    slots: Arc<Semaphore>,
}

/// A running statement's slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
}

impl Limits {
    pub(crate) fn new(options: QueryOptions) -> Result<Self> {
        if options.max_concurrent == 0 {
            return Err(Error::BadRequest(
                "the number of concurrent queries must be at least 1".into(),
            ));
        }
        let slots = Arc::new(Semaphore::new(options.max_concurrent));
        Ok(Self { options, slots })
    }

    pub(crate) fn options(&self) -> &QueryOptions {
        &self.options
    }

    /// Waits for a free slot, at most until `deadline`.
    pub(crate) async fn admit(&self, deadline: tokio::time::Instant) -> Result<Admitted> {
        let acquire = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout_at(deadline, acquire).await {
            Ok(Ok(permit)) => Ok(Admitted { _permit: permit }),
            // The semaphore is never closed.
            Ok(Err(_closed)) => Err(self.busy()),
            Err(_elapsed) => Err(self.busy()),
        }
    }

    fn busy(&self) -> Error {
        Error::Busy {
            running: self.options.max_concurrent,
        }
    }

    /// A runtime for one statement: `shared`'s caches, disk manager and
    /// object stores, with a memory pool of its own.
    pub(crate) fn statement_runtime(&self, shared: &RuntimeEnv) -> Result<Arc<RuntimeEnv>> {
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(self.options.memory_limit),
            std::num::NonZeroUsize::new(3).expect("3 is not zero"),
        );
        let runtime = RuntimeEnvBuilder::from_runtime_env(shared)
            .with_memory_pool(Arc::new(pool))
            .build()?;
        Ok(Arc::new(runtime))
    }

    /// Fails once `bytes` of result exceed the limit.
    pub(crate) fn check_result_size(&self, bytes: usize) -> Result<()> {
        if bytes > self.options.max_result_bytes {
            return Err(Error::ResultTooLarge {
                limit: self.options.max_result_bytes,
            });
        }
        Ok(())
    }
}
