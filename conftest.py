"""How the suite (``tests/`` and the notebooks that nbval runs) is spread over pytest-xdist workers.

``run_tests.sh`` runs it on two workers with this file's scheduler (:func:`work_unit` names each
test's unit of work; a unit runs on one worker, in collection order):

* the notebooks form two chains, each run in numbered order on one worker (a notebook's cells
  share a kernel, and a notebook reads what earlier ones wrote to the smoke profile's figures and
  cache): :data:`SIDE_CHAIN`, the MAGE-ID training notebooks that neither read nor write the
  shared tables (a later notebook finds their models in the cache, or fits them itself), and the
  main chain, every other notebook: the VGM notebooks and those that read and merge Table I and
  Table 6 (``tableI_mageid.csv``, ``table6_*.csv``);
* each test module is one unit (a module-scoped fixture, e.g. a fitted smoke model, is built
  once), handed to whichever worker runs out of work first.

On a worker the two chains are collected first, so they start at once. Without xdist
(``IDSYNTH_TEST_WORKERS=0``) nothing here applies: tests, then notebooks 00-14, in one process.
(xdist's own ``--dist loadgroup`` cannot group them under pytest 9.2: it renames node ids through
an attribute that pytest no longer reads.)
"""

from __future__ import annotations

import pytest

#: The notebooks (by number) of the second chain; ``tests/test_notebook_chains.py`` checks that
#: none of them names a shared table.
SIDE_CHAIN: tuple[str, ...] = ("05", "06", "07", "12", "13")
MAIN_GROUP, SIDE_GROUP = "notebooks-main", "notebooks-side"
_CHAIN_RANK = {MAIN_GROUP: 0, SIDE_GROUP: 1}


def work_unit(nodeid: str) -> str:
    """The unit of work of the test ``nodeid`` (relative to the root): a notebook's chain
    (nbval's ids read ``notebooks/07_mageid_stage2::ipynb::Cell 3``), or the test's file."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("notebooks/") and (path.endswith(".ipynb") or "::ipynb::" in nodeid):
        return SIDE_GROUP if path.removeprefix("notebooks/")[:2] in SIDE_CHAIN else MAIN_GROUP
    return path


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: unknown where it is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's scope scheduling with :func:`work_unit` as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class ChainScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ChainScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the two chains first, each in collection order
        items.sort(key=lambda item: _CHAIN_RANK.get(work_unit(item.nodeid), 2))
