"""The service command: loopback by default, and the refusals to start, each naming why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared.core.catalog import PROJECT_DIR, Catalog
from shared.core.text_rules import clean_text
from shared.serving.guards import KEYS_VARIABLE
from shared.serving.service import Settings


def test_listens_on_loopback_by_default():
    assert Settings().host == "127.0.0.1"


@pytest.fixture(scope="module")
def refusals(
    tmp_path_factory, deployed_project, forged_deployment
) -> dict[str, subprocess.CompletedProcess]:
    """Try to start the service in five refused ways at once (they start in parallel).

    Stage 6's canary refuses a model holding a function nobody vouched for, so the
    untrusted one is a copy of a real deployment whose model was swapped for such a model
    by someone who also rewrote its hash in the manifest: the type check is what is left.
    """
    roots = {name: tmp_path_factory.mktemp(name) for name in ("tampered", "untrusted", "missing")}
    tampered = Catalog.for_task("sentiment", roots["tampered"])
    shutil.copytree(deployed_project.deployed_dir, tampered.deployed_dir)
    with open(tampered.path("deployed_reference"), "a", encoding="utf-8") as handle:
        handle.write("tampered,positive,0.9,positive,0.9\n")
    roots["untrusted"] = forged_deployment(Pipeline([("f", FunctionTransformer(clean_text))])).root
    short_key = tmp_path_factory.mktemp("keys") / "keys.txt"
    short_key.write_text("# a key too short to be safe\ntiny-key\n", encoding="utf-8")
    roots["open"] = roots["short key"] = deployed_project.root
    extra = {"open": ["--host", "0.0.0.0"], "short key": ["--api-key-file", str(short_key)]}
    env = {k: v for k, v in os.environ.items() if k != KEYS_VARIABLE}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "shared.serve", "--task", "sentiment", "--root", str(root),
             "--port", "0", *extra.get(name, [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=PROJECT_DIR, env=env,
        )
        for name, root in roots.items()
    }
    results = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def test_refuses_to_start_when_a_file_does_not_match_the_manifest(refusals):
    result = refusals["tampered"]
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "reference_predictions.csv does not match manifest.json" in result.stderr
    assert result.stdout == ""  # it never announced an address


def test_refuses_to_start_on_an_untrusted_type(refusals):
    result = refusals["untrusted"]
    assert result.returncode == 2
    assert "untrusted" in result.stderr and "shared.core.text_rules.clean_text" in result.stderr


def test_refuses_to_start_without_a_deployed_model(refusals):
    result = refusals["missing"]
    assert result.returncode == 2
    assert "no deployed model" in result.stderr and "stage 6" in result.stderr


def test_refuses_to_listen_beyond_loopback_without_keys(refusals):
    result = refusals["open"]
    assert result.returncode == 2
    assert "0.0.0.0 is reachable from other machines" in result.stderr
    assert "--api-key-file" in result.stderr and KEYS_VARIABLE in result.stderr
    assert result.stdout == ""  # it never listened


def test_refuses_a_key_that_is_too_short(refusals):
    result = refusals["short key"]
    assert result.returncode == 2
    assert "shorter than 16 characters" in result.stderr and "tiny-key" not in result.stderr
