-- One row per statistic mention, as the Python loader extracted it (loaders/schema.py,
-- RAW_METRICS_SCHEMA). Renaming, typing and text clean-up only.

with

source as (

    select * from {{ ref('raw_metrics') }}

),

renamed as (

    select
        ----------  ids
        doc_id || '#' || cast(mention_seq as varchar) as mention_id,
        {{ clean_text('doc_id') }} as doc_id,
        mention_seq,

        ----------  where the mention is in the text (kept verbatim: quote is text[char_start:char_end])
        nullif(quote, '') as quote,
        char_start,
        char_end,

        ----------  the figure
        lower({{ clean_text('measure') }}) as measure,
        value,
        {{ clean_text('unit') }} as unit,
        {{ clean_text('value_raw') }} as value_raw,
        {{ clean_text('unit_raw') }} as unit_raw,
        {{ clean_text('approx') }} as approx_marker,
        {{ clean_text('approx') }} is not null as is_approximate,

        ----------  period
        period_year,
        period_end_month,
        lower({{ clean_text('period_kind') }}) as period_kind,

        ----------  what, where, which industry, which split
        {{ clean_text('metric_code') }} as metric_code,
        {{ clean_text('metric_name') }} as metric_name,
        {{ clean_text('metric_raw') }} as metric_raw,
        {{ clean_text('region_code') }} as region_code,
        {{ clean_text('region_name') }} as region_name,
        {{ clean_text('region_raw') }} as region_raw,
        {{ clean_text('industry_code') }} as industry_code,
        {{ clean_text('industry_name') }} as industry_name,
        {{ clean_text('industry_raw') }} as industry_raw,
        {{ clean_text('breakdown') }} as breakdown,

        ----------  provenance
        {{ clean_text('source_url') }} as source_url,
        published,
        {{ clean_text('rule') }} as extraction_rule

    from source

)

select * from renamed
