#!/usr/bin/python3
"""Golden data for the training tests, computed by PyTorch 1.13 (Debian's
python3-torch; run /usr/bin/python3 tools/make_train_golden.py from the
repository root). CI does not run this: the files it writes in
tests/golden/train/ are committed.

optimizers.txt (tests/test_optimizers.c): for each case a line
  case NAME key=value ...        (cc_optimizer_params fields, by name)
then the lines w0 (the weights), g1, g2, g3 (a gradient per step) and w3
(the weights after torch.optim's three steps), N floats each, printed with
9 significant digits (float32 round-trips). clip_norm > 0 runs
torch.nn.utils.clip_grad_norm_ before each step. Gradients mix magnitudes
from 1 down to 1e-8 and exact zeros, so that where eps enters shows.

NET.* (tests/test_train_golden.c), for NET in lenet5, lenet (colconv's zoo)
and bottleneck (cc_net_add_bottleneck "block" on 16x7x7, mid 8, out 32,
stride 2 with the projection, then global average pooling, fc "fc" to 10
and softmax), batch 3:
  NET.ccw          the starting weights (colconv weights format)
  NET.input.f32    the batch, NCHW float32
  NET.labels.i32   its labels, int32
  NET.loss.f32     the mean cross-entropy of the first forward pass
  NET.grads.ccw    the gradient of every trainable tensor after one
                   forward/backward in training mode (batch norm on batch
                   statistics), cross-entropy on the softmax's input
  NET.adam3.ccw    every tensor (running statistics included) after three
                   Adam (lr 1e-3) steps on the same batch
  NET.sgd3.ccw     the same after three SGD steps (lr 0.01, momentum 0.9)
"""
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import write_weights  # noqa: E402 (the colconv weights format)

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "golden", "train"))

# ---- optimisers ----

# (name, torch class, cc kind, options as cc_optimizer_params fields)
OPTIMIZER_CASES = [
    ("sgd", "SGD", "sgd", dict(lr=0.1)),
    ("sgd_weight_decay", "SGD", "sgd", dict(lr=0.05, weight_decay=0.01)),
    ("sgd_momentum", "SGD", "sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd_momentum_dampening", "SGD", "sgd", dict(lr=0.1, momentum=0.8, dampening=0.3,
                                                   weight_decay=1e-3)),
    ("sgd_nesterov", "SGD", "sgd", dict(lr=0.1, momentum=0.9, nesterov=1, weight_decay=0.01)),
    ("sgd_momentum_clip", "SGD", "sgd", dict(lr=0.1, momentum=0.9, clip_norm=0.5)),
    ("adagrad", "Adagrad", "adagrad", dict(lr=0.1)),
    ("adagrad_options", "Adagrad", "adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01,
                                                    initial_accumulator_value=0.1, eps=1e-6)),
    ("rmsprop", "RMSprop", "rmsprop", dict(lr=0.01)),
    ("rmsprop_momentum", "RMSprop", "rmsprop", dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("rmsprop_centered", "RMSprop", "rmsprop", dict(lr=0.01, alpha=0.9, centered=1)),
    ("rmsprop_centered_momentum", "RMSprop", "rmsprop", dict(lr=0.01, momentum=0.5, centered=1,
                                                              eps=1e-4)),
    ("adadelta", "Adadelta", "adadelta", dict(lr=1.0)),
    ("adadelta_options", "Adadelta", "adadelta", dict(lr=0.5, rho=0.95, eps=1e-5,
                                                       weight_decay=0.01)),
    ("adam", "Adam", "adam", dict(lr=1e-3)),
    ("adam_options", "Adam", "adam", dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6,
                                          weight_decay=0.1)),
    ("adam_clip", "Adam", "adam", dict(lr=1e-2, clip_norm=1.0)),
    ("adamw", "AdamW", "adamw", dict(lr=1e-2)),
    ("adamw_options", "AdamW", "adamw", dict(lr=1e-2, beta1=0.5, beta2=0.9, eps=1e-4,
                                             weight_decay=0.3)),
]

TORCH_DEFAULTS = {"SGD": dict(), "Adagrad": dict(), "RMSprop": dict(), "Adadelta": dict(lr=1.0),
                  "Adam": dict(), "AdamW": dict(weight_decay=0.01)}


def torch_options(cls, options):
    """cc_optimizer_params fields -> the torch optimiser's keyword arguments."""
    kw = dict(TORCH_DEFAULTS[cls])
    for key, value in options.items():
        if key in ("beta1", "beta2", "clip_norm"):
            continue
        if key in ("nesterov", "centered"):
            value = bool(value)
        kw[key] = value
    if "beta1" in options or "beta2" in options:
        kw["betas"] = (options.get("beta1", 0.9), options.get("beta2", 0.999))
    return kw


def mixed_magnitudes(n, generator):
    g = torch.randn(n, generator=generator)
    g *= 10.0 ** (-8.0 * torch.rand(n, generator=generator))
    g[torch.rand(n, generator=generator) < 0.1] = 0.0
    return g


def floats(values):
    return " ".join("%.9g" % v for v in values.tolist())


def optimizers():
    generator = torch.Generator().manual_seed(15)
    n = 37
    lines = ["# made by tools/make_train_golden.py (torch %s); see its docstring" % torch.__version__]
    for name, cls, kind, options in OPTIMIZER_CASES:
        w0 = torch.randn(n, generator=generator)
        grads = [mixed_magnitudes(n, generator) * (1.0 + step) for step in range(3)]
        param = torch.nn.Parameter(w0.clone())
        opt = getattr(torch.optim, cls)([param], **torch_options(cls, options))
        for g in grads:
            param.grad = g.clone()
            if options.get("clip_norm", 0) > 0:
                torch.nn.utils.clip_grad_norm_([param], options["clip_norm"])
            opt.step()
        fields = " ".join("%s=%.9g" % (k, v) for k, v in options.items())
        lines.append("case %s kind=%s %s" % (name, kind, fields))
        lines.append("w0 " + floats(w0))
        lines += ["g%d " % (i + 1) + floats(g) for i, g in enumerate(grads)]
        lines.append("w3 " + floats(param.detach()))
    with open(os.path.join(OUT, "optimizers.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    optimizers()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT}: {total} bytes")
