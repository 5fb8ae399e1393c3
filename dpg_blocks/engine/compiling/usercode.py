"""User code in blocks: compiling it, running it with the signal, and checking its gradient.

A Custom block's ``code`` parameter is Python source that defines ``forward(ctx, <inputs>)``
and, optionally, ``backward(ctx, <grads of outputs>)``. With a backward the block runs as a
``torch.autograd.Function``. ``ctx`` is a :class:`UserContext`: the current order, the
train/test flag, the ground truth reaching the block, the training progress (see
:mod:`.progress`), the block's own named values, its gradient scale (constant, or following
:func:`scheduled_scale`), and (for a backward) ``save_for_backward``/``saved_tensors`` plus any
attribute the forward sets.

The source is compiled under a file name that starts with :data:`USER_CODE_PREFIX` and is
registered with :mod:`linecache`, so tracebacks show the user's lines and
:func:`user_code_line` finds the line inside the user's code where an error happened.

Only trusted projects get here (see :mod:`dpg_blocks.core.user.trust`): compiling the source runs
its top-level statements.
"""

from __future__ import annotations

import inspect
import linecache
import math
import traceback
from typing import Any

import torch
from torch import nn
from torch.autograd.gradcheck import GradcheckError

from .progress import TrainingClock
from .source_text import comment

USER_CODE_PREFIX = "<code of "
GRADIENT_SCHEDULES = ("constant", "ganin")
# Where a scheduled scale is gradchecked: λ ≈ 0.46 there, neither 0 (which would check nothing)
# nor ≈ 1 (where a backward that ignores the schedule would pass).
GRADCHECK_PROGRESS = 0.1


def scheduled_scale(scale: float, schedule: str, progress: float) -> float:
    """The gradient scale at ``progress``: ``scale`` (constant) or ``scale`` × λ_p (ganin).

    λ_p = 2 / (1 + exp(−10 p)) − 1 (Ganin & Lempitsky 2015): 0 at the start, so the domain
    classifier learns before its reversed gradient reaches the features, → 1 at the end.
    """
    if schedule == "ganin":
        return scale * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)
    if schedule == "constant":
        return scale
    raise ValueError(f"unknown gradient schedule {schedule!r} (choose {', '.join(GRADIENT_SCHEDULES)})")


def code_filename(where: str, param: str = "code") -> str:
    """The pseudo file name the code of block ``where`` (a path text) is compiled under."""
    # escaped as in a literal: a file name holds no NUL and no line break, whatever the name
    return f"{USER_CODE_PREFIX}{comment(where)}, {comment(param)}>"


def compile_user_code(source: str, filename: str) -> dict[str, Any]:
    """Compile and run ``source`` (its top level) in a fresh namespace; returns the namespace."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")  # a SyntaxError carries filename and lineno
    namespace: dict[str, Any] = {"__name__": "dpg_blocks_user_code", "torch": torch, "nn": nn,
                                 "F": torch.nn.functional, "math": math}
    exec(code, namespace)
    return namespace


def user_code_line(exc: BaseException) -> tuple[str, int] | None:
    """``(file name, line)`` of the innermost place in user code where ``exc`` was raised."""
    if isinstance(exc, SyntaxError) and str(exc.filename or "").startswith(USER_CODE_PREFIX):
        return str(exc.filename), int(exc.lineno or 0)
    found = None
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # follow "raise ... from" chains too
        seen.add(id(exc))
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.startswith(USER_CODE_PREFIX):
                found = (frame.filename, int(frame.lineno or 0))
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


class UserCodeError(ValueError):
    """The user's code is not usable as a block (missing ``forward``, wrong arguments …)."""


class GradientCheckError(ValueError):
    """A user backward that disagrees with the numerical gradient of its forward."""


