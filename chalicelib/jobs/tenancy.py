"""Who is asking: the ``Caller`` every use case that touches a job is handed.

With ``VIDEO_JOBS_AUTH=off`` every request is the ``PUBLIC`` caller: its jobs belong to the
``default`` tenant (so rows stay uniform) and it may see every job. With ``required`` the
authenticator (``chalicelib/access/authenticator.py``) names the tenant, and a caller sees only
its tenant's jobs; a viewer link's caller sees one job only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Caller:
    tenant: str = DEFAULT_TENANT
    restricted: bool = True  # False: authentication is off, every job is visible
    job_id: str | None = None  # a viewer link: this one job, read only

    def may_see(self, tenant: str, job_id: str) -> bool:
        if not self.restricted:
            return True
        return tenant == self.tenant and self.job_id in (None, job_id)


PUBLIC = Caller(DEFAULT_TENANT, restricted=False)


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise ValueError(
            f"tenant {name!r}: use 1 to 40 lower-case letters, digits and '-' (a letter or "
            "digit first)"
        )
    return name
