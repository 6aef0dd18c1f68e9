"""Tests against the real local stack (scripted LLM + Letta 0.16.8): its fixtures
(``letta_stack``, ``scripted_llm``, ``agent_token``) are in ``tests/conftest.py``, shared with
every folder that needs them. The first run installs Letta into ``~/.cache/letta-actors``.
"""
