"""``video-jobs``: the command line for a video-jobs API (submit, follow, fetch, view).

An HTTP client only: it imports nothing from ``chalicelib`` and is not part of the Lambda zip
(Chalice packages ``app.py`` and ``chalicelib/``). Installed as ``.venv/bin/video-jobs`` by
``make install`` (``pip install --no-deps -e .``, see pyproject.toml).
"""
