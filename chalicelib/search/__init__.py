"""Search: a tenant's completed videos found by the text they show and the labels seen in them
(``GET /video/search``).

- ``terms``: how text and labels become index terms (case and accents folded, punctuation
  dropped) and what one completed job puts in the index (``job_postings``).
- ``index``: the ``SearchIndex`` port (one item per tenant, term and job, written idempotently,
  removed with the job) and ``InMemorySearchIndex``; ``dynamo``: ``DynamoSearchIndex``, the same
  items in the job table, read through its ``tenant-term`` index.
- ``query``: the query's parameters, how a job matches (phrases, labels, ``within_ms``) and how
  hits are ranked; ``service``: ``VideoSearch``, the use case (index a completed job, answer a
  search one signed page at a time).

Imports ``jobs``, ``results`` and ``adapters``; imported by ``bootstrap`` (the worker and the
library get its calls as plain callables, so ``analysis`` and ``jobs`` do not import it).
"""
