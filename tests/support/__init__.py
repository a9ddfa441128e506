"""Test helpers shared by the suites (fixtures live in conftest.py files)."""
