{#-
  md5 surrogate key over a list of SQL expressions. Nulls become '' and the parts are
  joined with '|' so that (null, 'a') and ('a', null) hash differently; concat_ws alone
  would skip nulls.
-#}
{% macro hash_key(expressions) -%}
    md5(concat_ws('|'
    {%- for expr in expressions %}, coalesce(cast({{ expr }} as varchar), ''){% endfor -%}
    ))
{%- endmacro %}

{#- Empty or blank text -> null; other text trimmed. -#}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}
