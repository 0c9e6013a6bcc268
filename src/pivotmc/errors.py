"""Exceptions raised for bad input, before any simulation runs."""


class ValidationError(ValueError):
    """A value is outside what pivotmc accepts.

    The message names the parameter (``section.key`` for scenario settings)
    and what is allowed, in one sentence.
    """


class ParameterTypeError(ValidationError, TypeError):
    """A value has the wrong type (a string where a number is required, ...).

    It is both a :class:`TypeError` and a :class:`ValidationError`, so callers
    can catch every input problem with ``except ValueError``.
    """


class BackendUnavailableError(ValidationError):
    """The requested backend is known but cannot run here (missing package or device)."""


class CalibrationWarning(UserWarning):
    """Calibration went ahead, but something about the data or the fit deserves a look.

    Gaps in a series, a model left out for lack of observations, an estimate
    on the boundary of its range: the message says what and what was done.
    """


def require_dataset(ds, variables: tuple[str, ...], made_by: str, argument: str = "ds") -> None:
    """Check that ``ds`` is an xarray Dataset holding ``variables``, as ``made_by`` returns: else one sentence."""
    if not hasattr(ds, "data_vars") or not hasattr(ds, "attrs"):
        raise ParameterTypeError(f"{argument} must be an xarray Dataset returned by {made_by}, got {type(ds).__name__}.")
    missing = [name for name in variables if name not in ds.variables]
    if missing:
        raise ValidationError(
            f"{argument} is not a result of {made_by}: it has no {', '.join(repr(m) for m in missing)} variable"
            f"{'s' if len(missing) > 1 else ''}."
        )
