"""The polars loader: bulletins in, statistics and dbt seeds out (documents, numbers,
vocabularies and grammar, extraction, the extraction cache, the seed writer and its schema).
It knows nothing of the warehouse around it (tongbi/).
"""
