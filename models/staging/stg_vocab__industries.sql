-- The industry vocabulary: sectors, divisions, groups, products and the key industry clusters.

with

source as (

    select * from {{ ref('industries') }}

),

renamed as (

    select
        {{ clean_text('industry_code') }} as industry_code,
        {{ clean_text('name_zh') }} as name_zh,
        {{ clean_text('name_en') }} as name_en,
        {{ clean_text('level') }} as industry_level,
        {{ clean_text('parent_code') }} as parent_code,
        -- '8', '10' or '8;10': the cluster plans (八大 / 十大产业集群) the cluster belongs to
        {{ clean_text('cluster_generation') }} as cluster_generation

    from source

)

select * from renamed
