{#
  Incremental runs (tongbi/run/incremental.py). A run that adds, changes or removes a few
  documents copies the published warehouse, replaces those documents' rows in the loader seed
  tables, and writes three tables in the schema `tongbi_incr` of the copy:

    docs    (doc_id)                              the documents added, changed or removed;
    output  (metric_code, period_year)            the slices whose rows this run recomputes;
    input   (metric_code, period_year)            the slices those rows are computed from.

  A slice is one metric in one year. Every row of the observation models belongs to one slice,
  and every derived value is computed from rows of its own slice except three: a year-on-year
  rate reads the same metric a year earlier, and an industry's share of the whole economy (or
  value added's share of GDP, int_metrics__share_wholes) reads the whole's metric in the same
  year. So `output` is the slices the documents' old and new mentions fall in, the next year of
  each, and the metrics whose whole is a touched metric; `input` adds the year before each and
  the whole's metric of each. A model deletes its rows in `output` (pre_hook, which also drops
  the rows of removed documents) and inserts what its SQL gives for them (delete+insert on its
  unique_key). fct_quarter is keyed by metric only: a series runs from its region's first to
  its last observed quarter, so a touched slice can add or take away the unobserved quarters of
  other years; it recomputes every series of each output metric. `dbt build` without these
  tables (every full build) never reads them: they are named only under is_incremental().
#}

{% macro incr_touched_docs(column='doc_id') -%}
    {{ column }} in (select doc_id from tongbi_incr.docs)
{%- endmacro %}

{% macro incr_in_slices(metric_column, year_column, scope='output') -%}
    ({{ metric_column }}, {{ year_column }}) in (
        select (metric_code, period_year) from tongbi_incr.{{ scope }}
    )
{%- endmacro %}

{#- the slice filter of a model's source, only in an incremental run -#}
{% macro incr_where(metric_column='metric_code', year_column='period_year', scope='output', prefix='where') -%}
    {%- if is_incremental() %} {{ prefix }} {{ incr_in_slices(metric_column, year_column, scope) }}{% endif -%}
{%- endmacro %}

{#- pre_hook: the rows this run recomputes leave the table first (removed slices included) -#}
{% macro incr_delete_where(condition) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ condition }}
    {%- endif -%}
{%- endmacro %}

{% macro incr_delete_slices(metric_column='metric_code', year_column='period_year') -%}
    {{- incr_delete_where(incr_in_slices(metric_column, year_column)) -}}
{%- endmacro %}

{% macro incr_delete_docs(column='doc_id') -%}
    {{- incr_delete_where(incr_touched_docs(column)) -}}
{%- endmacro %}

{#- the same for a model whose rows of one metric depend on all its years (fct_quarter) -#}
{% macro incr_in_metrics(metric_column='metric_code') -%}
    {{ metric_column }} in (select distinct metric_code from tongbi_incr.output)
{%- endmacro %}

{% macro incr_where_metrics(metric_column='metric_code', prefix='where') -%}
    {%- if is_incremental() %} {{ prefix }} {{ incr_in_metrics(metric_column) }}{% endif -%}
{%- endmacro %}

{% macro incr_delete_metrics(metric_column='metric_code') -%}
    {{- incr_delete_where(incr_in_metrics(metric_column)) -}}
{%- endmacro %}
