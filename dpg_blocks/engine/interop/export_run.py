"""The exported script's data, orders and entry point: ``load_data`` reading each Input as the
engine does, ``make_orders`` with each order's optimizer and schedule, and ``main``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..compiling import ties
from ..compiling.records import PATH_SEP
from ..compiling.source_text import lit
from ..training import trainer as training


class ExportError(ValueError):
    """The project cannot be written out as a script; the message names the block and why (every
    part of the export raises it; :mod:`.export` re-exports it)."""


class _RunWriter:
    """The exporter's part that writes the script's data loading, orders and main."""

    def _input_names(self) -> dict[str, str]:
        """Input block id -> the key of its data (its name; its path when names repeat)."""
        used = {nid for ids in self.model.input_ids.values() for nid in ids}
        names = {nid: self.flat.nodes[nid].block.name for nid in used}
        repeated = {n for n in names.values() if list(names.values()).count(n) > 1}
        return {nid: PATH_SEP.join(self.flat.nodes[nid].path) if n in repeated else n for nid, n in names.items()}

    def _load_data(self, names: dict[str, str]) -> list[str]:
        from dpg_blocks.builtin.inputs import digits_csv

        lines = ["def load_data(data_dir: Path) -> dict[str, DataSource]:",
                 '    """The Inputs\' data, read, split and normalised as dpg-blocks does, by Input name."""',
                 "    return {"]
        for nid in self.flat.nodes:
            if nid not in names:
                continue
            node = self.flat.nodes[nid]
            p = node.params
            if node.block.type != "builtin.Input":
                raise ExportError(f"{PATH_SEP.join(node.path)}: export can only read the data of built-in Input blocks")
            if p["source"] == "images":  # the script reads tables; decoding images would need Pillow there
                raise ExportError(f"{PATH_SEP.join(node.path)}: export cannot read an image folder yet; save the "
                                  "images as an .npz file (arrays x and y) and point the Input at it")
            if p["source"] == "noise":
                lines.append(f"        {lit(names[nid])}: NoiseSource({lit(list(p['noise_shape']))}, {lit(p['noise_count'])}, "
                             f"{lit(p['batch_size'])}, {lit(p['shuffle_seed'])}, name={lit(node.block.name)}, "
                             f"ids={lit(p.get('noise_ids', 0))}),")
                continue
            if p["source"] == "digits":
                file, where, read = digits_csv(), "Path", "load_csv"
                args = ", 'label'"
            else:
                file = Path(p["path"]).expanduser()
                where = "Path" if file.is_absolute() else "data_dir /"
                read = "load_csv" if p["source"] == "csv" else "read_npz"
                args = f", {lit(p['label_column'])}" if p["source"] == "csv" else ""
            call = f"Path({lit(str(file))})" if where == "Path" else f"data_dir / {lit(file.as_posix())}"
            lines += [f"        {lit(names[nid])}: ArrayDataSource(",
                      f"            *{read}({call}{args}),",
                      f"            name={lit(file.name)}, val_percent={lit(p['val_percent'])}, "
                      f"test_percent={lit(p['test_percent'])}, batch_size={lit(p['batch_size'])},",
                      f"            shuffle_seed={lit(p['shuffle_seed'])}, reshape={lit(list(p['reshape']))}, "
                      f"normalize={lit(p['normalize'])},",
                      "        ),"]
        lines.append("    }")
        return lines

    def _make_orders(self, root: str, names: dict[str, str]) -> list[str]:
        lines = [f"def make_orders(model: {root}) -> list[Order]:",
                 '    """The orders of a training step, each with its optimizer over the blocks it trains."""']
        out: list[str] = []
        modules = self.model.block_modules
        for index in self.model.orders:
            heads = [(h.kind, names.get(h.input_id) if h.input_id else None) for h in self.model.heads[index]]
            inputs = [names[i] for i in self.model.input_ids[index]]
            has_losses = bool(self.model.loss_ids[index])
            var = f"order_{index}"
            lines.append(f"    {var} = Order({index}, {lit(inputs)}, model.order_{index}, heads={lit(heads)}, "
                         f"has_losses={lit(has_losses)})")
            # the Trainer's choice and parameter order; layers without parameters are left out
            trained = [nid for nid in training.order_block_ids(self.project, self.result, index)
                       if nid in modules and any(p.requires_grad for p in modules[nid].parameters())]
            settings = training.order_of(self.project, index).optimizer
            if trained and has_losses:
                layers = ", ".join(f"model.{self.paths[nid]}" for nid in trained)
                lines.append(f"    {var}.optimizer = {_optimizer(settings, f'parameters({layers})')}")
                sched = _scheduler(settings, f"{var}.optimizer", self.project.training.epochs)
                if sched:
                    lines.append(f"    {var}.scheduler = {sched}")
            out.append(var)
        lines.append(f"    return [{', '.join(out)}]")
        return lines

    def _main(self, root: str, in_order: bool) -> list[str]:
        t = self.project.training
        lines = ["def main(argv: list[str] | None = None) -> None:",
                 '    """Train the model as ``dpg-blocks train`` does (see the options at the top)."""',
                 f"    args = parse_args(argv, epochs={lit(t.epochs)}, seed={lit(t.seed)}, device={lit(t.device)}, "
                 f"data_dir=DATA_DIR, weights={lit(t.weights)})",
                 "    seed_everything(args.seed)",
                 f"    model = {root}()  # draws the initial weights in the order dpg-blocks does"]
        if not in_order:
            lines += ["    torch.manual_seed(args.seed)  # SuperBlocks group layers built in between others:",
                      "    model.draw_initial_weights()  # draw again, in dpg-blocks' order"]
        for t in ties.expand(self.project.ties, self.model.block_modules):  # tied once every layer drew its own
            if t.block in self.paths and t.source in self.paths:
                lines.append(f"    tie(model, {lit(self.paths[t.block] + '.' + t.param)}, "
                             f"{lit(self.paths[t.source] + '.' + t.source_param)})")
        lines += ["    if args.weights:  # the project's starting weights (an imported model's own)",
                  "        load_weights(model, Path(args.data_dir) / args.weights)",
                  "    data = load_data(Path(args.data_dir))",
                  "    device = pick_device(args.device)",
                  "    model.to(device)",
                  "    fit(model, make_orders(model), data, args, device)"]
        return lines


