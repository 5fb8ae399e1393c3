"""Import an existing ``nn.Module`` as editable blocks, through ``torch.fx`` (scenario E).

``torch.fx.symbolic_trace`` turns the module's forward into a graph of nodes; shape
propagation on an example batch gives every node's tensor shape. Each tensor-valued node becomes
one block (no folding, so node and block correspond one to one):

* ``placeholder``: an Input of source "noise" with the given sample shape (it validates without
  data; point it at a dataset later);
* ``call_module`` / ``call_function`` / ``call_method``: the matching built-in block when the
  layer's configuration is one the block builds exactly (``nn.Conv2d`` with a square kernel,
  no dilation or groups …); a parameter-free operation with no built-in block becomes a Custom
  block whose code calls it; anything else (a layer with weights the built-in pack cannot
  build, a shared layer, a ``get_attr``) is refused with the node's name and target;
* ``output``: one Output block per returned tensor.
* a submodule whose forward fx cannot trace (an ``if`` on a tensor's value): one Opaque Module
  block holding its class's source and its weights (:mod:`.import_opaque`); only the top-level
  forward's own untraceable code is refused, naming its line.
* a layer returning a tuple (LSTM, ``chunk``): one block whose ``getitem`` nodes are its
  ports (``_Block.outputs``); a recurrent layer's final state passes a Transpose back to
  torch's (layers, batch, hidden) layout where the code reads it.

Nodes that compute shapes (``x.size(0)``) feed the arguments of the node that reads them
(``x.view(x.size(0), -1)`` becomes a Reshape) and are not blocks. Blocks are placed by
:func:`dpg_blocks.core.layout.auto_layout`. The weights are copied into the engine's compiled
model and written as a checkpoint (the format ``dpg-blocks train --checkpoint-dir`` writes and
``Trainer.load_checkpoint`` / ``export --onnx --weights`` read).

This module walks the graph; the trace and its shapes are in :mod:`.import_trace`, what each
node becomes is in :mod:`.import_layers` (layers) and :mod:`.import_functions` (calls and
methods), loading the module in :mod:`.import_load`, and the weights in :mod:`.import_weights`.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import fx, nn

from dpg_blocks.blocks.builder import ProjectBuilder
from dpg_blocks.core.edits import Move, SetTies
from dpg_blocks.core.layout import auto_layout
from dpg_blocks.core.project import Tie

from ..packs.registry import Registry
from .import_functions import _FUNCTIONS, _custom, _function_block
from .import_layers import MODULES, RECURRENT_OUTPUTS, _Block, _is_tuple, _shape
from .import_load import FxImportError, ImportedModule, load_module
from .import_opaque import opaque_params
from .import_trace import EXAMPLE_BATCH, trace_shaped
from .import_tree import nest_by_module
from .import_weights import write_weights

__all__ = [
    "FxImportError", "ImportedModule", "ImportReport", "load_module", "import_module", "write_weights",
    "import_to_project", "EXAMPLE_BATCH",
]


class _Importer:
    """Walks the traced graph once, adding a block per tensor node through a ProjectBuilder."""

    def __init__(self, module: nn.Module, shapes: list[tuple[int, ...]], registry: Registry, name: str,
                 flat: bool = False, dtypes: list[str] | None = None) -> None:
        self.module = module
        self.dtypes = list(dtypes or [])
        self.dtypes += ["float32"] * (len(shapes) - len(self.dtypes))  # one per input, float32 by default
        self.flat = flat
        self.scopes: dict[str, tuple[str, ...]] = {}  # block id -> the container modules it ran inside
        self.classes: dict[str, str] = {}  # container path -> its class name
        self.shapes = shapes
        self.builder = ProjectBuilder(registry.specs, name)
        self.values: dict[fx.Node, tuple[str, str]] = {}  # tensor node -> (block id, port)
        self.tuples: dict[fx.Node, tuple[str, list[Any]]] = {}  # tuple node -> (block id, its ports, nested)
        self.result = ImportedModule(self.builder.project, {}, {})
        self.names: set[str] = set()
        self.opaque: set[str] = set()  # submodules fx cannot trace, kept whole (Opaque Module blocks)

    def trace(self) -> fx.GraphModule:
        gm, self.opaque, self.result.asserts = trace_shaped(self.module, self.shapes, self.dtypes)
        return gm

    def _name(self, base: str) -> str:
        out, n = base, 2
        while out in self.names:
            out, n = f"{base}_{n}", n + 1
        self.names.add(out)
        return out

    def _add(self, node: fx.Node, spec: _Block, name: str) -> str:
        bid = self.builder.add(spec.type, self._name(name), **spec.params)
        self._scope(bid, node)
        inputs = [p.name for p in self.builder.project.graph.blocks[bid].inputs]
        for port, src in zip(inputs, spec.inputs, strict=False):
            self.builder.link(*self.values[src], bid, port)
        self.result.blocks[node.name] = bid
        return bid

    def _scope(self, bid: str, node: fx.Node) -> None:
        """Record the container modules ``node`` ran inside (not a called layer itself)."""
        stack = node.meta.get("nn_module_stack") or {}
        # fx names a layer's second call "relu@1": that is the layer, not a container
        paths = [p for p in stack if not (node.op == "call_module" and p.partition("@")[0] == node.target)]
        for p in paths:
            cls = stack[p][1] if isinstance(stack[p], tuple) else stack[p]
            self.classes[p] = getattr(cls, "__name__", str(cls).rpartition(".")[2])
        self.scopes[bid] = tuple(paths)

    def _fail(self, node: fx.Node, why: str) -> FxImportError:
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", repr(node.target))
        return FxImportError(f"node {node.name!r} ({node.op} {target}): {why}")

    def node(self, node: fx.Node, gm: fx.GraphModule) -> None:
        if node.op == "placeholder":
            index = len([v for v in self.values if v.op == "placeholder"])
            params: dict[str, Any] = {"source": "noise", "noise_shape": list(self.shapes[index])}
            if self.dtypes[index] == "int64":  # random ids below the vocabulary of the Embeddings reading them
                vocab = [gm.get_submodule(str(u.target)).num_embeddings for u in node.users
                         if u.op == "call_module" and isinstance(gm.get_submodule(str(u.target)), nn.Embedding)]
                params["noise_ids"] = min(vocab) if vocab else 2
            bid = self._add(node, _Block("builtin.Input", params), node.name)
            self.values[node] = (bid, "x")
            return
        if node.op == "output":
            results = node.args[0] if isinstance(node.args[0], tuple | list) else (node.args[0],)
            for i, r in enumerate(results):
                if not isinstance(r, fx.Node) or r not in self.values:
                    raise self._fail(node, f"output {i} is not a tensor the blocks compute")
                self._add(node, _Block("builtin.Output", {}, [r]), "output" if len(results) == 1 else f"output_{i}")
            return
        if node.op == "call_function" and node.target is operator.getitem and node.args[0] in self.tuples:
            self._element(node)
            return
        returns_tuple = _is_tuple(node)
        if _shape(node) is None and not returns_tuple:
            # a shape helper (x.size(0), x.shape): it feeds the arguments of the node reading it
            if any(u.op == "output" for u in node.users):
                raise self._fail(node, "the module returns a value that is not a tensor")
            return
        tensors = [a for a in node.all_input_nodes if a in self.values]
        if node.op == "get_attr":
            self._learned_tensor(node, gm)
            return
        module = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        stateful = module is not None and any(True for _ in module.state_dict())
        opaque = node.op == "call_module" and node.target in self.opaque
        try:
            spec = self._opaque(node, tensors, module, returns_tuple) if opaque else self._builtin(node, tensors, module)
        except FxImportError:
            raise
        except ValueError as builtin_why:
            if stateful:  # a Custom block holds no weights, and a torch layer's class is no code to copy
                raise self._fail(node, f"the built-in {type(module).__name__} block cannot build it ({builtin_why})") from None
            if returns_tuple:  # a Custom block has one output: its parts would be lost
                raise self._fail(node, f"returns a tuple of tensors and no built-in block gives its parts as ports "
                                       f"({builtin_why})") from None
            try:
                spec = _custom(node, tensors, module)
            except ValueError as why:
                raise self._fail(node, f"no built-in block, and no Custom block can call it: {why}") from None
            self.result.custom.append(node.name)
        bid = self._add(node, spec, str(node.target) if node.op == "call_module" else node.name)
        if stateful:
            self.result.layers[bid] = str(node.target)
        if spec.outputs is not None:
            self.tuples[node] = (bid, spec.outputs)
        else:  # the block's one output: "y", or e.g. Position Ids' "ids"
            self.values[node] = (bid, self.builder.project.graph.blocks[bid].outputs[0].name)

    def _opaque(self, node: fx.Node, tensors: list[fx.Node], module: nn.Module | None, returns_tuple: bool) -> _Block:
        """A submodule fx cannot trace: one Opaque Module block running its own class."""
        assert module is not None
        try:
            params = opaque_params(node, module, returns_tuple, tensors)
        except ValueError as why:
            raise self._fail(node, f"torch.fx cannot trace it and it cannot be an Opaque Module block: {why}") from None
        self.result.opaque.append(str(node.target))
        return _Block("builtin.OpaqueModule", params, tensors, outputs=params["outputs"] if returns_tuple else None)

    def _learned_tensor(self, node: fx.Node, gm: fx.GraphModule) -> None:
        """``self.pos`` read directly (a learned position table of shape (1, …)): a Learned
        Tensor block, one copy per sample of the first input; its values are copied too."""
        target = str(node.target)
        try:
            param = gm.get_parameter(target)
        except AttributeError:
            raise self._fail(node, "reads a buffer directly; only parameters and layers can be imported") from None
        if param.dim() < 2 or param.shape[0] != 1:
            raise self._fail(node, f"reads the parameter {target} of shape {tuple(param.shape)} whole; a Learned "
                                   "Tensor block gives one copy per sample, so only (1, …) tables come in")
        first = next(v for v in self.values if v.op == "placeholder")
        spec = _Block("builtin.LearnedTensor", {"shape": list(param.shape[1:]), "init": "zeros"}, [first])
        bid = self._add(node, spec, target)
        self.values[node] = (bid, "y")
        self.result.tensors[bid] = target

    def _shared_weights(self) -> list[Tie]:
        """A layer called twice (a Siamese tower) is two blocks, and two layers may hold one tensor
        (tied embeddings): each parameter after its first block is tied to it."""
        first: dict[int, tuple[str, str]] = {}  # id(parameter) -> (block id, its name there)
        ties: list[Tie] = []
        for bid, target in self.result.layers.items():
            for name, p in self.module.get_submodule(target).named_parameters(remove_duplicate=False):
                owner = first.setdefault(id(p), (bid, name))
                if owner[0] != bid:
                    ties.append(Tie(bid, name, *owner))
        return ties

    def _element(self, node: fx.Node) -> None:
        """``out[i]`` of a layer returning a tuple: one of its block's ports (no block of its own),
        or a nested tuple; a final state, which the block gives batch first, gets a Transpose back
        to torch's (layers, batch, hidden) so the code reading it sees what it saw before."""
        bid, parts = self.tuples[node.args[0]]  # type: ignore[index]
        index = node.args[1]
        if not isinstance(index, int) or not -len(parts) <= index < len(parts):
            raise self._fail(node, f"indexes a tuple of {len(parts)} with {index!r}")
        part = parts[index]
        if isinstance(part, list):
            self.tuples[node] = (bid, part)
        elif isinstance(part, tuple):
            if not node.users:  # unpacked but never read (``out, (h, c) = lstm(x)`` without c)
                return
            tid = self.builder.add("builtin.Transpose", self._name(node.name), dim0=0, dim1=1)
            self._scope(tid, node)
            self.builder.link(bid, part[1], tid, "x")
            self.result.blocks[node.name] = tid
            self.values[node] = (tid, "y")
        else:
            self.values[node] = (bid, part)

    def _builtin(self, node: fx.Node, tensors: list[fx.Node], module: nn.Module | None) -> _Block:
        if module is not None:
            entry = MODULES.get(type(module))
            if entry is None:
                raise ValueError("no built-in block")
            type_id, params = entry
            return _Block(type_id, params(module, node), tensors[:1], outputs=RECURRENT_OUTPUTS.get(type(module)))
        kind = str(node.target) if node.op == "call_method" else _FUNCTIONS.get(node.target)
        if kind is None:
            raise ValueError("no built-in block")
        return _function_block(kind, node, tensors)

    def run(self) -> ImportedModule:
        gm = self.trace()
        for node in gm.graph.nodes:
            self.node(node, gm)
        project = self.builder.project
        ties = self._shared_weights()
        if ties:
            self.builder.history.do(SetTies(ties, "shared weights of the module"))
        if self.flat:
            for bid, pos in auto_layout(project.graph, origin=(40.0, 40.0)).items():
                self.builder.history.do(Move(bid, pos))
        else:
            nest_by_module(self.builder, self.scopes, self.classes)
        self.result.parameters = sum(p.numel() for p in self.module.parameters())
        return self.result


