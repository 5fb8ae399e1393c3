"""The block-declaration API as a plugin author meets it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dpg_blocks.blocks import BlockDeclarationError, BlockSpec, In, Out, Param, ParamError, block, spec_of


def test_a_declared_block_has_a_plain_data_spec():
    @block("demo.Gate", category="Demo/Gates", version=2, legacy_ids=("OldGate",))
    class Gate:
        """Lets the signal through scaled."""

        x = In()
        y = Out()
        scale = Param(float, 1.0, min=0.0, doc="factor")
        mode = Param(str, "soft", choices=["soft", "hard"])

        def build(self, ctx):
            return None

    spec = spec_of(Gate)
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data  # plain data, no classes inside
    again = BlockSpec.from_dict(data)
    assert again.to_dict() == data
    assert data["version"] == 2 and data["legacy_ids"] == ["OldGate"]
    assert data["doc"] == "Lets the signal through scaled."
    assert [p["type"] for p in data["params"]] == ["float", "choice"]


def test_variadic_ports_expand_from_their_count_parameter():
    @block("demo.Sum", category="Demo")
    class Sum:
        x = In(variadic="n")
        y = Out()
        n = Param(int, 3, min=2)

        def build(self, ctx):
            return None

    spec = spec_of(Sum)
    ins, outs = spec.ports_for({})
    assert [p.name for p in ins] == ["x1", "x2", "x3"]
    ins, _ = spec.ports_for({"n": 5})
    assert [p.name for p in ins] == ["x1", "x2", "x3", "x4", "x5"]
    block_ = spec.new_block("b9", "sum", n=2)
    assert [p.name for p in block_.inputs] == ["x1", "x2"] and block_.params["n"] == 2


@pytest.mark.parametrize(
    "body,message",
    [
        ("x = In()\n    y = Out()\n    k = Param(int, 'three')", "Broken.k: default 'three' is invalid"),
        ("x = In()\n    y = Out()\n    k = Param(complex, 1)", "Broken.k: unknown parameter type"),
        ("x = In(variadic='n')\n    y = Out()", "Broken.x: variadic='n' must name an int Param"),
        ("x = In()\n    y = Out()\n    build = None", "Broken: missing method build(self, ctx)"),
        ("x = In()\n    y = Out()\n    def build(self):\n        pass", "Broken.build: signature must be build(self, ctx)"),
        ("x = In()\n    def build(self, ctx):\n        pass", "Broken: declare at least one Out port"),
    ],
)
def test_declaration_errors_name_the_class_and_the_member(body, message):
    source = f"@block('demo.Broken', category='Demo')\nclass Broken:\n    {body}\n"
    if "def build" not in body and "build = None" not in body:
        source += "    def build(self, ctx):\n        pass\n"
    with pytest.raises(BlockDeclarationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        exec(source, {"block": block, "In": In, "Out": Out, "Param": Param})


def test_bad_parameter_values_name_the_parameter():
    @block("demo.Dense", category="Demo")
    class Dense:
        x = In()
        y = Out()
        out_features = Param(int, 8, min=1)
        shape = Param("shape", [1, 8, 8])

        def build(self, ctx):
            return None

    spec = spec_of(Dense)
    with pytest.raises(ParamError, match="'out features': must be >= 1, got 0"):
        spec.check_params({"out_features": 0})
    with pytest.raises(ParamError, match="has no parameter 'units'"):
        spec.check_params({"units": 3})
    assert spec.check_params({"shape": "2x4x8"})["shape"] == [2, 4, 8]


def test_the_builtin_catalog_is_plain_data_without_torch():
    code = (
        "import json, sys, dpg_blocks.builtin as b; from dpg_blocks.blocks import spec_of; "
        "data = [spec_of(c).to_dict() for c in b.BLOCKS]; json.dumps(data); "
        "assert 'torch' not in sys.modules; print(len(data))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 30


def test_a_loss_declares_the_accuracy_it_is_scored_by_and_the_gui_receives_it():
    @block("demo.Hinge", category="Demo", role="loss", metric="binary")
    class Hinge:
        """A hinge loss on one logit."""

        input = In()
        target = In(optional=True)

        def build(self, ctx):
            return None

    data = spec_of(Hinge).to_dict()
    assert data["metric"] == "binary"
    assert BlockSpec.from_dict(json.loads(json.dumps(data))).metric == "binary"
    assert BlockSpec.from_dict({k: v for k, v in data.items() if k != "metric"}).metric is None  # older catalogs


def test_the_builtin_losses_declare_their_metrics():
    from dpg_blocks.builtin import losses

    metrics = {cls.__name__: spec_of(cls).metric for cls in
               (losses.CrossEntropyLoss, losses.NLLLoss, losses.BCEWithLogitsLoss, losses.MSELoss, losses.L1Loss)}
    assert metrics == {"CrossEntropyLoss": "classification", "NLLLoss": "classification",
                       "BCEWithLogitsLoss": "binary", "MSELoss": "regression", "L1Loss": "regression"}


@pytest.mark.parametrize(
    "options,ports,message",
    [
        ("role='loss', metric='accuracy'", "input = In()\n    target = In()", "Broken.metric: unknown metric 'accuracy'"),
        ("metric='classification'", "x = In()\n    y = Out()", "Broken.metric: only a loss is scored"),
        ("role='loss', metric='binary'", "input = In()", "Broken.metric: a scored loss declares its prediction"),
        ("role='loss', metric='binary'", "target = In()\n    input = In()",
         "Broken.metric: a scored loss declares its prediction as its first In"),
    ],
)
def test_metric_declaration_errors_name_the_class_and_the_member(options, ports, message):
    source = (f"@block('demo.Broken', category='Demo', {options})\nclass Broken:\n    {ports}\n"
              "    def build(self, ctx):\n        pass\n")
    with pytest.raises(BlockDeclarationError, match=message):
        exec(source, {"block": block, "In": In, "Out": Out, "Param": Param})


def test_shown_param_names_a_param_and_travels_with_the_spec():
    @block("demo.Shown", category="Demo", shown_param="kind")
    class Shown:
        x = In()
        y = Out()
        kind = Param(str, "plain")

        def build(self, ctx):
            pass

    spec = spec_of(Shown)
    assert BlockSpec.from_dict(json.loads(json.dumps(spec.to_dict()))).shown_param == "kind"
    with pytest.raises(BlockDeclarationError, match="Hidden: shown_param='kind' must name a Param of Hidden"):
        @block("demo.Hidden", category="Demo", shown_param="kind")
        class Hidden:
            y = Out()

            def build(self, ctx):
                pass
