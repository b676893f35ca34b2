{#
  The seed materialization for DuckDB, with a native path for the loader's seeds.

  dbt's seed materialization (and dbt-duckdb's "fast" seed path, which already loads the rows
  with DuckDB's COPY) first parses the whole CSV with agate in Python (load_agate_table), only
  to infer column types and count rows: at millions of raw_metrics rows that is minutes and GBs.

  Seeds configured `+native_csv: true` (raw_metrics, documents, rejected_documents, written by
  the polars loader) never go through agate: the table is created with the types of
  `+column_types` (every column of the file's header must have one), in the file's column order
  (its header, read by DuckDB), and filled with the same COPY statement as dbt-duckdb's fast path,
  so the data and its types are what the default path gives. Every other seed takes dbt's
  default seed materialization unchanged.
#}
{% materialization seed, adapter='duckdb' %}

  {%- if not config.get('native_csv', false) -%}
    {{ return(dbt.materialization_seed_default()) }}
  {%- endif -%}

  {%- set identifier = model['alias'] -%}
  {%- set full_refresh_mode = (should_full_refresh()) -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
  {%- set exists_as_table = (old_relation is not none and old_relation.is_table) -%}
  {%- set exists_as_view = (old_relation is not none and old_relation.is_view) -%}
  {%- set grant_config = config.get('grants') -%}

  {%- set seed_file_path = adapter.get_seed_file_path(model) -%}
  {%- set csv_literal = "'" ~ (seed_file_path | replace("'", "''")) ~ "'" -%}
  {%- set delimiter = config.get('delimiter', ',') -%}
  {%- set column_types = config.get('column_types', {}) or {} -%}
  {%- set quote_seed_column = config.get('quote_columns', None) -%}

  {#- the header only (no data row is read): the file's column names, in order -#}
  {%- set header = run_query("select * from read_csv(" ~ csv_literal ~ ", header = true, all_varchar = true, delim = '"
                             ~ delimiter ~ "') limit 0") -%}
  {%- set untyped = [] -%}
  {%- for col_name in header.column_names -%}
    {%- if col_name not in column_types -%}{%- do untyped.append(col_name) -%}{%- endif -%}
  {%- endfor -%}
  {%- if untyped -%}
    {{ exceptions.raise_compiler_error("seed " ~ identifier ~ " is native_csv: every column needs a type in "
                                       ~ "+column_types; missing: " ~ (untyped | join(', '))) }}
  {%- endif -%}
  {#- dbt's seed runner reads the table it stores here (`dbt seed --show`): the header, no rows -#}
  {%- do store_result('agate_table', response='OK', agate_table=header) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set create_sql -%}
    create table {{ this.render() }} (
      {%- for col_name in header.column_names -%}
        {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ column_types[col_name] }}
        {%- if not loop.last -%}, {% endif -%}
      {%- endfor -%}
    )
  {%- endset -%}
  {%- if exists_as_view -%}
    {{ exceptions.raise_compiler_error("Cannot seed to '{}', it is a view".format(old_relation.render())) }}
  {%- elif exists_as_table and not full_refresh_mode -%}
    {%- do adapter.truncate_relation(old_relation) -%}
    {%- set create_sql = "truncate table " ~ old_relation.render() -%}
  {%- else -%}
    {%- if exists_as_table -%}{%- do adapter.drop_relation(old_relation) -%}{%- endif -%}
    {%- do run_query(create_sql) -%}
  {%- endif -%}

  {%- set copy_sql -%}
    COPY {{ this.render() }} FROM {{ csv_literal }} (FORMAT CSV, HEADER TRUE, DELIMITER '{{ delimiter }}')
  {%- endset -%}
  {%- set loaded = run_query(copy_sql) -%}
  {%- set rows_affected = (loaded.rows[0][0] if loaded.rows | length > 0 else 0) | int -%}
  {%- set code = 'CREATE' if full_refresh_mode else 'INSERT' -%}

  {% call noop_statement('main', code ~ ' ' ~ rows_affected, code, rows_affected) %}
    {{ create_sql }};
    -- dbt seed (native_csv) --
    {{ copy_sql }};
  {% endcall %}

  {% set target_relation = this.incorporate(type='table') %}
  {% set should_revoke = should_revoke(old_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {% if full_refresh_mode or not exists_as_table %}
    {% do create_indexes(target_relation) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  -- `COMMIT` happens here
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
