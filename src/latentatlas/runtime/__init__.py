"""What this process runs on: the device rule (`device.choose_device`: cuda -> mps -> cpu,
validated) and the thread rule (`threads`: the cores this process may use, and telling every
pool). Lowest layer beside `errors`: imports no torch or scikit-learn until asked."""

from .device import available_devices, choose_device
from .threads import (as_threads, cgroup_quota, resolve_jobs, set_threads, thread_limits, torch_threads_kept,
                      usable_cores)

__all__ = ["available_devices", "as_threads", "cgroup_quota", "choose_device", "resolve_jobs", "set_threads",
           "thread_limits", "torch_threads_kept", "usable_cores"]
