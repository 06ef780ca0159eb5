"""What a health check is: something that measures one component and judges it.

A check declares the measurements it reports (so that a crashed or hung check still
yields one ``fail`` entry per measurement, under stable keys) and implements
:meth:`Check.collect`. :class:`FunctionCheck` turns a plain function into a check.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tocsin.health.model import Measurement, Status
from tocsin.health.thresholds import NEVER, Threshold

DEFAULT_TIMEOUT = 2.0


class Check(abc.ABC):
    """One health check; subclasses implement :meth:`collect`.

    ``critical`` checks turn the report ``fail`` (HTTP 503) when they fail; the
    failures of other checks are reported as ``warn`` (HTTP 200). ``tags`` name groups
    of checks a request can ask for alone (``/healthz?tags=db``).
    """

    def __init__(
        self,
        *,
        component: str,
        measurements: Sequence[str],
        component_type: str = "component",
        component_id: str | None = None,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        name: str | None = None,
        tags: Sequence[str] = (),
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if not measurements:
            raise ValueError("a check must declare at least one measurement")
        self.component = component
        self.measurements = tuple(measurements)
        self.component_type = component_type
        self.component_id = component_id
        self.critical = critical
        self.timeout = timeout
        self.name = name or (f"{component}/{component_id}" if component_id else component)
        self.tags = frozenset((tags,) if isinstance(tags, str) else tags)  # ?tags=...

    @abc.abstractmethod
    def collect(self) -> list[Measurement]:
        """Measure the component now. May raise: the runner reports the error."""

    def measure(
        self,
        name: str,
        value: Any,
        *,
        unit: str | None = None,
        threshold: Threshold = NEVER,
        output: str = "",
        status: Status | None = None,
    ) -> Measurement:
        """A measurement of this check's component, judged by ``threshold``."""
        if status is None:
            number = (
                value if isinstance(value, int | float) and not isinstance(value, bool) else None
            )
            status = threshold.judge(number)
            reason = threshold.describe(number, unit or "")
            if reason:
                output = f"{output}; {reason}" if output else reason
        return Measurement(
            component=self.component,
            name=name,
            status=status,
            component_id=self.component_id,
            component_type=self.component_type,
            observed_value=value,
            observed_unit=unit,
            output=output,
        )

    def errored(self, output: str) -> list[Measurement]:
        """One ``fail`` entry per declared measurement, saying why nothing was measured."""
        return [
            self.measure(name, None, output=output, status=Status.FAIL)
            for name in self.measurements
        ]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} critical={self.critical}>"


CheckFunction = Callable[[], Any] | Callable[[], Awaitable[Any]]


class FunctionCheck(Check):
    """A check made of a function (sync or ``async``).

    The function's return value decides: ``None`` or ``True`` passes, ``False``
    fails, a number is the observed value judged by ``threshold``, a ``str`` passes
    with that output, a :class:`Status` is taken as is, and a list of
    :class:`Measurement` is reported unchanged. Raising fails with the error text.
    """

    def __init__(
        self,
        function: CheckFunction,
        *,
        component: str | None = None,
        measurement: str = "status",
        unit: str | None = None,
        threshold: Threshold = NEVER,
        **options: Any,
    ) -> None:
        super().__init__(
            component=component or function.__name__, measurements=[measurement], **options
        )
        self.function = function
        self.unit = unit
        self.threshold = threshold

    def collect(self) -> list[Measurement]:
        """Call the function (on a private event loop if it is ``async``) and judge it."""
        result = self.function()
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        name = self.measurements[0]
        if isinstance(result, list):
            return result
        if isinstance(result, Status):
            return [self.measure(name, None, status=result)]
        if result is None or result is True:
            return [self.measure(name, None, status=Status.PASS)]
        if result is False:
            return [self.measure(name, None, status=Status.FAIL, output="check returned False")]
        if isinstance(result, str):
            return [self.measure(name, None, status=Status.PASS, output=result)]
        return [self.measure(name, result, unit=self.unit, threshold=self.threshold)]


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
