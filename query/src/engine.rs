//! The query engine: one DataFusion session over a Strata store.
//!
//! The session knows the store's object store under
//! [`strata_storage::store::STORE_URL`] and one table per tier, and nothing
//! else: no URL tables, no other object stores, no way to create tables.
//! `metrics_raw` is the raw tier's [`TierTable`]; `metrics_1m` and
//! `metrics_1h` are views merging the partial aggregates of their tier's
//! [`TierTable`], which has no name of its own (see [`crate::merge`]).
//! `alerts` lists the alert evaluator's transition files (see
//! [`crate::alerts`]).
//! Every statement goes through [`guard::check`] first and is planned with
//! [`guard::sql_options`].
//!
//! Maintenance jobs read through the same session, but over the files they
//! are about to replace rather than the newest snapshot:
//! [`QueryEngine::read_files`] and [`QueryEngine::merge_files`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{LogicalPlanBuilder, col};
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use strata_schemas::Tier;
use strata_schemas::tier::col as c;
use strata_storage::store::STORE_URL;
use strata_storage::{DataFile, TableLog};

use crate::cache::{CacheStats, ResultCache, Value};
use crate::error::{Error, Result};
use crate::guard;
use crate::limits::{Limits, QueryOptions};
use crate::merge;
use crate::series::indexed::{FooterCache, footer_cache};
use crate::table::TierTable;

/// Bytes of file footers kept for reads through series indexes.
const FOOTER_CACHE_BYTES: u64 = 128 << 20;

/// Answers read-only SQL over the tiers of one store.
///
/// Cheap to share: wrap it in an `Arc` and call [`QueryEngine::sql`] from
/// any number of tasks.
pub struct QueryEngine {
    ctx: SessionContext,
    tables: Vec<Arc<TierTable>>,
    objects: Arc<dyn object_store::ObjectStore>,
    log: Arc<TableLog>,
    limits: Limits,
    cache: ResultCache,
    /// Cache keys derived from a whole snapshot, by snapshot sequence and
    /// request ([`QueryEngine::key_per_snapshot`]).
    snapshot_keys: moka::sync::Cache<(u64, String), Arc<String>>,
    footers: FooterCache,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine")
            .field("session_id", &self.ctx.session_id())
            .field("tables", &self.tables)
            .finish()
    }
}

impl QueryEngine {
    /// A session over the store behind `log`, with every tier registered as
    /// its table (`metrics_raw`) or merging view (`metrics_1m`,
    /// `metrics_1h`).
    pub fn new(log: Arc<TableLog>) -> Result<Self> {
        Self::with_options(log, QueryOptions::default())
    }

    /// As [`QueryEngine::new`], with the limits and cache of `options`
    /// (see [`crate::limits`] and [`crate::cache`]).
    pub fn with_options(log: Arc<TableLog>, options: QueryOptions) -> Result<Self> {
        let objects = Arc::clone(log.store().objects());
        let tables = Tier::ALL
            .into_iter()
            .map(|tier| Ok(Arc::new(TierTable::new(tier, Arc::clone(&log))?)))
            .collect::<Result<Vec<_>>>()?;
        let ctx = session(&tables, &objects, None)?;
        let cache = ResultCache::new(options.cache_bytes);
        Ok(Self {
            ctx,
            tables,
            objects,
            log,
            limits: Limits::new(options)?,
            cache,
            snapshot_keys: moka::sync::Cache::new(4096),
            footers: footer_cache(FOOTER_CACHE_BYTES),
        })
    }

    /// The options this engine runs statements under.
    pub fn options(&self) -> &QueryOptions {
        self.limits.options()
    }

    /// Hits, misses and size of the result cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// A new session over the same tables as [`QueryEngine::sql`]'s, for a
    /// front end that adds its own catalog entries or functions (the
    /// PostgreSQL wire protocol's `pg_catalog`, see [`crate::pg`]) without
    /// changing the HTTP API's session.
    ///
    /// Statements on it must go through [`guard::check`] and be planned
    /// with [`guard::sql_options`], as in [`QueryEngine::sql`].
    pub fn new_session(&self) -> Result<SessionContext> {
        session(&self.tables, &self.objects, Some(self.ctx.runtime_env()))
    }

