"""A supervisor of children added at run time whose children come back when it restarts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..actors import ActorInfo
from ._backoff import Backoff
from ._intensity import Intensity
from ._spec import ChildSpec, Strategy, check_children
from ._supervisor import Supervisor, _Child


class DynamicSupervisor:
    """Describes a supervisor for children started at run time (the use of OTP's
    ``simple_one_for_one``) whose children survive its restart.

    A plain :class:`Supervisor` restarted by its parent (after it gave up) starts only the
    children it was created with: those added by ``start_child`` are gone, as in OTP. A
    ``DynamicSupervisor`` keeps the spec of every child started through it (``start_child``,
    ``system.spawn(..., supervisor=...)``), except temporary ones, and forgets it on
    ``delete_child`` / ``stop_child``; each new instance starts the kept children again, in
    their first start order, before it handles any request. A child that fails to start
    then fails the supervisor's start, as a static child would.

    It is the supervisor's factory: spawn it (``system.spawn(DynamicSupervisor(),
    name="pool")``) or use it as a ``ChildSpec`` factory. The kept specs live in this object,
    so it serves one supervisor at a time (a second instance while the first runs raises
    ``RuntimeError``). ``children`` start with the supervisor, like a plain one's;
    ``strategy`` (default ``one_for_one``), ``intensity`` and ``backoff`` as for
    :class:`Supervisor`.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        specs = check_children(children, strategy)
        self._specs: dict[str, ChildSpec] = {spec.name: spec for spec in specs}
        self.strategy: Strategy = strategy
        self.intensity = intensity
        self.backoff = backoff
        self._current: _Keeping | None = None

    @property
    def children(self) -> list[ChildSpec]:
        """The kept specs, in start order: what the next instance starts."""
        return list(self._specs.values())

    def __call__(self) -> Supervisor:
        current = self._current
        cell = getattr(current, "_cell", None)  # None until the runtime attached the instance
        if current is not None and cell is not None and ActorInfo.of(cell).actor is current:
            raise RuntimeError(
                f"this DynamicSupervisor already runs as {current.name!r}: make one per supervisor"
            )
        self._current = _Keeping(
            self._specs, strategy=self.strategy, intensity=self.intensity, backoff=self.backoff
        )
        return self._current


class _Keeping(Supervisor):
    """A supervisor that records its children's specs in ``specs``."""

    def __init__(
        self,
        specs: dict[str, ChildSpec],
        *,
        strategy: Strategy,
        intensity: Intensity | None,
        backoff: Backoff | None,
    ) -> None:
        super().__init__(specs.values(), strategy=strategy, intensity=intensity, backoff=backoff)
        self._kept = specs

    async def _add(self, spec: ChildSpec) -> Any:
        ref = await super()._add(spec)
        if spec.restart != "temporary":
            self._kept[spec.name] = spec
        return ref

    async def _terminate(self, child: _Child, timeout: float | None, delete: bool) -> None:
        await super()._terminate(child, timeout, delete)
        if delete:
            self._kept.pop(child.name, None)

    def _delete(self, child: _Child) -> None:
        super()._delete(child)
        self._kept.pop(child.name, None)
