"""One self-contained HTML page of a result: summary, figures, scenario, provenance.

The page is written for a reader who did not run the model: every figure has a
caption that says what it shows, the summary's risk figures are explained in
words, the scenario is printed with the units and meanings of its parameters
(as ``pivotmc scenario`` prints it) and the parameters that differ from the
defaults are listed, and the provenance reads as sentences of numbers with
their units. Where the result values the switch strategy, the page shows when
it converts and its exercise boundary, or says why a figure has nothing to draw.

Images are embedded as base64 PNG and styles are inline, so the page needs no
network and can be mailed or archived as a single file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path

import numpy as np
import xarray as xr

from pivotmc.analysis import plots
from pivotmc.analysis.report_style import _CHECK, _STYLE
from pivotmc.analysis.summary import format_summary, summarize
from pivotmc.errors import ValidationError
from pivotmc.model.factors import FAN_CHART_VARIABLES, KEPT_VARIABLES
from pivotmc.model.scenario import STEP_NAMES
from pivotmc.model.strategies import learned_strategy, spec

__all__ = ["render_report", "write_report"]

_BACKEND_WORDS = {
    "cpu": "CPU (cpu backend: Numba kernels)",
    "cuda": "GPU (cuda backend: CUDA C through CuPy)",
    "reference": "CPU (reference backend: plain NumPy)",
}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _e(text) -> str:
    return html.escape(str(text))


# --------------------------------------------------------------------------- #
# Number formats
# --------------------------------------------------------------------------- #
def _count(value) -> str:
    return f"{int(value):,}"


def _usd_m(value, decimals: int = 2) -> str:
    return f"{float(value) / 1e6:,.{decimals}f} USD m"


def _percent(value) -> str:
    return f"{float(value) * 100:.4g}%"


def _when(text) -> str:
    """An ISO timestamp as '2 December 2026, 07:23 UTC' (the text as given where it is not one)."""
    try:
        moment = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return str(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return f"{moment.day} {moment:%B %Y, %H:%M}" + (" UTC" if moment.tzinfo is not None else "")


def _day(value) -> str:
    """A date as '1 January 2026'."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[D]").item()
    return f"{value.day} {value:%B %Y}"


