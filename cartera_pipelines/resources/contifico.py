"""Contifico REST API client resource (httpx). Completed by the contifico family."""

from __future__ import annotations

import dagster as dg


class ContificoApi(dg.ConfigurableResource):
    base_url: str
    api_key: str
    api_token: str = ""
    page_size: int = 200
    timeout_seconds: float = 30.0
