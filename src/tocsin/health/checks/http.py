"""An HTTP dependency answers ``GET`` with the expected status (standard library only)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from tocsin.health.check import DEFAULT_TIMEOUT, Check
from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import NEVER, Threshold


class HTTPCheck(Check):
    """``<name>:latency``: milliseconds for ``GET url``; fails on another status or no answer."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "http",
        expected_status: int | tuple[int, ...] = 200,
        headers: dict[str, str] | None = None,
        latency: Threshold = NEVER,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be http:// or https://, got {url!r}")
        options.setdefault("component_id", url)
        super().__init__(
            component=name,
            measurements=["latency"],
            component_type="component",
            timeout=timeout,
            **options,
        )
        self.url = url
        self.expected = (
            (expected_status,) if isinstance(expected_status, int) else tuple(expected_status)
        )
        self.headers = dict(headers or {})
        self.latency = latency

    def collect(self) -> list[Measurement]:
        """One request; the body is not read beyond 64 KiB."""
        request = urllib.request.Request(self.url, headers=self.headers)  # noqa: S310
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read(65536)
                code = int(response.status)
        except urllib.error.HTTPError as exc:
            code = exc.code
        elapsed = round((time.perf_counter() - start) * 1000, 3)
        if code not in self.expected:
            wanted = " or ".join(str(c) for c in self.expected)
            output = f"[STATUS] ({code}) == {wanted}"
            return [self.measure("latency", elapsed, unit="ms", status=Status.FAIL, output=output)]
        return [self.measure("latency", elapsed, unit="ms", threshold=self.latency)]
