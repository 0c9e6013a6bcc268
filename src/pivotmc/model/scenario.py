"""The scenario: every setting of a simulation, typed, immutable and validated.

A :class:`Scenario` is a tree of frozen dataclasses, one per TOML section
(:mod:`pivotmc.model.sections`). Each parameter carries its unit, a one-line
description and the range it accepts in its field metadata
(:mod:`pivotmc.model.parameters`); that one table drives validation, the
commented TOML that ``pivotmc scenario`` prints (:mod:`pivotmc.model.scenario_toml`),
and the error messages. Parameters are named ``"section.key"`` in overrides
(:mod:`pivotmc.model.names`).

Defaults follow the pivotmc model specification (see the README's model
summary). Units are in the names where they fit (``grid_mw``,
``capex_per_it_mw``) and in the metadata otherwise.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from pivotmc.errors import ParameterTypeError, ValidationError
from pivotmc.model.factors import FACTORS
from pivotmc.model.names import set_dotted, split_dotted, suggest
from pivotmc.model.parameters import (
    ANY,
    FRACTION,
    NONNEG,
    POSITIVE,
    SPEED,
    VOLATILITY,
    Bound,
    ParameterSection,
    param,
)
from pivotmc.model.scenario_toml import toml_document
from pivotmc.model.sections import (
    DEFAULT_CORRELATIONS,
    DEFAULT_STRATEGIES,
    MAX_HORIZON_YEARS,
    SECTION_TYPES,
    STEP_NAMES,
    BtcSettings,
    CorrelationSettings,
    FeesSettings,
    HashrateSettings,
    HostingSettings,
    GpuSettings,
    CloudSettings,
    MiningSettings,
    PowerSettings,
    ProtocolSettings,
    SimulationSettings,
    SiteSettings,
    StrategySettings,
    SwitchSettings,
    TerminalSettings,
)
from pivotmc.model.strategies import STRATEGIES

if TYPE_CHECKING:
    import tomlkit

__all__ = [
    "Scenario",
    "SimulationSettings",
    "ProtocolSettings",
    "BtcSettings",
    "FeesSettings",
    "HashrateSettings",
    "PowerSettings",
    "HostingSettings",
    "GpuSettings",
    "CloudSettings",
    "SiteSettings",
    "MiningSettings",
    "CorrelationSettings",
    "StrategySettings",
    "SwitchSettings",
    "TerminalSettings",
    "FACTORS",
    "STRATEGIES",
    "MAX_HORIZON_YEARS",
    "STEP_NAMES",
    "DEFAULT_CORRELATIONS",
    "DEFAULT_STRATEGIES",
    "Bound",
    "param",
    "ParameterSection",
    "ANY",
    "FRACTION",
    "NONNEG",
    "POSITIVE",
    "SPEED",
    "VOLATILITY",
]


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a simulation needs besides the number of paths, the seed and the backend.

    Build one with :meth:`default`, :meth:`from_toml`, :meth:`from_dict` or
    :meth:`with_overrides`; every constructor validates, so a ``Scenario`` that
    exists is valid. It is immutable and hashable.

    Examples
    --------
    >>> s = Scenario.default().with_overrides({"btc.sigma": 0.7, "site.grid_mw": 150})
    >>> s.btc.sigma, s.site.grid_mw
    (0.7, 150.0)
    """

    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    btc: BtcSettings = field(default_factory=BtcSettings)
    fees: FeesSettings = field(default_factory=FeesSettings)
    hashrate: HashrateSettings = field(default_factory=HashrateSettings)
    power: PowerSettings = field(default_factory=PowerSettings)
    hosting: HostingSettings = field(default_factory=HostingSettings)
    gpu: GpuSettings = field(default_factory=GpuSettings)
    cloud: CloudSettings = field(default_factory=CloudSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    mining: MiningSettings = field(default_factory=MiningSettings)
    correlation: CorrelationSettings = field(default_factory=CorrelationSettings)
    strategies: StrategySettings = field(default_factory=StrategySettings)
    switch: SwitchSettings = field(default_factory=SwitchSettings)
    terminal: TerminalSettings = field(default_factory=TerminalSettings)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = SECTION_TYPES[f.name]
            if not isinstance(value, expected):
                raise ParameterTypeError(f"Scenario.{f.name} must be a {expected.__name__}, got {type(value).__name__}.")
        spy = self.simulation.steps_per_year
        if self.hashrate.speed > spy:
            # The error-correction step moves ln H by speed*dt of the gap: beyond 1 it overshoots.
            raise ValidationError(
                f"hashrate.speed = {self.hashrate.speed!r} is not allowed at {spy} steps per year: "
                f"it must be at most {spy} (speed x step length <= 1)."
            )
        if self.switch.decisions_per_year > spy:
            raise ValidationError(
                f"switch.decisions_per_year = {self.switch.decisions_per_year!r} is not allowed at {spy} steps per year: "
                f"decisions fall on step boundaries, so there can be at most {spy} a year."
            )
        refresh_steps = self.mining.refresh_years * self.simulation.steps_per_year
        if abs(refresh_steps - round(refresh_steps)) > 1e-9 * max(1.0, refresh_steps):
            raise ValidationError(
                f"mining.refresh_years = {self.mining.refresh_years!r} is not allowed: it must be a whole number "
                f"of steps at {self.simulation.steps_per_year} steps per year."
            )

    # -- constructors ------------------------------------------------------ #
    @classmethod
    def default(cls) -> Scenario:
        """The scenario of the model specification: a 100 MW site, 15 years, monthly steps."""
        return cls()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build from nested mappings ``{section: {key: value}}``; missing keys take defaults.

        Unknown sections or keys raise :class:`ValidationError`: a typo is never ignored.
        """
        if not isinstance(data, Mapping):
            raise ParameterTypeError(f"a scenario must be a mapping of sections, got {type(data).__name__}.")
        sections = {}
        for name, values in data.items():
            if name not in SECTION_TYPES:
                raise ValidationError(
                    f"unknown scenario section [{name}]; the sections are: {', '.join(SECTION_TYPES)}."
                )
            if not isinstance(values, Mapping):
                raise ParameterTypeError(f"[{name}] must be a table of parameters, got {type(values).__name__}.")
            section_type = SECTION_TYPES[name]
            known = [f.name for f in fields(section_type)]
            for key in values:
                if key not in known:
                    raise ValidationError(f"unknown parameter {name}.{key}{suggest(key, known)}; [{name}] has: {', '.join(known)}.")
            sections[name] = section_type(**values)
        return cls(**sections)

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read a scenario from a TOML file (sections and keys as :meth:`to_toml` writes them)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read scenario file {str(path)!r}: {exc.strerror or exc}.") from None
        except UnicodeDecodeError:
            raise ValidationError(f"{str(path)!r} is not a scenario: a scenario is a TOML text file (pivotmc scenario > my.toml).") from None
        return cls.from_toml_string(text, source=str(path))

    @classmethod
    def from_toml_string(cls, text: str, source: str = "<string>") -> Scenario:
        """Parse a scenario from TOML text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"{source} is not valid TOML: {exc}.") from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new validated scenario with dotted parameters replaced.

        Keys are ``"section.key"`` (``"btc.sigma"``, ``"site.grid_mw"``). For the
        correlation matrix, ``"correlation.btc_fees"`` sets both symmetric
        entries of a pair; ``"correlation.matrix"`` replaces it whole.
        """
        if not isinstance(overrides, Mapping):
            raise ParameterTypeError(f"overrides must be a mapping of 'section.key' to value, got {type(overrides).__name__}.")
        data = self.to_dict()
        for dotted, value in overrides.items():
            set_dotted(data, dotted, value)
        return Scenario.from_dict(data)

    def value(self, dotted: str) -> Any:
        """The value of a parameter named ``"section.key"`` (``"btc.sigma"``, ``"correlation.btc_fees"``).

        An unknown name raises :class:`ValidationError` naming the nearest known one.
        """
        section, key = split_dotted(self.to_dict(), dotted)
        if section == "correlation" and key != "matrix":
            a, _, b = key.partition("_")
            return self.correlation.pair(a, b)
        return getattr(getattr(self, section), key)

    # -- serialisation ----------------------------------------------------- #
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dictionaries ``{section: {key: value}}`` (tuples stay tuples)."""
        return {f.name: getattr(self, f.name).to_dict() for f in fields(self)}

    def to_toml(self, comments: bool = True) -> str:
        """The scenario as TOML text; ``Scenario.from_toml_string(s.to_toml()) == s`` exactly.

        With ``comments`` each section is preceded by what it is and each parameter
        followed by its unit and meaning.
        """
        import tomlkit

        return tomlkit.dumps(self.to_toml_document(comments))

    def to_toml_document(
        self,
        comments: bool = True,
        *,
        header: Sequence[str] = (),
        notes: Mapping[str, Sequence[str]] | None = None,
    ) -> tomlkit.TOMLDocument:
        """The scenario as a :mod:`tomlkit` document: the one TOML writer, which :meth:`to_toml` prints.

        ``header`` lines open the document as comments; ``notes`` maps a dotted
        parameter name (``"btc.sigma"``) to comment lines put just above it. Lines
        are given without their ``#``.
        """
        return toml_document(self, comments, header=header, notes=notes)

    # -- derived quantities ------------------------------------------------- #
    @property
    def n_steps(self) -> int:
        """Number of time steps."""
        return self.simulation.n_steps
