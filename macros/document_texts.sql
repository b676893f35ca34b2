{#
  Every mention's quote is its document's text at its offsets: quote = substr(text,
  char_start + 1, char_end - char_start) (DuckDB counts characters, as Python's offsets do).
  Rows of `mentions` (doc_id, mention_seq, quote, char_start, char_end) that break it fail,
  and so do mentions of a document without a text.
#}
{% test quotes_match_text(model, column_name, mentions) %}

select m.doc_id, m.mention_seq, m.quote, m.char_start, m.char_end
from {{ mentions }} as m
left join {{ model }} as t on t.doc_id = m.doc_id
where t.doc_id is null
   or m.quote is distinct from substr(t.{{ column_name }}, m.char_start + 1, m.char_end - m.char_start)

{% endtest %}
