-- One row per bulletin the loader read (loaders/schema.py, DOCUMENTS_SCHEMA).

with

source as (

    select * from {{ ref('documents') }}

),

renamed as (

    select
        {{ clean_text('doc_id') }} as doc_id,
        {{ clean_text('path') }} as file_path,
        {{ clean_text('title') }} as title,
        {{ clean_text('source_url') }} as source_url,
        published,
        reference_year,
        {{ clean_text('reference_year_source') }} as reference_year_source,
        {{ clean_text('encoding') }} as encoding,
        is_traditional,
        n_chars,
        lower({{ clean_text('sha256') }}) as sha256,
        n_mentions

    from source

)

select * from renamed
