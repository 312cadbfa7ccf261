"""`make lab` turns off JupyterLab's news prompt: tools/lab_settings.py and its schema check."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

import lab_settings

SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
NOTIFICATION = SCHEMAS / "@jupyterlab" / "apputils-extension" / "notification.json"
pytestmark = pytest.mark.skipif(not NOTIFICATION.exists(), reason=f"no JupyterLab 4 schema at {NOTIFICATION}")


@pytest.fixture
def prefix(tmp_path):
    dest = tmp_path / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab" / "apputils-extension"
    dest.mkdir(parents=True)
    shutil.copy(NOTIFICATION, dest)
    return tmp_path


def test_the_override_is_written_and_valid_against_the_installed_schema(prefix):
    target = lab_settings.write(prefix)
    assert target == prefix / "share/jupyter/lab/settings/overrides.json"
    written = json.loads(target.read_text())
    values = written["@jupyterlab/apputils-extension:notification"]
    assert values == {"fetchNews": "false", "checkForUpdates": False}
    schema = json.loads(NOTIFICATION.read_text())
    jsonschema.validate(values, schema)
    assert set(values) <= set(schema["properties"])


def test_other_overrides_are_kept(prefix):
    target = prefix / "share/jupyter/lab/settings/overrides.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                  lab_settings.PLUGIN: {"doNotDisturbMode": True}}))
    lab_settings.write(prefix)
    written = json.loads(target.read_text())
    assert written["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert written[lab_settings.PLUGIN] == {"doNotDisturbMode": True, "fetchNews": "false",
                                            "checkForUpdates": False}


@pytest.mark.parametrize("overrides, words", [
    ({lab_settings.PLUGIN: {"fetchNewz": "false"}}, "has no setting ['fetchNewz']"),
    ({lab_settings.PLUGIN: {"fetchNews": False}}, "schema"),           # a string in JupyterLab 4
    ({lab_settings.PLUGIN: {"fetchNews": "never"}}, "schema"),
    ({"@jupyterlab/nothing-extension:x": {"a": 1}}, "no schema for"),
])
def test_a_wrong_key_or_value_is_refused(prefix, overrides, words):
    with pytest.raises(ValueError, match=None) as err:
        lab_settings.write(prefix, overrides)
    assert words in str(err.value)
    assert not (prefix / "share/jupyter/lab/settings/overrides.json").exists()


def test_the_course_environment_has_the_override_after_the_script(tmp_path, capsys):
    assert lab_settings.main(["--prefix", str(sys.prefix)]) == 0
    written = json.loads((Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json").read_text())
    assert written[lab_settings.PLUGIN]["fetchNews"] == "false"
    assert "news and update check off" in capsys.readouterr().out
