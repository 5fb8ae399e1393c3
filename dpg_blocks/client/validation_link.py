"""What the editor last sent the engine to validate and last heard back, so that both ways carry
only what an edit changed.

At a thousand blocks, sending the whole document for every typed parameter, and the whole list
of records back, cost more than the engine's revalidation of the edit itself (encoding, decoding
and checking some 15,000 values each way; ``benchmarks/validate_scale.py``). So after a
params-only edit the request carries only the changed blocks' params (``Validate.edits``), and
the answer only the records that changed (``ValidationResult.base``), which this merges into the
records held: the rest of the editor always sees whole answers.
"""

from __future__ import annotations

from typing import Any

from dpg_blocks import protocol as m
from dpg_blocks.core.doc_diff import param_changes


class ValidationLink:
    """The document last sent and the records last received (one engine's life long)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new engine holds nothing yet: the next request goes whole, its answer comes whole."""
        self.sent: dict[str, Any] | None = None
        self.folder = ""
        self.sent_request = 0
        self.records: dict[str, dict[str, Any]] = {}  # block id -> record, in the engine's order
        self.held = 0  # the request whose answer ``records`` is (0: none)

    def request(self, project: dict[str, Any], project_dir: str, request_id: int) -> tuple[m.Validate, m.Validate]:
        """(what to send for ``project``, the same request whole: what a restarted engine gets)."""
        # ``project`` holds copies of the params (``project_to_dict``): kept as sent, it is what the
        # next document is compared with
        whole = m.Validate(project=project, project_dir=project_dir, request_id=request_id, known=self.held)
        edits = None
        if self.sent is not None and project_dir == self.folder:
            edits = param_changes(self.sent, project)
        base = self.sent_request
        self.sent, self.folder, self.sent_request = project, project_dir, request_id
        if edits is None:
            return whole, whole
        return m.Validate(project={}, project_dir=project_dir, request_id=request_id, edits=edits, base=base,
                          known=self.held), whole

    def answer(self, msg: m.ValidationResult) -> m.ValidationResult | None:
        """The whole answer ``msg`` stands for (its records merged into those held), or None
        when it cannot be had: the engine lost the document (``resend``), or answered relative to
        records this side does not hold. The request must then go again whole."""
        if msg.resend or (msg.base and msg.base != self.held):
            self.sent, self.held, self.records = None, 0, {}
            return None
        if msg.base:
            for record in msg.records:
                self.records[record["id"]] = record
            msg = m.ValidationResult.unchecked(request_id=msg.request_id, records=list(self.records.values()),
                                               ok=msg.ok, error=msg.error)
        else:
            self.records = {r["id"]: r for r in msg.records}
        self.held = 0 if msg.error else msg.request_id
        return msg
