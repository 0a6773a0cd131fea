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
//!   SQLSTATE `25006` (read_only_sql_transaction), and the connection stays
//!   open for the next statement.
//!
//! Queries, in the simple and the extended protocol, then run through
//! [`QueryEngine::run`], so they get the same guard rails as the HTTP API
//! (concurrency slot, timeout, memory pool, result size, result cache);
//! a shorter `SET statement_timeout` of the connection applies too. Map
//! columns (`labels`) are sent as JSON text, `current_setting()` and a
//! PostgreSQL-style `version()` answer what clients such as Grafana ask
//! (see [`functions`]).
//!
//! No authentication and no TLS: bind it to a trusted interface.

mod functions;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::StartupHandler;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::{DfSessionService, Parser, QueryHook};
use futures::Sink;
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::{QueryEngine, guard};

/// Serves the tiers of `engine`'s store over the PostgreSQL wire protocol
/// on `listener` until `shutdown` completes. Open connections are dropped
/// at shutdown.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<QueryEngine>,
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
/// authentication; queries of the extended protocol run in [`Extended`].
struct Handlers {
    session: Arc<DfSessionService>,
    extended: Arc<Extended>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    fn new(engine: Arc<QueryEngine>) -> Result<Self> {
        let ctx = engine.new_session()?;
        setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider).map_err(|e| *e)?;
        functions::register(&ctx);
        let ctx = Arc::new(ctx);
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnlyHook {
                engine: Arc::clone(&engine),
            }),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let session = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks));
        let connections = Arc::new(ConnectionManager::new());
        Ok(Self {
            extended: Arc::new(Extended {
                session: Arc::clone(&session),
                ctx,
                engine,
            }),
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
        Arc::clone(&self.extended)
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
/// runs everything else through Strata's read-only guard (both layers),
/// then the engine.
struct ReadOnlyHook {
    engine: Arc<QueryEngine>,
}

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
            Kind::Query => Some(self.run(statement, ctx, client).await),
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
        // Queries of the extended protocol run in `Extended::do_query`,
        // which knows the result formats the client asked for.
        None
    }
}

impl ReadOnlyHook {
    async fn run(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> PgWireResult<Response> {
        let plan = plan(statement, ctx).await.map_err(pg_error)?;
        let frame = DataFrame::new(ctx.state(), plan);
        answer(&self.engine, frame, &*client, &Format::UnifiedText).await
    }
}

/// The extended protocol (Parse, Bind, Describe, Execute), which Grafana's
/// driver uses for every query: `datafusion-postgres`'s, except that
/// queries execute through the engine.
struct Extended {
    session: Arc<DfSessionService>,
    /// The session the statements were planned in.
    ctx: Arc<SessionContext>,
    engine: Arc<QueryEngine>,
}

/// A parsed statement of the extended protocol, as `datafusion-postgres`
/// stores it: the SQL and, unless empty, the statement and its plan.
type Prepared = (String, Option<(Statement, LogicalPlan)>);

#[async_trait]
impl ExtendedQueryHandler for Extended {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.session.query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let plan = match &portal.statement.statement {
            (_, Some((statement, plan))) if matches!(kind(statement), Kind::Query) => plan,
            _ => {
                return ExtendedQueryHandler::do_query(
                    self.session.as_ref(),
                    client,
                    portal,
                    max_rows,
                )
                .await;
            }
        };
        let params = self.parameters(portal, plan)?;
        let plan = plan
            .clone()
            .replace_params_with_values(&params)
            .map_err(|e| pg_error(e.into()))?;
        let frame = DataFrame::new(self.ctx.state(), plan);
        answer(&self.engine, frame, &*client, &portal.result_column_format).await
    }
}

impl Extended {
    /// The portal's bound parameters, decoded with the types the server
    /// announced for them (`ParameterDescription`) where the client gave
    /// none, as `datafusion-postgres` does.
    fn parameters(
        &self,
        portal: &Portal<Prepared>,
        plan: &LogicalPlan,
    ) -> PgWireResult<ParamValues> {
        let wire = self
            .query_parser()
            .get_parameter_types(&portal.statement.statement)?;
        let inferred = plan.get_parameter_types().map_err(|e| pg_error(e.into()))?;
        let mut inferred: Vec<_> = inferred.into_iter().collect();
        inferred.sort_by_key(|(id, _)| {
            id.trim_start_matches('$')
                .parse::<u32>()
                .unwrap_or(u32::MAX)
        });
        let inferred: Vec<_> = inferred.iter().map(|(_, t)| t.as_ref()).collect();
        let wire: Vec<_> = wire.iter().map(Some).collect();
        deserialize_parameters_with_server_types(portal, &inferred, &wire)
    }
}

/// Checks and plans one statement like [`QueryEngine::sql`], with map
/// columns as text.
async fn plan(statement: &Statement, ctx: &SessionContext) -> Result<LogicalPlan> {
    guard::check(&statement.to_string())?;
    let plan = ctx
        .state()
        .statement_to_plan(DFStatement::Statement(Box::new(statement.clone())))
        .await?;
    guard::sql_options().verify_plan(&plan)?;
    Ok(functions::maps_as_text(plan)?)
}

/// A result as rows in `format`.
/// Runs `frame` under the engine's limits (and the client's
/// `statement_timeout`) and encodes its rows in `format`: the one way both
/// protocols answer a query.
async fn answer<C: ClientInfo + ?Sized>(
    engine: &QueryEngine,
    frame: DataFrame,
    client: &C,
    format: &Format,
) -> PgWireResult<Response> {
    let (schema, batches) = engine
        .run(frame, statement_timeout(client))
        .await
        .map_err(pg_error)?;
    let options = FormatOptions::from_client_metadata(client.metadata());
    Ok(Response::Query(encode(&schema, batches, format, options)?))
}

fn encode(
    schema: &Schema,
    batches: Vec<RecordBatch>,
    format: &Format,
    options: FormatOptions,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(arrow_schema_to_pg_fields(
        schema,
        format,
        Some(Arc::new(options)),
    )?);
    let row_fields = Arc::clone(&fields);
    let rows = batches
        .into_iter()
        .flat_map(move |batch| encode_recordbatch(Arc::clone(&row_fields), batch));
    Ok(QueryResponse::new(fields, futures::stream::iter(rows)))
}

/// The connection's `SET statement_timeout`, if any (0 is none). The key is
/// the one `datafusion-postgres`'s `SET` hook stores it under.
fn statement_timeout<C: ClientInfo + ?Sized>(client: &C) -> Option<Duration> {
    client
        .metadata()
        .get("statement_timeout_ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// An `ErrorResponse` with a SQLSTATE for the kind of error.
fn pg_error(error: Error) -> PgWireError {
    let code = match &error {
        // read_only_sql_transaction
        Error::Refused { .. } => "25006",
        // syntax_error
        Error::BadRequest(_) => "42601",
        // query_canceled, as PostgreSQL's statement_timeout
        Error::Timeout { .. } => "57014",
        // too_many_connections: the server is saturated, retry later
        Error::Busy { .. } => "53300",
        // out_of_memory / program_limit_exceeded
        Error::MemoryLimit { .. } => "53200",
        Error::ResultTooLarge { .. } => "54000",
        e if e.is_user_error() => "42000",
        _ => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        error.message(),
    )))
}
