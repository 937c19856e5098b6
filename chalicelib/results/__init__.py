"""The results document, deterministic byte for byte.

- ``document``: ``FrameResult``, the JSON of frames, objects, text, tracks, summaries; ``encode``.
- ``assembly``: ``Assembler`` builds a document frame by frame in bounded memory (and
  ``build_document`` at once); ``pieces``: stored as a head and bounded frame pieces, read one
  page at a time; ``pages``: which frames one GET returns.
- ``tracking``: object tracks; ``segments``: label segments and text spans; ``text_lines``:
  words of a line and the default text filter; ``labels``: the COCO classes' Rekognition names,
  parents and categories.

Pure Python (no ML imports). Imports ``adapters`` (storage) only; never ``intake`` or ``jobs``.
"""
