{#-
  Generic data tests written here because dbt hub packages (dbt_utils) cannot be installed.
-#}

{#- Fails on every combination of the columns that occurs more than once (nulls compare equal). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') %}
    select {{ columns_csv }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}

{#- Fails on every row where the boolean SQL `expression` is false or null. -#}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
