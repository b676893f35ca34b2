-- Chinese scale prefixes (万, 亿 …) and their multipliers.

with

source as (

    select * from {{ ref('unit_scales') }}

),

renamed as (

    select
        {{ clean_text('prefix') }} as prefix,
        factor

    from source

)

select * from renamed
