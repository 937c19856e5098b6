"""Completion notices: one event per finished job.

- ``events``: the event, its signature, ``Notifier`` (the events topic and the webhook queue);
- ``publisher``: the ``Publisher`` port (``SnsPublisher``, ``InMemoryPublisher``);
- ``delivery``: ``Courier``, one signed POST per notices-queue message, retries by re-queueing;
- ``callbacks``: callback URL rules (the SSRF guard), at submit and at each delivery.

Imports ``jobs``; imported by ``intake`` (callback checks), ``rekognition`` and ``bootstrap``.
"""
