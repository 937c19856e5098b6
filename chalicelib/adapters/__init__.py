"""The platform: ports to the outside world that every domain shares, each with a real adapter
and a fake honouring one contract.

- ``storage``: ``StorageService`` (``S3Storage``, ``LocalStorage``): videos, results, and reads
  of callers' own S3 objects (``SourceObject``).
- ``queue``: ``QueueService`` (``SqsQueue``, ``InMemoryQueue``): job ids handed to the worker.
- ``dynamo``: what the DynamoDB adapters of ``jobs``, ``intake`` and ``access`` share.

Imports only ``config`` and ``errors``; any package may import it.
"""
