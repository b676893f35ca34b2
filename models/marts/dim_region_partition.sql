-- Sets of regions whose levels add up to another region's: the groupings that partition a
-- region (北疆 + 南疆 = 新疆) and the members of a grouping (its prefectures = 北疆). One row
-- per whole x partition x part; the gate sums a partition only when every part has a figure.

with

regions as (

    select * from {{ ref('int_regions__hierarchy') }}

),

memberships as (

    select * from {{ ref('stg_vocab__region_groupings') }}

),

groupings_of_whole as (

    select
        partition_whole_code as whole_code,
        'groupings' as partition_kind,
        region_code as part_code
    from regions
    where partition_whole_code is not null

),

members_of_grouping as (

    select
        memberships.grouping_code as whole_code,
        'members' as partition_kind,
        memberships.member_code as part_code
    from memberships
    inner join regions as groupings
        on groupings.region_code = memberships.grouping_code

),

parts as (

    select * from groupings_of_whole
    union all
    select * from members_of_grouping

),

final as (

    select
        whole_code,
        partition_kind,
        part_code,
        count(*) over (partition by whole_code, partition_kind) as n_parts
    from parts

)

select * from final