def _plain(value) -> str:
    """A setting or attribute: integers with thousands separators, floats to 6 significant digits, lists of them."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return f"{x:,.0f}" if abs(x) >= 1e5 and x == round(x) else f"{x:,.6g}"
    return str(value)


# --------------------------------------------------------------------------- #
# Scenario
# --------------------------------------------------------------------------- #
def _scenario_of(ds: xr.Dataset):
    """The Scenario a result recorded, or None where it recorded none this version can read."""
    from pivotmc.model.scenario import Scenario

    text = ds.attrs.get("scenario")
    if not text:
        return None
    try:
        return Scenario.from_toml_string(str(text), source="the result's scenario")
    except ValidationError:
        return None


def _differences(scenario) -> list[tuple[str, object, object]]:
    """(section.key, value, default) of every parameter that differs from the built-in default."""
    from pivotmc.model.scenario import FACTORS, Scenario

    base = Scenario.default().to_dict()
    out = []
    for section, values in scenario.to_dict().items():
        for key, value in values.items():
            default = base[section][key]
            if default == value:
                continue
            if section == "correlation" and key == "matrix":  # name the pairs, as overrides do: correlation.btc_fees
                for i, a in enumerate(FACTORS):
                    for j in range(i + 1, len(FACTORS)):
                        if value[i][j] != default[i][j]:
                            out.append((f"correlation.{a}_{FACTORS[j]}", value[i][j], default[i][j]))
                continue
            out.append((f"{section}.{key}", value, default))
    return out


def _scenario_section(ds: xr.Dataset) -> list[str]:
    scenario = _scenario_of(ds)
    if scenario is None:
        recorded = ds.attrs.get("scenario")
        note = ("The result records no scenario." if not recorded else
                "The result's scenario cannot be read by this version of pivotmc; it is shown as recorded, without units.")
        return [f"<p class='caption'>{_e(note)}</p>"] + ([f"<pre class='scenario'>{_e(recorded)}</pre>"] if recorded else [])
    changed = _differences(scenario)
    parts = []
    if changed:
        rows = "".join(
            f"<tr><th>{_e(name)}</th><td class='num'>{_e(_plain(value))}</td><td class='num'>{_e(_plain(default))}</td>"
            f"<td>{_e(plots.parameter_unit(name))}</td></tr>"
            for name, value, default in changed
        )
        parts.append(
            f"<p class='caption'>{len(changed)} parameter{'s' if len(changed) > 1 else ''} differ{'' if len(changed) > 1 else 's'} "
            "from pivotmc's built-in defaults (highlighted in the full scenario below):</p>"
            f"<table class='facts'><tr><th>parameter</th><th>this run</th><th>default</th><th>unit</th></tr>{rows}</table>"
        )
    else:
        parts.append("<p class='caption'>Every parameter is at pivotmc's built-in default.</p>")
    parts.append(
        "<p class='caption'>The full scenario, with each parameter's unit in brackets and its meaning; saved as a .toml file "
        "it reruns this case (<code>pivotmc run scenario.toml</code>).</p>"
    )
    names = {name for name, _, _ in changed}
    lines, section = [], ""
    for line in scenario.to_toml(comments=True).splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]") and "=" not in stripped:
            section = stripped[1:-1]
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith(("#", " ")) else None
        marked = key is not None and (f"{section}.{key}" in names or (section == "correlation" and any(
            n.startswith("correlation.") for n in names)))
        if line.startswith("#"):
            text = f"<i>{_e(line)}</i>"
        elif " # " in line:
            setting, _, note = line.partition(" # ")
            text = f"{_e(setting)} <i># {_e(note)}</i>"
        else:
            text = _e(line)
        lines.append(f"<b>{text}</b>" if marked else text)
    parts.append(f"<pre class='scenario'>{chr(10).join(lines)}</pre>")
    return parts


# --------------------------------------------------------------------------- #
# Provenance
# --------------------------------------------------------------------------- #
_SKIP = {"title", "scenario", "rng_layout_version", "switch_learning_seed", "switch_learning_backend"}


def _paths_text(n, ds) -> str:
    kept = ds.sizes.get("kept_path", 0)
    return _count(n) + (f" ({_count(kept)} kept for the fan charts)" if kept else "")


def _rng_text(name, ds) -> str:
    version = ds.attrs.get("rng_layout_version")
    return f"{name}" + (f", stream layout version {int(version)}" if version is not None else "")


def _learning_text(n, ds) -> str:
    a = ds.attrs
    text = f"{_count(n)} separate paths"
    if "switch_learning_seed" in a:
        text += f", seed {int(a['switch_learning_seed'])}"
    if a.get("switch_learning_backend") is not None:
        text += f", {a['switch_learning_backend']} backend"
    return text


#: Provenance rows from the result's attributes, in order: (attribute, label, text of its value).
_ATTRIBUTE_ROWS = (
    ("n_paths", "Simulated paths", _paths_text),
    ("seed", "Random seed", lambda v, ds: str(int(v))),
    ("rng", "Random numbers", _rng_text),
    ("backend", "Computed on", lambda v, ds: _BACKEND_WORDS.get(str(v), str(v))),
    ("switch_learning_paths", "Switch policy learned on", _learning_text),
    ("switch_in_sample_gain", "Switch policy's gain over mining on its learning paths",
     lambda v, ds: f"{_usd_m(v)} (biased upwards: a diagnostic, not a value)"),
    ("hashrate_markup", "Miners' entry markup (phi)",
     lambda v, ds: f"{float(v):.3f}: revenue / power cost at which new miners stop entering the network"),
    ("stopped_because", "Run stopped because", lambda v, ds: str(v)),
    ("target_precision", "Target precision", lambda v, ds: f"{_percent(v)} of each mean NPV (95% half-width)"),
    ("absolute_floor", "Precision floor", lambda v, ds: _usd_m(v)),
    ("created", "Created", lambda v, ds: _when(v)),
    ("pivotmc_version", "pivotmc version", lambda v, ds: str(v)),
    ("Conventions", "File metadata conventions", lambda v, ds: str(v)),
)


def _provenance(ds: xr.Dataset) -> list[tuple[str, str]]:
    """(what, value) rows: how the result was made, every number with its unit."""
    a = ds.attrs
    rows: list[tuple[str, str]] = []
    scenario = _scenario_of(ds)
    if scenario is not None:
        sim = scenario.simulation
        months = sim.horizon_years * 12.0
        start = np.datetime64(sim.start, "D")
        if abs(months - round(months)) < 1e-9:  # whole months: the calendar date the horizon ends on
            end = np.datetime64(sim.start, "M") + np.timedelta64(int(round(months)), "M")
            end_text = _day(end.astype("datetime64[D]") + (start - np.datetime64(sim.start, "M").astype("datetime64[D]")))
        else:
            end_text = "about " + _day(start + np.timedelta64(int(round(sim.horizon_years * 365.25)), "D"))
        step = STEP_NAMES.get(sim.steps_per_year, f"{sim.steps_per_year} a year")
        rows.append(("Valuation date", _day(start)))
        rows.append(("Horizon", f"{sim.horizon_years:g} years, to {end_text}: {scenario.n_steps:,} {step} steps"))
        rows.append(("Discount rate", f"{_percent(sim.discount_rate)} a year"))
        rows.append(("Strategies valued", ", ".join(str(s) for s in ds.strategy.values)))
    handled = set(_SKIP)
    for key, label, text in _ATTRIBUTE_ROWS:
        if key in a:
            rows.append((label, text(a[key], ds)))
            handled.add(key)
    for key, value in a.items():
        if key not in handled:
            rows.append((key.replace("_", " "), _plain(value)))
    return rows


# --------------------------------------------------------------------------- #
# Words around the figures
# --------------------------------------------------------------------------- #
def _reading(summary: xr.Dataset) -> list[str]:
    """How to read the summary: its columns, and VaR/CVaR as losses, with this result's numbers."""
    level = float(summary.attrs.get("level", 0.95))
    pct = f"{level * 100:g}"
    tail = f"{(1.0 - level) * 100:.6g}"
    rows = [f"<b>{_e(n)}</b>: {_e(d.long_name)}" for n in summary.strategy.values if (d := spec(str(n))) is not None]
    items = ["The rows: " + "; ".join(rows) + "."] if rows else []
    items += [
        "<b>mean ± SE</b>: the average NPV over the simulated paths, ± its Monte Carlo standard error "
        "(how precisely the average is known, not how risky the strategy is).",
        "<b>sd</b>: how widely NPV varies from path to path. <b>P5, P50, P95</b>: the NPV that 5%, 50% and 95% of paths fall below.",
        f"<b>VaR{pct}</b> (value at risk) is a loss: the strategy loses this much or more on the worst {tail}% of paths "
        f"(the {tail}th percentile of NPV, with its sign flipped). <b>CVaR{pct}</b> (expected shortfall) is the average loss "
        f"on those worst {tail}% of paths, so it is never below VaR{pct}. A negative figure is a gain: a negative VaR "
        f"means the strategy makes money on at least {100 - float(tail):g}% of its paths, a negative CVaR that even its worst "
        f"{tail}% make money on average.",
    ]
    var = summary["var"].values / 1e6
    cvar = summary["cvar"].values / 1e6
    cases = []
    for name, v, c in zip(summary.strategy.values, var, cvar):
        first = (f"loses USD {v:,.1f} m or more on its worst {tail}% of paths" if v > 0
                 else f"makes at least USD {-v:,.1f} m on {100 - float(tail):g}% of its paths")
        second = (f"those worst {tail}% lose USD {c:,.1f} m on average" if c > 0
                  else f"even its worst {tail}% of paths make USD {-c:,.1f} m on average")
        cases.append(f"<li><b>{_e(name)}</b> {first} (VaR{pct} = {v:,.1f}); {second} (CVaR{pct} = {c:,.1f}).</li>")
    items.append(f"In this result:<ul>{''.join(cases)}</ul>")
    items.append("<b>P(loss)</b>: the share of paths on which the strategy's NPV is negative.")
    return ["<ul class='reading'>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"]


