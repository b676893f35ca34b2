-- Terms that split a statistic (资金来源, 投资主体, 园区, 城乡) and the key=value they map to.

with

source as (

    select * from {{ ref('breakdown_terms') }}

),

renamed as (

    select
        {{ clean_text('term') }} as term,
        {{ clean_text('breakdown_key') }} as breakdown_key,
        {{ clean_text('breakdown_value') }} as breakdown_value

    from source

)

select * from renamed
