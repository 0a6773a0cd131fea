//! Read-only enforcement: the SQL endpoint answers queries and nothing else.
//!
//! Two independent layers:
//! 1. [`check`] parses the request with DataFusion's SQL parser and accepts
//!    exactly one statement that reads: a query (`SELECT`, `WITH`,
//!    `VALUES`, without `SELECT … INTO` or data-modifying parts anywhere
//!    inside), `EXPLAIN [ANALYZE]` of such a query, `SHOW TABLES`,
//!    `SHOW COLUMNS` and `DESCRIBE`. Anything else is [`Error::Refused`],
//!    naming the kind of statement.
//! 2. The engine plans with [`sql_options`], which makes DataFusion itself
//!    refuse any DDL, DML or session statement that reaches the planner,
//!    should the parser and planner ever disagree with the check above.
//!
//! Reading files other than the tiers is impossible because the session
//! never enables URL tables (`SELECT * FROM 'file:///…'`) and DataFusion's
//! built-in table functions (`generate_series`, `range`) read no files.

use std::ops::ControlFlow;

use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::{Query, Select, Statement as SqlStatement, Visit, Visitor};

use crate::error::{Error, Result};

/// Accepts `sql` if it is exactly one read-only statement.
///
/// Syntax errors are returned as DataFusion's parser error (a user error);
/// statements that would change anything as [`Error::Refused`].
pub fn check(sql: &str) -> Result<()> {
    let statements = DFParser::parse_sql(sql)?;
    match statements.len() {
        0 => Err(Error::BadRequest("no SQL statement given".into())),
        1 => check_statement(&statements[0]),
        n => Err(Error::Refused {
            statement: format!("a request of {n} statements"),
        }),
    }
}

/// The options every statement is planned with: no DDL, no DML, no
/// session statements (`SET`, `PREPARE`, transactions, …).
pub fn sql_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

fn refused(statement: impl Into<String>) -> Error {
    Error::Refused {
        statement: statement.into(),
    }
}

fn check_statement(statement: &Statement) -> Result<()> {
    match statement {
        Statement::Statement(s) => check_sql_statement(s),
        // `EXPLAIN ANALYZE` runs its statement: it is only a read if the
        // statement is.
        Statement::Explain(explain) => check_statement(&explain.statement),
        Statement::CreateExternalTable(_) => Err(refused("CREATE EXTERNAL TABLE")),
        Statement::CopyTo(_) => Err(refused("COPY")),
        Statement::Reset(_) => Err(refused("RESET")),
    }
}

fn check_sql_statement(statement: &SqlStatement) -> Result<()> {
    match statement {
        SqlStatement::Query(query) => check_query(query),
        SqlStatement::Explain { statement, .. } => check_sql_statement(statement),
        SqlStatement::ShowTables { .. }
        | SqlStatement::ShowColumns { .. }
        | SqlStatement::ExplainTable { .. } => Ok(()),
        other => Err(refused(kind(other))),
    }
}

/// Refuses a query with a write anywhere inside: `SELECT … INTO` (creates
/// a table) or a DML statement as a set expression or CTE body.
fn check_query(query: &Query) -> Result<()> {
    match query.visit(&mut ReadOnly) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(kind) => Err(refused(kind)),
    }
}

/// Walks a query and stops at the first part that writes.
struct ReadOnly;

impl Visitor for ReadOnly {
    type Break = String;

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<String> {
        match select.into {
            Some(_) => ControlFlow::Break("SELECT INTO".into()),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_statement(&mut self, statement: &SqlStatement) -> ControlFlow<String> {
        match statement {
            SqlStatement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(kind(other)),
        }
    }
}

/// A short name of the kind of `statement`, for the refusal message:
/// `INSERT`, `CREATE TABLE`, `DROP VIEW`, …
fn kind(statement: &SqlStatement) -> String {
    let name = match statement {
        SqlStatement::Insert(_) => "INSERT",
        SqlStatement::Update(_) => "UPDATE",
        SqlStatement::Delete(_) => "DELETE",
        SqlStatement::Merge(_) => "MERGE",
        SqlStatement::Truncate(_) => "TRUNCATE",
        SqlStatement::Copy { .. } => "COPY",
        SqlStatement::Set(_) => "SET",
        SqlStatement::CreateTable(_) => "CREATE TABLE",
        SqlStatement::CreateView(_) => "CREATE VIEW",
        SqlStatement::CreateIndex(_) => "CREATE INDEX",
        SqlStatement::CreateSchema { .. } => "CREATE SCHEMA",
        SqlStatement::CreateDatabase { .. } => "CREATE DATABASE",
        SqlStatement::CreateFunction(_) => "CREATE FUNCTION",
        SqlStatement::AlterTable(_) => "ALTER TABLE",
        SqlStatement::Drop { object_type, .. } => return format!("DROP {object_type}"),
        // Every other statement's SQL text starts with its keyword.
        other => {
            let text = other.to_string();
            let first = text.split_whitespace().next().unwrap_or("statement");
            return first.to_ascii_uppercase();
        }
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(sql: &str) -> String {
        match check(sql) {
            Err(Error::Refused { statement }) => statement,
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn accepts_reads() {
        for sql in [
            "SELECT 1",
            "select count(*) from metrics_raw where ts > now() - interval '1 hour'",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "VALUES (1), (2)",
            "SELECT 1 UNION ALL SELECT 2",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT 1",
            "EXPLAIN VERBOSE SELECT 1",
            "SHOW TABLES",
            "SHOW COLUMNS FROM metrics_raw",
            "DESCRIBE metrics_raw",
            "SELECT 1;",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn refuses_writes_naming_the_statement() {
        for (sql, want) in [
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("INSERT INTO metrics_raw VALUES (1)", "INSERT"),
            ("DELETE FROM metrics_raw", "DELETE"),
            ("UPDATE metrics_raw SET value = 1", "UPDATE"),
            ("DROP TABLE metrics_raw", "DROP TABLE"),
            ("DROP VIEW v", "DROP VIEW"),
            ("COPY metrics_raw TO '/tmp/x.csv'", "COPY"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("RESET datafusion.execution.batch_size", "RESET"),
            ("TRUNCATE TABLE metrics_raw", "TRUNCATE"),
            ("EXPLAIN INSERT INTO metrics_raw VALUES (1)", "INSERT"),
            ("EXPLAIN ANALYZE DELETE FROM metrics_raw", "DELETE"),
            ("SELECT 1 INTO t", "SELECT INTO"),
            (
                "WITH x AS (SELECT 1 AS a) SELECT a INTO t FROM x",
                "SELECT INTO",
            ),
            ("PREPARE p AS SELECT 1", "PREPARE"),
            (
                "SELECT 1; DROP TABLE metrics_raw",
                "a request of 2 statements",
            ),
            ("SELECT 1; SELECT 2", "a request of 2 statements"),
        ] {
            assert_eq!(refusal(sql), want, "{sql}");
        }
    }

    #[test]
    fn refusal_message_says_read_only() {
        let msg = check("DROP TABLE metrics_raw").unwrap_err().to_string();
        assert!(
            msg.contains("DROP TABLE") && msg.contains("read-only"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_and_empty_requests_are_user_errors() {
        let err = check("SELEC 1").unwrap_err();
        assert!(matches!(err, Error::DataFusion(_)), "{err:?}");
        assert!(err.is_user_error());
        assert!(matches!(check(" ; "), Err(Error::BadRequest(_))));
    }
}
