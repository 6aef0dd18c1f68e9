"""What the routes (the API's and the console's) read: the team the app serves (a FastAPI
dependency) and one of its runs by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..team import RunEntry, Team
from .answers import UnknownRun


async def team_of(request: Request) -> Team:
    """The team the app serves (``app.state.team``, set by
    :func:`~letta_actors.daemon.api.create_app`)."""
    team: Team = request.app.state.team
    return team


TeamDep = Annotated[Team, Depends(team_of)]


def find_run(team: Team, run_id: str) -> RunEntry:
    """The run ``run_id`` of ``team``; :class:`~.answers.UnknownRun` (404) when it is not
    kept. Called in the route's body, so a request's other parameters are checked first
    (422 before 404, as for any request)."""
    entry = team.runs.get(run_id)
    if entry is None:
        raise UnknownRun(run_id)
    return entry
