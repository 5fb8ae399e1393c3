"""Per-class precision, recall, F1 and support from the test split's confusion matrix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ui_fixtures import EXAMPLES

from dpg_blocks.cli import main
from dpg_blocks.engine.training.evaluation import class_names, class_report


def test_class_report_against_a_hand_computation():
    # rows: true class, columns: predicted
    cm = np.array([[5, 1, 0],
                   [2, 3, 1],
                   [0, 0, 0]])  # class "c" never occurs and is never predicted
    report = class_report(cm, ["a", "b", "c"])
    a, b, c = (report["per_class"][k] for k in "abc")
    assert a == pytest.approx({"precision": 5 / 7, "recall": 5 / 6, "f1": 2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6),
                               "support": 6})
    assert b == pytest.approx({"precision": 3 / 4, "recall": 3 / 6, "f1": 2 * 0.75 * 0.5 / 1.25, "support": 6})
    assert c == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # the macro average leaves out the class absent from the split; weighted uses the supports
    assert report["macro"]["recall"] == pytest.approx((5 / 6 + 3 / 6) / 2)
    assert report["weighted"]["precision"] == pytest.approx((5 / 7 * 6 + 3 / 4 * 6) / 12)
    json.dumps(report)  # no NaN: it goes into --metrics-out


def test_class_names_are_the_datas_or_numbers():
    assert class_names(["cat", "dog"], 3) == ["cat", "dog", "2"]
    assert class_names(None, 2) == ["0", "1"]


def test_metrics_out_holds_the_per_class_figures_of_the_confusion_matrix(tmp_path):
    out = tmp_path / "m.jsonl"
    assert main(["train", str(EXAMPLES / "mlp_digits.dpgb"), "--epochs", "1", "-q", "--metrics-out", str(out)]) == 0
    last = json.loads(out.read_text().splitlines()[-1])
    cm = np.array(last["confusion_matrix"])
    assert cm.shape == (10, 10) and last["classes"] == [str(i) for i in range(10)]
    for i, name in enumerate(last["classes"]):
        row = last["per_class"][name]
        assert row["support"] == cm[i].sum()
        assert row["recall"] == pytest.approx(cm[i, i] / cm[i].sum())
    assert sum(r["support"] for r in last["per_class"].values()) == cm.sum()
    accuracy = np.trace(cm) / cm.sum()
    assert last["test_accuracy"] == pytest.approx(accuracy)
    assert last["weighted"]["recall"] == pytest.approx(accuracy)  # weighted recall is accuracy
    wrong = last["misclassified"]
    assert len(wrong) == min(16, int(cm.sum() - np.trace(cm)))
    assert all(w["true"] != w["pred"] for w in wrong)
    assert [w["index"] for w in wrong] == sorted(w["index"] for w in wrong)  # the first ones, in test order


def test_the_gallery_keeps_the_first_wrong_samples_with_their_classes():
    import torch

    from dpg_blocks.engine.training.evaluation import MAX_MISCLASSIFIED, Misclassified

    m = Misclassified()
    x = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    pred = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])  # says 0, 1, 0
    m.add(x, pred, torch.tensor([0, 0, 1]))  # wrong: samples 1 and 2
    assert [(f["index"], f["true"], f["pred"]) for f in m.found] == [(1, 0, 1), (2, 1, 0)]
    assert m.found[0]["sample"].tolist() == [2.0, 3.0]
    m.add(x, pred, torch.tensor([1, 1, 1]))  # wrong: samples 3 and 5 of the split
    assert [f["index"] for f in m.found] == [1, 2, 3, 5]
    assert m.listed(["cat", "dog"])[0] == {"index": 1, "true": "cat", "pred": "dog"}
    for _ in range(MAX_MISCLASSIFIED):
        m.add(x, pred, torch.tensor([1, 1, 1]))
    assert len(m.found) == MAX_MISCLASSIFIED and m.full


def test_regression_figures_against_a_hand_computation():
    import torch

    from dpg_blocks.engine.training.evaluation import MAX_SCATTER, Regression

    rng = np.random.default_rng(0)
    true = rng.normal(size=(10, 300, 1))
    pred = true + rng.normal(scale=0.5, size=true.shape)
    reg = Regression(batches=10)
    for p, t in zip(pred, true, strict=True):
        reg.add(torch.tensor(p, dtype=torch.float32), torch.tensor(t[:, 0], dtype=torch.float32))  # (N,1) vs (N,)
    p, t = pred.ravel(), true.ravel()
    got = reg.report("test")
    assert got["test_mse"] == pytest.approx(np.mean((p - t) ** 2), rel=1e-5)
    assert got["test_mae"] == pytest.approx(np.mean(np.abs(p - t)), rel=1e-5)
    assert got["test_r2"] == pytest.approx(1 - np.sum((p - t) ** 2) / np.sum((t - t.mean()) ** 2), rel=1e-5)
    # the scatter: 200 evenly spaced pairs of each batch, the last batch's included
    assert len(reg.pred) == len(reg.true) == MAX_SCATTER
    assert reg.true[-1] == pytest.approx(t[-1], abs=1e-6) and reg.pred[0] == pytest.approx(p[0], abs=1e-6)
    # constant targets: no R² (1 - SSE/0 says nothing), but MSE and MAE
    flat = Regression(batches=1)
    flat.add(torch.ones(5), torch.full((5,), 2.0))
    assert flat.report("val") == {"val_r2": None, "val_mse": 1.0, "val_mae": 1.0}


@pytest.mark.parametrize("loss", ["builtin.MSELoss", "builtin.L1Loss"])
def test_a_regression_head_gets_r2_mse_and_mae_in_metrics_out_and_no_accuracy(tmp_path, loss):
    from engine_fixtures import write_regression_project

    project = write_regression_project(tmp_path, loss=loss)
    out = tmp_path / "m.jsonl"
    assert main(["train", str(project), "-q", "--no-run", "--metrics-out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert {"val_r2", "val_mse", "val_mae", "test_r2", "test_mse", "test_mae"} <= set(row)
        assert not [k for k in row if "accuracy" in k or k == "confusion_matrix"]
    assert rows[-1]["test_r2"] > 0.9 and rows[-1]["test_r2"] > rows[0]["test_r2"]
    if loss == "builtin.MSELoss":  # the loss is the MSE of the same values, averaged per batch
        assert rows[-1]["test_mse"] == pytest.approx(rows[-1]["test_loss/order_1"], rel=0.1)
