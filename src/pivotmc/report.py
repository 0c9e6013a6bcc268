"""One self-contained HTML page of a result: summary, figures, scenario, provenance.

Where the result values the switch strategy, the page shows when it converts
and its exercise boundary, or says why a figure has nothing to draw.

Images are embedded as base64 PNG and styles are inline, so the page needs no
network and can be mailed or archived as a single file.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import xarray as xr

from . import plots
from .analysis import format_summary, summarize
from .errors import ValidationError

__all__ = ["render_report", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
img { max-width: 100%; display: block; margin: 0.5rem 0; }
table.provenance td { padding: 0.15rem 0.8rem 0.15rem 0; vertical-align: top; font-size: 0.9rem; }
"""

# Marks the page once every image has decoded, so automated checks can tell a complete render.
_CHECK = """
window.addEventListener('load', function () {
  var ok = Array.prototype.every.call(document.images, function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'yes' : 'no');
});
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_report(ds: xr.Dataset, sensitivity: xr.Dataset | None = None, title: str | None = None) -> str:
    """The report of a result as HTML text."""
    if "npv" not in ds:
        raise ValidationError("a report needs a simulation result with an npv variable.")
    title = title or "pivotmc report"
    figures = [("NPV distribution", plots.npv_distribution(ds)), ("Mean cash flow per step", plots.cash_flow_profile(ds))]
    if "kept_path" in ds.dims and ds.sizes["kept_path"] >= 2:
        figures.append(("Market paths (kept paths)", plots.fan_charts(ds)))
    if sensitivity is not None:
        for strategy in sensitivity.strategy.values:
            figures.append((f"Sensitivity: {strategy}", plots.tornado(sensitivity, str(strategy))))
    notes = []
    if "decision_date" in ds.coords:
        for caption, draw in (("Switch dates", plots.switch_dates), ("Switch exercise boundary", plots.exercise_boundary)):
            try:
                figures.append((caption, draw(ds)))
            except ValidationError as exc:  # nothing to draw (no path converts): say so instead
                notes.append((caption, str(exc)))
    provenance = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in ds.attrs.items()
        if k != "scenario"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style><script>{_CHECK}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2>",
        f"<pre>{html.escape(format_summary(summarize(ds)))}</pre>",
    ]
    for caption, fig in figures:
        parts.append(f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' src='data:image/png;base64,{_png(fig)}'>")
    for caption, text in notes:
        parts.append(f"<h2>{html.escape(caption)}</h2><p>{html.escape(text[:1].upper() + text[1:])}</p>")
    parts += [
        "<h2>Scenario</h2>",
        f"<pre>{html.escape(str(ds.attrs.get('scenario', '(not recorded)')))}</pre>",
        "<h2>Provenance</h2>",
        f"<table class='provenance'>{provenance}</table>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(ds: xr.Dataset, path: str | Path, sensitivity: xr.Dataset | None = None) -> Path:
    """Write :func:`render_report` to ``path`` (``.html``)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValidationError(f"cannot write {str(path)!r}: a report is an .html file.")
    path.write_text(render_report(ds, sensitivity), encoding="utf-8")
    return path