def _caption(text: str) -> str:
    return f"<p class='caption'>{_e(text)}</p>"


def _figure(caption: str, fig, heading: str = "h2") -> str:
    return f"<{heading}>{_e(caption)}</{heading}><img alt='{_e(caption)}' src='data:image/png;base64,{_png(fig)}'>"


def _sensitivity_section(ds: xr.Dataset, sens: xr.Dataset) -> list[str]:
    a = sens.attrs
    rel = float(a.get("rel_shock", np.nan))
    n = a.get("n_paths")
    shock = f"{rel * 100:g}%" if np.isfinite(rel) else "a fixed share"
    intro = (
        f"Each parameter is moved {shock} down and {shock} up from its base value, one at a time, with everything else "
        "as in the base case"
        + (f", and each shocked case is simulated on the same {_count(n)} paths (seed {int(a.get('seed', 0))}) as the base case, "
           "so the change is measured path by path" if n is not None else "")
        + ". The vertical line is the base case's mean NPV; each bar runs from it to the mean NPV after the down (blue) "
        "or up (orange) shock, with the change written at its end, and the whisker is the 95% confidence interval "
        "of that change (± 1.96 standard errors). Under each parameter: its values after the down and the up shock, "
        "and its base value. Parameters with the largest effect are on top."
    )
    notes = []
    if n is not None and "n_paths" in ds.attrs and (int(n) != int(ds.attrs["n_paths"]) or a.get("seed") != ds.attrs.get("seed")):
        notes.append(f"The base means here come from the sensitivity run's own {_count(n)} paths, so they differ slightly from the summary's.")
    if "switch_policy" in a and learned_strategy([str(s) for s in sens.strategy.values]) is not None:
        notes.append(f"Switch policy under the shocks: {a['switch_policy']}.")
    if "clipped" in sens and bool(np.asarray(sens["clipped"].values, dtype=bool).any()):
        notes.append("Hatched bars and values marked * are shocks clipped to the edge of the parameter's allowed range.")
    if a.get("skipped"):
        notes.append(f"Shocks not run (outside the allowed range): {a['skipped']}.")
    parts = ["<h2>Sensitivity of mean NPV</h2>", _caption(intro + (" " + " ".join(notes) if notes else "")), "<div class='pair'>"]
    for strategy in sens.strategy.values:
        fig = plots.tornado(sens, str(strategy))
        parts.append(f"<div><img alt='Sensitivity: {_e(strategy)}' src='data:image/png;base64,{_png(fig)}'></div>")
    parts.append("</div>")
    return parts


