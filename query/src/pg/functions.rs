//! What PostgreSQL clients expect of the server beyond `pg_catalog`:
//! `current_setting(name)` and a PostgreSQL-style `version()`, which
//! Grafana's data source and BI tools ask for, and label maps as text,
//! since the wire protocol has no type for an Arrow map.

use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, Result as DFResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion_postgres::pgwire::api::auth::DefaultServerParameterProvider;

/// Registers `current_setting` and `version` in the PostgreSQL session.
pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(CurrentSetting::new()));
    ctx.register_udf(ScalarUDF::from(Version::new()));
}

/// `plan` with every map column (`labels`) turned into its text, e.g.
/// `{"host": "web01", "region": "eu"}` (how PostgreSQL prints `jsonb`), so
/// that `SELECT *` works over the wire. Plans without map columns are
/// returned as they are.
pub(super) fn maps_as_text(plan: LogicalPlan) -> DFResult<LogicalPlan> {
    let has_map = |t: &DataType| matches!(t, DataType::Map(..));
    if !plan
        .schema()
        .fields()
        .iter()
        .any(|f| has_map(f.data_type()))
    {
        return Ok(plan);
    }
    let udf = Arc::new(ScalarUDF::from(MapText::new()));
    let exprs: Vec<Expr> = plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match has_map(field.data_type()) {
                true => Arc::clone(&udf)
                    .call(vec![column])
                    .alias_qualified(qualifier.cloned(), field.name()),
                false => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

/// The server's settings as `current_setting` reports them: those pgwire
/// announces at startup (`server_version`, `TimeZone`, …), plus the
/// version number clients compare and the read-only flags. Names are
/// compared case-insensitively, as PostgreSQL does.
fn setting(name: &str) -> Option<String> {
    let defaults = DefaultServerParameterProvider::default();
    let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
    Some(match name.to_ascii_lowercase().as_str() {
        "server_version" => defaults.server_version,
        "server_version_num" => version_num(&defaults.server_version),
        "server_encoding" => defaults.server_encoding,
        "client_encoding" => defaults.client_encoding.unwrap_or_else(|| "UTF8".into()),
        "search_path" => defaults.search_path,
        "timezone" => defaults.time_zone,
        "datestyle" => defaults.date_style,
        "intervalstyle" => defaults.interval_style,
        "integer_datetimes" => on_off(defaults.integer_datetimes),
        "standard_conforming_strings" => on_off(defaults.standard_conforming_strings),
        "max_identifier_length" => "63".into(),
        "transaction_read_only" | "default_transaction_read_only" => on_off(true),
        _ => return None,
    })
}

/// `16.6-pgwire-0.41.1` → `160006`, as PostgreSQL's `server_version_num`.
fn version_num(version: &str) -> String {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major * 10_000 + minor).to_string()
}

/// `current_setting(name)`: a setting's value, an error for an unknown one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    fn new() -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let lookup = |name: Option<&str>| match name {
            None => Ok(None),
            Some(name) => match setting(name) {
                Some(value) => Ok(Some(value)),
                None => exec_err!("unrecognized configuration parameter \"{name}\""),
            },
        };
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(name)) => Ok(ColumnarValue::Scalar(
                ScalarValue::Utf8(lookup(name.as_deref())?),
            )),
            ColumnarValue::Array(names) => {
                let names = names.as_string::<i32>();
                let values = names
                    .iter()
                    .map(lookup)
                    .collect::<DFResult<StringArray>>()?;
                Ok(ColumnarValue::Array(Arc::new(values)))
            }
            other => exec_err!("current_setting expects text, got {}", other.data_type()),
        }
    }
}

/// `version()` as PostgreSQL words it, since some clients parse the
/// leading `PostgreSQL <version>`: the version pgwire announces, then what
/// actually answers.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Version {
    signature: Signature,
}

impl Version {
    fn new() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Version {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let pg = DefaultServerParameterProvider::default().server_version;
        let pg = pg.split('-').next().unwrap_or_default();
        let version = format!(
            "PostgreSQL {pg} (Strata {}, read-only, on Apache DataFusion {}), {} on {}",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION,
            std::env::consts::ARCH,
            std::env::consts::OS,
        );
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version))))
    }
}

/// A map column as text (see [`maps_as_text`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct MapText {
    signature: Signature,
}

impl MapText {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MapText {
    fn name(&self) -> &str {
        "strata_map_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let maps: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let Some(maps) = maps.as_any().downcast_ref::<MapArray>() else {
            return exec_err!("expected a map, got {}", maps.data_type());
        };
        Ok(ColumnarValue::Array(Arc::new(map_text(maps)?)))
    }
}

/// Each map of `maps` as a JSON object, keys and values as strings.
fn map_text(maps: &MapArray) -> DFResult<StringArray> {
    let text = |a: &ArrayRef, i: usize| -> DFResult<Option<String>> {
        if a.is_null(i) {
            return Ok(None);
        }
        Ok(Some(match a.data_type() {
            DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
            DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
            DataType::Utf8View => a.as_string_view().value(i).to_string(),
            _ => ScalarValue::try_from_array(a, i)?.to_string(),
        }))
    };
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = StringBuilder::new();
    for row in 0..maps.len() {
        if maps.is_null(row) {
            out.append_null();
            continue;
        }
        let entries = maps.value(row);
        let (keys, values) = (entries.column(0), entries.column(1));
        let mut s = String::from("{");
        for i in 0..entries.len() {
            if i > 0 {
                s.push_str(", ");
            }
            let key = text(keys, i)?.unwrap_or_default();
            let value = text(values, i)?.map_or_else(|| "null".into(), |v| json(&v));
            let _ = write!(s, "{}: {value}", json(&key));
        }
        s.push('}');
        out.append_value(s);
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers_follow_postgres() {
        assert_eq!(version_num("16.6-pgwire-0.41.1"), "160006");
        assert_eq!(version_num("9.6"), "90006");
        assert_eq!(setting("SERVER_VERSION_NUM"), setting("server_version_num"));
        assert_eq!(setting("search_path").as_deref(), Some("public"));
        assert_eq!(setting("no_such_setting"), None);
    }

    #[tokio::test]
    async fn maps_become_json_text() {
        let ctx = SessionContext::new();
        let df = ctx
            .sql("SELECT map(['host', 'quote'], ['web01', 'a \"b\"']) AS labels, 1 AS n")
            .await
            .unwrap();
        let plan = maps_as_text(df.logical_plan().clone()).unwrap();
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await;
        let batches = batches.unwrap();
        let schema = batches[0].schema();
        assert_eq!(schema.field(0).name(), "labels");
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            batches[0].column(0).as_string::<i32>().value(0),
            r#"{"host": "web01", "quote": "a \"b\""}"#
        );
    }

    #[tokio::test]
    async fn current_setting_answers_known_names_only() {
        let ctx = SessionContext::new();
        register(&ctx);
        let got = ctx
            .sql("SELECT current_setting('server_version_num')::int / 100 AS version")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let v = got[0].column(0);
        assert_eq!(
            ScalarValue::try_from_array(v, 0).unwrap(),
            ScalarValue::Int64(Some(1600))
        );
        let err = ctx
            .sql("SELECT current_setting('nope')")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("unrecognized configuration parameter")
        );
    }
}
