"""The reference engine: DuckDB SQL computing botistat's core metrics from the same files.

Records are loaded once into a table (DuckDB's fastest approach on this workload), with the
same definitions as docs/metrics.md: mixed timestamp styles to UTC, role and status mapping,
the error flag, tokens, reply times by window functions, exact percentiles, countries from the
`country` field, and tokens per hour.

    python bench/reference_duckdb.py FORMAT PATH...   # prints the metrics as JSON
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOP = 10
COLUMNS = [
    "timestamp",
    "conversation_id",
    "role",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "country",
]

TIMESTAMP = """
CASE
  WHEN regexp_full_match(trim(timestamp), '-?[0-9]+') THEN
    CASE
      WHEN abs(CAST(trim(timestamp) AS HUGEINT)) < 100000000000
        THEN make_timestamp(CAST(trim(timestamp) AS BIGINT) * 1000000)
      WHEN abs(CAST(trim(timestamp) AS HUGEINT)) < 100000000000000
        THEN make_timestamp(CAST(trim(timestamp) AS BIGINT) * 1000)
      WHEN abs(CAST(trim(timestamp) AS HUGEINT)) < 100000000000000000
        THEN make_timestamp(CAST(trim(timestamp) AS BIGINT))
      ELSE make_timestamp(CAST(trim(timestamp) AS BIGINT) // 1000)
    END
  WHEN regexp_full_match(trim(timestamp), '-?[0-9]+\\.[0-9]+') THEN
    CASE
      WHEN abs(CAST(trim(timestamp) AS DOUBLE)) < 1e11
        THEN make_timestamp(CAST(round(CAST(trim(timestamp) AS DOUBLE) * 1e6) AS BIGINT))
      ELSE make_timestamp(CAST(round(CAST(trim(timestamp) AS DOUBLE) * 1e3) AS BIGINT))
    END
  ELSE CAST(TRY_CAST(trim(timestamp) AS TIMESTAMPTZ) AS TIMESTAMP)
END
"""

LOAD = f"""
CREATE TABLE rec AS
SELECT
  {TIMESTAMP} AS ts,
  row_number() OVER () AS rn,
  nullif(trim(conversation_id), '') AS conv,
  CASE
    WHEN lower(trim(role)) IN ('user', 'human', 'customer') THEN 'user'
    WHEN lower(trim(role)) IN ('bot', 'assistant', 'ai') THEN 'bot'
    WHEN nullif(trim(role), '') IS NULL THEN NULL
    ELSE 'other'
  END AS role,
  coalesce(lower(trim(status)) IN ('failed', 'error', 'undelivered'), false) AS failed,
  CASE
    WHEN nullif(trim(error), '') IS NOT NULL
      THEN lower(trim(error)) NOT IN ('false', '0', 'no', 'none', 'null')
    ELSE nullif(trim(error_code), '') IS NOT NULL
  END AS err,
  TRY_CAST(prompt_tokens AS BIGINT) AS p,
  TRY_CAST(completion_tokens AS BIGINT) AS c,
  TRY_CAST(total_tokens AS BIGINT) AS t,
  nullif(upper(trim(country)), '') AS country
FROM source
"""

METRICS = """
SELECT
  count(*) AS records,
  count(*) FILTER (role = 'other') AS ignored,
  count(*) FILTER (role <> 'other') AS total,
  count(*) FILTER (role = 'user') AS users,
  count(*) FILTER (role = 'bot' AND NOT failed) AS bot_responses,
  count(*) FILTER (role <> 'other' AND failed) AS failed,
  coalesce(sum(p) FILTER (role <> 'other'), 0) AS prompt,
  coalesce(sum(c) FILTER (role <> 'other'), 0) AS completion,
  coalesce(sum(coalesce(t, coalesce(p, 0) + coalesce(c, 0))) FILTER (role <> 'other'), 0)
    AS tokens_total,
  coalesce(sum(coalesce(t, coalesce(p, 0) + coalesce(c, 0)))
    FILTER (role <> 'other' AND err), 0) AS tokens_error,
  count(*) FILTER (role = 'bot' AND err) AS transactions,
  count(*) FILTER (role = 'bot') AS bot_records
FROM rec WHERE ts IS NOT NULL AND role IS NOT NULL
"""

REPLIES = """
WITH ordered AS (
  SELECT role, ts,
    lag(role) OVER w AS prev_role,
    lag(ts) OVER w AS prev_ts
  FROM rec
  WHERE ts IS NOT NULL AND conv IS NOT NULL
    AND (role = 'user' OR (role = 'bot' AND NOT failed))
  WINDOW w AS (PARTITION BY conv ORDER BY ts, rn)
), replies AS (
  SELECT (epoch_us(ts) - epoch_us(prev_ts)) / 1000.0 AS ms
  FROM ordered WHERE role = 'bot' AND prev_role = 'user'
)
SELECT count(*), avg(ms), quantile_cont(ms, 0.5), quantile_cont(ms, 0.9),
  quantile_cont(ms, 0.95), quantile_cont(ms, 0.99), max(ms)
FROM replies
"""

COUNTRIES = """
SELECT country, count(*) AS messages, count(DISTINCT conv) AS conversations
FROM rec WHERE ts IS NOT NULL AND role IN ('user', 'bot')
GROUP BY country
"""

HOURLY = """
SELECT strftime(ts, '%Y-%m-%d %H:00') AS hour,
  sum(coalesce(t, coalesce(p, 0) + coalesce(c, 0))) AS tokens
FROM rec WHERE ts IS NOT NULL AND role IN ('user', 'bot')
GROUP BY hour ORDER BY hour
"""


def source_sql(fmt: str, paths: list[str]) -> str:
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    if fmt == "csv":
        return f"SELECT * FROM read_csv({files}, header = true, all_varchar = true)"
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS) + "}"
    return (
        f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {columns}, "
        "maximum_object_size = 16777216)"
    )


def duckdb_metrics(fmt: str, paths: list[str]) -> dict[str, Any]:
    """The metrics in the shape of botistat's JSON report (the parts compared)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW source AS {source_sql(fmt, paths)}")
    con.execute(LOAD)
    row = con.execute(METRICS).fetchone()
    assert row is not None
    (
        records,
        ignored,
        total,
        users,
        bots,
        failed,
        prompt,
        completion,
        tokens,
        error_tokens,
        transactions,
        bot_records,
    ) = row
    speed = con.execute(REPLIES).fetchone()
    assert speed is not None
    countries = con.execute(COUNTRIES).fetchall()
    hourly = con.execute(HOURLY).fetchall()
    known = sorted(
        ((code, m, c) for code, m, c in countries if code is not None), key=lambda r: (-r[1], r[0])
    )
    known_messages = sum(m for _, m, _ in known)
    return {
        "input": {"records": records, "ignored": ignored},
        "messages": {
            "total": total,
            "user": users,
            "bot_responses": bots,
            "failed": failed,
        },
        "response_ms": dict(
            zip(["count", "avg", "p50", "p90", "p95", "p99", "max"], speed, strict=True)
        ),
        "tokens": {
            "prompt": int(prompt),
            "completion": int(completion),
            "total": int(tokens),
            "error": int(error_tokens),
        },
        "errors": {
            "transactions": transactions,
            "rate": transactions / bot_records if bot_records else None,
        },
        "countries": {
            "top": [
                {"country": code, "messages": m, "conversations": c, "share": m / known_messages}
                for code, m, c in known[:TOP]
            ],
            "other": {"countries": len(known[TOP:]), "messages": sum(m for _, m, _ in known[TOP:])},
            "unknown": {"messages": sum(m for code, m, _ in countries if code is None)},
        },
        "hourly_tokens": {hour: int(value) for hour, value in hourly},
    }


if __name__ == "__main__":
    print(json.dumps(duckdb_metrics(sys.argv[1], sys.argv[2:])))
