{#- Calendar helpers for quarters. Arguments are SQL expressions. -#}

{#- The quarter a period ending in `month_expr` closes: 3 -> 1, 6 -> 2, 9 -> 3, 12 -> 4, else null. -#}
{% macro quarter_from_month(month_expr) -%}
    (case when ({{ month_expr }}) in (3, 6, 9, 12) then cast(({{ month_expr }}) // 3 as integer) end)
{%- endmacro %}

{% macro quarter_start_date(year_expr, quarter_expr) -%}
    make_date(cast({{ year_expr }} as bigint), cast(({{ quarter_expr }}) * 3 - 2 as bigint), 1)
{%- endmacro %}

{% macro quarter_end_date(year_expr, quarter_expr) -%}
    last_day(make_date(cast({{ year_expr }} as bigint), cast(({{ quarter_expr }}) * 3 as bigint), 1))
{%- endmacro %}

{#- A running number of quarters (year * 4 + quarter - 1) so that consecutive quarters differ by 1. -#}
{% macro quarter_index(year_expr, quarter_expr) -%}
    (cast({{ year_expr }} as bigint) * 4 + cast({{ quarter_expr }} as bigint) - 1)
{%- endmacro %}

{#- 一季度 … 四季度 -#}
{% macro quarter_name_zh(quarter_expr) -%}
    (case cast({{ quarter_expr }} as integer)
        when 1 then '一季度' when 2 then '二季度' when 3 then '三季度' when 4 then '四季度' end)
{%- endmacro %}

{#- How bulletins name the year-to-date period ending with a quarter: 一季度, 上半年, 前三季度, 全年. -#}
{% macro ytd_name_zh(quarter_expr) -%}
    (case cast({{ quarter_expr }} as integer)
        when 1 then '一季度' when 2 then '上半年' when 3 then '前三季度' when 4 then '全年' end)
{%- endmacro %}
