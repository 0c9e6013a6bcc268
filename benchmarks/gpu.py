"""Path-steps per second of the ``cuda`` backend on the default scenario, with the card's name.

Usage::

    python benchmarks/gpu.py                      # 10,000,000 paths monthly (with and without cloud), 1,000,000 daily
    python benchmarks/gpu.py --tune               # first try register caps and block sizes at 1M paths
    python benchmarks/gpu.py --monthly-paths 2000000 --daily-paths 200000 --repeats 1

Each case is a scenario of :data:`pivotmc.testing.CASES` run through
:func:`pivotmc.backends.cuda.simulate_chunk`: ``default, monthly`` and ``default,
daily`` (the default scenario, 15 years, monthly then daily steps, every strategy:
mine, host, hybrid, the static cloud and the three-way switch, which chooses among
mining on, host and cloud), then ``two-way, monthly`` (the same without cloud:
mine, host, hybrid and the two-way switch, the kernel compiled without the
cloud's code) and ``cloud events, monthly`` (six years in which the cloud's
contracts default, renew every year and its fleet is refreshed twice, with the
three-way switch). The switch's policy is learned first, on the cpu backend as
:func:`pivotmc.simulate` does, and timed apart (``policy s``; learned once per
scenario, so ``--tune`` leaves the monthly case's near 0); ``--learning-paths``
overrides the scenario's number of learning paths, and ``converts`` is the share
of the paths whose switch converts (``to cloud``: of those, the share that
converts to cloud).
Printed per case, as medians over ``--repeats`` timed runs after a warm-up:

* kernel seconds: the model kernel alone, from CUDA events around each launch;
* wall seconds: the whole call (uploads, launches, NPVs copied back to the host,
  exact-sum bookkeeping);
* path-steps per second by kernel time and by wall time;
* floor: kernel time over the time of a kernel that only draws the same random
  numbers (1 would mean the model itself costs nothing).

The first call's compile time (NVRTC, then cached on disk by CuPy) is reported
apart, and so are each case's registers and spilled bytes a thread (the kernel
variant of its plan: with or without the cloud's code, per number of
strategies). ``--json`` writes the figures (default ``benchmarks/results/gpu.json``).
The issue's target on an H100: 2e10 path-steps per second of kernel time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    import pivotmc
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent / "src"))
    import pivotmc

from pivotmc import random as rng  # noqa: E402
from pivotmc.backends import cuda  # noqa: E402
from pivotmc.model.plan import lower  # noqa: E402
from pivotmc.model.scenario import Scenario  # noqa: E402
from pivotmc.policy.switch import policy_for  # noqa: E402
from pivotmc.testing import case  # noqa: E402

DEFAULT_JSON = HERE / "results" / "gpu.json"
TARGET_H100 = 2e10
#: The cases after the two default ones: the default without cloud, and a short scenario full of cloud events.
TWO_WAY = {"strategies.evaluate": ["mine", "host", "hybrid", "switch"]}
CLOUD_EVENTS = {
    "simulation.horizon_years": 6.0, "cloud.default_hazard": 2.0, "cloud.contract_years": 1.0,
    "cloud.gpu_life_years": 2.0, "terminal.switch": 8.0,
}  # fmt: skip


def plan_with_policy(scenario: Scenario, learning_paths: int | None = None):
    """The scenario's plan and its switch policy learned (on the cpu backend); also the seconds that took."""
    if learning_paths is not None:
        scenario = scenario.with_overrides({"switch.learning_paths": learning_paths})
    started = time.perf_counter()
    plan = lower(scenario)
    policy = policy_for(plan)
    return (plan, policy), time.perf_counter() - started


def _run(planned, paths: int, seed: int, max_registers, threads: int, result: list | None = None):
    plan, policy = planned
    device = cuda.CupyDevice(max_registers=max_registers)
    chunk, stats = cuda.simulate_chunk(
        plan, rng.seed_key(seed), 0, paths, 0, threads_per_block=threads, device=device, policy=policy
    )
    if result is not None:
        result.append(chunk)
    return stats


