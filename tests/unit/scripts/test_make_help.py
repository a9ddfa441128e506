"""`make help` tells a newcomer what each target needs: the build downloads wheels, so it needs the package index."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT


def test_the_build_says_it_needs_the_package_index() -> None:
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    (build,) = [line for line in listed.splitlines() if line.split()[:1] == ["build"]]
    assert "package index" in build and "offline" not in build, build
