"""The reference engine: DuckDB SQL computing botistat's core metrics from the same files.

Records are loaded once into a table (DuckDB's fastest approach on this workload), with the
same definitions as docs/metrics.md: timestamps to UTC, role and status mapping, the error
flag, tokens, reply times by window functions, exact percentiles, countries, and tokens per
hour. Two datasets, each queried the way a DuckDB user would for that data:

- mixed (bench/dataset.py): eight timestamp styles, so each is told apart by regular
  expressions; every field read as text and cleaned; countries from the ``country`` field;
- plain (bench/plain_dataset.py): one ISO style, so ``read_json``/``read_csv`` type every
  column natively (``TIMESTAMPTZ``, ``BIGINT``, ``BOOLEAN``) and nothing is cleaned;
  countries from the client IP: the distinct addresses are looked up in the registry data
  botistat uses by default (iptocc) and joined back.

    python bench/reference_duckdb.py KIND PATH...   # KIND: jsonl, csv, plain-jsonl, plain-csv
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


PLAIN_COLUMNS = {
    "timestamp": "TIMESTAMPTZ",
    "conversation_id": "VARCHAR",
    "role": "VARCHAR",
    "status": "VARCHAR",
    "prompt_tokens": "BIGINT",
    "completion_tokens": "BIGINT",
    "total_tokens": "BIGINT",
    "error": "BOOLEAN",
    "ip": "VARCHAR",
}

PLAIN_LOAD = """
CREATE TABLE rec AS
SELECT
  timestamp AS ts,
  conversation_id AS conv,
  CASE role WHEN 'user' THEN 'user' WHEN 'assistant' THEN 'bot' ELSE 'other' END AS role,
  status = 'failed' AS failed,
  coalesce(error, false) AS err,
  prompt_tokens AS p,
  completion_tokens AS c,
  total_tokens AS t,
  ip
FROM source
"""

#: Timestamps are distinct within a conversation: no tie-breaking row number needed.
PLAIN_REPLIES = REPLIES.replace("ORDER BY ts, rn", "ORDER BY ts")

PLAIN_COUNTRIES = """
SELECT g.country, count(*) AS messages, count(DISTINCT r.conv) AS conversations
FROM rec r LEFT JOIN geo g USING (ip)
WHERE r.ts IS NOT NULL AND r.role IN ('user', 'bot')
GROUP BY g.country
"""


def files_sql(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def plain_source_sql(fmt: str, paths: list[str]) -> str:
    columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in PLAIN_COLUMNS.items()) + "}"
    if fmt == "csv":
        return f"SELECT * FROM read_csv({files_sql(paths)}, header = true, types = {columns})"
    return (
        f"SELECT * FROM read_json({files_sql(paths)}, format = 'newline_delimited', "
        f"columns = {columns})"
    )


def load_countries_of_addresses(con: Any) -> None:
    """Look each distinct client IP up once (iptocc, the data botistat uses without a
    database) and load the answers as table ``geo`` (through a CSV: no pyarrow here)."""
    import csv
    import tempfile

    from iptocc import country_code

    addresses = [
        ip for (ip,) in con.execute("SELECT DISTINCT ip FROM rec WHERE ip IS NOT NULL").fetchall()
    ]
    codes = country_code(addresses) if addresses else []
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(["ip", "country"])
        writer.writerows(zip(addresses, codes, strict=True))
        table.flush()
        con.execute(
            f"CREATE TABLE geo AS SELECT * FROM read_csv('{table.name}', header = true, "
            "columns = {'ip': 'VARCHAR', 'country': 'VARCHAR'})"
        )


def source_sql(fmt: str, paths: list[str]) -> str:
    files = files_sql(paths)
    if fmt == "csv":
        return f"SELECT * FROM read_csv({files}, header = true, all_varchar = true)"
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS) + "}"
    return (
        f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {columns}, "
        "maximum_object_size = 16777216)"
    )


def duckdb_metrics(kind: str, paths: list[str]) -> dict[str, Any]:
    """The metrics in the shape of botistat's JSON report (the parts compared)."""
    import duckdb

    plain = kind.startswith("plain-")
    fmt = kind.removeprefix("plain-")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if plain:
        con.execute(f"CREATE VIEW source AS {plain_source_sql(fmt, paths)}")
        con.execute(PLAIN_LOAD)
        load_countries_of_addresses(con)
    else:
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
    speed = con.execute(PLAIN_REPLIES if plain else REPLIES).fetchone()
    assert speed is not None
    countries = con.execute(PLAIN_COUNTRIES if plain else COUNTRIES).fetchall()
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