class UserContext:
    """What ``forward(ctx, …)`` and ``backward(ctx, …)`` receive.

    ``order``: the current order (1, 2 …); ``training``: True while training, False in
    evaluation; ``target``: the labels of the one labelled input whose data reaches this block
    (None when none or several do; link them to an input port instead); ``progress``: the
    fraction of the planned training done (0 at the first step; see :mod:`.progress`);
    ``step``: planned-training steps done; ``epoch``: the epoch (0-based); ``values``: the
    block's named values; ``gradient_scale``: the block's gradient scale at this progress. A
    forward may set any attribute for its backward, or call ``save_for_backward(*tensors)``.
    """

    def __init__(
        self,
        order: int,
        training: bool,
        target: Any,
        values: dict[str, Any],
        gradient_scale: float,
        clock: TrainingClock | None = None,
    ) -> None:
        clock = clock or TrainingClock()
        self.order = order
        self.training = training
        self.target = target
        self.values = values
        self.gradient_scale = gradient_scale
        # read once: the backward runs after the step but belongs to it
        self.progress, self.step, self.epoch = clock.progress, clock.step, clock.epoch
        self._fn_ctx: Any = None

    def save_for_backward(self, *tensors: torch.Tensor) -> None:
        """Keep tensors for ``backward`` (only with a backward)."""
        if self._fn_ctx is None:
            raise RuntimeError("save_for_backward needs a backward function in the block's code")
        self._fn_ctx.save_for_backward(*tensors)

    @property
    def saved_tensors(self) -> tuple[torch.Tensor, ...]:
        """The tensors given to ``save_for_backward``."""
        if self._fn_ctx is None:
            raise RuntimeError("saved_tensors needs a backward function in the block's code")
        return self._fn_ctx.saved_tensors


class _UserFunction(torch.autograd.Function):
    """A user forward/backward pair as an autograd Function."""

    @staticmethod
    def forward(fn_ctx: Any, module: UserCodeModule, uctx: UserContext, grad_factor: float, *inputs: Any) -> Any:
        uctx._fn_ctx = fn_ctx
        fn_ctx.uctx, fn_ctx.module, fn_ctx.grad_factor = uctx, module, grad_factor
        fn_ctx.n_inputs = len(inputs)
        return module.user_forward(uctx, *inputs)

    @staticmethod
    def backward(fn_ctx: Any, *grads: Any) -> Any:
        got = fn_ctx.module.user_backward(fn_ctx.uctx, *grads)
        got = got if isinstance(got, tuple | list) else (got,)
        if len(got) != fn_ctx.n_inputs:
            raise UserCodeError(
                f"backward returned {len(got)} gradient(s) for {fn_ctx.n_inputs} input(s); return one per "
                "input (None for an input without a gradient)"
            )
        if fn_ctx.grad_factor != 1.0:
            got = tuple(g * fn_ctx.grad_factor if g is not None else None for g in got)
        return (None, None, None, *got)


def _check_arity(fn: Any, name: str, expected: list[str], what: str) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if not len(required) <= 1 + len(expected) <= len(positional):
        want = ", ".join(["ctx", *expected])
        raise UserCodeError(f"{name} must take ({want}): ctx, then {what}; it takes {len(positional)} argument(s)")


class UserCodeModule(nn.Module):
    """A user's forward (and optional backward) called with the signal.

    Called as ``module(order, target, *inputs)`` (the Custom block is declared ``takes_signal``).
    An exported script holds this class as it is here (``engine/interop/export.py`` copies it).
    """

    def __init__(
        self,
        forward: Any,
        backward: Any,
        inputs: list[str],
        outputs: list[str],
        values: dict[str, Any],
        gradient_scale: float,
        gradient_schedule: str = "constant",
    ) -> None:
        super().__init__()
        self.user_forward = forward
        self.user_backward = backward
        self.input_names, self.output_names = list(inputs), list(outputs)
        self.values = dict(values)
        self.gradient_scale = float(gradient_scale)
        self.gradient_schedule = gradient_schedule
        scheduled_scale(1.0, gradient_schedule, 0.0)  # an unknown schedule fails when built
        self.clock = TrainingClock()  # the training loop attaches its own (attach_clock)

    def context(self, order: int, target: Any, clock: TrainingClock) -> UserContext:
        """The ``ctx`` the user's code receives at ``clock``."""
        scale = scheduled_scale(self.gradient_scale, self.gradient_schedule, clock.progress)
        return UserContext(order, self.training, target, self.values, scale, clock)

    def forward(self, order: int, target: Any, *inputs: Any) -> Any:
        ctx = self.context(order, target, self.clock)
        if self.user_backward is None:
            return self.user_forward(ctx, *inputs)
        return _UserFunction.apply(self, ctx, 1.0, *inputs)

    def extra_repr(self) -> str:
        back = ", custom backward" if self.user_backward is not None else ""
        sched = f", gradient_schedule={self.gradient_schedule}" if self.gradient_schedule != "constant" else ""
        return f"inputs={self.input_names}, outputs={self.output_names}{back}{sched}"