    /// Runs one read-only statement and returns its result.
    ///
    /// Refused statements are [`crate::Error::Refused`]; bad SQL is a
    /// DataFusion error that [`crate::Error::is_user_error`] recognises.
    ///
    /// The statement runs under the engine's [`QueryOptions`]: it waits for
    /// a slot, is cancelled at its timeout, executes with its own memory
    /// pool and fails when its result grows past the limit
    /// ([`crate::limits`]). Results are cached by plan and files read
    /// ([`crate::cache`]).
    pub async fn sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.sql_within(sql, None).await
    }

    /// As [`QueryEngine::sql`], with the client's own `timeout` when it is
    /// shorter than the engine's (as Prometheus's `timeout` parameter).
    pub async fn sql_within(
        &self,
        sql: &str,
        timeout: Option<Duration>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        guard::check(sql)?;
        let frame = self.ctx.sql_with_options(sql, guard::sql_options()).await?;
        self.run(frame, timeout).await
    }

    /// Runs a planned, already checked statement under the engine's limits
    /// (and `timeout`, if shorter), from the result cache when it holds it.
    /// For front ends with their own session ([`QueryEngine::new_session`]).
    pub async fn run(
        &self,
        frame: DataFrame,
        timeout: Option<Duration>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let memory = self.limits.options().memory_limit;
        self.guarded(timeout, async {
            self.execute(frame)
                .await
                .map_err(|e| e.with_memory_limit(memory))
        })
        .await
    }

    /// Runs `work` as a statement: in a query slot, cancelled at the
    /// timeout (the engine's, or the client's `timeout` when shorter).
    pub(crate) async fn guarded<T>(
        &self,
        timeout: Option<Duration>,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let server = self.limits.options().timeout;
        let limit = timeout.map_or(server, |t| t.min(server));
        let deadline = tokio::time::Instant::now() + limit;
        let _slot = self.limits.admit(deadline).await?;
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Error::Timeout { limit }),
        }
    }

    /// The store's objects, as the tables read them.
    pub(crate) fn objects(&self) -> &Arc<dyn object_store::ObjectStore> {
        &self.objects
    }

    /// Footers (metadata and series index) of the files read through
    /// series indexes ([`crate::series`]).
    pub(crate) fn footers(&self) -> &FooterCache {
        &self.footers
    }

    async fn execute(&self, frame: DataFrame) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let (state, plan) = frame.into_parts();
        let plan = state.optimize(&plan)?;
        let physical = state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await?;
        let key = self.cache.key(&plan, &physical);
        if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(k))
            && let Value::Batches { schema, batches } = &hit.value
        {
            return Ok((Arc::clone(schema), batches.clone()));
        }
        let runtime = self.limits.statement_runtime(state.runtime_env())?;
        let task = TaskContext::from(&state).with_runtime(runtime);
        let mut stream = execute_stream(physical, Arc::new(task))?;
        // The stream's schema is the physical one, which the batches carry.
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut bytes = 0;
        while let Some(batch) = stream.try_next().await? {
            bytes += result_bytes(&batch);
            self.limits.check_result_size(bytes)?;
            batches.push(batch);
        }
        if let Some(key) = key {
            let value = Value::Batches {
                schema: Arc::clone(&schema),
                batches: batches.clone(),
            };
            self.cache.insert(key, value);
        }
        Ok((schema, batches))
    }

    /// A response body from the result cache under `key`, or made by
    /// `compute` and cached. `key` must name everything the body depends
    /// on, including every file that could be read for it (with size and
    /// time), so that a change to those files makes a new key, as for
    /// statements ([`crate::cache`]). For answers made of several
    /// statements plus work in Rust, like the series API's, where caching
    /// each statement would still plan them all on every hit.
    pub async fn cached_body<F>(&self, key: Option<String>, compute: F) -> Result<Bytes>
    where
        F: Future<Output = Result<Bytes>>,
    {
        let key = key.and_then(|k| self.cache.body_key(k));
        if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(k))
            && let Value::Body(body) = &hit.value
        {
            return Ok(body.clone());
        }
        let body = compute.await?;
        if let Some(key) = key {
            self.cache.insert(key, Value::Body(body.clone()));
        }
        Ok(body)
    }

    /// `make()`'s cache key for `request` over the snapshot of sequence
    /// `seq`, computed once per snapshot: keys that depend on the files of
    /// the whole log (the series API's) would otherwise be rebuilt on every
    /// hit. `None` when the result cache is off.
    pub fn key_per_snapshot(
        &self,
        seq: u64,
        request: String,
        make: impl FnOnce() -> String,
    ) -> Option<String> {
        self.cache.enabled().then(|| {
            String::clone(
                &self
                    .snapshot_keys
                    .get_with((seq, request), || Arc::new(make())),
            )
        })
    }

    /// The newest snapshot of the store's commit log.
    pub async fn snapshot(&self) -> Result<Arc<strata_storage::Snapshot>> {
        Ok(self.log.snapshot().await?)
    }

    /// The alert evaluator's last status document, if one was written to
    /// this store (see [`crate::alerts`]).
    pub async fn alert_status(&self) -> Result<Option<serde_json::Value>> {
        crate::alerts::status(self.objects.as_ref()).await
    }

    /// The stored files of `tier` as a table, e.g. to read its scan
    /// counters. For the aggregated tiers this is the table of parts under
    /// the SQL view.
    pub fn table(&self, tier: Tier) -> &Arc<TierTable> {
        self.tables
            .iter()
            .find(|t| t.tier() == tier)
            .expect("every tier is registered")
    }

    /// The rows of exactly `files`, all of `tier`, as stored ([`Tier::schema`],
    /// `exact` included), in no particular order.
    ///
    /// For maintenance: a job that replaces `files` must read those files,
    /// not whatever the log holds by the time the query runs. Values come
    /// through DataFusion's Parquet reader and so in the stored schema's
    /// types, whatever the physical encoding of the file.
    pub fn read_files(&self, tier: Tier, files: Vec<DataFile>) -> Result<DataFrame> {
        let plan = self.files_scan(tier, files)?.build()?;
        Ok(DataFrame::new(self.ctx.state(), plan))
    }

    /// The rows of exactly `files`, all of the aggregated tier `tier`,
    /// merged into one row per series and window of tier `into` (`tier`
    /// itself, or a coarser one), in the stored schema ([`Tier::schema`]:
    /// with the merged `exact` flag) and storage order (metric name, labels,
    /// bucket).
    ///
    /// Merging into `tier` folds the parts of each window (compaction);
    /// into a coarser tier it first folds each window's parts, then chains
    /// the windows in time order (rollup), which keeps exact windows exact.
    /// Note that the columns' nullability may differ from the stored
    /// schema (a computed `bucket` is nullable); the values never are null.
    pub fn merge_files(&self, tier: Tier, files: Vec<DataFile>, into: Tier) -> Result<DataFrame> {
        let (Some(from_ns), Some(into_ns)) = (tier.resolution_ns(), into.resolution_ns()) else {
            return Err(plan_error(format!(
                "can only merge aggregated tiers, not {} into {}",
                tier.dir(),
                into.dir()
            )));
        };
        if into_ns < from_ns || into_ns % from_ns != 0 {
            return Err(plan_error(format!(
                "cannot merge windows of {} into {}",
                tier.dir(),
                into.dir()
            )));
        }
        let mut plan = merge::merge_plan(self.files_scan(tier, files)?, None, true)?;
        if into_ns != from_ns {
            plan = merge::merge_plan(plan, Some(into_ns), true)?;
        }
        let order = [c::METRIC_NAME, c::LABELS, c::BUCKET].map(|name| col(name).sort(true, false));
        let plan = plan.sort(order)?.build()?;
        Ok(DataFrame::new(self.ctx.state(), plan))
    }

    fn files_scan(&self, tier: Tier, files: Vec<DataFile>) -> Result<LogicalPlanBuilder> {
        let table = Arc::new(TierTable::over_files(tier, files)?);
        let name = format!("{}_files", tier.table_name());
        Ok(LogicalPlanBuilder::scan(
            name,
            provider_as_source(table),
            None,
        )?)
    }
}

