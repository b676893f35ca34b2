{#-
  When one figure merely restates another, less precisely: the rule that keeps a rounded
  headline (近2400亿元, 超9300亿元, 1616亿元) from overriding or revising a precise figure
  (2372.04亿元, 9355.26亿元, 1616.27亿元).

  A figure F restates a reference figure R when both hold:
    * F is coarser than R: F is approximate (近, 超, 约, 余, 多 …) and R is not, or both are
      equally (in)exact and F has fewer decimals as written;
    * R lies within F's tolerance:
        - an exact F: half a unit in its last written digit (value_rounding_tolerance);
        - an approximate F, or one whose number is not a plain numeral (两千, 万亿): the larger
          of that half unit and var('restatement_tolerance_pct', 5) percent of F.
  A tiny relative epsilon absorbs floating-point noise. Arguments are SQL expressions.
-#}
{% macro is_coarser_figure(is_approximate, decimals, ref_is_approximate, ref_decimals) -%}
    (
        (({{ is_approximate }}) and not ({{ ref_is_approximate }}))
        or (({{ is_approximate }}) = ({{ ref_is_approximate }}) and ({{ decimals }}) < ({{ ref_decimals }}))
    )
{%- endmacro %}

{% macro restatement_tolerance(value, is_approximate, rounding_tolerance) -%}
    (case
        when ({{ is_approximate }}) or ({{ rounding_tolerance }}) is null
            then greatest(
                coalesce({{ rounding_tolerance }}, 0),
                abs({{ value }}) * {{ var('restatement_tolerance_pct', 5) }} / 100.0
            )
        else ({{ rounding_tolerance }})
    end)
{%- endmacro %}

{% macro is_restatement_of(value, is_approximate, decimals, rounding_tolerance,
                           ref_value, ref_is_approximate, ref_decimals) -%}
    coalesce(
        {{ is_coarser_figure(is_approximate, decimals, ref_is_approximate, ref_decimals) }}
        and abs(({{ value }}) - ({{ ref_value }}))
            <= {{ restatement_tolerance(value, is_approximate, rounding_tolerance) }}
               + 1e-9 * abs({{ ref_value }}),
        false
    )
{%- endmacro %}
