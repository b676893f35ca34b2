-- Each region with its place in the tree: the province, prefecture and county it lies in, its
-- path from the country, the groupings it belongs to, and the region its share of a total is
-- measured against. Nothing here names a region: everything follows parent_code and the
-- grouping members of the vocabulary.

with recursive

regions as (

    select * from {{ ref('stg_vocab__regions') }}

),

memberships as (

    select * from {{ ref('stg_vocab__region_groupings') }}

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
        regions.region_level as ancestor_level,
        regions.name_zh as ancestor_name_zh,
        coalesce(regions.name_en, regions.name_zh) as ancestor_name_en
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
        min(ancestor_code) filter (where ancestor_level = 'province') as province_code,
        min(ancestor_code) filter (where ancestor_level = 'prefecture') as prefecture_code,
        min(ancestor_code) filter (where ancestor_level = 'county') as county_code,
        min(ancestor_code) filter (where ancestor_level = 'corps') as corps_code,
        string_agg(ancestor_name_zh, ' > ' order by distance desc) as path,
        string_agg(ancestor_name_en, ' > ' order by distance desc) as path_en,
        string_agg(ancestor_code, ',' order by distance) filter (where distance > 0) as ancestor_codes
    from ancestors_described
    group by region_code

),

-- the groupings a region is in: those listing it, or a region it lies in, as a member
in_groupings as (

    select
        ancestors.region_code,
        memberships.grouping_code,
        groupings.name_zh as grouping_name_zh
    from ancestors
    inner join memberships
        on memberships.member_code = ancestors.ancestor_code
    inner join regions as groupings
        on groupings.region_code = memberships.grouping_code
    group by all

),

groupings_rolled_up as (

    select
        region_code,
        string_agg(grouping_code, ',' order by grouping_code) as grouping_codes,
        string_agg(grouping_name_zh, ',' order by grouping_code) as grouping_names_zh
    from in_groupings
    group by region_code

),

-- the groupings that partition a region (北疆 + 南疆 = 新疆, the five economic zones of 四川):
-- the region's grouping children, each with members, no member in two of them, and together
-- every child of the region at the members' level
grouping_children as (

    select
        groupings.region_code as grouping_code,
        groupings.parent_code as whole_code
    from regions as groupings
    where groupings.region_level in ('grouping', 'zone')
        and groupings.parent_code is not null

),

grouping_members as (

    select
        grouping_children.whole_code,
        grouping_children.grouping_code,
        memberships.member_code,
        members.region_level as member_level,
        members.parent_code = grouping_children.whole_code as is_child_of_whole
    from grouping_children
    inner join memberships
        on memberships.grouping_code = grouping_children.grouping_code
    inner join regions as members
        on members.region_code = memberships.member_code

),

partition_candidates as (

    select
        whole_code,
        count(distinct grouping_code) as n_groupings_with_members,
        count(*) as n_memberships,
        count(distinct member_code) as n_members,
        bool_and(is_child_of_whole) as members_are_children,
        count(distinct member_level) as n_member_levels,
        any_value(member_level) as member_level
    from grouping_members
    group by whole_code

),

partitioned_wholes as (

    select partition_candidates.whole_code
    from partition_candidates
    where partition_candidates.members_are_children
        and partition_candidates.n_member_levels = 1
        and partition_candidates.n_memberships = partition_candidates.n_members
        and partition_candidates.n_groupings_with_members = (
            select count(*) from grouping_children
            where grouping_children.whole_code = partition_candidates.whole_code
        )
        and partition_candidates.n_members = (
            select count(*) from regions as children
            where children.parent_code = partition_candidates.whole_code
                and children.region_level = partition_candidates.member_level
        )

),

final as (

    select
        regions.region_code,
        regions.name_zh,
        regions.name_en,
        regions.region_level,
        regions.parent_code,
        parents.name_zh as parent_name_zh,
        rolled_up.province_code,
        provinces.name_zh as province_name_zh,
        rolled_up.prefecture_code,
        prefectures.name_zh as prefecture_name_zh,
        rolled_up.county_code,
        rolled_up.corps_code,
        rolled_up.root_code,
        rolled_up.depth,
        rolled_up.path,
        rolled_up.path_en,
        rolled_up.ancestor_codes,
        regions.region_level in ('grouping', 'zone') as is_grouping,
        groupings_rolled_up.grouping_codes,
        groupings_rolled_up.grouping_names_zh,
        -- a grouping of a partition adds up with its siblings to this region
        case when partitioned_wholes.whole_code is not null then regions.parent_code end
            as partition_whole_code,
        -- the corps lies inside a province's borders, but its figures are not a part of the
        -- province's that add up with the prefectures'
        rolled_up.corps_code is not null as is_corps_tree,
        -- a share "占全省/全区/全市…的%" is measured against the administrative parent; a
        -- grouping's parent is the region it divides
        regions.parent_code as share_parent_code,
        regions.source

    from regions
    inner join rolled_up
        on rolled_up.region_code = regions.region_code
    left join regions as parents
        on parents.region_code = regions.parent_code
    left join regions as provinces
        on provinces.region_code = rolled_up.province_code
    left join regions as prefectures
        on prefectures.region_code = rolled_up.prefecture_code
    left join groupings_rolled_up
        on groupings_rolled_up.region_code = regions.region_code
    left join partitioned_wholes
        on partitioned_wholes.whole_code = regions.parent_code
        and regions.region_level in ('grouping', 'zone')

)

select * from final
