//! `strata sql`: ask a server, print a table.

use anyhow::Context;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::util::pretty::pretty_format_batches;

pub(crate) async fn run(server: &str, query: &str, format: &str) -> anyhow::Result<()> {
    let wire = if format == "table" { "arrow" } else { format };
    let url = format!("{}/api/v1/sql", server.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({ "sql": query, "format": wire }))
        .send()
        .await
        .with_context(|| {
            format!("could not reach {url}; is `strata serve` or `strata up` running?")
        })?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        anyhow::bail!("{status}: {}", String::from_utf8_lossy(&body).trim());
    }
    if format != "table" {
        use std::io::Write;
        std::io::stdout().write_all(&body)?;
        return Ok(());
    }
    let reader = StreamReader::try_new(std::io::Cursor::new(body), None)?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!("{}", pretty_format_batches(&batches)?);
    println!("{rows} row{}", if rows == 1 { "" } else { "s" });
    Ok(())
}
