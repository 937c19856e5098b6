"""What checking a caller costs per request (``make bench``, section 5; or run it alone):

    .venv/bin/python -m scripts.bench_auth [--requests N]

The Authenticator of the composition root with VIDEO_JOBS_AUTH=required, on moto in process
(no network: the DynamoDB and KMS calls cost what moto and botocore cost, not a round trip).
Bearer: one GetItem of the token's hash. SigV4: one GetItem of the key, botocore's signer over
the request, and a KMS Decrypt of the secret unless it is cached (per container, 5 min).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from unittest import mock


def _median_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def auth_costs(runs: int = 200) -> dict[str, float]:
    """Median ms per check: bearer, sigv4 (secret cached), sigv4 with a KMS Decrypt."""
    from moto import mock_aws

    from chalicelib.access.sigv4 import SignedRequest
    from chalicelib.bootstrap import services
    from infra.keys import create
    from infra.resources import bootstrap
    from tests.support.auth import signed_headers

    env = {
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "VIDEO_JOBS_STAGE": "bench",
        "VIDEO_JOBS_AUTH": "required", "VIDEO_JOBS_AWS_ENDPOINT": "",
        "VIDEO_JOBS_PAGINATION_KEY": "a bench key",  # the published local key is refused
    }  # fmt: skip
    with mock.patch.dict(os.environ, env), mock_aws():
        services.cache_clear()
        bootstrap()
        wired = services()
        key = create(wired.keys, wired.secrets, "bench")
        body = json.dumps({"JobId": "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"}).encode()
        url = "http://127.0.0.1:8000/"
        headers = signed_headers(url, body, key["access_key_id"], key["secret_access_key"])
        lower = {name.lower(): value for name, value in headers.items()}
        lower["host"] = "127.0.0.1:8000"
        request = SignedRequest("POST", ("/",), {}, lower, body)
        auth = wired.auth
        token = f"Bearer {key['api_token']}"
        costs = {
            "bearer": _median_ms(lambda: auth.bearer(token), runs),
            "sigv4 (secret cached)": _median_ms(lambda: auth.signed(request), runs),
        }

        def uncached() -> None:
            auth._cache.clear()
            auth.signed(request)

        costs["sigv4 + KMS Decrypt"] = _median_ms(uncached, runs)
        services.cache_clear()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    for name, value in auth_costs(args.requests).items():
        print(f"{name}: {value:.2f} ms")


if __name__ == "__main__":
    main()
