-- Files the loader refused to read, with the reason (loaders/schema.py, REJECTED_SCHEMA).

with

source as (

    select * from {{ ref('rejected_documents') }}

),

renamed as (

    select
        {{ clean_text('path') }} as file_path,
        line as line_number,
        {{ clean_text('reason') }} as reason

    from source

)

select * from renamed
