-- The region vocabulary: 新疆 650000 -> 北疆 XJN / 南疆 XJS -> prefectures -> counties,
-- the XPCC corps as a tree of its own, and other provinces.

with

source as (

    select * from {{ ref('regions') }}

),

renamed as (

    select
        {{ clean_text('region_code') }} as region_code,
        {{ clean_text('name_zh') }} as name_zh,
        {{ clean_text('name_en') }} as name_en,
        {{ clean_text('level') }} as region_level,
        {{ clean_text('parent_code') }} as parent_code

    from source

)

select * from renamed
