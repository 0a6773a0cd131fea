"""DuckDB's side of benches/query_vs_duckdb.rs, driven over stdin/stdout.

The first line on stdin is the setup:

    {"threads": 2, "tiers": {"raw": [paths], "1m": [paths], "1h": [paths]}}

It registers views metrics_raw, metrics_1m and metrics_1h over
read_parquet() of exactly those files (the store's committed files, as
Strata reads them) and answers with one line {"duckdb": version,
"settings": {...}}. Then each line is a request, answered by one line:

    {"op": "result", "sql": "..."}   -> {"columns": [...], "rows": [...]}
    {"op": "time", "sql": "..."}     -> {"ms": 12.3}   (result fetched)
    {"op": "explain", "sql": "..."}  -> {"plan": "..."} (EXPLAIN ANALYZE)

so that the caller can alternate DuckDB's runs with Strata's. Timestamps in
rows are Unix microseconds (integers), decimals floats, for comparison with
Strata's JSON.
"""

import datetime
import decimal
import json
import sys
import time

import duckdb

# Each file stores `value` (and the aggregates' float columns) as BIGINT,
# DECIMAL(18, k) or DOUBLE, whichever holds its values exactly;
# union_by_name gives each view one type (without it DuckDB casts every
# file to the first file's type: 1.5 became 2), and the casts make it
# DOUBLE, as Strata's tables declare.
RAW_COLUMNS = "metric_name, labels, ts, CAST(value AS DOUBLE) AS value"
AGG_COLUMNS = (
    "metric_name, labels, bucket, count, CAST(sum AS DOUBLE) AS sum, "
    "CAST(min AS DOUBLE) AS min, CAST(max AS DOUBLE) AS max, first_ts, "
    "CAST(first AS DOUBLE) AS first, last_ts, CAST(last AS DOUBLE) AS last, "
    "CAST(increase AS DOUBLE) AS increase"
)
VIEWS = {
    "metrics_raw": ("raw", RAW_COLUMNS),
    "metrics_1m": ("1m", AGG_COLUMNS),
    "metrics_1h": ("1h", AGG_COLUMNS),
}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def file_list(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def plain(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    setup = json.loads(sys.stdin.readline())
    con = duckdb.connect()
    settings = {
        "threads": setup["threads"],
        "TimeZone": "UTC",
        # Footers are read once, not at every query: Strata's log and
        # DataFusion's metadata cache play that part on its side.
        "parquet_metadata_cache": "true",
    }
    for k, v in settings.items():
        con.execute(f"SET {k} = '{v}'")
    for view, (tier, columns) in VIEWS.items():
        con.execute(
            f"CREATE VIEW {view} AS SELECT {columns} FROM "
            f"read_parquet({file_list(setup['tiers'][tier])}, union_by_name = true)"
        )
    reply({"duckdb": duckdb.__version__, "settings": settings})
    for line in sys.stdin:
        req = json.loads(line)
        sql = req["sql"]
        if req["op"] == "result":
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description]
            rows = [[plain(v) for v in row] for row in cur.fetchall()]
            reply({"columns": columns, "rows": rows})
        elif req["op"] == "time":
            t = time.perf_counter()
            con.execute(sql).fetchall()
            reply({"ms": (time.perf_counter() - t) * 1e3})
        elif req["op"] == "explain":
            rows = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
            reply({"plan": "\n".join(r[1] for r in rows)})
        else:
            raise ValueError(f"unknown op {req['op']!r}")


if __name__ == "__main__":
    main()
