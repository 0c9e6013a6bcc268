"""How results name their standard errors: the figure's name with ``_se`` appended, everywhere."""

from __future__ import annotations

import re

#: A standard error: ``<figure>_se``, or ``<figure>_se_unpaired`` for the error independent runs would have.
STANDARD_ERROR = re.compile(r"\w+_se(_unpaired)?")


def assert_standard_errors_end_in_se(ds) -> None:
    """Every variable whose long name says it is a standard error is named so, and no other is."""
    for name, var in ds.data_vars.items():
        says = "standard error" in var.attrs.get("long_name", "")
        assert says == bool(STANDARD_ERROR.fullmatch(str(name))), (name, var.attrs.get("long_name"))
        assert "std_err" not in str(name) and "stderr" not in str(name), name
