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
                   Adam (lr 1e-3, eps 1e-5: see OPTIMIZERS) steps on the
                   same batch
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


# ---- networks: gradients and three steps ----

BATCH = 3
CLASSES = 10


def torch_init(name, shape, generator, tensors):
    """torch's default init: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias too."""
    bound = 1.0 / math.sqrt(math.prod(shape[1:]))
    tensors.append((name + ".weight", (torch.rand(shape, generator=generator) * 2 - 1) * bound))
    tensors.append((name + ".bias", (torch.rand(shape[0], generator=generator) * 2 - 1) * bound))


def lenet5_model(generator):
    t = []
    for name, shape in [("conv1", (6, 1, 5, 5)), ("conv2", (16, 6, 5, 5)), ("fc1", (120, 400)),
                        ("fc2", (84, 120)), ("fc3", (10, 84))]:
        torch_init(name, shape, generator, t)

    def forward(x, p, training):
        y = F.avg_pool2d(torch.tanh(F.conv2d(x, p["conv1.weight"], p["conv1.bias"])), 2)
        y = F.avg_pool2d(torch.tanh(F.conv2d(y, p["conv2.weight"], p["conv2.bias"])), 2)
        y = torch.tanh(F.linear(y.flatten(1), p["fc1.weight"], p["fc1.bias"]))
        y = torch.tanh(F.linear(y, p["fc2.weight"], p["fc2.bias"]))
        return F.linear(y, p["fc3.weight"], p["fc3.bias"])
    return t, forward, (1, 32, 32)


def lenet_model(generator):
    t = []
    for name, shape in [("conv1", (20, 1, 5, 5)), ("conv2", (50, 20, 5, 5)), ("ip1", (500, 800)),
                        ("ip2", (10, 500))]:
        torch_init(name, shape, generator, t)

    def forward(x, p, training):
        y = F.max_pool2d(F.conv2d(x, p["conv1.weight"], p["conv1.bias"]), 2)
        y = F.max_pool2d(F.conv2d(y, p["conv2.weight"], p["conv2.bias"]), 2)
        y = torch.relu(F.linear(y.flatten(1), p["ip1.weight"], p["ip1.bias"]))
        return F.linear(y, p["ip2.weight"], p["ip2.bias"])
    return t, forward, (1, 28, 28)


def bottleneck_model(generator):
    """cc_net_add_bottleneck("block", mid 8, out 32, stride 2) on 16x7x7, then
    global average pooling "pool", fc "fc" to 10 and the softmax."""
    t = []

    def conv(name, shape):
        bound = 1.0 / math.sqrt(math.prod(shape[1:]))
        t.append((f"block.{name}.weight", (torch.rand(shape, generator=generator) * 2 - 1) * bound))

    def bn(name, c):
        t.append((f"block.{name}.weight", 0.5 + torch.rand(c, generator=generator)))
        t.append((f"block.{name}.bias", 0.1 * torch.randn(c, generator=generator)))
        t.append((f"block.{name}.running_mean", 0.1 * torch.randn(c, generator=generator)))
        t.append((f"block.{name}.running_var", 0.5 + torch.rand(c, generator=generator)))

    conv("conv1", (8, 16, 1, 1)), bn("bn1", 8)
    conv("conv2", (8, 8, 3, 3)), bn("bn2", 8)
    conv("conv3", (32, 8, 1, 1)), bn("bn3", 32)
    conv("downsample.0", (32, 16, 1, 1)), bn("downsample.1", 32)
    torch_init("fc", (10, 32), generator, t)

    def forward(x, p, training):
        def norm(y, name):
            # torch updates the running statistics in place (momentum 0.1,
            # unbiased variance) when training
            return F.batch_norm(y, p[f"block.{name}.running_mean"], p[f"block.{name}.running_var"],
                                p[f"block.{name}.weight"], p[f"block.{name}.bias"],
                                training=training, momentum=0.1, eps=1e-5)
        y = torch.relu(norm(F.conv2d(x, p["block.conv1.weight"]), "bn1"))
        y = torch.relu(norm(F.conv2d(y, p["block.conv2.weight"], stride=2, padding=1), "bn2"))
        y = norm(F.conv2d(y, p["block.conv3.weight"]), "bn3")
        shortcut = norm(F.conv2d(x, p["block.downsample.0.weight"], stride=2), "downsample.1")
        y = torch.relu(y + shortcut).mean((2, 3))
        return F.linear(y, p["fc.weight"], p["fc.bias"])
    return t, forward, (16, 7, 7)


