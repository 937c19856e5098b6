"""Jobs: what every stage reads and writes about a job.

- ``record``: ``JobRecord`` and the status machine (uploading, pending, running, completed,
  failed, cancelled); ``options``: ``JobOptions``, what a caller chose per job.
- ``store``: the ``JobStore`` port (every status change one conditional write, the lease) and
  ``InMemoryJobStore``; ``places``: the ``PlaceBook`` port (a tenant's limit on active jobs,
  exact under any burst) and ``InMemoryPlaceBook``; ``dynamo``: ``DynamoJobStore`` and
  ``DynamoPlaceBook``.
- ``ids``: job ids, their storage paths, the id a queue message names; ``tenancy``: ``Caller``
  and its grants (the S3 locations and SNS topics a key may name).
- ``queries``: status and results pages; ``cursors``: the signed page tokens of the REST
  lists; ``library``: a tenant's jobs newest first and the delete (cancel, or remove with every
  stored object); ``reconcile``: the sweep that re-queues stranded jobs, records expired
  uploads and repairs places.

Imports ``adapters`` and ``results`` (queries read results pieces); imported by everything above.
"""
