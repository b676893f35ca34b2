-- One row per bulletin the loader read: its decoded text, which the mentions' offsets index
-- (loaders/document_texts.py). The text is kept byte for byte: trimming it would move every offset.

with

source as (

    select * from {{ ref('document_texts') }}

),

renamed as (

    select
        {{ clean_text('doc_id') }} as doc_id,
        coalesce(text, '') as document_text,
        length(coalesce(text, '')) as n_chars

    from source

)

select * from renamed
