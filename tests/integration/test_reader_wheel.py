"""The reader is a product: its wheel installs alone and works across a rotation.

Build the wheel, install it into a fresh virtual environment with only its declared
dependencies (and the ``momento`` extra the example needs), then run the example application
(examples/cache_app.py, by its path, from a scratch folder: nothing of this checkout is
importable there) against the emulators while the function's own code rotates the key. The
application keeps working, picks up the new key without a restart, and leaks nothing.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), "./reader"],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    (built,) = out.glob("momento_key_reader-*.whl")
    return built


@pytest.fixture(scope="module")
def reader_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv holding the wheel and what it declares, nothing else of ours."""
    home = tmp_path_factory.mktemp("reader-venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[momento]"],
        check=True,
        timeout=600,
        capture_output=True,
    )
    return python


def test_the_wheel_holds_the_reader_and_the_shared_package_and_nothing_of_the_function(
    wheel: Path,
) -> None:
    import zipfile  # noqa: PLC0415

    names = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert names == {
        "momento_key_reader",
        "momento_key_common",
        wheel.name.removesuffix("-py3-none-any.whl") + ".dist-info",
    }


def test_the_installed_reader_keeps_an_application_working_across_a_rotation(
    reader_venv: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.consumer_demo", "--python", str(reader_venv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print(done.stdout, done.stderr)
    assert done.returncode == 0
    assert "the app used version 2" in done.stdout and "with no restart" in done.stdout
    assert "leak check: no key, token or payload" in done.stdout
    imported = subprocess.run(
        [str(reader_venv), "-c", "import momento_key_reader, rotation"],
        cwd=reader_venv.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No module named 'rotation'" in imported.stderr, "the function is not installed"
