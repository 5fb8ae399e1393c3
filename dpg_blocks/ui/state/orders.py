"""What training runs with: the orders (each its own optimizer, optimised blocks and losses) and
the training settings.

Mixed into :class:`~dpg_blocks.ui.state.editor_state.EditorState` (it uses the state's ``project``,
``catalog``, ``do`` and ``say``). An order is changed on a copy and the whole list set as one
undoable SetOrders, so the Optimization pane's widgets never patch the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dpg_blocks.core import SetOrders, SetTraining
from dpg_blocks.core.graph import Block
from dpg_blocks.core.project import OptimizerSettings, Order


class OrdersMixin:
    """EditorState's edits of the orders and the training settings."""

    def set_training(self, name: str, value: Any) -> bool:
        if getattr(self.project.training, name, None) == value:
            return False  # a field committing an unchanged value adds no undo step
        return self.do(SetTraining(name, value))

    # -- orders (each its own optimizer, optimised blocks and losses) ------------------------
    def _change_order(self, order_index: int, label: str, change: Callable[[Order], None]) -> bool:
        """Apply ``change`` to a copy of order ``order_index`` as one undoable SetOrders; no
        edit when nothing changed (a widget echoing its value back adds no undo step)."""
        import copy

        orders = copy.deepcopy(self.project.orders)
        order = next((o for o in orders if o.index == order_index), None)
        if order is None:
            self.say(f"there is no order {order_index}")
            return False
        change(order)
        if orders == self.project.orders:
            return False
        edit = SetOrders(orders)
        edit.label = f"order {order_index}: {label}"
        return self.do(edit)

    def set_optimizer(self, order_index: int, **settings: Any) -> bool:
        """Change one order's optimizer settings (type, lr, weight_decay, momentum, scheduler…)."""
        unknown = [k for k in settings if k not in OptimizerSettings.__dataclass_fields__]
        if unknown:
            self.say(f"order {order_index}: no optimizer setting {unknown[0]!r}")
            return False

        def change(order: Order) -> None:
            for k, v in settings.items():
                setattr(order.optimizer, k, v)

        label = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
        return self._change_order(order_index, label, change)

    def set_order(self, order_index: int, **fields: Any) -> bool:
        """Change an order's ``name``, ``optimize`` or ``losses`` (block ids; None: every live one)."""
        unknown = [k for k in fields if k not in ("name", "optimize", "losses")]
        if unknown:
            self.say(f"order {order_index}: no setting {unknown[0]!r}")
            return False

        def change(order: Order) -> None:
            for k, v in fields.items():
                setattr(order, k, list(v) if isinstance(v, list | tuple) else v)

        return self._change_order(order_index, ", ".join(f"set {k}" for k in fields), change)

    def input_names(self, order_index: int) -> list[str]:
        """The input blocks (as paths) that emit in order ``order_index``."""
        return [
            " › ".join(self.project.path_of(b.id))
            for b in self.project.graph.walk()
            if self.role(b) == "input" and order_index in _ints(b.params.get("orders", [1]))
        ]

    def role(self, b: Block) -> str | None:
        """A block's role from its spec; without a catalog the built-in Input is still known."""
        spec = self.catalog.spec(b.type)
        if spec is None:
            return "input" if b.type == "builtin.Input" else None
        return spec.role

    def optimizable_blocks(self) -> list[Block]:
        """Root-level blocks and SuperBlocks an order can optimise (not inputs, losses, outputs)."""
        return [b for b in self.project.graph.blocks.values()
                if b.is_super or self.role(b) not in ("input", "loss", "output")]

    def loss_blocks(self) -> list[Block]:
        """Every loss block of the document, SuperBlocks' insides included."""
        return [b for b in self.project.graph.walk() if self.role(b) == "loss"]

    def add_order(self) -> int | None:
        """Append an order (its optimizer copied from the last one); returns its index."""
        import copy

        index = max((o.index for o in self.project.orders), default=0) + 1
        last = self.project.orders[-1].optimizer if self.project.orders else OptimizerSettings()
        orders = [*copy.deepcopy(self.project.orders), Order(index, f"order {index}", copy.deepcopy(last))]
        edit = SetOrders(orders)
        edit.label = f"add order {index}"
        if not self.do(edit):
            return None
        self.say(f"added order {index}; no input emits in it until an Input lists {index} in its orders")
        return index

    def remove_order(self, order_index: int) -> bool:
        """Remove an order; refused while inputs emit in it, or when it is the only one."""
        users = self.input_names(order_index)
        if users:
            self.say(f"cannot remove order {order_index}: {', '.join(users)} still emit in it; "
                     f"remove {order_index} from their orders first")
            return False
        if len(self.project.orders) <= 1:
            self.say("cannot remove the only order: a project needs at least one")
            return False
        orders = [o for o in self.project.orders if o.index != order_index]
        if len(orders) == len(self.project.orders):
            self.say(f"there is no order {order_index}")
            return False
        edit = SetOrders(orders)
        edit.label = f"remove order {order_index}"
        return self.do(edit)


def _ints(value: Any) -> list[int]:
    """An Input's ``orders`` param as ints (a hand-edited file may hold anything: the engine
    names the bad value; here only the usable orders count, as in ``engine/plan.input_orders``)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [v for v in items if type(v) is int and 1 <= v <= MAX_ORDER_INDEX]


MAX_ORDER_INDEX = 1000  # as the Input's ``orders`` param allows
