"""``chalice local``, with TCP_NODELAY on its sockets.

Chalice's local server writes a response's headers and body in two sends; with Nagle's
algorithm on, the body then waits for the client's delayed ACK (~40 ms on Linux) on every
request. API Gateway has no such delay, so the local stack should not either. Everything else is
the real ``chalice local`` command line:

    python -m infra.api_server --no-autoreload --stage local --port 8000
"""

from __future__ import annotations

import sys

from chalice.cli import main as chalice_main
from chalice.local import ChaliceRequestHandler


def main(argv: list[str]) -> int:
    ChaliceRequestHandler.disable_nagle_algorithm = True
    sys.argv = ["chalice", "local", *argv]
    return chalice_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
