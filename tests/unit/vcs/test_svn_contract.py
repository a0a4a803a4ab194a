"""The repository contract on a Subversion repository made with the real ``svnadmin`` and
``svn`` clients (trunk/branches/tags; the tag and the branch are copies, the merge an
``svn merge``)."""

from __future__ import annotations

import pytest

from codeyard.vcs import api
from codeyard.vcs.svn import open_repository
from tests.unit.vcs.contract import *  # noqa: F403
from tests.unit.vcs.contract import Scenario
from tests.unit.vcs.svn_fixtures import Svn, build_contract_history


@pytest.fixture(scope="module")
def svn_history(tmp_path_factory):
    svn = Svn(tmp_path_factory.mktemp("svn"))
    return svn, build_contract_history(svn)


@pytest.fixture(scope="module")
def scenario(svn_history):
    svn, made = svn_history
    revs = {name: made[name] for name in ("r1", "r2", "r3", "r4", "f1", "r5")}
    repos = open_repository(None, "", str(svn.path), {})
    line = [str(n) for n in range(1, int(made["r5"]) + 1)]
    yield Scenario(
        repos=repos, revs=revs, prefix="trunk/", tag_rev=None,
        extra_revs=[made["tag"], made["branch"]],
        parents={"r1": [], "r2": [revs["r1"]], "f1": [made["branch"]], "r5": [revs["f1"]]},
        mainline=line,
        merged_change=("trunk/feature.txt", api.COPY, "branches/feature/feature.txt"))
    repos.close()
