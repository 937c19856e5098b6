"""A Rekognition Video-compatible API (JSON 1.1 protocol) over the job system.

Owns the protocol only: ``api.py`` (``RekognitionApi``: X-Amz-Target -> one operation),
``model.py`` (validation against botocore's model of the service), ``start.py`` (an S3 object ->
an ordinary job, through ``intake``), ``get.py`` with ``label_results.py``,
``text_results.py`` and ``segment_results.py`` (a job's results in Rekognition's shapes; label
names from ``results/labels.py``; frame numbers as milliseconds and SMPTE timecodes in
``timecodes.py``), ``tokens.py`` (signed NextTokens) and ``notices.py`` (the
NotificationChannel notice, published by the worker's finish hook).

It raises the domain errors of ``chalicelib/errors.py``; ``app.py``'s one table gives each its
``__type`` and status. Imported by ``bootstrap`` only; ``access`` never imports it.
"""
