"""Supervision trees: restart failing actors by Erlang/OTP's rules."""

from ._backoff import NO_BACKOFF, Backoff
from ._dynamic import DynamicSupervisor
from ._errors import ChildAlreadyPresent
from ._handle import SupervisorHandle
from ._intensity import Intensity
from ._messages import (
    ChildInfo,
    DeleteChild,
    RestartChild,
    StartChild,
    TerminateChild,
    Terminated,
    WhichChildren,
)
from ._spec import ChildSpec, RestartType, Strategy
from ._supervisor import Supervisor

__all__ = [
    "NO_BACKOFF",
    "Backoff",
    "ChildAlreadyPresent",
    "ChildInfo",
    "ChildSpec",
    "DeleteChild",
    "DynamicSupervisor",
    "Intensity",
    "RestartChild",
    "RestartType",
    "StartChild",
    "Strategy",
    "Supervisor",
    "SupervisorHandle",
    "TerminateChild",
    "Terminated",
    "WhichChildren",
]
