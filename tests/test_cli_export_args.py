"""`crondeck export k8s` refuses what Kubernetes would refuse, before writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from crondeck.cli.main import main

JOBS = Path(__file__).resolve().parents[1] / "examples" / "daily-digest.toml"


def test_k8s_needs_an_image(capsys):
    assert main(["--config", str(JOBS), "export", "k8s"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--image is required for k8s" in captured.err


@pytest.mark.parametrize(("flag", "value", "why"), [
    ("--requests", "cpu=abc", "'abc' is not a Kubernetes quantity"),
    ("--limits", "memory=12 MB", "'12 MB' is not a Kubernetes quantity"),
    ("--requests", "cpu", "write resource=amount"),
    ("--limits", "CPU!=1", "is not a resource name"),
])
def test_k8s_resources_must_be_quantities(capsys, flag, value, why):
    code = main(["--config", str(JOBS), "export", "k8s", "--image", "x:1", flag, value])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert why in captured.err and flag in captured.err


def test_k8s_takes_every_quantity_form(capsys):
    value = "cpu=100m,memory=1.5Gi,ephemeral-storage=2G,nvidia.com/gpu=1,example.com/x=1e3"
    assert main(["--config", str(JOBS), "export", "k8s", "--image", "x:1",
                 "--requests", value]) == 0
    out = capsys.readouterr().out
    for amount in ('cpu: "100m"', 'memory: "1.5Gi"', 'nvidia.com/gpu: "1"', 'example.com/x: "1e3"'):
        assert amount in out