def _optimizer(settings: Any, params: str) -> str:
    kind = settings.type.lower()
    if kind == "sgd":
        return (f"torch.optim.SGD({params}, lr={lit(settings.lr)}, momentum={lit(settings.momentum)}, "
                f"weight_decay={lit(settings.weight_decay)})")
    if kind in ("adam", "adamw"):
        cls = "Adam" if kind == "adam" else "AdamW"
        return f"torch.optim.{cls}({params}, lr={lit(settings.lr)}, weight_decay={lit(settings.weight_decay)})"
    raise ExportError(f"unknown optimizer {settings.type!r}")


def _scheduler(settings: Any, opt: str, epochs: int) -> str:
    kind = settings.scheduler.lower()
    if kind == "none":
        return ""
    if kind == "step":
        return f"torch.optim.lr_scheduler.StepLR({opt}, step_size={lit(settings.step_size)}, gamma={lit(settings.gamma)})"
    if kind == "exponential":
        return f"torch.optim.lr_scheduler.ExponentialLR({opt}, gamma={lit(settings.gamma)})"
    if kind == "cosine":
        # as the Trainer: over the project's epochs, whatever --epochs says
        return f"torch.optim.lr_scheduler.CosineAnnealingLR({opt}, T_max={max(1, epochs)})"
    raise ExportError(f"unknown scheduler {settings.scheduler!r}")