class CustomModule(UserCodeModule):
    """A Custom block: compiles the block's code (its top level runs), then runs it as
    :class:`UserCodeModule`; validation calls :meth:`check_gradient`."""

    def __init__(
        self,
        source: str,
        filename: str,
        inputs: list[str],
        outputs: list[str],
        values: dict[str, Any],
        gradient_scale: float,
        gradient_schedule: str = "constant",
    ) -> None:
        namespace = compile_user_code(source, filename)
        forward = namespace.get("forward")
        if not callable(forward):
            raise UserCodeError(f"the code must define forward(ctx, {', '.join(inputs)})")
        backward = namespace.get("backward")
        if backward is not None and not callable(backward):
            raise UserCodeError("'backward' must be a function: backward(ctx, <one gradient per output>)")
        _check_arity(forward, "forward", inputs, "one argument per input port")
        if backward is not None:
            _check_arity(backward, "backward", [f"grad_{o}" for o in outputs], "one gradient per output port")
        super().__init__(forward, backward, inputs, outputs, values, gradient_scale, gradient_schedule)
        self.source = source  # what an export inlines
        self.filename = filename

    # -- validation ----------------------------------------------------------------------------
    def check_gradient(self, order: int, target: Any, *inputs: Any) -> str:
        """Gradcheck the user backward (double precision, the validation batch).

        With a declared ``gradient_scale`` s (gradient reversal) the backward must equal
        −s × the gradient (with a schedule: −s·λ_p × the gradient, checked at progress
        :data:`GRADCHECK_PROGRESS`); otherwise the gradient itself. Returns what passed ("" when
        there is nothing to check); raises :class:`GradientCheckError`.
        """
        if self.user_backward is None:
            return ""
        clock = self.clock
        if self.gradient_schedule != "constant":
            clock = TrainingClock(steps_per_epoch=1000, planned_epochs=1, step=round(1000 * GRADCHECK_PROGRESS))
        scale = scheduled_scale(self.gradient_scale, self.gradient_schedule, clock.progress)
        factor = 1.0
        expected = "the numerical gradient of forward"
        if scale:
            factor = -1.0 / scale  # undo the declared reversal, then compare
            at = f" at progress {clock.progress:g}" if self.gradient_schedule != "constant" else ""
            expected = f"−{scale:g} × the numerical gradient of forward (gradient scale{at})"
        diff = [isinstance(x, torch.Tensor) and x.is_floating_point() for x in inputs]
        if not any(diff):
            return ""
        doubles = [
            x.detach().to(torch.float64).requires_grad_(True) if d else x for x, d in zip(inputs, diff, strict=True)
        ]
        positions = [i for i, d in enumerate(diff) if d]

        def fn(*checked: torch.Tensor) -> Any:
            args = list(doubles)
            for i, t in zip(positions, checked, strict=True):
                args[i] = t
            return _UserFunction.apply(self, self.context(order, target, clock), factor, *args)

        checked = [doubles[i] for i in positions]
        fast = sum(t.numel() for t in checked) > 64  # a random projection instead of the full Jacobian
        try:
            torch.autograd.gradcheck(fn, checked, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=fast)
        except GradcheckError as e:
            first = str(e).strip().splitlines()[0].rstrip(",") if str(e).strip() else "mismatch"
            raise GradientCheckError(
                f"wrong gradient: backward does not match {expected} "
                f"(torch.autograd.gradcheck, double precision: {first})"
            ) from None
        how = "a random projection of the Jacobian" if fast else "the full Jacobian"
        return f"passed: backward matches {expected} (torch.autograd.gradcheck, double precision, {how})"
