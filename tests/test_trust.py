"""Trust: custom code from a project made elsewhere never runs until this user trusts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_fixtures import builder, registry, write_npz

from dpg_blocks.cli import main
from dpg_blocks.core import Move, load_project, save_project
from dpg_blocks.core.user.trust import TrustStore, code_digest, project_code


@pytest.fixture(autouse=True)
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    monkeypatch.setenv("DPG_BLOCKS_USER_DIR", str(folder))
    return folder


def _payload_project(folder: Path) -> tuple[Path, Path]:
    """A project whose Custom block writes a marker file — at import time and in forward."""
    write_npz(folder / "d.npz")
    marker = folder / "PWNED"
    code = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('top level ran')\n"
        "def forward(ctx, x):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('forward ran')\n"
        "    return x\n"
    )
    b = builder("someone else's project")
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", batch_size=16)
    custom = b.add("builtin.Custom", "innocent looking", code=code)
    fc = b.add("builtin.Linear", "fc", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (custom, "y", "x"), (fc, "y", "x"), (loss, "", "input"))
    path = folder / "downloaded.dpgb"
    save_project(b.project, path)
    return path, marker


def test_validate_and_train_do_not_run_an_untrusted_payload_and_say_how_to_trust(tmp_path, capsys):
    path, marker = _payload_project(tmp_path)

    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert not marker.exists()
    assert "not been trusted" in captured.err and "--trust" in captured.err
    assert f"dpg-blocks trust {path}" in captured.err.replace("\n", "")

    assert main(["validate", str(path), "--json"]) == 1
    blocks = json.loads(capsys.readouterr().out)["blocks"]
    custom = next(b for b in blocks if b["name"] == "innocent looking")
    assert custom["error_type"] == "UntrustedCode"
    assert not marker.exists()

    assert main(["train", str(path), "--epochs", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "--trust" in err and "innocent looking" in err


def test_trust_runs_the_code_and_is_remembered_until_the_code_changes(tmp_path, capsys, user_folder):
    path, marker = _payload_project(tmp_path)
    assert main(["validate", str(path), "--trust"]) == 0
    assert marker.read_text() == "forward ran"  # the payload is real: trusted, it runs
    assert (user_folder / "trust.json").exists()
    marker.unlink()
    assert main(["train", str(path), "--epochs", "1", "-q"]) == 0  # remembered: no --trust needed
    assert marker.exists()

    project = load_project(path)
    custom = next(b for b in project.graph.walk() if b.type == "builtin.Custom")
    custom.params["code"] += "# one more line\n"
    save_project(project, path)
    marker.unlink()
    capsys.readouterr()
    assert main(["validate", str(path)]) == 1
    assert not marker.exists() and "--trust" in capsys.readouterr().err


def test_the_digest_covers_the_code_only(tmp_path):
    path, _ = _payload_project(tmp_path)
    project = load_project(path)

    def digest(p):
        return code_digest(project_code(p, lambda t: registry().get(t).code_params() if registry().get(t) else []))

    before = digest(project)
    custom = next(b for b in project.graph.walk() if b.type == "builtin.Custom")
    from dpg_blocks.core import History

    History(project).do(Move(custom.id, (999.0, 5.0)))
    project.orders[0].optimizer.lr = 0.5
    assert digest(project) == before
    custom.params["code"] = custom.params["code"].replace("forward ran", "something else")
    assert digest(project) != before
    custom.params["code"] = ""
    assert digest(project) is None  # no code, nothing to trust
    assert TrustStore().is_trusted(None)


def test_trust_show_prints_the_code_and_revoke_forgets_it(tmp_path, capsys):
    path, marker = _payload_project(tmp_path)
    assert main(["trust", str(path), "--show"]) == 0
    out = capsys.readouterr().out
    assert "write_text('forward ran')" in out and "trusted: no" in out
    assert main(["trust", str(path)]) == 0
    assert "trusted the code in innocent looking" in capsys.readouterr().out
    assert main(["validate", str(path)]) == 0 and marker.exists()
    marker.unlink()
    assert main(["trust", str(path), "--revoke"]) == 0
    assert main(["validate", str(path)]) == 1 and not marker.exists()


def test_a_project_without_code_needs_no_trust(tmp_path, capsys, user_folder):
    examples = Path(__file__).resolve().parents[1] / "assets" / "examples"
    assert main(["validate", str(examples / "mlp_digits.dpgb")]) == 0
    assert main(["trust", str(examples / "mlp_digits.dpgb")]) == 0
    assert "nothing to trust" in capsys.readouterr().out
    assert not (user_folder / "trust.json").exists()


def test_the_shipped_examples_code_is_trusted_by_digest_and_a_changed_copy_is_not(tmp_path, capsys):
    import shutil
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    from make_examples import example_digests

    from dpg_blocks.core.user.trust import shipped_digests

    assert set(example_digests().values()) == shipped_digests()  # regenerate examples to update
    dann = root / "assets" / "examples" / "dann_digits.dpgb"
    assert main(["validate", str(dann)]) == 0
    project = load_project(dann)
    grl = next(b for b in project.graph.walk() if b.type == "builtin.Custom")
    grl.params["code"] = grl.params["code"].replace("return x.view_as(x)", "return x.view_as(x)  # changed")
    shutil.copy(root / "assets" / "data" / "digits.csv", tmp_path / "digits.csv")
    shutil.copy(root / "assets" / "data" / "digits_shifted.csv", tmp_path / "digits_shifted.csv")
    for b in project.graph.walk():
        if b.type == "builtin.Input":
            b.params["path"] = b.params["path"].removeprefix("../data/")
    save_project(project, tmp_path / "changed.dpgb")
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "changed.dpgb")]) == 1
    assert "not been trusted" in capsys.readouterr().err


# -- data paths that leave the project's folder --------------------------------------------------
def _reads_outside(folder: Path) -> Path:
    """A project with code whose inputs read ~/.ssh/id_rsa, ../secret.csv, its own d.npz, digits."""
    from dpg_blocks.builtin.inputs import digits_csv

    (folder / "proj").mkdir()
    write_npz(folder / "proj" / "d.npz")
    b = builder("from elsewhere")
    b.add("builtin.Input", "keys", source="csv", path="~/.ssh/id_rsa")
    b.add("builtin.Input", "up", source="npz", path="../secret.npz")
    b.add("builtin.Input", "own", source="npz", path="d.npz")
    b.add("builtin.Input", "digits", source="csv", path=str(digits_csv()))
    b.add("builtin.Input", "noise", source="noise", path="/etc/shadow")  # noise reads no file
    b.add("builtin.Custom", "c", code="def forward(ctx, x):\n    return x\n")
    path = folder / "proj" / "p.dpgb"
    save_project(b.project, path)
    return path


def test_trust_show_lists_data_paths_outside_the_project_folder(tmp_path, capsys):
    path = _reads_outside(tmp_path)
    assert main(["trust", str(path), "--show"]) == 0
    out = capsys.readouterr().out
    listed = out.split("reads data from outside the project's folder:")[1].split("─")[0]
    assert f"keys: ~/.ssh/id_rsa ({Path('~/.ssh/id_rsa').expanduser()})" in listed
    assert f"up: ../secret.npz ({tmp_path / 'secret.npz'})" in listed
    assert "own:" not in listed and "digits:" not in listed and "noise" not in listed


def test_the_editors_trust_prompt_lists_data_paths_outside_the_project_folder(tmp_path):
    import dearpygui.dearpygui as dpg
    from ui_fixtures import builtin_catalog, gui_context

    from dpg_blocks.ui.editor.app import Editor
    from dpg_blocks.ui.state.editor_state import EditorState

    path = _reads_outside(tmp_path)
    with gui_context():
        editor = Editor(EditorState(), autosave_s=0)
        editor.state.set_catalog(builtin_catalog())
        editor._validate_wanted = False
        assert editor.controls.open(str(path))
        c = editor.controls
        assert dpg.is_item_shown(c.trust_window)
        text = dpg.get_value(c.trust_data_text)
        assert dpg.get_item_configuration(c.trust_data_text)["show"]
        assert text.startswith("It also reads data from outside its folder:")
        assert "keys: ~/.ssh/id_rsa" in text and "up: ../secret.npz" in text
        assert "own:" not in text and "digits:" not in text
