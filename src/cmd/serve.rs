//! `strata serve`.

use std::sync::Arc;

use strata_query::QueryEngine;

use crate::cli::{HttpArgs, StoreArgs};

pub(crate) async fn run(store: StoreArgs, http: HttpArgs) -> anyhow::Result<()> {
    let log = super::open_log(&store.store).await?;
    let engine = Arc::new(QueryEngine::new(log)?);
    let listener = tokio::net::TcpListener::bind(http.http_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, store = %store.store, "serving SQL on /api/v1/sql");
    let shutdown = super::shutdown_on_signal();
    strata_query::http::serve(listener, engine, shutdown.cancelled_owned()).await?;
    Ok(())
}
