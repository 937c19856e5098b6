"""Models: a tenant's own detectors (issue 28), from registration to ``ready`` or ``failed``.

- ``record``: ``ModelRecord``, its statuses (uploading, validating, ready, failed), model ids
  and the storage key of a model's file.
- ``store``: the ``ModelStore`` port (a tenant's models under its limits on count and bytes,
  exact under concurrency: one versioned ledger item per tenant, every change a conditional
  write) and ``InMemoryModelStore``; ``dynamo``: ``DynamoModelStore`` in the jobs table.
- ``catalog``: ``ModelCatalog``, the use case behind ``/video/models``: register (a presigned
  upload), start (size checks, then a validation message on the job queue), list, get, delete,
  and ``usable`` (what submit asks of a ``model_id``).
- ``reconcile``: the models' part of the reconcile sweep (expired uploads failed, lost
  validations sent again, then given up on).
- ``wire``: the static checks of an ONNX file, read from its protobuf wire format in pure
  Python before anything runs it (no custom operators, no external data, node and input caps).

The running checks (onnxruntime in a child process under time and memory limits) and the cache
of loaded models live in ``analysis`` (``model_check``, ``model_cache``): only the analyzer
imports ML code. Imports ``adapters`` and ``jobs``; imported by ``analysis``, ``intake`` and the
composition root.
"""
