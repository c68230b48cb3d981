"""The Python that pytest-xdist starts for each worker (`pytest -n N`; conftest.py points xdist here): it enters
the lab's sandbox while still single-threaded (execnet starts a thread in the worker before any conftest runs,
and the kernel refuses a user namespace to a threaded process), then becomes the worker's Python. Each worker
thus has a sandbox of its own, nested in the controller's."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab.backend import sandbox  # noqa: E402

sandbox.enter_sandbox()
os.environ["LAB_TEST_WORKER_SANDBOX"] = "1"
os.execv(sys.executable, [sys.executable] + sys.argv[1:])