def _spending(ds: xr.Dataset, scenario) -> str:
    """What the negative stretches of the cash-flow profile are, for the strategies the result values."""
    specs = [declared for s in ds.strategy.values if (declared := spec(str(s))) is not None]
    converting = [s.name for s in specs if s.converts_at_start]
    later = next((s.name for s in specs if s.learned), None)
    what = []
    if converting:
        what.append(f"converting the site to hosting ({' and '.join(converting)} at the start"
                    + (f", {later} on the paths where it converts)" if later else ")"))
    elif later:
        what.append(f"converting the site to hosting ({later}, on the paths where it converts)")
    if scenario is not None and any(s.mines for s in specs):
        what.append(f"a new ASIC fleet every {scenario.mining.refresh_years:g} years while the site mines")
    return f"Negative stretches are spending: {' and '.join(what)}." if what else ""


def _log_axes_note() -> str:
    """The sentence naming the default fan charts drawn on a log scale, after a space ("" if none)."""
    logged = [v.long_name for v in KEPT_VARIABLES if v.log_axis and v.variable in FAN_CHART_VARIABLES]
    if not logged:
        return ""
    return f" The {' and the '.join(logged)} {'is' if len(logged) == 1 else 'are'} on a log scale."


def _boundary_rises(ds: xr.Dataset) -> bool:
    """Whether the exercise boundary's median lease rate is higher at the last date with a boundary than at the first."""
    if "switch_boundary_lease_rate" not in ds:
        return False
    lease = np.asarray(ds["switch_boundary_lease_rate"].values, dtype=np.float64)
    rows = [row[np.isfinite(row)] for row in lease]
    rows = [row for row in rows if row.size]
    return len(rows) >= 2 and float(np.median(rows[-1])) > float(np.median(rows[0]))


def _lead(ds: xr.Dataset) -> str:
    scenario = _scenario_of(ds)
    n = ds.attrs.get("n_paths", ds.sizes.get("path"))
    bits = []
    if scenario is not None:
        sim = scenario.simulation
        bits.append(f"A {scenario.site.grid_mw:g} MW site valued over {sim.horizon_years:g} years from {_day(np.datetime64(sim.start))}")
    if n is not None:
        bits.append(f"{_count(n)} simulated paths")
    text = ", ".join(bits) + "." if bits else ""
    if scenario is not None:
        text += (f" Amounts are net present values in millions of US dollars (USD m), discounted to the valuation date "
                 f"at {_percent(scenario.simulation.discount_rate)} a year.")
    return text


