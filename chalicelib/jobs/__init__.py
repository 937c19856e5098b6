"""Jobs: what every stage reads and writes about a job.

- ``record``: ``JobRecord`` and the status machine (uploading, pending, running, completed,
  failed); ``options``: ``JobOptions``, what a caller chose per job.
- ``store``: the ``JobStore`` port (every status change one conditional write, the lease) and
  ``InMemoryJobStore``; ``dynamo``: ``DynamoJobStore``.
- ``ids``: job ids, their storage paths, the id a queue message names; ``tenancy``: ``Caller``.
- ``queries``: status and results pages; ``reconcile``: the sweep that re-queues stranded jobs.

Imports ``adapters`` and ``results`` (queries read results pieces); imported by everything above.
"""
