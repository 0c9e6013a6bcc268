"""Every constant the kernels share with Python has one source: pivotmc.backends.kernel_constants.

The CUDA sources get each as a generated ``-D`` option and refuse to compile without them; the
Numba kernels import them. No kernel source (CUDA, Numba, or the reference backend, which is
their specification) may type a copy: the tests below read the sources for one.
"""

from __future__ import annotations

import ast
import re
import subprocess

import cuda_harness as H
import numpy as np
import pytest

from pivotmc import random as rng
from pivotmc.backends import cuda, fastmath, kernel_constants
from pivotmc.backends.kernel_constants import GROWTH_TABLE_SIZE

_BACKENDS = H.ROOT / "src" / "pivotmc" / "backends"
PYTHON_KERNELS = [*sorted((_BACKENDS / "_cpu_kernels").glob("*.py")), _BACKENDS / "reference.py", _BACKENDS / "reference_steps.py"]
#: Literals that are arithmetic, not copies (halving, doubling, one), though some coefficient equals them.
ARITHMETIC = {0.0, 0.5, 1.0, 2.0}
_NUMBER = re.compile(r"(?<![\w.])(0[xX][0-9a-fA-F]+|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)([uUlLfF]*)(?![\w.])")
_COEF = re.compile(r"PIVOTMC_COEF\(\(?([^()]+)\)?\)")


def parse_option(option: str) -> tuple[str, int | float | tuple[float, ...]]:
    """Name (without the prefix) and value of a generated ``-D`` option, read as a C compiler would."""
    assert option.startswith("-DPIVOTMC_"), option
    name, _, text = option.removeprefix("-DPIVOTMC_").partition("=")
    if text.startswith("PIVOTMC_COEF("):
        assert re.fullmatch(r"(?:PIVOTMC_COEF\(\(?[^(),]+\)?\))+", text), option
        return name, tuple(float(c) for c in _COEF.findall(text))
    literal = text[1:-1] if text.startswith("(") else text
    if re.fullmatch(r"\d+(u|ull)?", literal):
        return name, int(literal.rstrip("ul"))
    return name, float(literal)


