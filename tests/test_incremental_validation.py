"""Incremental validation: between two validations the engine rebuilds only the layers whose
params or input shapes changed (and so what is downstream of a shape change), and the records
are the same as a validation from scratch."""

from __future__ import annotations

from engine_fixtures import builder, registry

from dpg_blocks.core import SetParam
from dpg_blocks.engine.compiling.compiler import Validator
from dpg_blocks.engine.compiling.module_cache import ModuleCache


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
