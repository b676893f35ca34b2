"""tongbi: bulletins → statistics → a checked DuckDB warehouse.

The warehouse around the loader (`loaders/`, documents → dbt seeds): the command line, the run
(lock, extract, build, audit, publish, recovery; its summary and history), the quality gate,
serving (Parquet, PostgreSQL) and the HTML report. It uses `loaders`; `loaders` never uses it.
"""
__version__ = "0.1.0"
