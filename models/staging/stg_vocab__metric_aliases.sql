-- Words by which bulletins name a metric.

with

source as (

    select * from {{ ref('metric_aliases') }}

),

renamed as (

    select
        {{ clean_text('alias') }} as alias,
        {{ clean_text('metric_code') }} as metric_code

    from source

)

select * from renamed
