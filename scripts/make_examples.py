"""Write the example projects in assets/examples/ through the core's own edit commands.

Run: ``.venv/bin/python scripts/make_examples.py``. Regenerate after changing a block's
declaration; the files are committed so users and tests need no generation step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.builtin.custom import GRADIENT_REVERSAL_CODE
from dpg_blocks.core import OptimizerSettings, Order, Project, SetOrders, load_project, save_project
from dpg_blocks.core.edits import Compound, Move
from dpg_blocks.core.layout import auto_layout
from dpg_blocks.core.user.trust import code_digest, project_code
from dpg_blocks.engine.packs.registry import discover

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
REGISTRY = discover(defaults=False)
# The canvas at the default 1600×1000 window is about 1000×615 px: a shipped example is laid
# out (the editor's own auto-layout, default node sizes) to fit it, so it opens whole.
CANVAS_WIDTH = 940.0


def fit_canvas(b: ProjectBuilder) -> None:
    """Lay the top-level graph out in bands no wider than the default canvas (a node is drawn
    about 64 px plus 21 px per port tall at 100 %, and at most 170 px wide)."""
    sizes = {bid: (170.0, 64.0 + 21.0 * (len(blk.inputs) + len(blk.outputs)))
             for bid, blk in b.project.graph.blocks.items()}
    place(b, auto_layout(b.project.graph, sizes, max_width=CANVAS_WIDTH, origin=(30.0, 30.0)))


def place(b: ProjectBuilder, positions: dict[str, tuple[float, float]]) -> None:
    """Move top-level blocks (by id or name) in one edit."""
    ids = {blk.name: bid for bid, blk in b.project.graph.blocks.items()}
    b.history.do(Compound([Move(ids.get(key, key), pos) for key, pos in positions.items()], label="lay out"))


# DANN by hand: auto-layout's columns are too tall for the canvas. The main path runs along the
# top (inputs, Feature Extractor, Copy, Label Classifier, Split and its outputs down the right),
# the domain branch along the bottom, clear of the minimap; it spans about 930×520 px at 100 %.
DANN_LAYOUT: dict[str, tuple[float, float]] = {
    "source digits": (0, 0), "target digits": (0, 150), "Concat": (130, 60), "Feature Extractor": (270, 60),
    "Copy": (460, 50), "Label Classifier": (610, 0), "Split source/target": (790, 0),
    "label loss": (790, 190), "source prediction": (790, 310), "target prediction": (640, 280),
    "source domain = 0": (0, 300), "target domain = 1": (0, 430), "domain labels": (160, 360),
    "Gradient Reversal": (295, 250), "Domain Classifier": (455, 250), "domain loss": (615, 420),
}


def john_mlp(flatten_first: bool) -> Project:
    """The paper's running example: Input, five Fully Connected blocks, a loss."""
    b = ProjectBuilder(REGISTRY.specs, "John's digits classifier" + ("" if flatten_first else " (unflattened)"))
    data = b.add(
        "builtin.Input", "digits", (40, 200),
        source="csv", path="../data/digits.csv", reshape=[1, 8, 8], batch_size=32,
        val_percent=10, test_percent=20, normalize="minmax",
    )
    sizes = [128, 128, 64, 64, 10]
    prev, port = data, "x"
    for i, size in enumerate(sizes, start=1):
        params: dict[str, Any] = {"out_features": size}
        if i < len(sizes):
            params["activation"] = "relu"
        if i == 1:
            params["flatten_input"] = flatten_first
        fc = b.add("builtin.Linear", f"FC{i}", (40 + 220 * i, 200), **params)
        b.link(prev, port, fc, "x")
        prev, port = fc, "y"
    loss = b.add("builtin.CrossEntropyLoss", "loss", (40 + 220 * (len(sizes) + 1), 200))
    b.link(prev, port, loss, "input")
    b.project.training.epochs = 10
    b.project.orders[0].optimizer.lr = 3e-3
    fit_canvas(b)
    return b.project


def _digits(b: ProjectBuilder, name: str, file: str, pos: tuple[float, float], **params: Any) -> str:
    """An Input reading a digits CSV as 1×8×8 images."""
    defaults: dict[str, Any] = dict(
        source="csv", path=f"../data/{file}", reshape=[1, 8, 8], batch_size=32,
        val_percent=10, test_percent=20, normalize="minmax",
    )
    return b.add("builtin.Input", name, pos, **{**defaults, **params})


