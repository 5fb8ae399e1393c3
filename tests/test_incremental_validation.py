"""Incremental validation: between two validations the engine rebuilds only the layers whose
params or input shapes changed (and so what is downstream of a shape change), runs again only
the blocks that changed and what is downstream of them, and the records are the same as a
validation from scratch."""

from __future__ import annotations

from engine_fixtures import builder, registry

from dpg_blocks.core import SetParam
from dpg_blocks.engine.compiling.compiler import Validator
from dpg_blocks.engine.compiling.module_cache import ModuleCache, StepCache
from dpg_blocks.engine.compiling.source_cache import SourceCache


def chain(tmp_path):
    b = builder("chain")
    x = b.add("builtin.Input", "digits")
    ids = [x]
    for i in range(4):
        ids.append(b.add("builtin.Linear", f"fc{i}", out_features=32))
        b.link(ids[-2], "x" if i == 0 else "y", ids[-1], "x")
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.history.do(SetParam(ids[-1], "out_features", 10))
    b.link(ids[-1], "y", loss, "input")
    b.link(x, "y", loss, "target")
    return b, ids


def validate(project, cache, tmp_path):
    v = Validator(project, registry(), tmp_path, module_cache=cache)
    records = [r.to_dict() for r in v.run()]
    return v, records


def test_only_changed_layers_and_those_their_shapes_reach_are_rebuilt(tmp_path):
    b, (x, fc0, fc1, fc2, fc3) = chain(tmp_path)
    cache = ModuleCache()
    first, _ = validate(b.project, cache, tmp_path)
    assert cache.builds == 5 and cache.hits == 0  # four Linear layers and the loss
    again, _ = validate(b.project, cache, tmp_path)
    assert cache.hits == 5 and all(again.modules[n] is first.modules[n] for n in first.modules)
    # fc1 gets wider: fc1 is rebuilt, and fc2, whose input shape changes; fc0 and fc3 are kept
    b.history.do(SetParam(fc1, "out_features", 48))
    before = cache.builds
    third, records = validate(b.project, cache, tmp_path)
    assert cache.builds - before == 2
    assert third.modules[fc0] is first.modules[fc0] and third.modules[fc3] is first.modules[fc3]
    assert third.modules[fc1] is not first.modules[fc1] and third.modules[fc2].in_features == 48
    _, fresh = validate(b.project, None, tmp_path)  # the same records as from scratch
    assert records == fresh


def test_an_error_introduced_and_fixed_is_seen_with_the_cache(tmp_path):
    b, (x, fc0, fc1, fc2, fc3) = chain(tmp_path)
    cache = ModuleCache()
    validate(b.project, cache, tmp_path)
    b.history.do(SetParam(fc3, "flatten_input", True))
    b.history.do(SetParam(fc3, "last_dim", True))  # both: the layer refuses to build
    v, records = validate(b.project, cache, tmp_path)
    assert not v.ok and "not both" in next(r for r in records if r["id"] == fc3)["message"]
    b.history.undo()
    v, _ = validate(b.project, cache, tmp_path)
    assert v.ok


def test_validation_runs_its_small_batches_on_one_thread_and_gives_the_rest_back(tmp_path):
    import torch

    b, _ = chain(tmp_path)
    before = torch.get_num_threads()
    seen = []
    v = Validator(b.project, registry(), tmp_path)
    v.on_block = lambda node: seen.append(torch.get_num_threads())
    v.run()
    assert set(seen) == {1} and torch.get_num_threads() == before


class Engine:
    """The engine's caches kept across validations; ``run`` names the blocks that ran."""

    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.sources, self.layers, self.steps = SourceCache(), ModuleCache(), StepCache()

    def validate(self, project):
        v = Validator(project, registry(), self.tmp_path, source_cache=self.sources, module_cache=self.layers,
                      step_cache=self.steps)
        ran: list[str] = []
        v.on_block = lambda node: ran.append(node.block.name)  # called before a block runs
        records = [r.to_dict() for r in v.run()]
        return v, records, ran


