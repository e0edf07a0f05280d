"""What deploy.sh uploads is a function Cloud Functions can build, and nothing more.

gcloud zips the source directory minus .gcloudignore; the Python buildpack then runs
``pip install -r requirements.txt`` on the upload and imports ``main``. So: ask the real gcloud
which files it would upload (``gcloud meta list-files-for-upload``, the same selection
``gcloud functions deploy`` zips), copy just those into a scratch folder, install
requirements.txt into a fresh venv as the buildpack does, and import every module there. A
module that imports something neither uploaded nor required (the reader, a dev tool) fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from .conftest import REPO

# What the function is: its entry point, its two packages, and what the buildpack installs.
FUNCTION_FILES = ("main.py", "requirements.txt")
FUNCTION_PACKAGES = ("rotation/", "momento_key_common/")
READER_IMPORT = re.compile(r"^\s*(from|import)\s+momento_key_reader\b", re.MULTILINE)


@pytest.fixture(scope="module")
def uploaded(gcloud: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files gcloud would upload from this checkout, copied alone into a scratch folder."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in tracked:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    listed = subprocess.run(
        [gcloud, "meta", "list-files-for-upload", str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    upload = tmp_path_factory.mktemp("upload")
    for name in listed:
        (upload / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, upload / name)
    return upload


def uploaded_files(upload: Path) -> set[str]:
    return {str(path.relative_to(upload)) for path in upload.rglob("*") if path.is_file()}


def test_the_upload_is_the_function_and_the_shared_package_only(uploaded: Path) -> None:
    files = uploaded_files(uploaded)
    assert set(FUNCTION_FILES) <= files
    strays = {f for f in files if f not in FUNCTION_FILES and not f.startswith(FUNCTION_PACKAGES)}
    assert strays == set()


def test_the_upload_holds_no_reader_code(uploaded: Path) -> None:
    files = uploaded_files(uploaded)
    assert not any(name.startswith("reader/") for name in files)
    importing_the_reader = [
        name
        for name in files
        if name.endswith(".py") and READER_IMPORT.search((uploaded / name).read_text())
    ]
    assert importing_the_reader == []


def test_the_buildpack_can_install_and_import_every_uploaded_module(
    uploaded: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("buildpack-venv")
    venv.create(home, with_pip=True)
    python = str(home / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"],
        cwd=uploaded,
        check=True,
        capture_output=True,
        timeout=600,
    )
    modules = sorted(
        str(path.relative_to(uploaded).with_suffix("")).replace("/", ".").removesuffix(".__init__")
        for path in uploaded.rglob("*.py")
        if path.name != "__main__.py"  # importing it runs the CLI
    )
    # -I: nothing from this checkout, the user's site or PYTHONPATH; only the upload (the
    # working directory, put on the path explicitly as the buildpack's runtime does) and the venv.
    script = (
        "import importlib, sys; sys.path.insert(0, '.'); "
        f"[importlib.import_module(m) for m in {modules!r}]; "
        "import main; print(main.rotate.__name__, main.rotate_event.__name__)"
    )
    done = subprocess.run(
        [python, "-I", "-c", script],
        check=False,
        cwd=uploaded,
        # main.py reads its configuration at import, as on a cold start: give it a valid one.
        env={"ROTATION_SECRETS": "momento-key", "GOOGLE_CLOUD_PROJECT": "demo-project"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rotate", "rotate_event"]
