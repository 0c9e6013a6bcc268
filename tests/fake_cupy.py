"""A numpy stand-in for CuPy, so that the ``cuda`` backend's device path runs without a GPU.

:func:`fake_cupy` makes a module with just what :mod:`pivotmc.backends.cuda` calls:
device arrays and their transfers, ``RawModule``/``RawKernel``, events, device and
memory queries. A kernel is built from the very source text and options the backend
hands CuPy, as host C++ through tests/cuda_shim.h (see cuda_harness.py), and a launch
runs its blocks and threads one after another. Install it with
``monkeypatch.setitem(sys.modules, "cupy", fake_cupy(...))``.

Where CuPy is silent and a GPU would compute garbage, the stand-in raises: a kernel
argument whose type or width differs from the kernel's C signature, a host array
passed for a device pointer, a record (a struct passed by value, as a numpy structured
scalar) whose fields, types or layout differ from the C struct's or whose pointers
point outside device memory, a device array turned into a numpy array implicitly, a
source with an ``#include`` (NVRTC has no standard headers). Its clock counts
launched threads, one nanosecond each, so kernel timings are deterministic.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import types
import weakref
from pathlib import Path

import cuda_harness as H
import numpy as np

#: C parameter types of the project's kernels and the numpy types CuPy passes for them.
C_TYPES = {
    "double": np.float64, "float": np.float32, "int": np.int32, "unsigned int": np.uint32,
    "short": np.int16, "unsigned short": np.uint16, "long long": np.int64, "unsigned long long": np.uint64,
    "char": np.int8, "signed char": np.int8, "unsigned char": np.uint8, "bool": np.bool_,
}  # fmt: skip
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')
#: Options of the backend's NVRTC builds that a host build has no use for (register cap, dialect).
_DEVICE_ONLY = re.compile(r"--maxrregcount=\d+|-std=c\+\+\d+")
_NS_PER_THREAD = 1


class DeviceArray:
    """An array in "device memory": numpy inside, reachable only as CuPy's arrays are."""

    def __init__(self, data: np.ndarray, memory: DeviceMemory | None = None) -> None:
        self._data = data
        if memory is not None:  # an allocation, not a view
            memory.allocate(self, data.nbytes)

    dtype = property(lambda self: self._data.dtype)
    shape = property(lambda self: self._data.shape)
    size = property(lambda self: self._data.size)
    nbytes = property(lambda self: self._data.nbytes)
    ndim = property(lambda self: self._data.ndim)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def data(self) -> types.SimpleNamespace:
        """The device memory, as CuPy's ``MemoryPointer``: its address is ``ptr``."""
        return types.SimpleNamespace(ptr=self._data.ctypes.data)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed: use .get() for a host copy.")

    def __getitem__(self, key) -> DeviceArray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"the stand-in supports contiguous slices only, got {key!r}")
        return DeviceArray(self._data[key])

    def view(self, dtype) -> DeviceArray:
        return DeviceArray(self._data.view(dtype))

    def reshape(self, *shape) -> DeviceArray:
        return DeviceArray(self._data.reshape(*shape))

    def sum(self, axis=None) -> DeviceArray:
        return DeviceArray(np.asarray(self._data.sum(axis=axis)))

    def fill(self, value) -> None:
        self._data.fill(value)

    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """A host copy, into ``out`` when given (which must match, as CuPy demands)."""
        if out is None:
            return np.array(self._data, order=order)
        if not isinstance(out, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be obtained from cupy.ndarray, got {type(out).__name__}")
        if out.dtype != self.dtype:
            raise TypeError(f"{self.dtype} array cannot be obtained from {out.dtype} array")
        if out.shape != self.shape:
            raise ValueError(f"Shape mismatch. Expected shape: {self.shape}, actual shape: {out.shape}")
        out[...] = self._data
        return out


class DeviceMemory:
    """Bytes allocated on the stand-in device: now, at most, and in all."""

    def __init__(self, free_bytes: int) -> None:
        self.free_bytes = int(free_bytes)
        self.in_use = 0
        self.peak = 0
        self._ranges: dict[int, tuple[int, int]] = {}

    def allocate(self, array: DeviceArray, nbytes: int) -> None:
        self.in_use += nbytes
        self.peak = max(self.peak, self.in_use)
        start = array._data.ctypes.data
        self._ranges[id(array)] = (start, start + max(nbytes, 1))
        weakref.finalize(array, self._release, nbytes, id(array))

    def _release(self, nbytes: int, key: int) -> None:
        self.in_use -= nbytes
        self._ranges.pop(key, None)

    def holds(self, address: int) -> bool:
        """Whether ``address`` lies in a live allocation."""
        return any(start <= address < end for start, end in self._ranges.values())


class ShimCompiler:
    """Host builds of kernel sources, cached by source text and options."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._built: dict[tuple[str, tuple[str, ...]], ShimModule] = {}
        self.builds = 0
        self.options_requested: list[tuple[str, ...]] = []  # the options of each module asked for, in order

    def module(self, code: str, options: tuple[str, ...]) -> ShimModule:
        options = tuple(options)
        self.options_requested.append(options)
        key = (code, options)
        if key not in self._built:
            self._built[key] = ShimModule(self._build(code, options), kernel_signatures(code))
            self.builds += 1
        return self._built[key]

    def _build(self, code: str, options: tuple[str, ...]) -> ctypes.CDLL:
        if re.search(r"^\s*#\s*include", code, re.MULTILINE):
            raise ValueError("NVRTC has no standard headers, and the backend inlines its own: the source includes a file")
        defines = [o for o in options if o.startswith("-D")]
        rest = [o for o in options if not o.startswith("-D") and not _DEVICE_ONLY.fullmatch(o)]
        if rest != ["--fmad=false"]:
            # The host build never contracts (-ffp-contract=off): it can stand in only for a build that does not either.
            raise ValueError(f"the host build stands in for NVRTC options --fmad=false and the register cap, not {rest}")
        digest = hashlib.sha256(repr((code, options)).encode()).hexdigest()[:16]
        source = self.folder / f"kernel_{digest}.cu"
        source.write_text(code)
        kernels = _kernels(code)
        launchers = "\n".join(
            f'extern "C" void run_{name}(unsigned int grid, unsigned int block, '
            f"{', '.join(p.launcher_parameter() for p in signature)}) {{\n"
            f"    pivotmc_shim_launch(pivotmc_shim_dim3{{grid, 1, 1}}, pivotmc_shim_dim3{{block, 1, 1}}, {name}, "
            f"{', '.join(p.launcher_argument() for p in signature)});\n}}"
            for name, (_, signature) in kernels.items()
        )
        records = {p.c_type: p.fields for _, signature in kernels.values() for p in signature if p.fields}
        launchers += "".join(
            f'\nextern "C" void layout_{struct}(unsigned long long* out) {{\n    out[0] = sizeof({struct});\n'
            + "".join(f"    out[{i + 1}] = offsetof({struct}, {field.name});\n" for i, field in enumerate(fields))
            + "".join(
                f"    out[{len(fields) + i + 1}] = sizeof((({struct}*)0)->{field.name});\n"
                for i, field in enumerate(fields)
            )
            + "}"
            for struct, fields in records.items()
        )
        wrapper = self.folder / f"launch_{digest}.cpp"
        wrapper.write_text(
            f'#include <cstddef>\n#include "{H.TESTS / "cuda_shim.h"}"\n#include "{source}"\n{launchers}\n'
        )
        return ctypes.CDLL(str(H.build_shim(wrapper, self.folder / f"lib_{digest}.so", defines)))


class Parameter:
    """One kernel parameter (or field of a record): its name, numpy type and whether it is a pointer.

    A parameter whose type is one of the source's structs (``structs``: name to its
    fields) is a record: CuPy passes a numpy structured scalar for it, by value. A
    field may be an array (``double scalars[N]``, ``array``): the record's numpy field
    is then a subarray of that type, its length read from the C struct's layout.
    """

    def __init__(self, declaration: str, structs: dict[str, list[Parameter]] | None = None) -> None:
        self.array = "[" in declaration
        declaration = declaration.split("[", 1)[0]
        words = declaration.replace("*", " * ").split()
        self.name = words[-1]
        self.pointer = "*" in words
        base = " ".join(w for w in words[:-1] if w not in ("const", "__restrict__", "*"))
        self.fields = (structs or {}).get(base) if not self.pointer else None
        if base not in C_TYPES and self.fields is None:
            raise ValueError(f"the stand-in does not know the C type of {declaration!r}")
        self.dtype = np.dtype(C_TYPES[base]) if self.fields is None else None
        self.c_type = base

    def launcher_parameter(self) -> str:
        """The parameter of the host launcher: a record by address, anything else as declared."""
        if self.fields is not None:
            return f"const {self.c_type}* {self.name}"
        return f"{self.c_type}{'*' if self.pointer else ''} {self.name}"

    def launcher_argument(self) -> str:
        return f"*{self.name}" if self.fields is not None else self.name

    def convert_record(self, value, what: str, layout: list[int], memory: DeviceMemory, keep: list):
        """The address of a copy of the record ``value``, checked field by field against the C struct."""
        if not isinstance(value, np.void) or value.dtype.names is None:
            raise TypeError(f"{what}: expects a record (a numpy structured scalar), got {type(value).__name__}")
        names = tuple(f.name for f in self.fields)
        if value.dtype.names != names:
            raise TypeError(f"{what}: expects the fields {names}, got {value.dtype.names}")
        offsets = [value.dtype.fields[name][1] for name in names]
        sizes = [value.dtype.fields[name][0].itemsize for name in names]
        if [value.dtype.itemsize, *offsets, *sizes] != layout:
            raise TypeError(
                f"{what}: size, offsets and field sizes {[value.dtype.itemsize, *offsets, *sizes]}, "
                f"the C struct's {layout}"
            )
        for field in self.fields:
            dtype = value.dtype.fields[field.name][0]
            want = np.dtype(np.uint64) if field.pointer else field.dtype
            base = dtype.subdtype[0] if dtype.subdtype is not None else dtype
            if base != want or (dtype.subdtype is not None) != field.array:
                shape = "an array of " if field.array else ""
                raise TypeError(f"{what}: field {field.name} is {dtype}, expects {shape}{want}")
            if field.pointer and not memory.holds(int(value[field.name])):
                raise TypeError(f"{what}: field {field.name} does not point into device memory")
        copy = np.array(value)
        keep.append(copy)
        return ctypes.c_void_p(copy.ctypes.data)

    def convert(self, value, position: int):
        """The ctypes value CuPy would pass for ``value``, or a TypeError where the kernel expects another type."""
        what = f"argument {position} ({self.name}, {self.c_type}{'*' if self.pointer else ''})"
        if self.fields is not None:
            raise TypeError(f"{what}: a record is converted with convert_record")
        if isinstance(value, np.ndarray):
            raise TypeError(f"{what}: a host numpy array cannot be passed to a kernel")
        if self.pointer:
            if not isinstance(value, DeviceArray):
                raise TypeError(f"{what}: expects a device array, got {type(value).__name__}")
            if value.dtype != self.dtype or not value._data.flags.c_contiguous:
                raise TypeError(f"{what}: expects a contiguous {self.dtype} array, got {value.dtype}")
            return ctypes.c_void_p(value._data.ctypes.data)
        if isinstance(value, DeviceArray):
            raise TypeError(f"{what}: expects a scalar, got a device array")
        # As CuPy: numpy scalars keep their type, Python numbers become 64-bit.
        if isinstance(value, bool):
            value = np.bool_(value)
        elif isinstance(value, int):
            value = np.int64(value)
        elif isinstance(value, float):
            value = np.float64(value)
        if not isinstance(value, np.generic) or value.dtype != self.dtype:
            raise TypeError(f"{what}: expects {self.dtype}, got {getattr(value, 'dtype', type(value).__name__)}")
        return np.ctypeslib.as_ctypes_type(self.dtype)(value.item())


def _strip_comments(code: str) -> str:
    return re.sub(r"//[^\n]*", " ", re.sub(r"/\*.*?\*/", " ", code, flags=re.S))


_STRUCT = re.compile(r"\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*;")


def _structs(code: str) -> dict[str, list[Parameter]]:
    """Fields of the source's structs whose fields are all of known scalar or pointer types."""
    found = {}
    for name, body in _STRUCT.findall(code):
        fields = []
        try:
            for declaration in (d.strip() for d in body.split(";") if d.strip()):
                if "[" in declaration and "," in declaration:
                    raise ValueError(declaration)
                first, *more = (part.strip() for part in declaration.split(","))
                fields.append(Parameter(first))
                base = first[: first.rindex(fields[-1].name)]
                fields.extend(Parameter(f"{base.replace('*', '')} {'*' if '*' in m else ''}{m.strip('* ')}") for m in more)
        except ValueError:
            continue
        found[name] = fields
    return found


