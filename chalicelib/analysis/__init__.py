"""Analysis: from a queued job id to stored results.

- ``worker``: ``JobWorker`` (claim, download, analyze in slices, store, finish) with
  ``WorkerSettings``; ``lease``: the lease kept while it works; ``slices``: a slice of analysis
  and its checkpoint; ``budget``: duration and frame limits, checked before analysis.
- ``registry``: pipeline id -> implementation, and the ``Pipeline`` protocol; ``pipeline``: the
  yolo/ocr pipelines; ``detector``, ``frames`` (with ``sparse``: decoding only the sampled
  frames), ``ocr``, ``resume``: their parts (numpy, OpenCV, PyAV, onnxruntime, imported only by
  the analyzer).
- ``mp4``: the MP4 index (pure Python: intake validates uploads with it); ``labels``: the
  model's class names without loading it.

Imports ``adapters``, ``jobs`` and ``results``; never ``intake``. The API may import
``registry``, ``mp4`` and ``labels`` only (``tests/unit/test_api_imports.py``).
"""
