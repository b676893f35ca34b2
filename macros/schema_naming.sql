{#-
    Schema naming: a model with a custom schema (`+schema: bi`) is built in exactly that schema,
    not in dbt's default `<target schema>_<custom schema>` (main_bi), so that BI tools and the
    Postgres serving copy find the views under the literal name `bi`. Models without a custom
    schema stay in the target's schema (main).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
