"""Release history: every deployment kept, ``deployed`` links to the live one, rollback."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import deploy_small_model, evaluate_small_model, train_small_model
from service_harness import Service

from shared.core.catalog import Catalog
from shared.core.manifest import verify
from shared.core.records import TrainingReport
from shared.deploy import deployment, release


@pytest.fixture(scope="module")
def two_releases(deployed):
    """The fixture's release, then a second one of another model (C=1 instead of 10)."""
    first = verify(deployed.deployed_dir)
    evaluate_small_model(deployed, train_small_model(deployed, c=1.0))
    second = deployment.deploy(deployed, TrainingReport.load(deployed))
    assert second.model_version != first.model_version
    return deployed, first, second


def test_deploy_twice_roll_back_and_health_reports_the_first(two_releases, capsys):
    cat, first, second = two_releases
    assert release.live_release(cat) == second.release
    assert release.main(["rollback", "--task", "sentiment", "--root", str(cat.root)]) == 0
    assert f"to {first.release}" in capsys.readouterr().out
    assert release.live_release(cat) == first.release
    with Service("sentiment", cat.root) as service:
        health = service.client().get("/health").body
    assert (health["model_version"], health["release"]) == (first.model_version, first.release)
    assert release.main(["rollback", second.release, "--task", "sentiment",
                         "--root", str(cat.root)]) == 0
    assert verify(cat.deployed_dir).release == second.release


def test_list_shows_every_release_newest_first(two_releases, capsys):
    cat, first, second = two_releases
    table = release.history(cat)
    assert list(table["release"][:2]) == [second.release, first.release]
    assert table["live"].sum() == 1
    assert set(table["metric"]) == {"f1"} and set(table["gate"]) <= {"PASS", "FAIL"}
    assert release.main(["list", "--task", "sentiment", "--root", str(cat.root)]) == 0
    out = capsys.readouterr().out
    assert first.release in out and second.release in out and "deployed_at" in out


def test_a_release_is_named_by_number_or_model_version(two_releases):
    cat, first, _ = two_releases
    number = first.release.split("-")[0]
    assert release.resolve(cat, number) == first.release
    assert release.resolve(cat, str(int(number))) == first.release
    with pytest.raises(release.ReleaseError, match="no release 'nonesuch'; kept: "):
        release.resolve(cat, "nonesuch")


def test_rollback_refuses_a_tampered_release_and_keeps_the_live_one(two_releases, capsys):
    cat, first, second = two_releases
    live = release.live_release(cat)
    other = first.release if live == second.release else second.release
    card = cat.releases_dir / other / "MODEL_CARD.md"
    original = card.read_bytes()
    card.write_bytes(original + b"\nedited by hand\n")
    try:
        assert release.main(["rollback", other, "--task", "sentiment",
                             "--root", str(cat.root)]) == 2
        assert "MODEL_CARD.md does not match" in capsys.readouterr().err
        assert release.live_release(cat) == live
    finally:
        card.write_bytes(original)


def test_old_releases_are_pruned_but_never_the_live_one(tmp_path, deployed_project):
    cat = Catalog.for_task("sentiment", tmp_path)
    cat.releases_dir.mkdir(parents=True)
    source = deployed_project.deployed_dir
    names = [f"{n:04d}-{'ab' * 6}" for n in range(1, 5)]
    for name in names:
        shutil.copytree(source, cat.releases_dir / name)
    release.activate(cat, names[0])
    assert release.prune(cat, keep=2) == names[1:2]
    assert release.release_names(cat) == [names[0], *names[2:]]
    assert release.live_release(cat) == names[0]


def test_a_deployed_folder_from_before_releases_is_kept_as_a_release(tmp_path, deployed_project):
    cat = Catalog.for_task("sentiment", tmp_path)
    shutil.copytree(deployed_project.deployed_dir, cat.deployed_dir)  # a plain folder
    version = verify(cat.deployed_dir).model_version
    name = release.next_name(cat, "cafe")
    assert name == "0002-cafe"
    staging = cat.releases_dir / ".staging.test"
    shutil.copytree(deployed_project.deployed_dir, staging)
    release.publish(cat, staging, name)
    assert release.release_names(cat) == [f"0001-{version}", name]
    assert os.readlink(cat.deployed_dir) == f"releases/{name}"
    assert release.rollback(cat).model_version == version
    assert release.live_release(cat) == f"0001-{version}"


def test_the_release_cli_without_releases_says_so(tmp_path, capsys):
    assert release.main(["list", "--task", "spam", "--root", str(tmp_path)]) == 0
    assert "no releases of task spam" in capsys.readouterr().out
    assert release.main(["rollback", "--task", "spam", "--root", str(tmp_path)]) == 2
    assert "run stage 6 first" in capsys.readouterr().err


def test_a_first_deployment_of_spam_is_release_one(tmp_path):
    # release numbering, not model quality: the small test model's spam recall (0.75) misses
    # the 0.80 target since the threshold keeps ham blocked within its limit with 95%
    # confidence, so it is deployed with the override, as a user may
    cat = deploy_small_model(tmp_path / "fresh", "spam", allow_failed_gate=True)
    manifest = verify(cat.deployed_dir)
    assert release.release_names(cat) == [manifest.release]
    assert len(release.history(cat)) == 1 and manifest.allow_failed_gate
