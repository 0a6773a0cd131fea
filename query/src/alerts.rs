//! What the query service shows of the alert evaluator: the `alerts`
//! table (every state transition, Parquet files the evaluator writes under
//! [`TRANSITIONS_DIR`]) and the evaluator's status document behind
//! `GET /api/v1/rules` and `GET /api/v1/alerts`.
//!
//! Both come from the store, so the query service and `strata alerts` can
//! run as separate processes.

use std::sync::Arc;

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use strata_schemas::alerts::{self, STATUS_PATH, TRANSITIONS_DIR};
use strata_storage::store::STORE_URL;

use crate::error::Result;

/// Registers the `alerts` table, over whatever transition files exist when
/// a query is planned.
pub(crate) fn register(ctx: &SessionContext) -> Result<()> {
    let url = ListingTableUrl::parse(format!("{STORE_URL}{TRANSITIONS_DIR}/"))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(alerts::schema());
    ctx.register_table(alerts::TABLE, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// The evaluator's last status document (`None`: no evaluator has written
/// one to this store).
pub async fn status(objects: &dyn ObjectStore) -> Result<Option<serde_json::Value>> {
    match objects.get(&Path::from(STATUS_PATH)).await {
        Ok(got) => {
            let bytes = got.bytes().await.map_err(strata_storage::Error::from)?;
            let doc =
                serde_json::from_slice(&bytes).map_err(|e| strata_storage::Error::CorruptLog {
                    path: STATUS_PATH.into(),
                    reason: format!("not valid JSON: {e}"),
                })?;
            Ok(Some(doc))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(strata_storage::Error::from(e).into()),
    }
}