def _kernels(code: str) -> dict[str, tuple[str, list[Parameter]]]:
    found = {}
    code = _strip_comments(code)
    structs = _structs(code)
    for name, params in _KERNEL.findall(code):
        text = " ".join(params.split())
        found[name] = (text, [Parameter(p, structs) for p in text.split(",") if p.strip()])
    return found


def kernel_signatures(code: str) -> dict[str, list[Parameter]]:
    """Parameters of every ``extern "C" __global__`` function of a source."""
    return {name: signature for name, (_, signature) in _kernels(code).items()}


class ShimModule:
    def __init__(self, library: ctypes.CDLL, signatures: dict[str, list[Parameter]]) -> None:
        self._library = library
        self._signatures = signatures

    def function(self, name: str, device: FakeDevice) -> ShimFunction:
        if name not in self._signatures:
            raise AttributeError(f"the module has no kernel {name!r} (it has {sorted(self._signatures)})")
        run = getattr(self._library, f"run_{name}")
        run.restype = None
        layouts = {}
        for p in self._signatures[name]:
            if p.fields is not None:
                out = (ctypes.c_ulonglong * (2 * len(p.fields) + 1))()
                getattr(self._library, f"layout_{p.c_type}")(out)
                layouts[p.name] = [int(v) for v in out]
        return ShimFunction(name, run, self._signatures[name], device, layouts)


