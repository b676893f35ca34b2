"""tongbi: bulletins → statistics → a checked DuckDB warehouse."""
__version__ = "0.1.0"
