//! `strata serve`.

use std::sync::Arc;

use strata_query::QueryEngine;

use crate::cli::{HttpArgs, PgArgs, StoreArgs};

pub(crate) async fn run(store: StoreArgs, http: HttpArgs, pg: PgArgs) -> anyhow::Result<()> {
    let log = super::open_log(&store.store).await?;
    let engine = Arc::new(QueryEngine::with_options(log, http.query.options())?);
    let listener = tokio::net::TcpListener::bind(http.http_addr).await?;
    let pg_listener = tokio::net::TcpListener::bind(pg.pg_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, store = %store.store, "serving SQL on /api/v1/sql");
    tracing::info!(addr = %pg_listener.local_addr()?, "serving SQL over the PostgreSQL wire protocol");
    let shutdown = super::shutdown_on_signal();
    let pg_engine = Arc::clone(&engine);
    let pg_shutdown = shutdown.clone();
    let pg_server = tokio::spawn(async move {
        strata_query::pg::serve(pg_listener, pg_engine, pg_shutdown.cancelled_owned()).await
    });
    let http_res =
        strata_query::http::serve(listener, engine, shutdown.clone().cancelled_owned()).await;
    // The HTTP server only returns at shutdown or on error: stop the other.
    shutdown.cancel();
    pg_server.await??;
    http_res?;
    Ok(())
}