def import_module(
    module: nn.Module, input_shapes: list[tuple[int, ...]], registry: Registry, name: str | None = None,
    flat: bool = False, input_dtypes: list[str] | None = None,
) -> ImportedModule:
    """A project with one block per tensor node of ``module``'s traced forward (see the module
    doc), nested in one SuperBlock per submodule unless ``flat``; ``input_dtypes`` per input:
    "float32" (default) or "int64" (token ids)."""
    return _Importer(module, [tuple(s) for s in input_shapes], registry, name or type(module).__name__, flat,
                     input_dtypes).run()



@dataclass
class ImportReport:
    """What :func:`import_to_project` wrote: the project, its weights and what it holds."""

    project_path: Path
    weights_path: Path | None
    blocks: int
    parameters: int
    custom: list[str]
    opaque: list[str] = field(default_factory=list)
    asserts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The lines the CLI prints and the editor's status line shows (joined)."""
        lines = [f"wrote {self.project_path} ({self.blocks} blocks, {self.parameters} parameters)"]
        if self.weights_path is not None:
            lines.append(f"wrote the weights to {self.weights_path}: training starts from them (the project's "
                         f"training.weights; dpg-blocks export {self.project_path.name} --onnx --weights "
                         f"{self.weights_path.name} … for ONNX)")
        if self.custom:
            lines.append(f"Custom blocks calling operations without a built-in block: {', '.join(self.custom)}")
        if self.opaque:
            lines.append(f"Opaque Module blocks running their own class (torch.fx cannot trace them): "
                         f"{', '.join(self.opaque)}")
        if self.asserts:
            lines.append(f"asserts checked once on the example input and left out of the graph (each block "
                         f"checks its own shapes): {', '.join(self.asserts)}")
        return "\n".join(lines)


