"""Lean by construction: no clients at import, one per instance, no Momento on the skip path."""

from __future__ import annotations

import json
import textwrap
from datetime import timedelta

from rotation.rules.config import load_config
from rotation.service.runtime import Runtime
from tests.integration.conftest import World

DAY = timedelta(days=1)

_RUN_ONCE = textwrap.dedent(
    """
    import json, sys
    import functions_framework
    imported_at_start = {m: m in sys.modules for m in ("google.cloud.secretmanager", "momento")}
    app = functions_framework.create_app(target="rotate", source="main.py")
    after_import = {m: m in sys.modules for m in ("google.cloud.secretmanager", "momento")}
    response = app.test_client().post("/", json={})
    after_request = {m: m in sys.modules for m in ("google.cloud.secretmanager", "momento",
                                                   "momento_wire_types")}
    print(json.dumps({"start": imported_at_start, "import": after_import,
                      "request": after_request, "status": response.status_code,
                      "actions": [r["action"] for r in response.get_json()["results"]]}))
    """
)


def run_in_fresh_interpreter(world: World) -> dict[str, object]:
    done = world.run_python("-c", _RUN_ONCE, PATH="")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_nothing_to_refresh_never_imports_momento(world: World) -> None:
    world.seed_key(world.new_secret(), expires_in=20 * DAY)
    seen = run_in_fresh_interpreter(world)
    assert seen["actions"] == ["skipped"]
    assert seen["import"] == {"google.cloud.secretmanager": False, "momento": False}
    assert seen["request"] == {
        "google.cloud.secretmanager": True,
        "momento": False,
        "momento_wire_types": False,
    }


def test_a_refresh_imports_momento_only_then(world: World) -> None:
    world.seed_key(world.new_secret(), expires_in=DAY)
    seen = run_in_fresh_interpreter(world)
    assert seen["actions"] == ["refreshed"]
    assert seen["request"]["momento"] is True  # type: ignore[index]


def test_clients_are_built_once_per_instance_and_lazily(world: World) -> None:
    world.new_secret()
    runtime = Runtime(load_config({**world.env, "ROTATION_SECRETS": world.secrets[0]}))
    assert runtime._store is None and runtime._refresher is None
    assert runtime.store() is runtime.store()
    assert runtime.refresher() is runtime.refresher()
    assert runtime.rotator()._store is runtime.rotator()._store