class ShimFunction:
    """A kernel: called as CuPy's ``Function``, ``kernel(grid, block, args)``."""

    def __init__(self, name, run, signature, device, layouts) -> None:
        self.name, self._run, self._signature, self._device = name, run, signature, device
        self._layouts = layouts

    def __call__(self, grid, block, args, shared_mem=0, stream=None) -> None:
        grid, block = _dims(grid, "grid"), _dims(block, "block")
        if not 1 <= block <= 1024 or grid < 1:
            raise ValueError(f"invalid launch configuration: grid {grid}, block {block}")
        if len(args) != len(self._signature):
            raise TypeError(f"{self.name} takes {len(self._signature)} arguments, got {len(args)}")
        keep: list = []
        converted = [
            p.convert(a, i)
            if p.fields is None
            else p.convert_record(a, f"argument {i} ({p.name}, {p.c_type})", self._layouts[p.name],
                                  self._device.memory, keep)
            for i, (p, a) in enumerate(zip(self._signature, args))
        ]  # fmt: skip
        self._run(ctypes.c_uint32(grid), ctypes.c_uint32(block), *converted)
        self._device.launches.append((self.name, grid, block))
        self._device.clock_ns += grid * block * _NS_PER_THREAD


def _dims(value, what: str) -> int:
    dims = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(dims) <= 3 or any(int(d) != 1 for d in dims[1:]):
        raise ValueError(f"the stand-in launches one-dimensional {what}s only, got {value!r}")
    return int(dims[0])


