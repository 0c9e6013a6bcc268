"""The one table formatter: alignment, decimals chosen per column, NaN, wide tables, ± cells, group rows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pivotmc import text
from pivotmc.text import DASH, Span, table

NAN = math.nan


def _number(cell: str) -> float:
    return float(cell.strip().replace(",", ""))


# --- numbers ---------------------------------------------------------------------------------


def test_fixed_percent_and_significant_share_separators_signs_and_the_dash():
    assert text.fixed(1234567.891, 2) == "1,234,567.89"
    assert text.fixed(-0.25, 1, signed=True) == "-0.2" and text.fixed(3.0, 1, signed=True) == "+3.0"
    assert text.percent(0.1234) == "12.3%" and text.percent(1.0) == "100.0%"
    assert text.significant(0.002124318) == "0.002124" and text.significant(141.73) == "141.7"
    for formatted in (text.fixed(NAN, 2), text.fixed(math.inf, 0), text.percent(NAN), text.significant(NAN),
                      text.pm(NAN, 1.0, 2)):
        assert formatted == DASH


def test_exact_decimals_are_the_fewest_that_show_every_value():
    assert text.exact_decimals([140.0, 100.0]) == 0
    assert text.exact_decimals([0.5, 140.0]) == 1
    assert text.exact_decimals([0.97, 0.776, 1.0]) == 3
    assert text.exact_decimals([4.0, 19 / 6]) == 4  # a third of a step: as many as allowed
    assert text.exact_decimals([NAN, 2.5]) == 1  # NaN asks for nothing
    assert text.exact_cells([100.0, 140.5, NAN]) == ["100.0", "140.5", DASH]
    assert text.exact_cells([90000.0, 72000.0]) == ["90,000", "72,000"]


@given(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=8), st.integers(0, 4))
@settings(max_examples=100, deadline=None)
def test_exact_cells_read_back_as_the_values(units, decimals):
    values = [u / 10**decimals for u in units]
    cells = text.exact_cells(values)
    assert len({len(c.split(".")[1]) if "." in c else 0 for c in cells}) == 1  # one format for the column
    assert text.exact_decimals(values) <= decimals
    for cell, value in zip(cells, values):
        assert _number(cell) == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_standard_errors_show_two_significant_figures():
    assert text.se_decimals(0.30) == 2 and text.se_decimals(1.75) == 1 and text.se_decimals(0.0123) == 3
    assert text.se_decimals(17_755.4) == 1  # never fewer than the floor
    assert text.se_decimals(1e-12) == 8 and text.se_decimals(1e-12, cap=4) == 4
    assert text.se_decimals(0.0) == 1 and text.se_decimals(NAN, floor=2) == 2
    ses = [0.30, 1.75, 0.0, NAN]  # 0 (a deterministic column) and NaN are left out
    assert text.error_decimals(ses, by="smallest") == 2
    assert text.error_decimals(ses, by="largest") == 1
    assert text.error_decimals([0.0, NAN], floor=2) == 2
    assert text.error_decimals([1e-9, 0.5], cap=4, by="largest") == 2  # a rounding residue does not ask for more
    with pytest.raises(ValueError, match="largest"):
        text.error_decimals([1.0], by="median")


def test_pm_cells_align_the_plus_minus_and_keep_every_standard_error():
    cells = text.pm_cells([54.73, -446.304, NAN, 0.0, 2.0], [0.3, 1.754, 1.0, 0.0, NAN], 2)
    assert len({len(c) for c in cells}) == 1  # one width
    assert cells[0] == "  54.73 ± 0.30" and cells[1] == "-446.30 ± 1.75"
    assert cells[2].strip() == DASH and cells[3].strip() == "0" and cells[4].split() == ["2.00", "±", "?"]
    shown = [c for c in cells if "±" in c]
    assert len({c.index("±") for c in shown}) == 1  # the ± of a column line up (one character each)
    signed = text.pm_cells([1.0, -2.0], [0.1, 0.1], 1, signed=True)
    assert [c.strip() for c in signed] == ["+1.0 ± 0.1", "-2.0 ± 0.1"]
    assert text.pm(0.0, 0.0, 1) == "0.0 ± 0.0"  # a single value says its precision


def test_paired_cells_align_both_parts():
    cells = text.paired_cells([("1.000", "(399)"), ("-0.030", "(12)"), None], sep=" ")
    assert cells == [" 1.000 (399)", "-0.030  (12)", " " * 11 + "-"]


# --- tables ----------------------------------------------------------------------------------


def test_columns_align_under_their_header_and_rule():
    lines = table(["name", "value", "unit"], [["mine", "54.7", "USD m"], ["hybrid", "-195.8", "1"]], align="lrl")
    assert lines == [
        "name     value  unit",
        "------  ------  -----",
        "mine      54.7  USD m",
        "hybrid  -195.8  1",
    ]
    assert table(["a", "b"], [["x", "1"]], indent="  ") == ["  a  b", "  -  -", "  x  1"]


def test_numbers_of_a_column_share_their_decimals_and_line_up():
    values = [0.97, 0.776, 1.0, 12_345.5]
    lines = table(["", "value"], [[str(i), cell] for i, cell in enumerate(text.exact_cells(values))])
    rows = lines[2:]
    assert {len(row) for row in rows} == {len(lines[0])}
    assert len({row.index(".") for row in rows}) == 1  # decimal points in one column
    assert [_number(row.split()[1]) for row in rows] == values


def test_nan_cells_print_the_dash_aligned_right():
    lines = table(["", "P(loss)"], [["mine", text.percent(0.25)], ["host", text.percent(NAN)]])
    assert lines[3] == "host        -"
    assert lines[3].endswith(DASH) and len(lines[3]) == len(lines[2])


def test_wide_tables_continue_in_blocks_that_repeat_the_fixed_columns():
    header = ["", "value", *(f"s{k}" for k in range(6))]
    amounts = [[f"{(10 * r + k + 1) * 1e9:,.2f} ± {1e6:,.2f}" for k in range(6)] for r in range(3)]
    rows = ["group", *([f"row{r}", f"{r}.5", *amounts[r]] for r in range(3))]
    lines = table(header, rows, fixed_columns=2, width=80)
    assert max(len(line) for line in lines) <= 80
    blocks = "\n".join(lines).split("\n\n")
    assert len(blocks) > 1
    for block in blocks:
        block_lines = block.splitlines()
        assert block_lines[0].split()[0] == "value" and "group" in block_lines  # fixed columns and group rows repeat
        assert [line.split()[:2] for line in block_lines[3:]] == [[f"row{r}", f"{r}.5"] for r in range(3)]
    printed = "\n".join(lines)
    for r in range(3):
        for k in range(6):
            assert printed.count(" " + amounts[r][k]) == 1  # every cell once, none lost or cut
    # A column wider than the room left still gets a block of its own.
    alone = table(["", "x"], [["a", "9" * 120]], width=100)
    assert alone[2] == "a  " + "9" * 120


def test_group_rows_and_spans_run_across_the_table_wrapped_to_its_width():
    reason = "skipped: " + " ".join(["no room to shock this parameter"] * 5)
    rows = ["btc.price (base 90,000)", ["  down", "72,000", "-28.33 ± 0.20"], ["  up", Span(reason)]]
    lines = table(["", "value", "mine"], rows, width=60)
    assert lines[2] == "btc.price (base 90,000)"
    assert lines[3] == "  down  72,000  -28.33 ± 0.20"
    assert lines[4].startswith("  up    skipped: no room") and all(len(line) <= 60 for line in lines)
    assert all(line.startswith(" " * 10) for line in lines[5:])  # continued under the span, two further in
    assert " ".join(" ".join(lines[4:]).split()) == "up " + reason
    assert table(["a"], [" ".join(["word"] * 30)], width=40)[2:] == text.wrap(" ".join(["word"] * 30), width=40)


def test_rows_must_fit_the_header():
    with pytest.raises(ValueError, match="2 str cells"):
        table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="2 str cells"):
        table(["a", "b"], [["1", "2", "3"]])
    with pytest.raises(ValueError, match="align"):
        table(["a", "b"], [["1", "2"]], align="lc")


# --- notes -----------------------------------------------------------------------------------


def test_notes_wrap_at_spaces_under_their_indent():
    note = "For every pair, P(row > column) + P(column > row) + ties = 100%; switch equals mine on the paths"
    lines = text.wrap(note, indent="  ", width=50)
    assert all(len(line) <= 50 for line in lines) and lines[0].startswith("  For")
    assert all(line.startswith("    ") for line in lines[1:])
    assert " ".join(" ".join(lines).split()) == note
    path = "/a/" + "very-long-folder-name/" * 6 + "cache"  # a word longer than the width stays whole
    assert text.wrap(f"{path}: 3 learned policies", width=40) == [f"{path}:", "  3 learned policies"]
    assert text.wrap("") == [""]


def test_rewrap_keeps_each_lines_indent():
    long = "  name = 1: " + "reason " * 20
    lines = text.rewrap(["Title", long.rstrip(), "  short"], width=60)
    assert lines[0] == "Title" and lines[-1] == "  short"
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].startswith("  name = 1:") and all(line.startswith("    reason") for line in lines[2:-1])
