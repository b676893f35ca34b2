{#-
  numerator / denominator, or null when the denominator is null or zero.
  DuckDB returns inf (not null) for a float division by zero, so the guard matters.
-#}
{% macro safe_divide(numerator, denominator) -%}
    (({{ numerator }}) / nullif(({{ denominator }}), 0))
{%- endmacro %}
