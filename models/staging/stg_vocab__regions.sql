-- The region vocabulary: the country, provinces, prefectures, counties, the groupings and
-- economic zones that reports group regions by, and the Production and Construction Corps
-- (corps -> divisions -> regiments), one tree under the country.

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
        {{ clean_text('parent_code') }} as parent_code,
        {{ clean_text('source') }} as source

    from source

)

select * from renamed
