"""The scenario as commented TOML: the one writer, which ``pivotmc scenario`` and the calibration print.

Each section is preceded by the first line of its docstring and each parameter followed by its unit
and meaning (a matrix, written one row a line, has them above it), the comments in one column.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    import tomlkit
    import tomlkit.items

__all__ = ["toml_document"]


def toml_document(
    scenario: Any,
    comments: bool = True,
    *,
    header: Sequence[str] = (),
    notes: Mapping[str, Sequence[str]] | None = None,
) -> tomlkit.TOMLDocument:
    """A :class:`~pivotmc.model.scenario.Scenario` as a :mod:`tomlkit` document (see its ``to_toml_document``)."""
    import tomlkit

    notes = notes or {}
    doc = tomlkit.document()
    for line in header:
        doc.add(tomlkit.comment(line))
    if header:
        doc.add(tomlkit.nl())
    if comments:
        doc.add(tomlkit.comment("pivotmc scenario. Every parameter is optional: a missing one takes its default."))
        doc.add(tomlkit.comment("Units and meanings follow each line; see the README for the model."))
        doc.add(tomlkit.nl())
    sections = fields(scenario)
    for i, f in enumerate(sections):
        section = getattr(scenario, f.name)
        if comments and section.__doc__:
            doc.add(tomlkit.comment(section.__doc__.strip().splitlines()[0]))
        table = tomlkit.table()
        for sf in fields(section):
            item = _toml_item(getattr(section, sf.name), sf.metadata)
            note = _toml_note(sf.metadata) if comments else None
            if note is not None and "\n" in item.as_string():
                table.add(tomlkit.comment(f"{sf.name}: {note}"))
                note = None
            for line in notes.get(f"{section.section}.{sf.name}", ()):
                table.add(tomlkit.comment(line))
            if note is not None:
                item.comment(note)
                # Comments line up in one column after the shorter settings.
                item.trivia.comment_ws = " " * (max(_TOML_NOTE_COLUMN - len(f"{sf.name} = {item.as_string()}"), 0) + 1)
            table.add(sf.name, item)
        if i < len(sections) - 1:
            table.add(tomlkit.nl())
        doc.add(section.section, table)
        table.trivia.indent = ""  # the blank line before a section is the previous one's last line
    return doc


#: Column at which the comment of a one-line parameter starts, so that comments line up.
_TOML_NOTE_COLUMN = 44


def _toml_note(meta: Mapping[str, Any]) -> str:
    """A parameter's comment: its unit in brackets, then what it is."""
    unit, doc = meta.get("unit", ""), meta.get("doc", "")
    return f"[{unit}] {doc}" if unit else doc


def _toml_item(value: Any, meta: Mapping[str, Any]) -> tomlkit.items.Item:
    """A parameter's value as a TOML item: ``None`` as its word, a matrix one row a line."""
    import tomlkit

    if value is None:
        return tomlkit.item(meta["none_token"])
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        rows = tomlkit.array()
        rows.extend(list(row) for row in value)
        return rows.multiline(True)
    if isinstance(value, tuple):
        return tomlkit.item(list(value))
    return tomlkit.item(value)