def test_after_an_edit_only_the_edited_block_and_what_is_downstream_run_again(tmp_path):
    b, (x, fc0, fc1, fc2, fc3) = chain(tmp_path)
    engine = Engine(tmp_path)
    _, first, ran = engine.validate(b.project)
    assert ran == ["digits", "fc0", "fc1", "fc2", "fc3", "loss"]
    _, again, ran = engine.validate(b.project)
    assert ran == ["digits"] and again == first  # the data is checked; nothing else runs
    b.history.do(SetParam(fc2, "activation", "relu"))
    _, records, ran = engine.validate(b.project)
    assert ran == ["digits", "fc2", "fc3", "loss"]
    _, fresh = validate(b.project, None, tmp_path)
    assert records == fresh
    b.history.undo()  # back to what was validated first: fc2 and below run again, with fc0, fc1 kept
    _, records, ran = engine.validate(b.project)
    assert ran == ["digits", "fc2", "fc3", "loss"] and records == first


def test_a_failing_block_runs_again_each_time_and_its_fix_is_seen(tmp_path):
    b, (x, fc0, fc1, fc2, fc3) = chain(tmp_path)
    engine = Engine(tmp_path)
    engine.validate(b.project)
    b.history.do(SetParam(fc1, "out_features", 7))  # fc2 is rebuilt for 7 inputs: fine
    b.history.do(SetParam(x, "normalize", "none"))  # other values from the Input
    v, records, ran = engine.validate(b.project)
    assert v.ok and ran == ["digits", "fc0", "fc1", "fc2", "fc3", "loss"]  # new data: all run again
    b.history.do(SetParam(fc3, "flatten_input", True))
    b.history.do(SetParam(fc3, "last_dim", True))  # both: the layer refuses to build
    for _ in range(2):
        v, records, ran = engine.validate(b.project)
        assert not v.ok and "fc3" in ran and "not both" in next(r for r in records if r["id"] == fc3)["message"]
    b.history.undo()
    v, records, ran = engine.validate(b.project)
    assert v.ok and ran == ["digits", "fc3", "loss"]
    assert records == validate(b.project, None, tmp_path)[1]


def test_changed_data_or_custom_code_runs_what_depends_on_it_again(tmp_path):
    import numpy as np

    b = builder("custom")
    x = b.add("builtin.Input", "table", source="npz", path="data.npz", normalize="none")
    fc = b.add("builtin.Linear", "fc", out_features=3)
    code = b.add("builtin.Custom", "double", code="def forward(ctx, x):\n    return x * 2\n")
    b.link(x, "x", fc, "x")
    b.link(fc, "y", code, "x")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(40, 5)).astype(np.float32), y=np.arange(40) % 3)
    engine = Engine(tmp_path)
    v = Validator(b.project, registry(), tmp_path, trusted=True, source_cache=engine.sources,
                  module_cache=engine.layers, step_cache=engine.steps)
    first = v.run()
    out = next(r for r in first if r.id == code).outputs[0]
    assert out.shape == [4, 3]
    import os
    import time

    np.savez(tmp_path / "data.npz", x=rng.normal(size=(40, 6)).astype(np.float32), y=np.arange(40) % 3)
    stamp = time.time() + 5
    os.utime(tmp_path / "data.npz", (stamp, stamp))  # a new file, even within the clock's resolution
    v = Validator(b.project, registry(), tmp_path, trusted=True, source_cache=engine.sources,
                  module_cache=engine.layers, step_cache=engine.steps)
    ran: list[str] = []
    v.on_block = lambda node: ran.append(node.block.name)
    records = {r.id: r for r in v.run()}
    assert ran == ["table", "fc", "double"] and records[fc].inputs[0].shape == [4, 6]
    b.history.do(SetParam(code, "code", "def forward(ctx, x):\n    return x[:, :2]\n"))
    v = Validator(b.project, registry(), tmp_path, trusted=True, source_cache=engine.sources,
                  module_cache=engine.layers, step_cache=engine.steps)
    ran = []
    v.on_block = lambda node: ran.append(node.block.name)
    records = {r.id: r for r in v.run()}
    assert ran == ["table", "double"] and records[code].outputs[0].shape == [4, 2]
