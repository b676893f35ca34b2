"""Serving the published warehouse: `export` (Parquet files), `postgres` (the PostgreSQL copy,
swapped in atomically) and `serve` (a local PostgreSQL cluster that follows the publishes)."""
