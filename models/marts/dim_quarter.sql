-- A calendar of quarters covering every year that observations refer to.

with

years as (

    -- generate_series of nulls (no data yet) yields no rows
    select unnest(generate_series(min(period_year), max(period_year))) as year
    from {{ ref('int_observations__pivoted') }}

),

quarters as (

    select
        years.year,
        quarter_numbers.quarter
    from years
    cross join (select unnest([1, 2, 3, 4]) as quarter) as quarter_numbers

),

final as (

    select
        cast(year as varchar) || 'Q' || cast(quarter as varchar) as quarter_label,
        cast(year as integer) as year,
        cast(quarter as integer) as quarter,
        {{ quarter_start_date('year', 'quarter') }} as quarter_start_date,
        {{ quarter_end_date('year', 'quarter') }} as quarter_end_date,
        cast(quarter * 3 as integer) as quarter_end_month,
        {{ quarter_index('year', 'quarter') }} as quarter_index,
        cast(year as varchar) || '年' || {{ quarter_name_zh('quarter') }} as quarter_label_zh,
        cast(year as varchar) || '年' || {{ ytd_name_zh('quarter') }} as ytd_label_zh
    from quarters

)

select * from final
