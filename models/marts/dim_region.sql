-- Regions with their place in the hierarchy, for slicing the facts.

with

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

aliases as (

    select
        region_code,
        array_to_string(list_sort(list(distinct alias)), ',') as aliases
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
        regions.province_code,
        regions.province_name_zh,
        regions.prefecture_code,
        regions.prefecture_name_zh,
        regions.county_code,
        regions.corps_code,
        regions.root_code,
        regions.depth,
        regions.path,
        regions.path_en,
        regions.ancestor_codes,
        regions.is_grouping,
        regions.grouping_codes,
        regions.grouping_names_zh,
        regions.partition_whole_code,
        regions.is_corps_tree,
        regions.share_parent_code,
        aliases.aliases
    from regions
    left join aliases
        on aliases.region_code = regions.region_code

)

select * from final