def import_to_project(
    ref: str,
    input_shapes: list[tuple[int, ...]],
    out: Path | str,
    registry: Registry,
    args_json: str | None = None,
    weights: bool = True,
    flat: bool = False,
    input_dtypes: list[str] | None = None,
) -> ImportReport:
    """Import ``FILE.py:ClassName`` into the project file ``out`` (the CLI's ``import`` and the editor's).

    Records the trust of the generated Custom code and writes ``out`` with ``.weights.pt`` next
    to it. Every failure is raised as FxImportError, its message ready to show.
    """
    from dpg_blocks.core import save_project
    from dpg_blocks.core.user.trust import TrustStore, code_digest, project_code

    from ..compiling.compiler import CompileError

    try:
        init = json.loads(args_json) if args_json else None
        if init is not None and not isinstance(init, list | dict):
            raise FxImportError("--args takes a JSON list (positional) or object (keywords)")
        module = load_module(ref, init)
        imported = import_module(module, input_shapes, registry, flat=flat, input_dtypes=input_dtypes)
        path = Path(out).expanduser().resolve()
        if weights:  # training (CLI, editor, exported script) starts from the module's own weights
            imported.project.training.weights = path.with_suffix(".weights.pt").name
        save_project(imported.project, path)
        # The code of its Custom blocks was generated from the user's own module, which this
        # import has already run: record it as trusted, as for a project the user made.
        digest = code_digest(project_code(imported.project, registry.code_params))
        if digest is not None:
            TrustStore().trust(digest, imported.project.name, str(path))
        weights_path = path.with_suffix(".weights.pt") if weights else None
        if weights_path is not None:
            write_weights(imported, module, registry, path.parent, weights_path)
    except FxImportError:
        raise
    except json.JSONDecodeError as e:
        raise FxImportError(f"--args is not JSON ({e})") from e
    except CompileError as e:
        raise FxImportError(f"the imported project does not validate: {e}") from e
    except OSError as e:
        raise FxImportError(str(e)) from e
    except Exception as e:  # the module's own constructor or code failed
        raise FxImportError(f"{type(e).__name__}: {e}") from e
    return ImportReport(path, weights_path, len(imported.project.graph.blocks), imported.parameters,
                        list(imported.custom), list(imported.opaque), list(imported.asserts))
