"""Release history and rollback: every deployment kept, one of them live.

    python -m shared.release list --task sentiment
    python -m shared.release rollback --task sentiment          # to the release before the live one
    python -m shared.release rollback 0002 --task sentiment     # to release 0002 (or its full name,
                                                                # or its model version)

Stage 6 keeps each deployment whole in ``models/<task>/releases/<release>/``
(model, metrics, spec, reference, manifest, model card), named
``<number>-<model version>``, numbered in the order they were deployed.
``models/<task>/deployed`` is a symbolic link to the live release, so every
reader (service, batch command, stage 7, monitor) keeps using the catalog's
``models/<task>/deployed/...`` paths. The link is switched by creating a new
link beside it and renaming it over the old one: a reader sees the old release
or the new one, never a mixture. A running service notices the switch and
serves the new release without a restart, after checking it as at start-up
(``shared.serving.hot_reload``). The newest ``KEEP_RELEASES`` releases are kept; the
live one is never deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import pandas as pd

from shared.core import command_line, storage
from shared.core.catalog import Catalog, MissingArtifactError
from shared.core.manifest import MANIFEST_NAME, Manifest, ManifestMismatchError, load_deployed
from shared.core.modelfile import UntrustedModelError
from shared.core.records import RecordError

#: how many releases are kept (the live one always among them, whatever its age)
KEEP_RELEASES = 5
#: a release folder's name: its number in deployment order and its model version
RELEASE_NAME = re.compile(r"^(\d{4,})-([0-9a-f]+)$")


class ReleaseError(RuntimeError):
    """A release cannot be found, listed or made live; the message says why."""


def release_names(cat: Catalog) -> list[str]:
    """The kept releases, oldest first (by their number)."""
    folder = cat.releases_dir
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.iterdir()
             if p.is_dir() and RELEASE_NAME.match(p.name) and (p / MANIFEST_NAME).is_file()]
    return sorted(names, key=_number)


def _number(name: str) -> int:
    return int(RELEASE_NAME.match(name).group(1))


def live_release(cat: Catalog) -> str | None:
    """The name of the release ``deployed`` links to (None when nothing is deployed, or
    when ``deployed`` is a plain folder left by an earlier version of the project)."""
    link = cat.deployed_dir
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    return target.name if RELEASE_NAME.match(target.name) else None


def next_name(cat: Catalog, model_version: str) -> str:
    """The name the next release of ``model_version`` gets: one number past the highest."""
    taken = [_number(n) for n in release_names(cat)]
    legacy = 1 if cat.deployed_dir.is_dir() and not cat.deployed_dir.is_symlink() else 0
    return f"{max(taken, default=0) + 1 + legacy:04d}-{model_version}"


def activate(cat: Catalog, name: str) -> None:
    """Make release ``name`` live: switch the ``deployed`` link to it in one rename."""
    target = cat.releases_dir / name
    if not (target / MANIFEST_NAME).is_file():
        raise ReleaseError(f"release {name} does not exist in {cat.relative(cat.releases_dir)}/")
    _adopt_plain_folder(cat)
    link = cat.deployed_dir
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex}.tmp")
    # a relative link, so the whole project folder can be moved or copied
    os.symlink(Path(cat.releases_dir.name) / name, temporary, target_is_directory=True)
    try:
        os.replace(temporary, link)
    finally:
        if temporary.is_symlink():
            temporary.unlink()


def _adopt_plain_folder(cat: Catalog) -> None:
    """Move a ``deployed`` folder written before releases existed into ``releases/``.

    This happens once per project; for the moment between the two renames
    nothing is deployed.
    """
    live = cat.deployed_dir
    if not live.is_dir() or live.is_symlink():
        return
    try:
        version = storage.read_json(live / MANIFEST_NAME)["model_version"]
    except (OSError, ValueError, KeyError):
        version = "0" * 12
    taken = [_number(n) for n in release_names(cat)]
    name = f"{max(taken, default=0) + 1:04d}-{version}"
    cat.releases_dir.mkdir(parents=True, exist_ok=True)
    os.replace(live, cat.releases_dir / name)
    os.symlink(Path(cat.releases_dir.name) / name, live, target_is_directory=True)


def publish(cat: Catalog, staging: Path, name: str, keep: int = KEEP_RELEASES) -> Path:
    """Move a verified staging folder into ``releases/<name>``, make it live, prune old ones."""
    _adopt_plain_folder(cat)
    folder = cat.releases_dir / name
    if folder.exists():
        raise ReleaseError(f"release {name} already exists; deploy again to get a new number")
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, folder)
    activate(cat, name)
    prune(cat, keep)
    return folder


def prune(cat: Catalog, keep: int = KEEP_RELEASES) -> list[str]:
    """Delete the oldest releases beyond ``keep``, never the live one; return their names."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    live = live_release(cat)
    names = release_names(cat)
    doomed = [n for n in names[:max(len(names) - keep, 0)] if n != live]
    for name in doomed:
        shutil.rmtree(cat.releases_dir / name)
    return doomed


