"""What makes training fast on a GPU without changing it on a CPU.

    scaled_lr       the learning rate for a batch size (TrainConfig.lr_scaling, reference 64)
    compile_mode    TrainConfig.compile -> the torch.compile arguments on this device, or None
    compiled_step   the forward pass + loss under torch.compile; forward_backward runs it (or eager)
    LossWatch       the running loss, looked at without stalling the GPU every few steps
    EVAL_BATCH      test images per evaluation batch, per device type

On a CPU every default keeps today's arithmetic (seeded CPU histories stay identical): no
compilation, a look at the loss every 10 steps (a CPU tensor costs nothing to read), and
evaluation in batches of 1000. On CUDA the host reads the GPU only through non-blocking
copies, once every `CUDA_LOOK_EVERY` steps, so the GPU stays ahead of Python.
"""

from __future__ import annotations

import math
import sys

# images per optimiser step that the presets' learning rates were tuned for
REFERENCE_BATCH = 64
LOOK_EVERY = 10               # steps between looks at the running loss (and tracker points)
CUDA_LOOK_EVERY = 100         # ... on CUDA, where a look is a copy read one interval later
# Evaluation batch: on CUDA the whole MNIST test split in one pass (about 0.3 GB of
# activations for the default VAE), halved on out-of-memory; on a CPU today's 1000.
EVAL_BATCH = {"cuda": 10000}
CPU_EVAL_BATCH = 1000


def scaled_lr(lr: float, batch: int, rule: str) -> float:
    """The learning rate for `batch` images per step: `lr` is the one for REFERENCE_BATCH.

    sqrt keeps the gradient noise per unit of training about the same (Krizhevsky 2014,
    Malladi et al. 2022 for Adam); linear is Goyal et al. 2017's rule for SGD."""
    ratio = batch / REFERENCE_BATCH
    if rule == "sqrt":
        return lr * math.sqrt(ratio)
    if rule == "linear":
        return lr * ratio
    return lr


def compile_mode(choice: str, device) -> dict | None:
    """torch.compile keyword arguments for TrainConfig.compile on `device`, or None for eager.

    auto: CUDA graphs over Inductor's kernels on CUDA ("reduce-overhead": a small network's
    step is bound by launching its kernels), eager elsewhere so CPU figures do not move."""
    cuda = device.type == "cuda"
    if choice == "none" or (choice == "auto" and not cuda):
        return None
    if choice in ("auto", "cudagraphs") and cuda:
        return {"mode": "reduce-overhead", "dynamic": False}
    if choice == "cudagraphs":      # asked for on a device without CUDA graphs
        warn("--compile cudagraphs needs a CUDA device; compiling without CUDA graphs")
    return {"dynamic": False}


def warn(message: str) -> None:
    print(f"latentatlas: warning: {message}", file=sys.stderr)


def eval_batch(device) -> int:
    return EVAL_BATCH.get(device.type, CPU_EVAL_BATCH)


def look_every(device) -> int:
    return CUDA_LOOK_EVERY if device.type == "cuda" else LOOK_EVERY


class LossWatch:
    """The running training loss, read by the host without waiting for the GPU.

    `look(sum_tensor, seen, step)` is called every `look_every(device)` steps. On a CPU it
    reads the value at once. On CUDA (`lagged`) it starts a non-blocking copy into pinned
    memory and returns the copy started at the previous look (long finished by then; if
    not, nothing), so the host never waits; `last(...)` at the end of the epoch reads
    synchronously. A non-finite sum stays non-finite, so a NaN is still caught, at most
    one interval late (that epoch is discarded anyway). lagged=True on a CPU runs the same
    logic (the tests do), with copies that are finished at once."""

    def __init__(self, device, lagged: bool | None = None):
        import torch

        self.device = device
        self.lagged = device.type == "cuda" if lagged is None else lagged
        cuda = device.type == "cuda"
        self._buf = torch.zeros(1, dtype=torch.float64, pin_memory=cuda) if self.lagged else None
        self._event = None
        self._pending = None      # (seen, step) of the copy in flight

    def look(self, loss_sum, seen: int, step: int):
        """(running loss, the step it belongs to), or None when no earlier copy is ready."""
        if not self.lagged:
            return loss_sum.item() / seen, step
        ready = None
        if self._pending is not None and (self._event is None or self._event.query()):
            ready = (float(self._buf[0]) / self._pending[0], self._pending[1])
        self._buf.copy_(loss_sum.reshape(1), non_blocking=True)
        self._event = self._recorded_event()
        self._pending = (seen, step)
        return ready

    def _recorded_event(self):
        if self.device.type != "cuda":
            return None           # the copy above has already happened
        import torch

        event = torch.cuda.Event()
        event.record()
        return event

    def last(self, loss_sum, seen: int, step: int):
        return loss_sum.item() / seen, step


def compiled_step(s, choice: str):
    """The forward pass and loss under torch.compile (TrainConfig.compile), or None for eager.
    Compilation itself happens on the first call (see forward_backward for its fallback)."""
    import torch

    kwargs = compile_mode(choice, s.device)
    if kwargs is None:
        return None
    model, net, amp, kind = s.model, s.net, s.amp, s.device.type
    graphs = kwargs.get("mode") == "reduce-overhead"

    def step(x_in, xb):
        return eager_forward_loss(model, net, amp, kind, x_in, xb)

    compiled = torch.compile(step, **kwargs)
    if not graphs:
        return compiled

    def graphed(x_in, xb):
        torch.compiler.cudagraph_mark_step_begin()   # the last step's outputs may be overwritten
        return compiled(x_in, xb)

    return graphed


def forward_backward(s, x_in, xb) -> dict:
    """Forward pass, loss (mean over the batch) and gradients; returns the loss parts (sums
    over the batch, float32). Through the compiled step when there is one.

    torch.compile compiles the forward graph on the first call and Inductor the backward one
    on the first backward: if either fails, one warning line and eager from then on (the
    weights have not been touched yet: the optimizer steps after this)."""
    import torch

    if s.compiled is not None:
        # a failed first step may have run the forward pass: BatchNorm's running statistics
        # are put back, so the eager retry is the step an eager run would have taken
        buffers = None if s.compile_ok else [b.detach().clone() for b in s.net.buffers()]
        try:
            parts = _gradients(s, s.compiled(x_in, xb), len(xb))
            s.compile_ok = True
            return parts
        except (torch.OutOfMemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            if s.compile_ok:
                raise
            with torch.no_grad():
                for b, saved in zip(s.net.buffers(), buffers):
                    b.copy_(saved)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            warn(f"compiling the training step failed ({type(exc).__name__}: {first}); training eagerly "
                 "(--compile none skips the attempt)")
            s.compiled, s.step_kind = None, "eager (compilation failed)"
    return _gradients(s, eager_forward_loss(s.model, s.net, s.amp, s.device.type, x_in, xb), len(xb))


def _gradients(s, parts: dict, n: int) -> dict:
    s.optimizer.zero_grad(set_to_none=True)
    (parts["loss"] / n).backward()                                   # mean over the batch
    return parts


def eager_forward_loss(model, net, amp: bool, device_type: str, x_in, xb) -> dict:
    import torch

    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
        pred = model(x_in)
        return net.loss_function(xb, {k: v.float() for k, v in pred.items()})