def dann() -> Project:
    """Scenario B: domain-adversarial training (Ganin & Lempitsky 2015) from digits to shifted digits.

    Source and target batches are concatenated along the batch dimension and share the Feature
    Extractor. The Label Classifier classifies every row; a Split by the two inputs' batch
    sizes gives back the source rows, which alone feed the label loss (the target's labels are
    never trained on — they only score the "target prediction" Output). The other Copy output
    goes through a gradient-reversal Custom block into the Domain Classifier, whose labels are
    0 for every source sample and 1 for every target sample (two Fill blocks, concatenated).
    """
    b = ProjectBuilder(REGISTRY.specs, "Domain-adversarial digits (DANN)")
    src = _digits(b, "source digits", "digits.csv", (40, 120), shuffle_seed=0)
    tgt = _digits(b, "target digits", "digits_shifted.csv", (40, 420), shuffle_seed=1)
    concat = b.add("builtin.Concat", "Concat", (260, 260), dim=0)
    b.link(src, "x", concat, "x1")
    b.link(tgt, "x", concat, "x2")
    fe = []
    for i, (channels, stride) in enumerate([(16, 1), (32, 2), (32, 1)], start=1):
        fe.append(b.add("builtin.Conv2d", f"conv{i}", (480 + 440 * (i - 1), 260),
                        out_channels=channels, kernel_size=3, stride=stride, padding=1))
        fe.append(b.add("builtin.ReLU", f"relu{i}", (700 + 440 * (i - 1), 260)))
    b.chain((concat, "y", ""), *((bid, "y", "x") for bid in fe))
    copy = b.add("builtin.Copy", "Copy", (1800, 260), n_outputs=2)
    b.link(fe[-1], "y", copy, "x")

    def head(names: list[str], sizes: list[int], y: float) -> list[str]:
        ids = []
        for i, (name, size) in enumerate(zip(names, sizes, strict=True)):
            params: dict[str, Any] = {"out_features": size, "flatten_input": i == 0}
            if i < len(sizes) - 1:
                params["activation"] = "relu"
            ids.append(b.add("builtin.Linear", name, (2240 + 220 * i, y), **params))
        b.chain(*((bid, "y", "x") for bid in ids))
        return ids

    lc = head(["fc1", "fc2", "fc3"], [64, 64, 10], 120)
    b.link(copy, "y1", lc[0], "x")
    split = b.add("builtin.Split", "Split source/target", (2900, 120), dim=0)
    b.link(lc[-1], "y", split, "x")
    b.link(src, "x", split, "like1")
    b.link(tgt, "x", split, "like2")
    label_loss = b.add("builtin.CrossEntropyLoss", "label loss", (3120, 40))
    b.link(split, "y1", label_loss, "input")
    b.link(src, "y", label_loss, "target")
    for port, inp, name, y in (("y1", src, "source prediction", 160), ("y2", tgt, "target prediction", 280)):
        out = b.add("builtin.Output", name, (3120, y))
        b.link(split, port, out, "x")
        b.link(inp, "y", out, "target")

    # λ_p ramps the reversal up from 0 (Ganin & Lempitsky 2015): the domain classifier learns first
    grl = b.add("builtin.Custom", "Gradient Reversal", (2020, 440), code=GRADIENT_REVERSAL_CODE, gradient_scale=1.0,
                gradient_schedule="ganin")
    b.link(copy, "y2", grl, "x")
    dc = head(["d_fc1", "d_fc2", "d_fc3"], [64, 64, 1], 440)
    b.link(grl, "y", dc[0], "x")
    src_dom = b.add("builtin.Fill", "source domain = 0", (2680, 600), value=0.0)
    tgt_dom = b.add("builtin.Fill", "target domain = 1", (2680, 720), value=1.0)
    b.link(src, "x", src_dom, "like")
    b.link(tgt, "x", tgt_dom, "like")
    labels = b.add("builtin.Concat", "domain labels", (2900, 660), dim=0)
    b.link(src_dom, "y", labels, "x1")
    b.link(tgt_dom, "y", labels, "x2")
    domain_loss = b.add("builtin.BCEWithLogitsLoss", "domain loss", (3120, 480))
    b.link(dc[-1], "y", domain_loss, "input")
    b.link(labels, "y", domain_loss, "target")

    b.merge(fe, "Feature Extractor")
    b.merge(lc, "Label Classifier")
    b.merge(dc, "Domain Classifier")
    b.project.training.epochs = 30
    b.history.do(SetOrders([Order(1, "domain-adversarial step", OptimizerSettings(type="adam", lr=1e-3))]))
    place(b, DANN_LAYOUT)
    return b.project