/// A session with the store's object store and one table or view per tier
/// of `tables` (which are in [`Tier::ALL`]'s order).
///
/// Sessions made for the same engine share `runtime` (caches, object
/// stores, disk manager); the first makes a new one.
fn session(
    tables: &[Arc<TierTable>],
    objects: &Arc<dyn object_store::ObjectStore>,
    runtime: Option<Arc<RuntimeEnv>>,
) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = match runtime {
        Some(runtime) => SessionContext::new_with_config_rt(config, runtime),
        None => SessionContext::new_with_config(config),
    };
    let url = ObjectStoreUrl::parse(STORE_URL)?;
    ctx.register_object_store(url.as_ref(), Arc::clone(objects));
    for table in tables {
        let tier = table.tier();
        match tier {
            Tier::Raw => ctx.register_table(tier.table_name(), Arc::clone(table) as _)?,
            Tier::Minute | Tier::Hour => {
                let view = merge::merged_view(Arc::clone(table))?;
                ctx.register_table(tier.table_name(), Arc::new(view))?
            }
        };
    }
    crate::alerts::register(&ctx)?;
    Ok(ctx)
}

/// The bytes `batch` adds to a result: the size of its slices of the
/// buffers, not of the whole buffers, which an operator's output batches
/// often share (`get_array_memory_size` counts each shared buffer once per
/// batch).
fn result_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

fn plan_error(message: String) -> crate::Error {
    crate::Error::DataFusion(DataFusionError::Plan(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second layer alone, as if the guard had let a write through.
    #[tokio::test]
    async fn sql_options_refuse_writes_without_the_guard() {
        let store = strata_storage::Store::open("memory://").unwrap();
        let log = Arc::new(TableLog::open(store).await.unwrap());
        let engine = QueryEngine::new(log).unwrap();
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
            "INSERT INTO metrics_raw SELECT * FROM metrics_raw",
            "COPY (SELECT 1) TO '/tmp/strata-sql-options.csv'",
            "SET datafusion.execution.batch_size = 1",
            "DROP TABLE metrics_raw",
        ] {
            let err = engine
                .ctx
                .sql_with_options(sql, guard::sql_options())
                .await
                .unwrap_err();
            let err = crate::Error::from(err);
            assert!(err.is_user_error(), "{sql}: {err}");
            assert!(err.message().contains("not supported"), "{sql}: {err}");
        }
        assert!(engine.ctx.table_exist("metrics_raw").unwrap());
    }
}
