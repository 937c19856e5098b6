"""video-jobs' application code, one package per domain (``docs/architecture.md`` has the map).

    adapters/     storage and queue ports with their S3/SQS/local/in-memory adapters
    results/      the results document: frames, tracks, segments, text lines, pieces
    jobs/         the job record, its state machine and store, queries, the reconcile sweep
    models/       tenants' own detectors: records, their store and limits, the ONNX checks

    search/       a tenant's completed videos by text and labels: index terms, the index, queries
    analysis/     the worker, its lease and slices, the pipelines (detector, frames, OCR)
    notices/      completion events, the SNS publisher port, webhook delivery
    access/       who calls: API tokens, view tokens, SigV4 keys and their stores
    intake/       accepting videos: submissions, uploads, idempotency, request parsing
    rekognition/  the Rekognition Video-compatible protocol over the same jobs
    viewer/       the results viewer page

Top level: ``config`` (settings, every limit and default), ``errors`` (the one error tree),
``logs`` (the one log format) and ``bootstrap`` (the composition root). A package imports only
packages listed above it (``tests/unit/test_import_rules.py`` keeps that true); nothing imports
``app``.
"""
