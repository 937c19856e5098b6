"""Accepting videos: everything between a request and a queued job.

- ``submissions``: ``Submissions``, one accept flow for direct and Rekognition-copied videos
  (idempotency key, tenant limit, store, record, queue); presigned uploads take the same steps
  around the caller's PUT (limit and record at create, queue at start);
- ``idempotency``: keys, fingerprints and the ``IdempotencyKeys`` port with its in-memory
  adapter; ``dynamo_idempotency``: on the jobs table;
- ``params``: per-job options from query parameters; ``body``: video bytes from a request body.

Imports ``jobs``, ``adapters``, ``notices`` (callback checks) and the API-safe parts of
``analysis`` (``registry``, ``mp4``, ``labels``); nothing in ``analysis`` or ``results``
imports it.
"""
