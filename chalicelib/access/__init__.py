"""Who is calling, and what they may see.

- ``authenticator``: ``Authenticator`` turns a request's credentials into a ``Caller`` (Bearer
  API tokens, viewer links' view tokens, SigV4), raising the neutral ``Unauthorized`` errors;
- ``keys``: ``AccessKey`` and the ``KeyStore`` port with ``InMemoryKeyStore``; ``dynamo_keys``:
  ``DynamoKeyStore``; ``secrets``: the KMS box for SigV4 secrets; ``sigv4``: verification.

Imports ``jobs`` (``Caller``) and ``adapters``; never ``rekognition``.
"""
