"""Validation: the records a user sees for each block (status, message, shapes, path)."""

from __future__ import annotations

from pathlib import Path

from engine_fixtures import builder, registry, write_npz

from dpg_blocks.core import load_project
from dpg_blocks.engine.compiling.compiler import validate_project

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


def _by_name(records):
    return {r.name: r for r in records}


def test_johns_unflattened_fc1_is_red_and_the_rest_wait_upstream():
    path = EXAMPLES / "mlp_digits_unflattened.dpgb"
    recs = _by_name(validate_project(load_project(path), registry(), path.parent))
    fc1 = recs["FC1"]
    assert fc1.status == "error"
    assert "(4, 1, 8, 8)" in fc1.message and "(4, 64)" in fc1.message
    assert fc1.inputs[0].shape == [4, 1, 8, 8]
    for name in ("FC2", "FC3", "FC4", "FC5", "loss"):
        assert recs[name].status == "upstream-error", name
    assert recs["digits"].status == "ok"
    assert recs["digits"].outputs[0].shape == [4, 1, 8, 8]


def test_johns_mlp_validates_with_every_shape_known():
    path = EXAMPLES / "mlp_digits.dpgb"
    recs = _by_name(validate_project(load_project(path), registry(), path.parent))
    assert all(r.status == "ok" for r in recs.values())
    assert [recs[f"FC{i}"].outputs[0].shape[1] for i in range(1, 6)] == [128, 128, 64, 64, 10]


def test_a_failing_block_inside_nested_superblocks_is_named_by_path(tmp_path):
    write_npz(tmp_path / "d.npz", features=6)
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", reshape=[2, 3])
    fc1 = b.add("builtin.Linear", "fc1", out_features=8, flatten_input=True)
    fc2 = b.add("builtin.Linear", "fc2", out_features=8)
    reshape = b.add("builtin.Reshape", "fold", shape=[2, 2, 2])
    fc3 = b.add("builtin.Linear", "fc3", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (reshape, "y", "x"), (fc3, "y", "x"), (loss, "", "input"))
    inner = b.merge([reshape, fc3], "Head")
    outer = b.merge([fc1, fc2, inner], "Backbone")
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}
    assert recs[fc3].status == "error" and recs[fc3].path == ["Backbone", "Head", "fc3"]
    assert recs[outer].status == "error"
    assert recs[outer].message.startswith("Head › fc3: ")
    assert recs[outer].failing_path == ["Backbone", "Head", "fc3"]
    assert recs[inner].message.startswith("fc3: ")
    assert recs[loss].status == "upstream-error"
    assert recs[fc2].status == "ok"


def test_unknown_block_types_and_bad_params_are_errors_not_crashes(tmp_path):
    write_npz(tmp_path / "d.npz")
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    fc = b.add("builtin.Linear", "fc", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc, "y", "x"), (loss, "", "input"))
    b.project.block(fc).type = "somepack.Missing"
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}
    assert recs[fc].status == "error" and "somepack.Missing" in recs[fc].message
    assert recs[loss].status == "upstream-error"
    b.project.block(fc).type = "builtin.Linear"
    b.project.block(fc).params["out_features"] = "many"
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}
    assert recs[fc].status == "error" and "out features" in recs[fc].message


def test_a_missing_dataset_is_an_error_on_the_input_block(tmp_path):
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="nowhere.npz")
    fc = b.add("builtin.Linear", "fc", out_features=3)
    b.link(data, "x", fc, "x")
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}
    assert recs[data].status == "error" and "nowhere.npz" in recs[data].message
    assert recs[fc].status == "upstream-error"


def test_validation_does_not_change_batchnorm_statistics(tmp_path):
    write_npz(tmp_path / "d.npz")
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="d.npz", normalize="none")
    bn = b.add("builtin.BatchNorm1d", "bn")
    b.link(data, "x", bn, "x")
    from dpg_blocks.engine.compiling.compiler import Validator

    v = Validator(b.project, registry(), tmp_path)
    v.run()
    module = v.modules[bn]
    mean = next(buf for name, buf in module.named_buffers() if name.endswith("running_mean"))
    assert float(mean.abs().sum()) == 0.0


def test_the_engine_reuses_a_dataset_between_validations_until_its_file_changes(tmp_path):
    import os

    from dpg_blocks.engine.compiling.compiler import Validator
    from dpg_blocks.engine.compiling.source_cache import SourceCache

    data_file = write_npz(tmp_path / "d.npz", n=40)
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    fc = b.add("builtin.Linear", "fc", out_features=3)
    b.link(data, "x", fc, "x")
    cache = SourceCache()

    def source():
        v = Validator(b.project, registry(), tmp_path, source_cache=cache)
        v.run()
        return v.sources[data]

    first = source()
    assert source() is first  # the same file and params: not read again
    b.project.block(data).params["batch_size"] = 8
    assert source() is not first  # params changed
    again = source()
    write_npz(data_file, n=60, seed=3)
    os.utime(data_file, ns=(1, 1))  # a different stamp even on coarse-mtime file systems
    reread = source()
    assert reread is not again and reread.split_size("train") != again.split_size("train")


def test_a_superblock_record_shows_the_shapes_crossing_its_boundary(tmp_path):
    """Debug pane and port labels read a SuperBlock's inputs/outputs like a plain block's."""
    write_npz(tmp_path / "d.npz", features=6)
    b = builder()
    data = b.add("builtin.Input", "data", source="npz", path="d.npz")
    fc1 = b.add("builtin.Linear", "fc1", out_features=8)
    fc2 = b.add("builtin.Linear", "fc2", out_features=5)
    fc3 = b.add("builtin.Linear", "fc3", out_features=3)
    loss = b.add("builtin.CrossEntropyLoss", "loss")
    b.chain((data, "x", ""), (fc1, "y", "x"), (fc2, "y", "x"), (fc3, "y", "x"), (loss, "", "input"))
    inner = b.merge([fc2], "Inner")  # nested: the outer boundary resolves through it
    outer = b.merge([fc1, inner, fc3], "Backbone")
    recs = {r.id: r for r in validate_project(b.project, registry(), tmp_path)}
    sb = recs[outer]
    assert sb.status == "ok" and len(sb.inputs) == len(sb.outputs) == 1
    assert [(t.port, t.shape, t.dtype) for t in sb.inputs] == [
        (p.name, [4, 6], "float32") for p in b.project.block(outer).inputs
    ]
    assert [(t.port, t.shape, t.dtype) for t in sb.outputs] == [
        (p.name, [4, 3], "float32") for p in b.project.block(outer).outputs
    ]
    assert [t.shape for t in recs[inner].inputs] == [[4, 8]]
    assert [t.shape for t in recs[inner].outputs] == [[4, 5]]
    assert sb.to_dict()["inputs"][0]["shape"] == [4, 6]


def test_a_validation_checks_each_blocks_params_once(monkeypatch):
    from dpg_blocks.blocks.spec import BlockSpec

    path = EXAMPLES / "mlp_digits.dpgb"
    project = load_project(path)
    checked: list[str] = []
    check = BlockSpec.check_params

    def counted(spec: BlockSpec, params: dict) -> dict:
        checked.append(spec.id)
        return check(spec, params)

    monkeypatch.setattr(BlockSpec, "check_params", counted)
    recs = validate_project(project, registry(), path.parent)
    assert all(r.status == "ok" for r in recs)
    plain = sorted(b.type for b in project.graph.walk() if not b.is_super)
    assert sorted(checked) == plain
