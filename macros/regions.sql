{#-
  A filter on a region column for the analyses: the one region asked for, or every province
  (dim_region.region_level = 'province') when none is.
-#}
{% macro analysis_regions(column, region_code=none) -%}
    {%- if region_code -%}
        {{ column }} = '{{ region_code }}'
    {%- else -%}
        {{ column }} in (select region_code from {{ ref('dim_region') }} where region_level = 'province')
    {%- endif -%}
{%- endmacro %}