def is_trainable(name):
    return not name.endswith(".running_mean") and not name.endswith(".running_var")


def fresh(tensors, dtype):
    """The tensors as leaves of `dtype`, the trainable ones requiring grad."""
    return {n: v.detach().to(dtype).clone().requires_grad_(is_trainable(n)) for n, v in tensors}


def train_steps(tensors, forward, x, labels, optimizer, dtype, steps):
    p = fresh(tensors, dtype)
    params = [v for n, v in p.items() if is_trainable(n)]
    opt = optimizer(params)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(forward(x.to(dtype), p, True), labels).backward()
        opt.step()
    return p


# Adam's eps is 1e-5 here, not torch's 1e-8: where a gradient is a
# cancellation of larger terms (LeNet's ip1 has such elements), float32
# leaves it a few 1e-9 off, and with eps 1e-8 Adam turns that into a
# quarter of lr: torch's own float32 run is then 4e-4 (relative to the
# tensor's largest weight) off its float64 run, over the tests' 1e-4. With
# 1e-5 it is 2e-5. The default eps is tested in optimizers.txt.
OPTIMIZERS = {"adam3": lambda params: torch.optim.Adam(params, lr=1e-3, eps=1e-5),
              "sgd3": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9)}


def worst_error(want, got):
    """Largest |got - want| over the tensors, relative to each tensor's largest |want|."""
    return max(((got[n].double() - w.double()).abs().max() /
                max(w.double().abs().max(), 1e-30)).item() for n, w in want.items())


def network(name, make, seed):
    generator = torch.Generator().manual_seed(seed)
    tensors, forward, shape = make(generator)
    x = torch.rand((BATCH,) + shape, generator=generator)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    # gradients of one step in float64 (the reference, rounded once)
    p = fresh(tensors, torch.float64)
    loss = F.cross_entropy(forward(x.double(), p, True), labels)
    loss.backward()
    grads = [(n, p[n].grad) for n, _ in tensors if is_trainable(n)]
    base = os.path.join(OUT, name)
    write_weights(base + ".ccw", tensors)
    write_weights(base + ".grads.ccw", grads)
    with open(base + ".input.f32", "wb") as f:
        f.write(x.contiguous().numpy().astype("<f4").tobytes())
    with open(base + ".labels.i32", "wb") as f:
        f.write(labels.to(torch.int32).numpy().astype("<i4").tobytes())
    with open(base + ".loss.f32", "wb") as f:
        f.write(struct.pack("<f", loss.item()))
    for tag, optimizer in OPTIMIZERS.items():
        want = train_steps(tensors, forward, x, labels, optimizer, torch.float64, 3)
        write_weights(base + f".{tag}.ccw", [(n, want[n]) for n, _ in tensors])
        # float32 arithmetic (colconv's) must land well within the tests'
        # 1e-4, whatever the order of its sums: torch in float32, on the
        # batch in two orders, stands for it
        for order in ([0, 1, 2], [2, 0, 1]):
            got = train_steps(tensors, forward, x[order], labels[order], optimizer,
                              torch.float32, 3)
            error = worst_error({n: want[n].detach() for n, _ in tensors},
                                {n: got[n].detach() for n, _ in tensors})
            print(f"{name} {tag} {order}: torch float32 vs float64, worst {error:.1e}")
            assert error < 2.5e-5, "goldens too sensitive to float32 rounding"


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    optimizers()
    network("lenet5", lenet5_model, 51)
    network("lenet", lenet_model, 52)
    network("bottleneck", bottleneck_model, 53)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT}: {total} bytes")