def bench_case(
    name: str, scenario: Scenario, paths: int, repeats: int, max_registers, threads: int, learning_paths=None
) -> dict:
    planned, policy_seconds = plan_with_policy(scenario, learning_paths)
    plan = planned[0]
    started = time.perf_counter()
    _run(planned, min(paths, 10_000), 0, max_registers, threads)  # compiles (or loads CuPy's cached binary)
    compile_seconds = time.perf_counter() - started
    _run(planned, paths, 0, max_registers, threads)  # warm: allocations, clocks
    chunks: list = []
    runs = [_run(planned, paths, r + 1, max_registers, threads, chunks if r == 0 else None) for r in range(repeats)]
    decision, action = chunks[0].switch_decision, chunks[0].switch_action
    kernel = statistics.median(s.kernel_seconds for s in runs)
    wall = statistics.median(s.wall_seconds for s in runs)
    draws = statistics.median(
        cuda.time_draws_only(rng.seed_key(r), paths, plan.n_steps, threads) for r in range(max(1, repeats))
    )
    function = cuda.raw_module(cuda.MODEL_SOURCE, plan.n_strategies, max_registers, plan.values_cloud).get_function(
        cuda.SIMULATE_KERNEL
    )
    converted = decision >= 0 if decision is not None else None
    to_cloud = None
    if converted is not None and plan.switch_cloud and converted.any():
        to_cloud = float((action[converted] == plan.switch_actions.index("cloud")).mean())
    path_steps = paths * plan.n_steps
    return {
        "case": name,
        "paths": paths,
        "steps": plan.n_steps,
        "strategies": plan.n_strategies,
        "cloud": bool(plan.values_cloud),
        "launches": runs[0].launches,
        "threads_per_block": threads,
        "max_registers": max_registers,
        "registers": int(function.num_regs),
        "spill_bytes": int(function.local_size_bytes),
        "kernel_seconds": kernel,
        "wall_seconds": wall,
        "path_steps_per_s_kernel": path_steps / kernel,
        "path_steps_per_s_wall": path_steps / wall,
        "draws_only_seconds": draws,
        "floor": kernel / draws,
        "first_call_seconds": compile_seconds,
        "policy_seconds": policy_seconds,
        "learning_paths": plan.scenario.switch.learning_paths if plan.switch_index >= 0 else 0,
        "switch_converted_share": float(converted.mean()) if converted is not None else None,
        "switch_cloud_share": to_cloud,
    }


