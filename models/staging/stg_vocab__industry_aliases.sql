-- Names by which bulletins refer to an industry.

with

source as (

    select * from {{ ref('industry_aliases') }}

),

renamed as (

    select
        {{ clean_text('alias') }} as alias,
        {{ clean_text('industry_code') }} as industry_code

    from source

)

select * from renamed
