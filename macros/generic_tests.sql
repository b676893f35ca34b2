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

{#-
  Fails on every row whose `column` differs (null-safe) from `other_column` of the row of model
  `other` that matches it on `join_columns` ({column in model: column in other}), or that has
  no such row. Filter the rows to check with the test's `where` config.
-#}
{% test matches_column_of(model, other, join_columns, column, other_column) %}
    select checked.*, matched.{{ other_column }} as other_value
    from (select * from {{ model }}) as checked
    left join {{ other }} as matched
        on {% for checked_column, other_join_column in join_columns.items() -%}
            {%- if not loop.first %} and {% endif -%}
            matched.{{ other_join_column }} = checked.{{ checked_column }}
        {%- endfor %}
    where matched.{{ other_column }} is distinct from checked.{{ column }}
{% endtest %}