class FakeDevice:
    """What the stand-in records: launches, its thread clock, memory."""

    def __init__(self, memory: DeviceMemory) -> None:
        self.memory = memory
        self.launches: list[tuple[str, int, int]] = []
        self.clock_ns = 0


def fake_cupy(compiler: ShimCompiler, free_bytes: int = 1 << 30, name: bytes = b"host shim") -> types.ModuleType:
    """A ``cupy`` module for :mod:`pivotmc.backends.cuda`; its ``device`` attribute records what happened."""
    memory = DeviceMemory(free_bytes)
    device = FakeDevice(memory)
    cp = types.ModuleType("cupy")
    cp.device = device
    cp.ndarray = DeviceArray
    for dtype in ("int8", "int16", "int32", "int64", "uint32", "uint64", "float64"):
        setattr(cp, dtype, getattr(np, dtype))

    def asarray(array, dtype=None):
        if isinstance(array, DeviceArray):
            return array if dtype is None or array.dtype == dtype else DeviceArray(array._data.astype(dtype), memory)
        return DeviceArray(np.array(array, dtype=dtype, order="C"), memory)

    def zeros(shape, dtype=float):
        return DeviceArray(np.zeros(shape, dtype=dtype), memory)

    def empty(shape, dtype=float):
        # Garbage, as on a GPU: a kernel that forgets to write shows up.
        data = np.full(shape, np.nan) if np.dtype(dtype) == np.float64 else np.full(shape, 0xDEAD).astype(dtype)
        return DeviceArray(data, memory)

    def raw_module(code, options=(), backend="nvrtc", **kwargs):
        if backend != "nvrtc":
            raise ValueError(f"the stand-in compiles as NVRTC would, not with {backend!r}")
        module = compiler.module(code, tuple(options))
        return types.SimpleNamespace(get_function=lambda name: module.function(name, device))

    def raw_kernel(code, name, options=(), backend="nvrtc", **kwargs):
        return raw_module(code, options, backend).get_function(name)

    class Event:
        def __init__(self, *args, **kwargs) -> None:
            self.ns = None

        def record(self, stream=None) -> None:
            self.ns = device.clock_ns

        def synchronize(self) -> None:
            if self.ns is None:
                raise RuntimeError("synchronizing an event that was never recorded")

    def get_elapsed_time(start, stop) -> float:
        if start.ns is None or stop.ns is None:
            raise RuntimeError("elapsed time of an event that was never recorded")
        return (stop.ns - start.ns) / 1e6  # milliseconds, as CUDA gives them

    pool = types.SimpleNamespace(free_bytes=lambda: 0, used_bytes=lambda: memory.in_use)
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        memGetInfo=lambda: (memory.free_bytes, 2 * memory.free_bytes),
        getDeviceProperties=lambda index: {"name": name, "totalGlobalMem": 2 * memory.free_bytes},
    )
    cp.asarray, cp.zeros, cp.empty = asarray, zeros, empty
    cp.RawModule, cp.RawKernel = raw_module, raw_kernel
    cp.get_default_memory_pool = lambda: pool
    cp.cuda = types.SimpleNamespace(
        runtime=runtime,
        Device=lambda index=0: types.SimpleNamespace(id=index),
        Event=Event,
        get_elapsed_time=get_elapsed_time,
    )
    return cp
