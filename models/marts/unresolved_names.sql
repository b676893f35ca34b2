-- Names the loader found in the text but could not map to the vocabulary (code null, raw
-- text present), most frequent first: the work list for growing the *_aliases seeds.

with

mentions as (

    select * from {{ ref('int_mentions__enriched') }}

),

unresolved as (

    select 'region' as name_kind, region_raw as raw_name, *
    from mentions
    where region_code is null and region_raw is not null

    union all by name

    select 'industry' as name_kind, industry_raw as raw_name, *
    from mentions
    where industry_code is null and industry_raw is not null

    union all by name

    select 'metric' as name_kind, metric_raw as raw_name, *
    from mentions
    where metric_code is null and metric_raw is not null

),

grouped as (

    select
        name_kind,
        raw_name,
        count(*) as n_mentions,
        count(distinct doc_id) as n_documents,
        -- the first mention in (doc_id, mention_seq) order, for a stable example
        arg_min(quote, doc_id || '#' || lpad(cast(mention_seq as varchar), 9, '0')) as example_quote,
        arg_min(mention_id, doc_id || '#' || lpad(cast(mention_seq as varchar), 9, '0')) as example_mention_id,
        arg_min(doc_id, doc_id || '#' || lpad(cast(mention_seq as varchar), 9, '0')) as example_doc_id,
        min(published) as first_published,
        max(published) as last_published
    from unresolved
    group by name_kind, raw_name

),

final as (

    select
        {{ hash_key(['name_kind', 'raw_name']) }} as unresolved_name_key,
        *
    from grouped

)

select * from final
order by n_mentions desc, name_kind, raw_name
