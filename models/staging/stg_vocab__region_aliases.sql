-- Names (short, historical, colloquial) by which bulletins refer to a region.

with

source as (

    select * from {{ ref('region_aliases') }}

),

renamed as (

    select
        {{ clean_text('alias') }} as alias,
        {{ clean_text('region_code') }} as region_code,
        {{ clean_text('note') }} as note

    from source

)

select * from renamed
