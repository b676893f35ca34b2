-- Regions with their place in the hierarchy, for slicing the facts.

with

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

aliases as (

    select
        region_code,
        array_to_string(list_sort(list(alias)), ',') as aliases
    from {{ ref('stg_vocab__region_aliases') }}
    group by region_code

),

final as (

    select
        regions.region_code,
        regions.name_zh,
        regions.name_en,
        regions.region_level,
        regions.parent_code,
        regions.parent_name_zh,
        regions.grouping_code,
        regions.grouping_name_zh,
        regions.province_code,
        regions.province_name_zh,
        regions.prefecture_code,
        regions.root_code,
        regions.depth,
        regions.is_in_xinjiang,
        regions.share_parent_code,
        aliases.aliases
    from regions
    left join aliases
        on aliases.region_code = regions.region_code

)

select * from final
