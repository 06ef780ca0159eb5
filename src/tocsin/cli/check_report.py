"""What `tocsin check` does once its options are valid: probe, judge, print.

Judging is the probe engine's ``judge_probe``, so a check that passes here passes as a
monitor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import click

from tocsin.cli import to_stderr
from tocsin.health.model import Status
from tocsin.server.domain.assertion_model import format_ms, format_number
from tocsin.server.domain.assertions import Assertion, AssertionOutcome, verdict
from tocsin.server.domain.component_thresholds import ComponentRule
from tocsin.server.domain.health_report import HealthReading
from tocsin.server.domain.observations import FailureKind, Observation
from tocsin.server.domain.probe_verdict import judge_probe
from tocsin.server.domain.states import MonitorKind
from tocsin.server.probes import (
    HttpTarget,
    ProbeClient,
    TcpTarget,
    run_http_probe,
    run_tcp_probe,
)

# Response headers whose values are credentials: shown as *** in --json output.
SECRET_RESPONSE_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authorization"})
_DAY_SECONDS = 86400.0


class Kind(StrEnum):
    """What kind of monitor the check behaves like."""

    HTTP = "http"
    APP = "app"
    TCP = "tcp"


@dataclass(frozen=True)
class CheckPlan:
    """What to probe and how to judge it, from the command's options."""

    kind: Kind
    target: HttpTarget | TcpTarget
    assertions: list[Assertion]
    rules: Mapping[str, ComponentRule] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """The observation, each assertion's outcome and (``app``) the health reading."""

    plan: CheckPlan
    observation: Observation
    outcomes: list[AssertionOutcome]
    reading: HealthReading | None
    verdict: Status
    defaulted: bool  # the assertions are the default ones, not the user's

    @property
    def failed(self) -> bool:
        """Whether the check failed (a warning does not)."""
        return self.verdict is Status.FAIL


def run_check(plan: CheckPlan) -> CheckResult:
    """Probe ``plan``'s target once and judge what came back."""
    now = datetime.now(UTC)
    observation = asyncio.run(_observe(plan.target, now))
    return judge(plan, observation, now)


async def _observe(target: HttpTarget | TcpTarget, now: datetime) -> Observation:
    if isinstance(target, TcpTarget):
        return await run_tcp_probe(
            target.host,
            target.port,
            timeout=target.timeout,
            tls=target.tls,
            verify_tls=target.verify_tls,
            now=now,
        )
    async with ProbeClient() as client:
        return await run_http_probe(client, target, now=now)


def judge(plan: CheckPlan, observation: Observation, now: datetime) -> CheckResult:
    """The verdict over ``observation``, by the engine's own rule (``judge_probe``)."""
    judgement = judge_probe(
        MonitorKind(plan.kind.value), observation, now, plan.assertions, plan.rules
    )
    return CheckResult(
        plan,
        observation,
        list(judgement.outcomes),
        judgement.reading,
        judgement.verdict,
        judgement.defaulted,
    )


def print_result(result: CheckResult, *, as_json: bool) -> None:
    """Print ``result`` as text lines or one JSON document; hints go to stderr."""
    if as_json:
        click.echo(json.dumps(result_json(result), indent=2, ensure_ascii=False))
    else:
        for line in result_lines(result):
            click.echo(line)
    for hint in hints(result):
        to_stderr(f"hint: {hint}")


def result_lines(result: CheckResult) -> list[str]:
    """The headline, then one line per assertion and per component."""
    lines = [headline(result)]
    for outcome in result.outcomes:
        word = _word(outcome_status(outcome))
        default = " (the default without --assert)" if result.defaulted else ""
        lines.append(f"{word} {outcome.message}{default}")
    reading = result.reading
    if reading is not None:
        if reading.failure is not None:
            if result.observation.failure is None:  # an answer, but not a (whole) report
                lines.append(f"FAIL {reading.error}")
        else:
            for component in reading.components:
                lines.append(f"{_word(component.status)} {component.message}")
            if not reading.components:
                lines.append(
                    f"{_word(reading.verdict)} the report has no checks: status {reading.reported}"
                )
            lines.extend(f"note: {note}" for note in reading.notes)
    return lines


def headline(result: CheckResult) -> str:
    """``PASS GET http://… → HTTP 200 · connect 0.4ms · total 3.1ms · cert 89.5 days left``."""
    plan, seen = result.plan, result.observation
    what = seen.url if plan.kind is Kind.TCP else f"{_method(plan)} {seen.url}"
    if seen.failure is not None:
        answer = f"{seen.failure}: {seen.error}" if seen.error else str(seen.failure)
    elif seen.status is not None:
        answer = f"HTTP {seen.status}"
    else:
        answer = "connected with TLS" if _tcp_tls(plan) else "connected"
    parts = [f"{_word(result.verdict)} {what} → {answer}", *timing_parts(seen)]
    days = cert_days(seen)
    if days is not None:
        parts.append(
            f"cert {format_number(days)} days left"
            if days >= 0
            else f"cert expired {format_number(-days)} days ago"
        )
    return " · ".join(parts)


