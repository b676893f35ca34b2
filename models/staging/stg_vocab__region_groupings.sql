-- Members of the groupings (北疆地区, 东部地区, 成都经济区 …): a grouping is not an
-- administrative level, so its members are listed rather than read from parent_code. The seed
-- also links each corps division to its 师市合一 city (relation corps_city): that is one body
-- under two names, not membership of a grouping, so only the statistical rows are kept here.

with

source as (

    select * from {{ ref('region_groupings') }}

),

renamed as (

    select
        {{ clean_text('grouping_code') }} as grouping_code,
        {{ clean_text('member_code') }} as member_code

    from source
    where {{ clean_text('relation') }} = 'statistical'

)

select * from renamed
