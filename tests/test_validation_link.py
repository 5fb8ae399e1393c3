"""After a params-only edit the editor sends only the edited params and gets back only the records
that changed (client/validation_link.py, engine/process/editor_document.py); what the editor sees
is always the whole answer a validation from scratch gives."""

from __future__ import annotations

import queue
from typing import Any

from engine_fixtures import registry
from test_revalidation import block, doc, from_scratch
from ui_fixtures import EXAMPLES

from dpg_blocks import protocol as m
from dpg_blocks.client.validation_link import ValidationLink
from dpg_blocks.engine.process.server import Engine
from dpg_blocks.protocol import decode, encode


class Pair:
    """An in-process engine and the editor's side of the link, passing real message bytes."""

    def __init__(self) -> None:
        self.events: queue.Queue[bytes] = queue.Queue()
        self.engine = Engine(queue.Queue(), self.events, queue.Queue(), None, {})
        self.engine.registry = registry()
        self.link, self.rid, self.sent = ValidationLink(), 0, b""

    def validate(self, d: dict[str, Any]) -> tuple[m.Validate, m.ValidationResult, m.ValidationResult | None]:
        self.rid += 1
        msg, _whole = self.link.request(d, str(EXAMPLES), self.rid)
        self.sent = encode(msg)
        self.engine.validate(decode(self.sent))
        events = [decode(self.events.get_nowait()) for _ in range(self.events.qsize())]
        (answer,) = [e for e in events if isinstance(e, m.ValidationResult)]
        return msg, answer, self.link.answer(answer)


def test_a_typed_param_goes_as_its_params_and_only_changed_records_come_back():
    pair, d = Pair(), doc()
    first_msg, first, whole = pair.validate(d)
    assert first_msg.edits is None and first.base == 0 and whole is not None
    full_size = len(pair.sent)
    d2 = doc()
    block(d2, "fc2")["params"]["out_features"] = 17
    msg, answer, whole = pair.validate(d2)
    assert msg.edits is not None and list(msg.edits) == [block(d2, "fc2")["id"]] and not msg.project
    assert len(pair.sent) < full_size / 10
    assert answer.base == first.request_id and 0 < len(answer.records) < len(first.records) / 2
    assert whole is not None and whole.records == from_scratch(d2)


def test_the_params_an_edit_changes_in_place_are_still_seen_as_changed():
    """SetParam changes the live project's params dict in place: the document sent holds its own
    copy (``project_to_dict``), or the next document would look unchanged and the edit be lost."""
    from dpg_blocks.core import SetParam
    from dpg_blocks.core.project_file import project_from_dict, project_to_dict

    pair, project = Pair(), project_from_dict(doc())
    pair.validate(project_to_dict(project))
    fc2 = next(b for b in project.graph.walk() if b.name == "fc2")
    SetParam(fc2.id, "out_features", 9).apply(project)
    msg, _answer, whole = pair.validate(project_to_dict(project))
    assert msg.edits == {fc2.id: fc2.params}
    assert whole is not None and whole.records == from_scratch(project_to_dict(project))


def test_an_engine_without_the_document_asks_for_it_whole():
    pair, d = Pair(), doc()
    pair.validate(d)
    pair.engine = Engine(queue.Queue(), pair.events, queue.Queue(), None, {})  # restarted: holds nothing
    pair.engine.registry = registry()
    d2 = doc()
    block(d2, "fc2")["params"]["out_features"] = 11
    msg, answer, whole = pair.validate(d2)
    assert msg.edits is not None and answer.resend and whole is None
    msg, answer, whole = pair.validate(d2)  # the next request goes whole
    assert msg.edits is None and whole is not None and whole.records == from_scratch(d2)


def test_superseded_edits_are_applied_before_the_newest_is_validated():
    pair, d = Pair(), doc()
    pair.validate(d)
    engine = pair.engine
    for value in (5, 6, 7):  # typed fast: only the last is validated, each relative to the one before
        d = doc()
        block(d, "fc2")["params"]["out_features"] = value
        pair.rid += 1
        engine.cmd_q.put(encode(pair.link.request(d, str(EXAMPLES), pair.rid)[0]))
    engine.handle_commands(block=False)
    events = [decode(pair.events.get_nowait()) for _ in range(pair.events.qsize())]
    (answer,) = [e for e in events if isinstance(e, m.ValidationResult)]
    assert answer.request_id == pair.rid
    whole = pair.link.answer(answer)
    assert whole is not None and whole.records == from_scratch(d)
