"""The template as SAM sees it: lint, and an offline cross-platform build for python3.13 on arm64."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


def test_sam_validate_lint_passes(sam_bin: str, sam_env: dict[str, str]) -> None:
    # When the template is validated with SAM's own linter
    done = subprocess.run(
        [sam_bin, "validate", "--lint", "--template-file", "template.yaml"],
        cwd=ROOT,
        env=sam_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then it is valid
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


@pytest.mark.slow
def test_sam_build_produces_cp313_arm64_layer(sam_build: Path, tmp_path: Path) -> None:
    # Given only the development Python (3.11) on this machine, SAM built the application with the makefile method
    build_dir = sam_build
    # Then the layer carries the core package and pydantic-core compiled for CPython 3.13 on aarch64
    layer = build_dir / "CoreLayer" / "python"
    assert (layer / "bankupdate" / "domain" / "polling.py").exists()
    compiled = sorted(p.name for p in (layer / "pydantic_core").glob("_pydantic_core*.so"))
    assert compiled == ["_pydantic_core.cpython-313-aarch64-linux-gnu.so"], compiled
    assert not list(layer.rglob("*cpython-311*")), "wheels for the development Python leaked into the layer"
    # And every function artifact holds just its handler (the shared code comes from the layer)
    resources = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]
    code_uris = {
        logical_id: str(resource["Properties"]["CodeUri"]).strip("/")
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert sorted(code_uris.values()) == sorted(f"functions/{d.name}" for d in (ROOT / "functions").iterdir())
    for logical_id, code_uri in code_uris.items():
        artifact = build_dir / logical_id
        assert (artifact / "app.py").read_text() == (ROOT / code_uri / "app.py").read_text(), logical_id
    # And the layer zips below Lambda's limits (250 MB unzipped, 50 MB zipped direct upload)
    archive = tmp_path / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in layer.rglob("*"):
            zipped.write(path, path.relative_to(layer.parent))
    unzipped = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    assert unzipped < 250 * 1024 * 1024
    assert archive.stat().st_size < 50 * 1024 * 1024