def manifest_of(cat: Catalog, name: str) -> Manifest:
    """The manifest of release ``name`` (not checked against its files: see rollback)."""
    return Manifest.from_dict(storage.read_json(cat.releases_dir / name / MANIFEST_NAME))


def history(cat: Catalog) -> pd.DataFrame:
    """One row per kept release, newest first: live, time, model, primary metric, gate, and
    the tracked run that produced it (the first 8 characters of its MLflow run id, as
    ``python -m shared runs`` shows them; "" when that run was not tracked)."""
    live = live_release(cat)
    links = cat.path("release_runs")
    runs = storage.read_json(links) if links.is_file() else {}
    rows = []
    for name in reversed(release_names(cat)):
        try:
            manifest = manifest_of(cat, name)
        except (OSError, ValueError, RecordError) as error:
            rows.append({"release": name, "live": name == live, "deployed_at": "",
                         "model_version": "", "metric": "", "value": float("nan"),
                         "gate": f"unreadable manifest: {error}", "run": ""})
            continue
        metrics = manifest.metrics
        primary = metrics.primary_metric
        gate = metrics.gate.verdict
        if manifest.approval is not None and not manifest.approval.passed:
            gate = "FAIL, deployed with allow_failed_gate"
        rows.append({
            "release": name, "live": name == live, "deployed_at": manifest.deployed_at,
            "model_version": manifest.model_version, "metric": primary,
            "value": round(float(metrics.test[primary]), 4), "gate": gate,
            "run": str(runs.get(name, {}).get("run_id", ""))[:8],
        })
    columns = ["release", "live", "deployed_at", "model_version", "metric", "value", "gate",
               "run"]
    return pd.DataFrame(rows, columns=columns)


def resolve(cat: Catalog, wanted: str | None) -> str:
    """The release ``wanted`` names: its full name, its number ("2" or "0002") or its model
    version; None means the release deployed before the live one."""
    names = release_names(cat)
    if not names:
        raise ReleaseError(f"no releases in {cat.relative(cat.releases_dir)}/: run stage 6 first")
    if wanted is None:
        live = live_release(cat)
        older = [n for n in names if live is None or _number(n) < _number(live)]
        if not older:
            raise ReleaseError(f"no release older than the live one ({live}) is kept; "
                               f"kept: {', '.join(names)}")
        return older[-1]
    matches = [n for n in names if wanted in (n, n.split("-", 1)[1])
               or (wanted.isdigit() and int(wanted) == _number(n))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ReleaseError(f"no release {wanted!r}; kept: {', '.join(names)}")
    raise ReleaseError(f"{wanted!r} names several releases ({', '.join(matches)}): give the "
                       "full name")


def rollback(cat: Catalog, wanted: str | None = None) -> Manifest:
    """Make an earlier release live again, after checking its files, libraries and types.

    ``wanted`` as in :func:`resolve`. The switch is one rename; a running
    service switches to the release by itself (``shared.serving.hot_reload``).
    """
    name = resolve(cat, wanted)
    try:
        _, manifest = load_deployed(cat.releases_dir / name)
    except (ManifestMismatchError, UntrustedModelError, MissingArtifactError) as error:
        raise ReleaseError(f"release {name} cannot be made live: {error}") from None
    activate(cat, name)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.release list|rollback [RELEASE]``: exit 2 when it cannot."""
    from shared.data.tasks import TASKS

    parser = command_line.parser("release", "List the kept releases or roll back to one.", [
        "python -m shared release list                         # version, time, metric, gate",
        "python -m shared release rollback                     # back to the previous release",
        "python -m shared release rollback 0003 --task spam",
    ])
    parser.add_argument("command", choices=["list", "rollback"])
    parser.add_argument("release", nargs="?",
                        help="rollback only: release name, number or model version "
                             "(default: the release before the live one)")
    command_line.add_task_and_root(parser, TASKS)
    args = parser.parse_args(argv)
    cat = Catalog.for_task(args.task, args.root)
    try:
        if args.command == "rollback":
            before = live_release(cat)
            manifest = rollback(cat, args.release)
            print(f"rolled back task {args.task} from {before} to {live_release(cat)} "
                  f"(model {manifest.model_version}); a running service switches to it "
                  "within its --reload-interval, or at once on POST /admin/reload")
        elif args.release:
            parser.error("list takes no release")
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = history(cat)
    if table.empty:
        print(f"no releases of task {args.task} in {cat.relative(cat.releases_dir)}/")
        return 0
    table["live"] = table["live"].map({True: "*", False: ""})
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
