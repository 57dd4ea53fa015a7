import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = ROOT / "testdata"


@pytest.fixture(scope="session")
def cli():
    """The sshtrail command line (SSHTRAIL_BIN, else on PATH): the
    bindings must give what it gives. Missing, the tests fail."""
    path = os.environ.get("SSHTRAIL_BIN") or shutil.which("sshtrail")
    assert path, "set SSHTRAIL_BIN to the sshtrail binary (.ci/py.sh does)"
    return path
