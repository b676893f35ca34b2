-- Each region with the ancestors that reports group it by: its 北疆/南疆 grouping, its province,
-- the root of its tree, and the region its share of a total is measured against.

with recursive

regions as (

    select * from {{ ref('stg_vocab__regions') }}

),

-- every (region, ancestor) pair, the region itself included at distance 0
ancestors as (

    select
        region_code,
        region_code as ancestor_code,
        0 as distance
    from regions

    union all

    select
        ancestors.region_code,
        regions.parent_code as ancestor_code,
        ancestors.distance + 1 as distance
    from ancestors
    inner join regions
        on regions.region_code = ancestors.ancestor_code
    where regions.parent_code is not null
        and ancestors.distance < 16  -- guards against a cycle in the seed

),

ancestors_described as (

    select
        ancestors.region_code,
        ancestors.ancestor_code,
        ancestors.distance,
        regions.region_level as ancestor_level
    from ancestors
    inner join regions
        on regions.region_code = ancestors.ancestor_code

),

rolled_up as (

    select
        region_code,
        max(distance) as depth,
        arg_max(ancestor_code, distance) as root_code,
        -- min(): a region has at most one ancestor of each of these levels
        min(ancestor_code) filter (where ancestor_level = 'grouping') as grouping_code,
        min(ancestor_code) filter (
            where ancestor_level in ('province', 'other_province')
        ) as province_code,
        min(ancestor_code) filter (where ancestor_level = 'prefecture') as prefecture_code
    from ancestors_described
    group by region_code

),

final as (

    select
        regions.region_code,
        regions.name_zh,
        regions.name_en,
        regions.region_level,
        regions.parent_code,
        parents.name_zh as parent_name_zh,
        rolled_up.grouping_code,
        groupings.name_zh as grouping_name_zh,
        rolled_up.province_code,
        provinces.name_zh as province_name_zh,
        rolled_up.prefecture_code,
        rolled_up.root_code,
        rolled_up.depth,
        -- The XPCC corps sits outside the 650000 tree but inside Xinjiang's borders.
        coalesce(rolled_up.province_code = '650000' or rolled_up.root_code = 'XPCC', false)
            as is_in_xinjiang,
        -- Bulletins state a Xinjiang grouping's or prefecture's share "占全区总量的…%", i.e.
        -- against the whole region (650000) rather than against the 北疆/南疆 parent;
        -- everything else is measured against its direct parent.
        case
            when rolled_up.province_code = '650000'
                and regions.region_level in ('grouping', 'prefecture')
                then '650000'
            else regions.parent_code
        end as share_parent_code

    from regions
    inner join rolled_up
        on rolled_up.region_code = regions.region_code
    left join regions as parents
        on parents.region_code = regions.parent_code
    left join regions as groupings
        on groupings.region_code = rolled_up.grouping_code
    left join regions as provinces
        on provinces.region_code = rolled_up.province_code

)

select * from final