def tune(paths: int, learning_paths: int | None = None) -> tuple[int | None, int]:
    """Kernel time of the monthly default at ``paths`` for a few register caps and block sizes; the best."""
    planned, _ = plan_with_policy(case("default"), learning_paths)
    print(f"tuning at {paths:,} paths monthly (kernel seconds; - where the block does not fit):")
    best = None
    for cap in (None, 168, 128, 96):
        cells = []
        for threads in (64, 128, 256, 512):
            try:
                _run(planned, 10_000, 0, cap, threads)
                seconds = min(_run(planned, paths, r, cap, threads).kernel_seconds for r in range(2))
            except Exception as exc:  # noqa: BLE001 - too many registers for the block, say
                cells.append("-")
                print(f"  cap {cap}, {threads} threads: {str(exc).splitlines()[0]}", file=sys.stderr)
                continue
            cells.append(f"{seconds:.4f}")
            if best is None or seconds < best[0]:
                best = (seconds, cap, threads)
        print(
            f"  max registers {str(cap):>4}: "
            + "  ".join(f"{t:>3} thr {c:>7}" for t, c in zip((64, 128, 256, 512), cells, strict=True))
        )
    assert best is not None, "no configuration ran"
    print(f"best: max registers {best[1]}, {best[2]} threads per block ({best[0]:.4f} s)")
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--monthly-paths", type=int, default=10_000_000)
    parser.add_argument("--daily-paths", type=int, default=1_000_000)
    parser.add_argument(
        "--cloud-paths", type=int, default=None,
        help="paths of the two-way and cloud-events cases (default: --monthly-paths)",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tune", action="store_true", help="try register caps and block sizes first, then use the best"
    )
    parser.add_argument("--tune-paths", type=int, default=1_000_000, help="paths of each tuning run (monthly)")
    parser.add_argument("--threads", type=int, default=cuda.THREADS_PER_BLOCK)
    parser.add_argument("--max-registers", type=int, default=cuda.MAX_REGISTERS, help="0 for no cap")
    parser.add_argument(
        "--learning-paths", type=int, default=None, help="paths that learn the switch policy (default: the scenario's)"
    )
    parser.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the figures ('' for nowhere)")
    args = parser.parse_args(argv)

    reason = cuda.unavailable_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    import cupy

    card = cuda.device_name()
    _, total = cupy.cuda.runtime.memGetInfo()
    print(
        f"device: {card} ({total / 2**30:.0f} GiB), CuPy {cupy.__version__}, "
        f"driver {cupy.cuda.runtime.driverGetVersion()}, runtime {cupy.cuda.runtime.runtimeGetVersion()}"
    )
    max_registers = args.max_registers or None
    threads = args.threads
    if args.tune:
        max_registers, threads = tune(args.tune_paths, args.learning_paths)

    rows = []
    cloud_paths = args.monthly_paths if args.cloud_paths is None else args.cloud_paths
    cases = [
        ("default, monthly", case("default"), args.monthly_paths),
        ("default, daily", case("daily"), args.daily_paths),
        ("two-way, monthly", case("default", TWO_WAY), cloud_paths),
        ("cloud events, monthly", case("default", CLOUD_EVENTS), cloud_paths),
    ]
    for name, scenario, paths in cases:
        if paths > 0:
            rows.append(bench_case(name, scenario, paths, args.repeats, max_registers, threads, args.learning_paths))

    print(
        f"\n{'case':<22} {'paths':>12} {'steps':>6} {'kernel s':>9} {'wall s':>8} "
        f"{'path-steps/s (kernel)':>22} {'(wall)':>10} {'floor':>6} {'launches':>8} {'policy s':>8} {'converts':>8} "
        f"{'to cloud':>8} {'regs':>5} {'spill':>6}"
    )
    for r in rows:
        share, cloud = r["switch_converted_share"], r["switch_cloud_share"]
        print(
            f"{r['case']:<22} {r['paths']:>12,} {r['steps']:>6,} {r['kernel_seconds']:>9.4f} {r['wall_seconds']:>8.3f} "
            f"{r['path_steps_per_s_kernel']:>22.3e} {r['path_steps_per_s_wall']:>10.3e} {r['floor']:>6.2f} "
            f"{r['launches']:>8} {r['policy_seconds']:>8.1f} {'-' if share is None else f'{share:.1%}':>8} "
            f"{'-' if cloud is None else f'{cloud:.1%}':>8} {r['registers']:>5} {r['spill_bytes']:>6}"
        )
    if rows:
        r = rows[0]
        print(
            f"\nkernel: {r['registers']} registers, {r['spill_bytes']} bytes spilled, {r['threads_per_block']} threads "
            f"per block, register cap {r['max_registers']}; first call (compile) {r['first_call_seconds']:.1f} s"
        )
        verdict = "meets" if r["path_steps_per_s_kernel"] >= TARGET_H100 else "is below"
        print(f"monthly kernel throughput {verdict} the H100 target of {TARGET_H100:.0e} path-steps/s on {card}")

    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "device": card, "cupy": cupy.__version__, "pivotmc": pivotmc.__version__, "rows": rows,
        }, indent=2) + "\n")  # fmt: skip
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