def _switch_section(ds: xr.Dataset) -> list[str]:
    """The switch's conversion dates and its exercise boundary per action, or why a figure has nothing to draw."""
    actions = [str(a) for a in ds["action"].values] if "action" in ds.coords else ["host"]
    several = len(actions) > 1
    figures = [(
        "Switch dates",
        plots.switch_dates,
        ("Bars: the share of all paths on which the switch strategy converts the site from mining "
         + ("to each use (stacked, by colour)" if several else "to hosting") + " at each decision date. Line: the share "
         "converted by that date. On the other paths the site mines to the horizon."),
    )]
    figures.append((
        "Switch exercise boundary" + (": hosting" if several else ""),
        lambda d: plots.exercise_boundary(d, action="host"),
        "The learned rule for converting " + ("to hosting " if several else "") + "at a few decision dates (one line each, "
        "dark to light from early to late). At a date, with the hashprice of that date on the horizontal axis, the switch "
        + ("converts to hosting when the market lease rate is above that date's line (and hosting beats cloud there)"
           if several else "converts when the market lease rate is above that date's line and keeps mining when it is below")
        + "." + (" Later lines lie higher: with fewer years left, hosting must pay more to earn back the cost of converting."
                 if _boundary_rises(ds) else ""),
    ))
    if "cloud" in actions:
        figures.append((
            "Switch exercise boundary: cloud",
            lambda d: plots.exercise_boundary(d, action="cloud"),
            "The same rule for converting to cloud: at a date and hashprice, the switch buys GPUs and sells compute when "
            "the market GPU rental price is above that date's line (and cloud beats hosting there), the lease rate and "
            "power price held at their medians of the date.",
        ))
    out = []
    for caption, draw, words in figures:
        try:
            out += [_figure(caption, draw(ds)), _caption(words)]
        except ValidationError as exc:  # nothing to draw (no path converts): say so instead
            text = str(exc)
            out.append(f"<h2>{_e(caption)}</h2><p>{_e(text[:1].upper() + text[1:])}</p>")
    return out


def render_report(ds: xr.Dataset, sensitivity: xr.Dataset | None = None, title: str | None = None) -> str:
    """The report of a result as HTML text."""
    if "npv" not in ds:
        raise ValidationError("a report needs a simulation result with an npv variable.")
    title = title or "pivotmc report"
    summary = summarize(ds)
    scenario = _scenario_of(ds)
    n = ds.attrs.get("n_paths", ds.sizes.get("path", 0))
    step = plots._step_word(ds)
    tail = f"{(1.0 - float(summary.attrs.get('level', 0.95))) * 100:.6g}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style><script>{_CHECK}</script></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='lead'>{_e(_lead(ds))}</p>",
        "<h2>Summary</h2>",
        f"<pre>{_e(format_summary(summary))}</pre>",
        "<h3>How to read the table</h3>",
        *_reading(summary),
        _figure("NPV distribution", plots.npv_distribution(ds)),
        _caption(
            f"Left: how each strategy's NPV is spread over the {_count(n)} simulated paths (a narrow peak: NPV varies little "
            "from path to path). Right: the share of paths whose NPV is at or below each amount. The dotted vertical lines mark "
            f"each strategy's {tail}th percentile of NPV, where its curve crosses the dotted horizontal line at {tail}%: "
            "the VaR of the table with its sign flipped. The solid grey line is zero NPV."
        ),
        _figure(f"Mean cash flow per {step}", plots.cash_flow_profile(ds)),
        _caption(
            f"Each strategy's cash flow in each {step}, averaged over all paths, before discounting. " + _spending(ds, scenario)
        ),
    ]
    if "kept_path" in ds.dims and ds.sizes["kept_path"] >= 2:
        kept = ds.sizes["kept_path"]
        parts += [
            _figure("Market paths", plots.fan_charts(ds)),
            _caption(
                f"The market inputs on {_count(kept)} of the simulated paths, kept for drawing: the dark line is their median at "
                f"each date, the bands hold the middle 50% and 90% of them, and the thin grey lines are {min(5, kept)} single "
                f"paths.{_log_axes_note()}"
            ),
        ]
    if sensitivity is not None:
        parts += _sensitivity_section(ds, sensitivity)
    if "decision_date" in ds.coords:
        parts += _switch_section(ds)
    provenance = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _provenance(ds))
    parts += [
        "<h2>Scenario</h2>",
        *_scenario_section(ds),
        "<h2>Provenance</h2>",
        f"<table class='facts provenance'>{provenance}</table>",
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