def timing_parts(seen: Observation) -> list[str]:
    """The phases that happened, e.g. ``["dns 1.2ms", "connect 0.4ms", "total 3.1ms"]``."""
    timings = seen.timings
    phases = (
        ("dns", timings.dns_ms),
        ("connect", timings.connect_ms),
        ("tls", timings.tls_ms),
        ("first byte", timings.first_byte_ms),
        ("total", timings.total_ms),
    )
    return [f"{name} {format_ms(round(ms, 1))}" for name, ms in phases if ms is not None]


def cert_days(seen: Observation) -> float | None:
    """Days until the peer certificate expires, as ``cert_days`` assertions read it."""
    if seen.cert_not_after is None:
        return None
    return round((seen.cert_not_after - seen.started_at).total_seconds() / _DAY_SECONDS, 2)


def outcome_status(outcome: AssertionOutcome) -> Status:
    """``pass``, or the failed assertion's severity."""
    return verdict([outcome])


def hints(result: CheckResult) -> list[str]:
    """What to try next, for the usual surprises."""
    seen, target = result.observation, result.plan.target
    found: list[str] = []
    if seen.failure is FailureKind.TLS and target.verify_tls:
        found.append("--insecure accepts any certificate (cert_days is still read)")
    if seen.status in (401, 403) and isinstance(target, HttpTarget):
        if any(name.lower() == "authorization" for name in target.headers):
            found.append("the target refused the Authorization header sent")
        else:
            found.append("send credentials with --header 'Authorization: Bearer ${TOKEN}'")
    location = seen.headers.get("location")
    if location and isinstance(target, HttpTarget) and not target.follow_redirects:
        found.append(f"the answer redirects to {location}; without --no-follow it is followed")
    reading = result.reading
    if reading is not None and reading.failure is FailureKind.PROTOCOL:
        found.append(
            "--app expects an application/health+json report; without --app the "
            "answer is checked as a plain HTTP answer"
        )
    return found


def result_json(result: CheckResult) -> dict[str, Any]:
    """The whole result as JSON: request (header names only), observation (no body),
    assertion outcomes, and for ``app`` the report and its components."""
    plan, seen = result.plan, result.observation
    target = plan.target
    request: dict[str, Any] = {"url": seen.url, "timeout_s": target.timeout.total_seconds()}
    if isinstance(target, HttpTarget):
        request |= {
            "method": target.method,
            "headers": list(target.headers),
            "follow_redirects": target.follow_redirects,
            "max_redirects": target.max_redirects,
            "verify_tls": target.verify_tls,
        }
    else:
        request |= {"tls": target.tls, "verify_tls": target.verify_tls}
    reading = result.reading
    return {
        "verdict": result.verdict.value,
        "kind": plan.kind.value,
        "request": request,
        "observation": observation_json(seen),
        "assertions": [
            {**outcome.to_json(), "default": result.defaulted} for outcome in result.outcomes
        ],
        "report": _report_json(reading) if reading is not None else None,
        "components": [c.to_json() for c in reading.components] if reading is not None else [],
    }


def observation_json(seen: Observation) -> dict[str, Any]:
    """What the probe saw, without the body; credential-bearing header values hidden."""
    timings = seen.timings
    return {
        "url": seen.url,
        "started_at": seen.started_at.isoformat(),
        "status": seen.status,
        "failure": seen.failure.value if seen.failure else None,
        "error": seen.error,
        "timings": {
            "dns_ms": timings.dns_ms,
            "connect_ms": timings.connect_ms,
            "tls_ms": timings.tls_ms,
            "first_byte_ms": timings.first_byte_ms,
            "total_ms": timings.total_ms,
        },
        "headers": {
            name: "***" if name in SECRET_RESPONSE_HEADERS else value
            for name, value in seen.headers.items()
        },
        "body_bytes": len(seen.body),
        "body_truncated": seen.body_truncated,
        "cert_not_after": seen.cert_not_after.isoformat() if seen.cert_not_after else None,
        "cert_days": cert_days(seen),
    }


def _report_json(reading: HealthReading) -> dict[str, Any]:
    data = reading.to_json()
    del data["components"]  # listed at the top level
    return {**data, "summary": reading.summary, "notes": list(reading.notes)}


def _word(status: Status) -> str:
    return status.value.upper()


def _method(plan: CheckPlan) -> str:
    return plan.target.method if isinstance(plan.target, HttpTarget) else ""


def _tcp_tls(plan: CheckPlan) -> bool:
    return isinstance(plan.target, TcpTarget) and plan.target.tls
