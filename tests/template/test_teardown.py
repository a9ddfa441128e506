"""What a retained resource needs to be removed by hand after `sam delete` is a stack output, and the teardown in
docs/operations.md reads each one before the stack (and its outputs) is gone."""

from __future__ import annotations

import re

from samtranslator.yaml_helper import yaml_parse

from tests.template.translated import ROOT

RETAINED = {"StateTable": "StateTableName", "DataKey": "DataKeyId", "PasswordKey": "PasswordKeyId"}


def test_every_retained_resource_is_named_by_an_output() -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    retained = {name for name, r in template["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
    assert set(RETAINED) <= retained
    for resource, output in RETAINED.items():
        assert template["Outputs"][output]["Value"] == {"Ref": resource}, output


def test_the_teardown_reads_the_outputs_before_the_stack_is_deleted() -> None:
    # Given the teardown's commands in the operations guide
    guide = (ROOT / "docs" / "operations.md").read_text()
    teardown = guide.split("## Teardown", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", teardown, re.DOTALL)
    assert commands is not None
    lines = commands.group(1).splitlines()
    deleted_at = next(i for i, line in enumerate(lines) if line.startswith("sam delete"))
    # Then each output is read before `sam delete` (outputs go with the stack), and used after it
    for output in RETAINED.values():
        read_at = next(i for i, line in enumerate(lines) if f"'{output}'" in line or f" {output}" in line)
        assert read_at < deleted_at, output
    assert "<" not in commands.group(1), "no placeholder left for the operator to look up"
