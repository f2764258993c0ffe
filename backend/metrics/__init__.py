"""The measures leadership decides by (docs/methodology.md): pure computations over query results.

- `pam`, `scores`, `flows`, `alerts`: pure functions over plain rows, no database;
- `queries`: the SQL that feeds them, aggregated in the database from rollup tables (`models`,
  kept by triggers; `rollups` rebuilds them);
- `service`: one function per measure, the one place the API, dashboard and briefing call;
- `router`: `/api/v1/metrics/...` and `/api/v1/alerts`.
"""
