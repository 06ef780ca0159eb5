"""Prometheus text exposition of a health report (no prometheus-client needed).

The library renders its own text rather than registering global metrics, because
prometheus-client's multiprocess mode (gunicorn) cannot carry these gauges.
"""

from __future__ import annotations

from tocsin.health.model import HealthReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str | None) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items() if v is not None)
    return "{" + inner + "}"


def render(report: HealthReport) -> str:
    """The report as Prometheus text: status per measurement and numeric observed values."""
    lines = [
        "# HELP tocsin_health_status Overall health: 0 pass, 1 warn, 2 fail.",
        "# TYPE tocsin_health_status gauge",
        f"tocsin_health_status {report.status.rank}",
        "# HELP tocsin_health_run_seconds Duration of the health run.",
        "# TYPE tocsin_health_run_seconds gauge",
        f"tocsin_health_run_seconds {report.duration:.6f}",
        "# HELP tocsin_health_check_status Status per measurement: 0 pass, 1 warn, 2 fail.",
        "# TYPE tocsin_health_check_status gauge",
    ]
    values = []
    for m in report.measurements:
        labels = _labels(check=m.key, component_id=m.component_id)
        lines.append(f"tocsin_health_check_status{labels} {m.status.rank}")
        value = m.observed_value
        if isinstance(value, int | float) and not isinstance(value, bool):
            unit_labels = _labels(check=m.key, component_id=m.component_id, unit=m.observed_unit)
            values.append(f"tocsin_health_observed_value{unit_labels} {value:g}")
    lines += [
        "# HELP tocsin_health_observed_value The observed value per measurement.",
        "# TYPE tocsin_health_observed_value gauge",
        *values,
    ]
    return "\n".join(lines) + "\n"
