{#- Helpers of the `bi` views (models/bi). -#}

{#- A base-unit value in 亿元 (10^8 CNY) when the unit is CNY, else null. -#}
{% macro yi_yuan(value_expr, unit_expr) -%}
    (case when ({{ unit_expr }}) = 'CNY' then ({{ value_expr }}) / 1e8 end)
{%- endmacro %}

{#- Chinese and English names of the normalised units (dim_metric.unit, fct_*.unit). -#}
{% macro unit_labels() -%}
    (values
        ('CNY', '元', 'yuan (CNY)'),
        ('USD', '美元', 'US dollars'),
        ('count', '个', 'count'),
        ('person_times', '人次', 'person-times'),
        ('tonne', '吨', 'tonnes'),
        ('kW', '千瓦', 'kilowatts'),
        ('km2', '平方公里', 'square kilometres'),
        ('mu', '亩', 'mu (1/15 ha)'),
        ('percent', '%', 'percent'),
        ('pp', '个百分点', 'percentage points')
    ) as unit_labels(unit, unit_name_zh, unit_name_en)
{%- endmacro %}
