#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: the tests marked gpu (the real kernels
# against the cpu backend and the reference: the default scenario with the cloud strategy and
# the three-way switch, a short scenario full of cloud defaults, renewals and refreshes, every
# case), then the GPU benchmark (after a short tuning sweep of register caps and block sizes):
# the default scenario monthly and daily, the same without cloud (the kernel without the
# cloud's code) and the cloud-events scenario, each with its registers and spills. A few
# minutes in all.
#
#   pip install -e ".[gpu,test]"     # once; or run from a checkout where they are installed
#   bash benchmarks/gpu_check.sh     # extra arguments go to benchmarks/gpu.py (see its --help)
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import pivotmc" 2>/dev/null || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# Stop at once, with the reason, where the backend cannot run: the tests would only skip.
python - <<'PY'
import sys
from pivotmc.backends import cuda
reason = cuda.unavailable_reason()
print(reason or f"cuda backend ready on {cuda.device_name()}")
sys.exit(1 if reason else 0)
PY

python -m pytest -q -m gpu -rs -p no:cacheprovider tests/backends/test_cuda.py
python benchmarks/gpu.py --tune "$@"
