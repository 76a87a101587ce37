"""Fixtures: recordings simulated by the dopflow command and analysed by it.

Environment: DOPFLOW = the dopflow program (default: dopflow on PATH); the
spec datasets/examples/brachial_rest.json is found by the program itself
(installed data folder, or DOPFLOW_DATA_DIR for a source tree)."""
import json
import os
import shutil
import subprocess

import pytest

SPEC = "datasets/examples/brachial_rest.json"


def dopflow_program():
    program = os.environ.get("DOPFLOW") or shutil.which("dopflow")
    if not program:
        pytest.fail("the dopflow program is needed: set DOPFLOW or put it on PATH")
    return program


def run(*args, cwd=None):
    return subprocess.run([dopflow_program(), *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def recording(tmp_path_factory):
    """A simulated resting brachial recording (8 s) and the command line's results."""
    folder = tmp_path_factory.mktemp("rec")
    wav = folder / "rest.wav"
    run("simulate", SPEC, "-o", str(wav), cwd=folder)  # the spec path is resolved by dopflow
    out = {k: folder / ("rest.%s.csv" % k) for k in ("frames", "beats", "summary")}
    run("analyze", str(wav), "--frames", str(out["frames"]), "--beats", str(out["beats"]),
        "--summary", str(out["summary"]), "--h5", str(folder / "rest.h5"))
    meta = json.loads((folder / "rest.json").read_text())
    return {"wav": wav, "folder": folder, "csv": out, "h5": folder / "rest.h5", "meta": meta}
