"""checkov on terraform/: zero failed checks, and every suppression is inline with a reason.

checkov lives in its own virtual environment (`make checkov-venv`): its bc-python-hcl2
would overwrite python-hcl2 in .venv. It runs offline: --skip-download, BC_SKIP_MAPPING
and CKV_SKIP_PACKAGE_UPDATE_CHECK stop its calls to the Bridgecrew platform and PyPI.

checkov renders variables before its resource checks, and a resource whose count comes to
0 gets only the graph checks: with the defaults, the scheduled simulator (simulator.tf, off
unless simulator_enabled) would go unchecked. Every scan here turns on every optional part
(the simulator, and the lake's compaction, which is on by default anyway).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(CKV2?_AWS_\d+)(?::(.*))?")
# Every optional part of the stack on, so that checkov checks each resource in full.
EVERYTHING_ON = "simulator_enabled = true\nlake_compaction_enabled = true\n"


def run_checkov(directory: Path, var_file: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.skip(f"{CHECKOV.relative_to(REPO)} is missing: `make checkov-venv` (part of `make test`) creates it")
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "terraform",
            "--skip-download",
            "--var-file",
            str(var_file),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode in (0, 1), f"checkov crashed ({result.returncode}):\n{result.stderr[-4000:]}"
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    assert report["summary"]["resource_count"] > 20, "checkov did not see the stack"
    return report


def suppressions(directory: Path) -> list[tuple[str, str, str]]:
    """(file, check id, reason) for every inline suppression."""
    found = []
    for path in sorted(directory.glob("*.tf")):
        for line in path.read_text().splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                found.append((path.name, match.group(1), (match.group(2) or "").strip()))
    return found


@pytest.fixture
def everything_on(tmp_path: Path) -> Path:
    var_file = tmp_path / "everything-on.tfvars"
    var_file.write_text(EVERYTHING_ON)
    return var_file


def test_checkov_finds_no_failed_check(everything_on: Path) -> None:
    report = run_checkov(TERRAFORM_DIR, everything_on)
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert report["summary"]["passed"] > 50
    # Every skip checkov honoured came from an inline comment with its reason.
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 30, check["check_id"]
    # The simulator's resources got the resource checks, not only the graph ones.
    passed = {(c["resource"], c["check_id"]) for c in report["results"]["passed_checks"]}
    assert ("aws_lambda_permission.simulator[0]", "CKV_AWS_364") in passed  # invoked only from its rule
    assert ("aws_lambda_function.simulator[0]", "CKV_AWS_45") in passed  # no secrets in its environment
    assert ("aws_iam_role_policy.simulator[0]", "CKV_AWS_62") in passed  # no full admin
    # So did the lake's: compaction is invoked only from its rule, and the workgroup enforces
    # its results' encryption.
    assert ("aws_lambda_permission.lake_compaction[0]", "CKV_AWS_364") in passed
    assert ("aws_iam_role_policy.lake_compaction[0]", "CKV_AWS_62") in passed
    assert ("aws_athena_workgroup.lake", "CKV_AWS_82") in passed  # clients cannot turn encryption off
    assert ("aws_athena_workgroup.lake", "CKV_AWS_159") in passed  # results encrypted
    assert ("aws_iam_policy.lake_reader", "CKV_AWS_62") in passed


def test_every_suppression_has_a_reason_and_is_needed(everything_on: Path, tmp_path: Path) -> None:
    # GIVEN the suppressions, each with a reason a reviewer can judge
    skipped = suppressions(TERRAFORM_DIR)
    assert skipped, "expected the documented suppressions (KMS CMKs, X-Ray, VPC, ...)"
    for name, check, reason in skipped:
        assert len(reason) > 30, f"{name}: #checkov:skip={check} needs a reason after the colon"
    # WHEN checkov runs on the same files without them
    stripped = tmp_path / "terraform"
    stripped.mkdir()
    for path in TERRAFORM_DIR.glob("*.tf"):
        kept = [line for line in path.read_text().splitlines(keepends=True) if not SKIP_COMMENT.search(line)]
        (stripped / path.name).write_text("".join(kept))
    report = run_checkov(stripped, everything_on)
    # THEN exactly the suppressed checks fail: no suppression hides nothing
    failing = sorted({c["check_id"] for c in report["results"]["failed_checks"]})
    assert failing == sorted({check for _, check, _ in skipped})
    assert len(report["results"]["failed_checks"]) == len(skipped)


def test_checkov_is_not_installed_next_to_python_hcl2() -> None:
    # checkov's bc-python-hcl2 replaces the `hcl2` package: it must never share .venv.
    assert shutil.which("checkov", path=str(REPO / ".venv" / "bin")) is None
    import hcl2

    assert hasattr(hcl2, "SerializationOptions"), "hcl2 in .venv is not python-hcl2 8.x"
