-- The metric vocabulary, with the unit values are normalised to and how they aggregate.

with

source as (

    select * from {{ ref('metrics') }}

),

renamed as (

    select
        {{ clean_text('metric_code') }} as metric_code,
        {{ clean_text('name_zh') }} as name_zh,
        {{ clean_text('name_en') }} as name_en,
        {{ clean_text('unit') }} as unit,
        {{ clean_text('additivity') }} as additivity,
        {{ clean_text('kind') }} as metric_kind

    from source

)

select * from renamed