def _c_code(text: str) -> str:
    """C source without comments and string literals."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def _c_numbers(text: str) -> list[tuple[str, int | float]]:
    numbers = []
    for match in _NUMBER.finditer(_c_code(text)):
        literal = match.group(1)
        if literal.lower().startswith("0x"):
            numbers.append((match.group(0), int(literal, 16)))
        elif re.search(r"[.eE]", literal):
            numbers.append((match.group(0), float(literal)))
        else:
            numbers.append((match.group(0), int(literal)))
    return numbers


def _python_numbers(text: str) -> list[tuple[str, int | float]]:
    return [
        (f"line {node.lineno}: {node.value!r}", node.value)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and type(node.value) in (int, float)
    ]


def _shared_values() -> tuple[set[float], set[int]]:
    """Values no kernel source may type: every shared float and coefficient, and the distinctive integers."""
    floats, ints = set(), {GROWTH_TABLE_SIZE}
    for value in kernel_constants.constants().values():
        if isinstance(value, tuple):
            floats |= {abs(c) for c in value}
        elif isinstance(value, float):
            floats.add(abs(value))
        elif value >= 100 and value & (value + 1):  # small integers and all-ones masks are everyday arithmetic
            ints.add(value)
    return floats - ARITHMETIC, ints


# --------------------------------------------------------------------------
# The options
# --------------------------------------------------------------------------


def test_every_shared_constant_reaches_cuda_as_an_option_that_reads_back_exactly():
    options = cuda.layout_defines(3, cloud=True)
    parsed = dict(parse_option(o) for o in options)
    assert len(parsed) == len(options), "an option is generated twice"
    assert parsed.pop("N_STRATEGIES") == 3
    assert parsed.pop("CLOUD") == 1  # the kernel's variant, with the cloud's code
    assert dict(parse_option(o) for o in cuda.layout_defines(3))["CLOUD"] == 0
    shared = kernel_constants.constants()
    for name, value in shared.items():
        got = parsed.pop(name)
        assert type(got) is type(value) and got == value, (name, got, value)
        if isinstance(value, tuple):
            assert parsed.pop(f"{name}_COUNT") == len(value), name
    assert parsed == {}, f"options without a Python source: {sorted(parsed)}"
    # All that pivotmc.random and pivotmc.backends.fastmath export is shared.
    exported = {n for n in rng.__all__ if isinstance(getattr(rng, n), (int, float, tuple))}
    assert exported <= set(shared) and set(fastmath.constants()) <= set(shared)
    assert set(kernel_constants.rng_constants()) == exported


def test_integers_are_c_literals_of_their_width_and_negative_floats_are_parenthesised():
    for option in cuda.layout_defines(3):
        name, value = parse_option(option)
        text = option.partition("=")[2]
        if isinstance(value, int):
            assert text == f"{value}{'' if value < 2**31 else 'u' if value < 2**32 else 'ull'}", option
        elif isinstance(value, float) and value < 0:
            assert text == f"({value!r})", option
        assert "," not in text, f"nvcc would split {option} at its commas"


def test_the_header_groups_come_from_their_own_sources():
    rng_names = {parse_option(o)[0] for o in cuda.rng_defines()}
    math_names = {parse_option(o)[0] for o in cuda.math_defines()}
    assert {"RNG_LAYOUT_VERSION", "PHILOX_ROUNDS", "UNIFORM_BITS", "AS241_A", "AS241_SPLIT1"} <= rng_names
    assert {"EXP_COEF", "EXP_COEF_COUNT", "LOG_COEF", "EXP_MIN_ARG", "LN2_HI"} <= math_names
    assert not rng_names & math_names
    everything = {parse_option(o)[0] for o in cuda.layout_defines(2)}
    assert rng_names | math_names <= everything


def test_the_numba_cache_fingerprint_covers_every_shared_constant():
    K = pytest.importorskip("pivotmc.backends._cpu_kernels")
    shared = kernel_constants.constants()
    assert K.layout_fingerprint(shared) == K.LAYOUT_FINGERPRINT
    for name, value in shared.items():
        if isinstance(value, tuple):
            changed = (*value[:-1], np.nextafter(value[-1], np.inf))
        elif isinstance(value, float):
            changed = float(np.nextafter(value, np.inf))
        else:
            changed = value + 1
        assert K.layout_fingerprint({**shared, name: changed}) != K.LAYOUT_FINGERPRINT, name


# --------------------------------------------------------------------------
# No copies in the sources
# --------------------------------------------------------------------------


def test_no_cuda_source_defines_a_shared_constant():
    sources = "".join(path.read_text() for path in H.KERNEL_FILES)
    for option in cuda.layout_defines(1):
        name = parse_option(option)[0]
        assert not re.search(rf"#\s*define\s+PIVOTMC_{name}\b", sources), f"PIVOTMC_{name} is typed into a kernel source"


@pytest.mark.parametrize("path", H.KERNEL_FILES + PYTHON_KERNELS, ids=lambda p: p.name)
def test_no_kernel_source_types_a_shared_value(path):
    floats, ints = _shared_values()
    text = path.read_text()
    numbers = _python_numbers(text) if path.suffix == ".py" else _c_numbers(text)
    copies = [
        where for where, value in numbers
        if (isinstance(value, float) and abs(value) in floats) or (isinstance(value, int) and value in ints)
    ]  # fmt: skip
    assert not copies, f"{path.name} types shared constants: {copies}"


def test_the_scan_finds_a_typed_copy():
    # The check above would notice the literals it exists to forbid.
    floats, ints = _shared_values()
    c_text = "x = 12.0 * y; /* 24.0 in a comment is fine */ z = r <= 5.0; n = 0xD2511F53u; w = 1e-300;"
    assert [v for _, v in _c_numbers(c_text) if isinstance(v, float) and v in floats] == [12.0, 5.0, 1e-300]
    assert [v for _, v in _c_numbers(c_text) if isinstance(v, int) and v in ints] == [rng.PHILOX_M0]
    py_text = "x = 1000.0 * h\ngrowth = np.empty(128)\nq = min(max(x, -708.0), 709.0)\n"
    found = [v for _, v in _python_numbers(py_text)]
    assert {1000.0, 708.0, 709.0} <= {abs(v) for v in found if isinstance(v, float)} <= floats
    assert GROWTH_TABLE_SIZE in [v for v in found if isinstance(v, int)]


# --------------------------------------------------------------------------
# Missing options, and the unrolled polynomials
# --------------------------------------------------------------------------


def _gxx(gxx, source, defines):
    return subprocess.run(
        [gxx, *H.GXX_FLAGS, "-fsyntax-only", *defines, str(source)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_each_cuda_source_refuses_to_compile_without_its_constants(gxx):
    model = H.TESTS / "cuda_shim_model.cpp"  # includes pivotmc_model.cu and math_check.cu
    without_math = _gxx(gxx, model, cuda.rng_defines())
    assert without_math.returncode != 0 and "math_defines" in without_math.stderr
    model_only = [o for o in cuda.layout_defines(3) if o not in set(cuda.rng_defines() + cuda.math_defines())]
    for missing in ("TINY_YEARS", "MONTHS_PER_YEAR", "HOURS_PER_YEAR", "LIMB_BITS", "WARP_SIZE", "MAX_STRATEGIES", "CLOUD",
                    "N_SCALARS", "CLOUD_SWITCH_FEATURES"):
        kept = [o for o in model_only if not o.startswith(f"-DPIVOTMC_{missing}=")]
        proc = _gxx(gxx, model, cuda.rng_defines() + cuda.math_defines() + kept)
        assert proc.returncode != 0 and "compile_options" in proc.stderr, missing
    too_many = [o for o in cuda.layout_defines(3) if not o.startswith("-DPIVOTMC_N_STRATEGIES=")]
    proc = _gxx(gxx, model, [*too_many, f"-DPIVOTMC_N_STRATEGIES={kernel_constants.MAX_STRATEGIES + 1}"])
    assert proc.returncode != 0 and "MAX_STRATEGIES" in proc.stderr


@pytest.mark.parametrize(
    "source,polynomials",
    [("math_check.cu", ("EXP_COEF", "LOG_COEF")), ("rng_check.cu", tuple(f"AS241_{x}" for x in "ABCDEF"))],
    ids=["exp-log", "ndtri"],
)
def test_coefficient_loops_unroll_into_immediates(nvcc, tmp_path, source, polynomials):
    # The polynomials are loops over arrays of generated length. Unrolled, every Horner step is a
    # multiply of its own and the arrays vanish into immediates; a loop left rolled would index its
    # array in local memory.
    ptx, _ = H.nvcc_ptx(H.KERNELS / source, tmp_path / "x.ptx", "sm_90")
    assert ".local" not in ptx and "ld.const" not in ptx
    shared = kernel_constants.constants()
    steps = sum(len(shared[name]) - 1 for name in polynomials)
    assert len(re.findall(r"\bmul\.rn\.f64\b", ptx)) >= steps
