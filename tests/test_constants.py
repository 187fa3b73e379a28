"""One home for each constant both the app and the CLIs show (issue 19, section 5): the pip
commands in tui/extras.py, dl-train's default model and epochs in tui/contract.py."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from tui import contract, extras

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("tui/**/*.py"), *ROOT.glob("trainer/**/*.py")])


def test_the_pip_commands_are_spelled_only_in_extras():
    spelled = {str(path.relative_to(ROOT)) for path in SOURCES
               if "pip install 'dl-tui[" in path.read_text(encoding="utf-8")}
    assert spelled == {"tui/extras.py"}, "use tui.extras' TRAIN_EXTRA or CLUSTER_EXTRA"
    assert extras.CLUSTER_EXTRA == "pip install 'dl-tui[cluster]'"


def test_default_model_and_epochs_are_assigned_only_in_the_contract():
    literal = re.compile(r"^\s*DEFAULT_(MODEL|EPOCHS)\s*(:[^=]+)?=\s*[\"'\d]", re.MULTILINE)
    assigned = {str(path.relative_to(ROOT)) for path in SOURCES
                if literal.search(path.read_text(encoding="utf-8"))}
    assert assigned == {"tui/contract.py"}, "import DEFAULT_MODEL / DEFAULT_EPOCHS from tui.contract"


def test_classify_defaults_to_the_default_model():
    from tui.classify import app as classify_app

    result = CliRunner().invoke(classify_app, ["classify", "--help"], terminal_width=200)
    assert result.exit_code == 0
    option = re.search(r"--model NAME .*?\[default: (\w+)\]", result.output, re.DOTALL)
    assert option and option.group(1) == contract.DEFAULT_MODEL == "cnn"
