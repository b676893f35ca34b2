-- Industries (sectors, divisions, groups, products, key industry clusters) with their parent,
-- their sector and the cluster plans they belong to.

with recursive

industries as (

    select * from {{ ref('stg_vocab__industries') }}

),

-- every (industry, ancestor) pair, the industry itself included at distance 0
ancestors as (

    select industry_code, industry_code as ancestor_code, 0 as distance
    from industries

    union all

    select ancestors.industry_code, industries.parent_code, ancestors.distance + 1
    from ancestors
    inner join industries
        on industries.industry_code = ancestors.ancestor_code
    where industries.parent_code is not null
        and ancestors.distance < 16  -- guards against a cycle in the seed

),

rolled_up as (

    select
        ancestors.industry_code,
        max(ancestors.distance) as depth,
        min(ancestors.ancestor_code) filter (where industries.industry_level = 'sector') as sector_code
    from ancestors
    inner join industries
        on industries.industry_code = ancestors.ancestor_code
    group by ancestors.industry_code

),

aliases as (

    select
        industry_code,
        array_to_string(list_sort(list(alias)), ',') as aliases
    from {{ ref('stg_vocab__industry_aliases') }}
    group by industry_code

),

final as (

    select
        industries.industry_code,
        industries.name_zh,
        industries.name_en,
        industries.industry_level,
        industries.parent_code,
        parents.name_zh as parent_name_zh,
        rolled_up.sector_code,
        sectors.name_zh as sector_name_zh,
        rolled_up.depth,
        industries.cluster_generation,
        -- cluster_generation lists the plans as '8', '10' or '8;10'
        coalesce(list_contains(string_split(industries.cluster_generation, ';'), '8'), false)
            as is_in_cluster_plan_8,
        coalesce(list_contains(string_split(industries.cluster_generation, ';'), '10'), false)
            as is_in_cluster_plan_10,
        aliases.aliases
    from industries
    inner join rolled_up
        on rolled_up.industry_code = industries.industry_code
    left join industries as parents
        on parents.industry_code = industries.parent_code
    left join industries as sectors
        on sectors.industry_code = rolled_up.sector_code
    left join aliases
        on aliases.industry_code = industries.industry_code

)

select * from final
