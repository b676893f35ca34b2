-- Units as written (亿元 is scale 亿 + unit 元; scales are in unit_scales) and the normalised unit.

with

source as (

    select * from {{ ref('units') }}

),

renamed as (

    select
        {{ clean_text('unit_raw') }} as unit_raw,
        {{ clean_text('unit') }} as unit,
        factor

    from source

)

select * from renamed
