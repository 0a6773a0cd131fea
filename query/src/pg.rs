//! The PostgreSQL wire protocol front end, for `psql` and Grafana's
//! PostgreSQL data source.
//!
//! Protocol handling, `pg_catalog` and the PostgreSQL functions clients
//! probe come from `datafusion-postgres`, over a session of its own
//! ([`QueryEngine::new_session`]) so its catalog additions do not change the
//! HTTP API's session. Every statement first meets [`ReadOnlyHook`]:
//! - per-connection session statements are left to `datafusion-postgres`'s
//!   hooks: `BEGIN`/`COMMIT`/`ROLLBACK` (no-ops), `SHOW`, `SET` of a
//!   client setting kept per connection (`application_name`,
//!   `statement_timeout`, `search_path`, `TIME ZONE`, …);
//! - any other statement must pass [`guard::check`] and is planned with
//!   [`guard::sql_options`], as in [`QueryEngine::sql`]; refusals are
//!   SQLSTATE `25006` (read_only_sql_transaction).
//!
//! No authentication and no TLS: bind it to a trusted interface.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::{ClientInfo, ConnectionManager, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::{DfSessionService, QueryHook};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::{QueryEngine, guard};

/// Serves the tiers of `engine`'s store over the PostgreSQL wire protocol
/// on `listener` until `shutdown` completes. Open connections are dropped
/// at shutdown.
pub async fn serve(
    listener: TcpListener,
    engine: &QueryEngine,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let handlers = Arc::new(Handlers::new(engine)?);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let handlers = Arc::clone(&handlers);
                    tokio::spawn(async move {
                        let result =
                            datafusion_postgres::pgwire::tokio::process_socket(socket, None, handlers)
                                .await;
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "PostgreSQL connection failed");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "accepting a PostgreSQL connection"),
            },
        }
    }
}

/// `datafusion-postgres`'s session service behind [`ReadOnlyHook`], no
/// authentication.
struct Handlers {
    session: Arc<DfSessionService>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    fn new(engine: &QueryEngine) -> Result<Self> {
        let ctx = engine.new_session()?;
        setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider).map_err(|e| *e)?;
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnlyHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let session = Arc::new(DfSessionService::new_with_hooks(Arc::new(ctx), hooks));
        let connections = Arc::new(ConnectionManager::new());
        Ok(Self {
            session,
            cancel: Arc::new(DefaultCancelHandler::new(Arc::clone(&connections))),
            startup: Arc::new(Startup { connections }),
        })
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.session)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.session)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

struct Startup {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Startup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}

/// What a statement is, for [`ReadOnlyHook`].
enum Kind {
    /// Left to `datafusion-postgres`'s per-connection hooks.
    Session,
    /// Everything else: must be a read.
    Query,
}

/// Client settings `datafusion-postgres` keeps per connection. Any other
/// `SET` would change the shared DataFusion session and is refused.
const CONNECTION_SETTINGS: &[&str] = &[
    "statement_timeout",
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
];

fn kind(statement: &Statement) -> Kind {
    match statement {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. } => Kind::Session,
        Statement::Set(Set::SetTimeZone { local: false, .. }) => Kind::Session,
        Statement::Set(Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            values,
        }) if !values.is_empty()
            && CONNECTION_SETTINGS.contains(&variable.to_string().to_lowercase().as_str()) =>
        {
            Kind::Session
        }
        _ => Kind::Query,
    }
}

/// Lets per-connection session statements through to the next hooks and
/// runs everything else through Strata's read-only guard (both layers).
struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        match kind(statement) {
            Kind::Session => None,
            Kind::Query => Some(run(statement, ctx, client).await),
        }
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match kind(statement) {
            Kind::Session => None,
            Kind::Query => Some(plan(statement, ctx).await.map_err(pg_error)),
        }
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        // The plan passed both layers when it was parsed.
        None
    }
}

/// Checks and plans one statement like [`QueryEngine::sql`].
async fn plan(statement: &Statement, ctx: &SessionContext) -> Result<LogicalPlan> {
    guard::check(&statement.to_string())?;
    let plan = ctx
        .state()
        .statement_to_plan(DFStatement::Statement(Box::new(statement.clone())))
        .await?;
    guard::sql_options().verify_plan(&plan)?;
    Ok(plan)
}

async fn run(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    let plan = plan(statement, ctx).await.map_err(pg_error)?;
    let frame = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| pg_error(e.into()))?;
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let response = encode_dataframe(frame, &Format::UnifiedText, Some(options)).await?;
    Ok(Response::Query(response))
}

/// An `ErrorResponse` with a SQLSTATE for the kind of error.
fn pg_error(error: Error) -> PgWireError {
    let code = match &error {
        // read_only_sql_transaction
        Error::Refused { .. } => "25006",
        // syntax_error
        Error::BadRequest(_) => "42601",
        e if e.is_user_error() => "42000",
        _ => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        error.message(),
    )))
}
