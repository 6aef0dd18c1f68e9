"""The type parameters of actors and refs: the messages an actor takes and the replies it gives.

Both default to ``Any`` (PEP 696), so an unparameterised ``Actor`` or ``ActorRef`` means
``Actor[Any, Any]``: untyped code keeps working, typed code gets its messages checked.
"""

from typing import Any

from typing_extensions import TypeVar

#: What an actor accepts (contravariant: an actor taking ``object`` can stand in for one
#: taking ``str``).
MsgT = TypeVar("MsgT", contravariant=True, default=Any)
#: What an ask answers (covariant).
ReplyT = TypeVar("ReplyT", covariant=True, default=Any)