def gan() -> Project:
    """Scenario C: a GAN on the digits with two orders.

    Order 1 (discriminator): the real digits and the generated ones, concatenated, labelled
    1 and 0; only the Discriminator is optimised. Order 2 (generator): the real input emits
    nothing, so the Concat passes only the fakes, and the fake labels' Fill gives 1 in this
    order ("the discriminator should say real"); only the Generator is optimised.
    """
    b = ProjectBuilder(REGISTRY.specs, "Digits GAN (orders)")
    noise = b.add("builtin.Input", "noise", (40, 420), source="noise", noise_shape=[16], noise_count=1024,
                  batch_size=32, orders=[1, 2])
    real = _digits(b, "real digits", "digits.csv", (40, 120), orders=[1])
    gen = []
    for i, (size, act) in enumerate([(64, "relu"), (128, "relu"), (64, "sigmoid")], start=1):
        gen.append(b.add("builtin.Linear", f"g_fc{i}", (40 + 220 * i, 420), out_features=size, activation=act))
    gen.append(b.add("builtin.Reshape", "to image", (920, 420), shape=[1, 8, 8]))
    b.chain((noise, "x", ""), *((bid, "y", "x") for bid in gen))
    both = b.add("builtin.Concat", "real + fake", (1140, 260), dim=0)
    b.link(real, "x", both, "x1")
    b.link(gen[-1], "y", both, "x2")
    disc = []
    for i, (size, act) in enumerate([(128, "leaky_relu"), (64, "leaky_relu"), (1, "none")], start=1):
        disc.append(b.add("builtin.Linear", f"d_fc{i}", (1140 + 220 * i, 260),
                          out_features=size, activation=act, flatten_input=i == 1))
    b.chain((both, "y", ""), *((bid, "y", "x") for bid in disc))
    real_label = b.add("builtin.Fill", "real = 1", (1140, 560), value=1.0)
    fake_label = b.add("builtin.Fill", "fake = 0 (order 2: 1)", (1140, 680), value=0.0, order_values={"2": 1.0})
    b.link(real, "x", real_label, "like")
    b.link(gen[-1], "y", fake_label, "like")
    labels = b.add("builtin.Concat", "labels", (1360, 620), dim=0)
    b.link(real_label, "y", labels, "x1")
    b.link(fake_label, "y", labels, "x2")
    loss = b.add("builtin.BCEWithLogitsLoss", "GAN loss", (2020, 400))
    b.link(disc[-1], "y", loss, "input")
    b.link(labels, "y", loss, "target")
    g_id = b.merge(gen, "Generator")
    d_id = b.merge(disc, "Discriminator")
    b.project.training.epochs = 20
    b.history.do(SetOrders([
        Order(1, "discriminator", OptimizerSettings(type="adam", lr=5e-4), optimize=[d_id]),
        Order(2, "generator", OptimizerSettings(type="adam", lr=5e-4), optimize=[g_id]),
    ]))
    fit_canvas(b)
    return b.project


def example_digests() -> dict[str, str]:
    """The code digest of every shipped example that carries custom code, by file name."""
    out = {}
    for path in sorted(EXAMPLES.glob("*.dpgb")):
        items = project_code(load_project(path), lambda t: s.code_params() if (s := REGISTRY.get(t)) else [])
        digest = code_digest(items)
        if digest is not None:
            out[path.name] = digest
    return out


def write_shipped_trust() -> None:
    """List the examples' code digests: the code shipped here is trusted like the package."""
    doc = {"format": 1, "note": "code digests of the shipped examples (scripts/make_examples.py)",
           "digests": example_digests()}
    (EXAMPLES / "trusted_code.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    save_project(john_mlp(True), EXAMPLES / "mlp_digits.dpgb")
    save_project(john_mlp(False), EXAMPLES / "mlp_digits_unflattened.dpgb")
    save_project(dann(), EXAMPLES / "dann_digits.dpgb")
    save_project(gan(), EXAMPLES / "gan_digits.dpgb")
    write_shipped_trust()
    print(f"wrote examples to {EXAMPLES}")


if __name__ == "__main__":
    main()
