//! One tier's stored files as a DataFusion table, read through the commit
//! log.
//!
//! A [`TierTable`] holds no list of files. Every scan asks the log for its
//! newest snapshot (two small GETs when nothing changed), so a file the
//! ingest pipeline commits is visible to the next query, and a file a
//! compaction removes is never opened again. The snapshot's files are
//! pruned with the [`FilePredicate`] the scan's filters imply, on the
//! tier's time column (`ts` or `bucket`); the survivors become one Parquet
//! scan (`DataSourceExec`).
//!
//! The table's schema is the *stored* one ([`Tier::schema`]): for the
//! aggregated tiers its rows are partial aggregates, several per series and
//! window, and users see them only through the merging views of
//! [`crate::merge`]. Maintenance jobs instead read a fixed set of files
//! with [`TierTable::over_files`], so that what they read is exactly what
//! they later replace.
//!
//! Filters are reported as [`TableProviderFilterPushDown::Inexact`]:
//! DataFusion keeps applying them above the scan, and its physical filter
//! pushdown also hands them to the `ParquetSource` as a pruning predicate,
//! which skips row groups and pages by their statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use strata_schemas::Tier;
use strata_storage::store::STORE_URL;
use strata_storage::{DataFile, TableLog};

use crate::prune::FilePredicate;

/// The stored files of a tier as a read-only SQL table.
#[derive(Debug)]
pub struct TierTable {
    tier: Tier,
    files: Files,
    schema: SchemaRef,
    /// `schema` for the expression simplifier, built once.
    df_schema: DFSchemaRef,
    store_url: ObjectStoreUrl,
    /// Files handed to Parquet scans so far; see [`TierTable::files_scanned`].
    files_scanned: AtomicU64,
}

impl TierTable {
    /// The table of `tier`, reading the files `log` makes visible.
    ///
    /// The session running the scans must have the store's object store
    /// registered under [`STORE_URL`].
    pub fn new(tier: Tier, log: Arc<TableLog>) -> Result<Self, DataFusionError> {
        Self::with_files(tier, Files::Log(log))
    }

    /// A table of exactly `files` (all of `tier`), whatever the log says
    /// now: what a maintenance job reads before replacing those files.
    pub fn over_files(tier: Tier, files: Vec<DataFile>) -> Result<Self, DataFusionError> {
        if let Some(f) = files.iter().find(|f| f.tier != tier.dir()) {
            return Err(DataFusionError::Plan(format!(
                "file {} is of tier {}, not {}",
                f.path,
                f.tier,
                tier.dir()
            )));
        }
        Self::with_files(tier, Files::Fixed(files))
    }

    fn with_files(tier: Tier, files: Files) -> Result<Self, DataFusionError> {
        let schema = tier.schema();
        Ok(Self {
            tier,
            files,
            df_schema: Arc::new(DFSchema::try_from(SchemaRef::clone(&schema))?),
            schema,
            store_url: ObjectStoreUrl::parse(STORE_URL)?,
            files_scanned: AtomicU64::new(0),
        })
    }

    /// The tier this table reads.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// How many files all scans planned so far have included, after
    /// pruning. Lets tests and metrics see how much pruning saves: a query
    /// of one hour over hourly files should add one.
    pub fn files_scanned(&self) -> u64 {
        self.files_scanned.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl TableProvider for TierTable {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // File and row-group pruning are approximate: the filters must
        // still be applied to the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let predicate = FilePredicate::from_filters(
            filters,
            self.tier.time_column(),
            &self.df_schema,
            state.execution_props(),
        );
        let keep = |f: &DataFile| {
            predicate
                .may_match(f)
                .then(|| PartitionedFile::new(f.path.clone(), f.bytes))
        };
        let (files, total, seq): (Vec<PartitionedFile>, usize, Option<u64>) = match &self.files {
            Files::Log(log) => {
                let snapshot = log
                    .snapshot()
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let files = snapshot.files_of(self.tier.dir()).filter_map(keep);
                let files = files.collect();
                let total = snapshot.files_of(self.tier.dir()).count();
                (files, total, Some(snapshot.seq))
            }
            Files::Fixed(list) => (list.iter().filter_map(keep).collect(), list.len(), None),
        };
        tracing::debug!(
            table = self.tier.table_name(),
            ?seq,
            files = files.len(),
            pruned = total - files.len(),
            ?predicate,
            "planning scan"
        );
        self.files_scanned
            .fetch_add(files.len() as u64, Ordering::Relaxed);

        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }

        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(TableSchema::from(&self.schema));
        let config = FileScanConfigBuilder::new(self.store_url.clone(), source)
            .with_file_groups(file_groups(files, state.config().target_partitions()))
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// Where a [`TierTable`] finds its files.
#[derive(Debug)]
enum Files {
    /// The tier's files in the newest snapshot of the log, at every scan.
    Log(Arc<TableLog>),
    /// A fixed list.
    Fixed(Vec<DataFile>),
}

/// Deals `files` round-robin into at most `partitions` groups, one per
/// output partition of the scan.
fn file_groups(files: Vec<PartitionedFile>, partitions: usize) -> Vec<FileGroup> {
    let n = partitions.clamp(1, files.len().max(1));
    let mut groups: Vec<Vec<PartitionedFile>> = (0..n).map(|_| Vec::new()).collect();
    for (i, f) in files.into_iter().enumerate() {
        groups[i % n].push(f);
    }
    groups.into_iter().map(FileGroup::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_dealt_into_at_most_target_partitions_groups() {
        let files = |n: usize| {
            (0..n)
                .map(|i| PartitionedFile::new(format!("f{i}"), 1))
                .collect()
        };
        let sizes = |g: Vec<FileGroup>| g.iter().map(|g| g.len()).collect::<Vec<_>>();
        assert_eq!(sizes(file_groups(files(5), 2)), vec![3, 2]);
        assert_eq!(sizes(file_groups(files(1), 8)), vec![1]);
        assert_eq!(sizes(file_groups(files(3), 0)), vec![3]);
    }
}
