"""The code blocks of README.md and docs/*.md, and how to run one as written.

Conventions (README.md, "Development"):

- A ```` ```python ```` block is a complete script: it is executed as ``__main__`` in a fresh
  module, in a temporary working directory. One that calls ``anyio.run(main)`` without naming a
  backend runs on asyncio *and* on Trio (the wrapper supplies the backend); ``trio.run`` runs
  on Trio, ``asyncio.run`` on asyncio; a block with none of them runs once. Every run is
  bounded (``fail_after``), so a block that never returns fails instead of hanging.
- ``<!-- needs: letta -->`` on the line before a block: it needs a Letta server. It runs in a
  ``letta``-marked test with ``LETTA_BASE_URL``, ``LETTA_MODEL`` and ``LETTA_EMBEDDING`` set to
  the local stack (so ``letta_environment()`` and ``os.environ`` both find it).
- ``<!-- not-run: reason -->`` on the line before a block: not executed (an API synopsis, a
  fragment). Keep them rare; the reason is required.
- A ```` ```toml ```` block is a team file: it must load with the daemon's ``load_config``.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import re
import sys
import types
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
import trio
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*(?P<kind>[a-z-]+)\s*:\s*(?P<value>.*?)\s*-->$")
KNOWN_MARKERS = {"not-run", "needs"}
BACKENDS = ("asyncio", "trio")

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block: its file, the line of its first code line, language, code."""

    path: Path
    line: int
    lang: str
    code: str
    marker: tuple[str, str] | None  # (kind, value) of the comment on the line before

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def not_run(self) -> str | None:
        return self.marker[1] if self.marker and self.marker[0] == "not-run" else None

    @property
    def needs_letta(self) -> bool:
        return self.marker == ("needs", "letta")

    def backends(self) -> tuple[str | None, ...]:
        """The backends this block runs on, from the runner calls in its code (``None``: it
        starts no event loop; a syntax error shows when it runs)."""
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return (None,)
        found: set[str] = set()
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "run"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("anyio", "trio", "asyncio")
            ):
                continue
            runner = node.func.value.id
            pinned = [k.value for k in node.keywords if k.arg == "backend"]
            if runner != "anyio":
                found.add(runner)
            elif pinned and isinstance(pinned[0], ast.Constant):
                found.add(str(pinned[0].value))
            else:
                found.update(BACKENDS)
        return tuple(b for b in BACKENDS if b in found) or (None,)


def parse(path: Path) -> list[Block]:
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        opening = token.map[0]
        before = next(
            (lines[i].strip() for i in range(opening - 1, -1, -1) if lines[i].strip()), ""
        )
        match = MARKER.match(before)
        marker = (match["kind"], match["value"]) if match else None
        lang = token.info.strip().split(" ")[0].lower()
        lang = {"py": "python", "python3": "python"}.get(lang, lang)
        found.append(Block(path, opening + 2, lang, token.content, marker))
    return found


def all_blocks(lang: str) -> list[Block]:
    return [block for path in DOCS for block in parse(path) if block.lang == lang]


def python_runs(*, letta: bool) -> list[Any]:
    """``pytest.param(block, backend)`` for every Python block that runs (Letta or not)."""
    return [
        pytest.param(block, backend, id=f"{block.id}[{backend or 'sync'}]")
        for block in all_blocks("python")
        if block.not_run is None and block.needs_letta is letta
        for backend in block.backends()
    ]


@contextmanager
def bounded_runners(backend: str | None, timeout: float) -> Iterator[list[str]]:
    """Make ``anyio.run`` / ``trio.run`` / ``asyncio.run`` use ``backend`` and give up after
    ``timeout`` seconds; yields the list of the runners called."""
    calls: list[str] = []
    real_anyio, real_trio, real_asyncio = anyio.run, trio.run, asyncio.run

    def anyio_run(
        func: Callable[..., Awaitable[T]], *args: Any, backend: str | None = None, **kw: Any
    ) -> T:
        calls.append("anyio")

        async def bounded() -> T:
            with anyio.fail_after(timeout):
                return await func(*args)

        return real_anyio(bounded, backend=backend or chosen, **kw)

    def trio_run(func: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        calls.append("trio")

        async def bounded() -> T:
            with trio.fail_after(timeout):
                return await func(*args)

        return real_trio(bounded, **kw)

    def asyncio_run(coro: Awaitable[T], **kw: Any) -> T:
        calls.append("asyncio")

        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return real_asyncio(bounded(), **kw)

    chosen = backend or "asyncio"
    anyio.run, trio.run, asyncio.run = anyio_run, trio_run, asyncio_run  # type: ignore[assignment]
    try:
        yield calls
    finally:
        anyio.run, trio.run, asyncio.run = real_anyio, real_trio, real_asyncio


def run_python(block: Block, backend: str | None, *, timeout: float) -> None:
    """Execute ``block`` as ``__main__``; tracebacks point at the Markdown file's lines."""
    code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
    module = types.ModuleType("__main__")
    module.__file__ = str(block.path)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = module
    try:
        with bounded_runners(backend, timeout) as calls:
            exec(code, module.__dict__)
    finally:
        sys.modules["__main__"] = saved
    if backend is not None:
        assert calls, f"{block.id}: the block defines work but never runs it"
