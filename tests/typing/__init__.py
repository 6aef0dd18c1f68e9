"""Typing tests: checked by mypy (assert_type) and by a test that runs mypy on bad calls."""
