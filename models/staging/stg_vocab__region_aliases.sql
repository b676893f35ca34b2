-- Names (short, historical, colloquial) by which bulletins refer to a region. One alias may
-- name several regions (a county name reused elsewhere, a renamed prefecture): kind, the
-- validity dates and needs_context tell the extractor how to choose.

with

source as (

    select * from {{ ref('region_aliases') }}

),

renamed as (

    select
        {{ clean_text('alias') }} as alias,
        {{ clean_text('region_code') }} as region_code,
        {{ clean_text('kind') }} as alias_kind,
        {{ clean_text('valid_from') }} as valid_from,
        {{ clean_text('valid_to') }} as valid_to,
        coalesce(lower({{ clean_text('needs_context') }}) in ('true', '1', 'yes'), false) as needs_context,
        {{ clean_text('note') }} as note

    from source

)

select * from renamed
