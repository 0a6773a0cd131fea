//! The query engine: one DataFusion session over a Strata store.
//!
//! The session knows the store's object store under
//! [`strata_storage::store::STORE_URL`] and one [`TierTable`] per tier, and
//! nothing else: no URL tables, no other object stores, no way to create
//! tables. Every statement goes through [`guard::check`] first and is
//! planned with [`guard::sql_options`].

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use strata_schemas::Tier;
use strata_storage::TableLog;
use strata_storage::store::STORE_URL;

use crate::error::Result;
use crate::guard;
use crate::table::TierTable;

/// Answers read-only SQL over the tiers of one store.
///
/// Cheap to share: wrap it in an `Arc` and call [`QueryEngine::sql`] from
/// any number of tasks.
pub struct QueryEngine {
    ctx: SessionContext,
    tables: Vec<Arc<TierTable>>,
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
    /// its table (`metrics_raw`, …).
    pub fn new(log: Arc<TableLog>) -> Result<Self> {
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        let url = ObjectStoreUrl::parse(STORE_URL)?;
        ctx.register_object_store(url.as_ref(), Arc::clone(log.store().objects()));
        let mut tables = Vec::new();
        for tier in Tier::ALL {
            let table = Arc::new(TierTable::new(tier, Arc::clone(&log))?);
            ctx.register_table(tier.table_name(), Arc::clone(&table) as _)?;
            tables.push(table);
        }
        Ok(Self { ctx, tables })
    }

    /// Runs one read-only statement and returns its result.
    ///
    /// Refused statements are [`crate::Error::Refused`]; bad SQL is a
    /// DataFusion error that [`crate::Error::is_user_error`] recognises.
    pub async fn sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        guard::check(sql)?;
        let frame = self.ctx.sql_with_options(sql, guard::sql_options()).await?;
        let stream = frame.execute_stream().await?;
        // The stream's schema is the physical one, which the batches carry.
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        Ok((schema, batches))
    }

    /// The table of `tier`, e.g. to read its scan counters.
    pub fn table(&self, tier: Tier) -> &Arc<TierTable> {
        self.tables
            .iter()
            .find(|t| t.tier() == tier)
            .expect("every tier is registered")
    }
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
