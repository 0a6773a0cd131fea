//! Results cached by what they read.
//!
//! A result can be reused exactly when the same plan reads the same files:
//! the tiers' files are immutable once committed, and a late sample or a
//! compaction never changes a file but commits a new one (and, for a
//! compaction, removes the old). So the key of a cached result is
//!
//! - the statement's *optimized* logical plan, in which `now()` and other
//!   stable functions are already folded into literals (a query relative to
//!   now gets a new key as time passes), and
//! - every file its physical plan scans, with size and modification time,
//!   after pruning: exactly the files of the snapshot the statement read.
//!
//! A late correction in a cached range adds a file that the same query
//! would now scan; a compaction replaces files. Either changes the key, so
//! the cache cannot serve a stale answer, whatever the lateness horizon.
//! Ranges that are still being written simply keep missing, and the
//! cache's TinyLFU admission (moka) keeps such one-off entries from
//! evicting the ones that hit.
//!
//! Statements whose result is not a function of plan and files are never
//! cached: volatile functions (`random()`, `uuid()`) and `EXPLAIN ANALYZE`
//! (timings). Nor are `EXPLAIN` and `DESCRIBE`, which read no data.
//!
//! Entries are weighed by their Arrow in-memory size and the cache is
//! bounded in bytes ([`crate::QueryOptions::cache_bytes`]).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;

/// A cached result.
#[derive(Debug)]
pub(crate) struct Cached {
    /// The full key, compared on every hit so that a hash collision can
    /// never return another statement's result.
    key: String,
    pub(crate) value: Value,
}

/// What is cached: a statement's batches, or a whole response body (the
/// series API's, see [`crate::QueryEngine::cached_body`]).
#[derive(Debug)]
pub(crate) enum Value {
    Batches {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    Body(bytes::Bytes),
}

impl Value {
    fn bytes(&self) -> usize {
        match self {
            Value::Batches { batches, .. } => batches
                .iter()
                .map(RecordBatch::get_array_memory_size)
                .sum::<usize>(),
            Value::Body(body) => body.len(),
        }
    }
}

/// Hits and misses since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Statements answered from the cache.
    pub hits: u64,
    /// Cacheable statements that had to run.
    pub misses: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (Arrow in-memory size).
    pub bytes: u64,
}

/// The result cache of one engine.
pub(crate) struct ResultCache {
    cache: Option<moka::sync::Cache<u64, Arc<Cached>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The identity of a statement's result: see the module doc.
#[derive(Debug)]
pub(crate) struct Key {
    text: String,
    hash: u64,
}

impl ResultCache {
    /// A cache of at most `bytes`; 0 disables caching.
    pub(crate) fn new(bytes: u64) -> Self {
        let cache = (bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|_, v: &Arc<Cached>| {
                    let size = v.key.len() + v.value.bytes();
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of `plan` (optimized) executing as `physical`, or `None`
    /// if the result must not be cached (or caching is off).
    pub(crate) fn key(&self, plan: &LogicalPlan, physical: &Arc<dyn ExecutionPlan>) -> Option<Key> {
        self.cache.as_ref()?;
        if !cacheable(plan) {
            return None;
        }
        let mut text = plan.display_indent_schema().to_string();
        text.push_str("\n-- files\n");
        physical
            .apply(|node| {
                if let Some(config) = file_scan(node.as_ref()) {
                    for group in &config.file_groups {
                        for file in group.files() {
                            let meta = &file.object_meta;
                            text.push_str(&format!(
                                "{} {} {}\n",
                                meta.location,
                                meta.size,
                                meta.last_modified.timestamp_nanos_opt().unwrap_or_default()
                            ));
                        }
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .expect("the visitor never fails");
        Some(Key::new(text))
    }

    /// Whether results are cached at all (a size above 0).
    pub(crate) fn enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// The key of a response body identified by `text` (which must name
    /// everything the body depends on, files included), or `None` when
    /// caching is off.
    pub(crate) fn body_key(&self, text: String) -> Option<Key> {
        self.cache.as_ref()?;
        Some(Key::new(text))
    }

    /// The cached result under `key`, counting the hit or miss.
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Cached>> {
        let cache = self.cache.as_ref()?;
        let found = cache.get(&key.hash).filter(|c| c.key == key.text);
        let counter = match found {
            Some(_) => &self.hits,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub(crate) fn insert(&self, key: Key, value: Value) {
        if let Some(cache) = &self.cache {
            let entry = Cached {
                key: key.text,
                value,
            };
            cache.insert(key.hash, Arc::new(entry));
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let (entries, bytes) = match &self.cache {
            Some(c) => {
                c.run_pending_tasks();
                (c.entry_count(), c.weighted_size())
            }
            None => (0, 0),
        };
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }
}

impl Key {
    fn new(text: String) -> Self {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        Self {
            hash: hasher.finish(),
            text,
        }
    }
}

/// The file scan under `node`, if it is one.
fn file_scan(node: &dyn ExecutionPlan) -> Option<&FileScanConfig> {
    node.downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()
}

/// False for plans whose result is not determined by plan and files, and
/// for statements about plans or tables rather than data (`EXPLAIN`,
/// `DESCRIBE`): cheap, and their indented display does not name all that
/// decides their answer (the described table, `VERBOSE`).
fn cacheable(plan: &LogicalPlan) -> bool {
    if matches!(
        plan,
        LogicalPlan::Analyze(_) | LogicalPlan::Explain(_) | LogicalPlan::DescribeTable(_)
    ) {
        return false;
    }
    let mut volatile = false;
    plan.apply_with_subqueries(|node| {
        if matches!(node, LogicalPlan::Analyze(_)) {
            volatile = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        node.apply_expressions(|expr| {
            if expr.is_volatile() {
                volatile = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })
    })
    .expect("the visitor never fails");
    !volatile
}
