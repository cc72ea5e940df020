#!/usr/bin/python3
"""Golden data for tests/test_net.c, computed by PyTorch (Debian's
python3-torch: apt-get install -y python3-torch; run /usr/bin/python3
tools/make_golden.py from the repository root). CI does not run this: the
files it writes in tests/golden/ are committed.

Three networks, each with a fixed input and PyTorch's output for it:
  lenet5       colconv's zoo "lenet5" (1x32x32, batch 2); weights drawn by
               torch (seeded) and written in colconv's weights format.
  inception3a  colconv's zoo "inception3a" at 192x9x9 (batch 1) to keep the
               files small; weights are colconv's Xavier initialiser with
               seed 3, reproduced here bit for bit (docs/weights-format.md).
  bottleneck   two ResNet bottleneck blocks (cc_net_add_bottleneck) on
               32x8x8 (batch 2): "block1" mid 16, out 64, stride 2 with the
               1x1 projection, then "block2" mid 16, out 64, identity; batch
               norms in eval mode with random statistics; weights file.

Files per network NAME: NAME.input.f32 and NAME.output.f32 (raw float32
little-endian, NCHW, shapes as above; flat outputs [N][C]), and NAME.ccw
(weights) for lenet5 and bottleneck. The reference runs in float64 and is
rounded to float32 once.
"""
import math
import os
import struct
import zlib

import torch
import torch.nn.functional as F

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))


def write_weights(path, tensors):
    """tensors: list of (name, torch tensor) -> colconv weights file v1."""
    with open(path, "wb") as f:
        f.write(b"CCWEIGHT" + struct.pack("<II", 1, len(tensors)))
        for name, t in tensors:
            encoded = name.encode()
            record = struct.pack("<I", len(encoded)) + encoded
            record += struct.pack("<I", t.dim()) + struct.pack("<%dI" % t.dim(), *t.shape)
            record += t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
            f.write(record + struct.pack("<I", zlib.crc32(record) & 0xFFFFFFFF))


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


# ---- colconv's Xavier initialiser (src/net/init.c), bit for bit ----

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 40) * 2.0**-24


def xavier(rng, shape, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    count = math.prod(shape)
    values = [struct.unpack("<f", struct.pack("<f", (2.0 * rng.uniform() - 1.0) * limit))[0]
              for _ in range(count)]
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


# ---- lenet5 ----

def lenet5():
    torch.manual_seed(5)
    shapes = [("conv1", (6, 1, 5, 5)), ("conv2", (16, 6, 5, 5)),
              ("fc1", (120, 400)), ("fc2", (84, 120)), ("fc3", (10, 84))]
    tensors = []
    for name, shape in shapes:
        fan_in = math.prod(shape[1:])
        bound = 1.0 / math.sqrt(fan_in)  # torch's default: kaiming_uniform(a=sqrt(5))
        w = (torch.rand(shape, dtype=torch.float64) * 2 - 1) * bound
        b = (torch.rand(shape[0], dtype=torch.float64) * 2 - 1) * bound
        tensors += [(name + ".weight", w.float().double()), (name + ".bias", b.float().double())]
    p = dict(tensors)
    x = torch.randn(2, 1, 32, 32, dtype=torch.float64).float().double()
    y = torch.tanh(F.conv2d(x, p["conv1.weight"], p["conv1.bias"]))
    y = F.avg_pool2d(y, 2)
    y = torch.tanh(F.conv2d(y, p["conv2.weight"], p["conv2.bias"]))
    y = F.avg_pool2d(y, 2).flatten(1)
    y = torch.tanh(F.linear(y, p["fc1.weight"], p["fc1.bias"]))
    y = torch.tanh(F.linear(y, p["fc2.weight"], p["fc2.bias"]))
    y = F.linear(y, p["fc3.weight"], p["fc3.bias"])
    write_weights(os.path.join(OUT, "lenet5.ccw"), tensors)
    write_f32(os.path.join(OUT, "lenet5.input.f32"), x)
    write_f32(os.path.join(OUT, "lenet5.output.f32"), y)


# ---- inception3a at 9x9 ----

def inception3a():
    convs = [("1x1", 64, 192, 1), ("3x3_reduce", 96, 192, 1), ("3x3", 128, 96, 3),
             ("5x5_reduce", 16, 192, 1), ("5x5", 32, 16, 5), ("pool_proj", 32, 192, 1)]
    rng = SplitMix64(3)
    w = {}
    for name, oc, ic, k in convs:  # the network's tensor order
        w[name] = xavier(rng, (oc, ic, k, k), ic * k * k, oc * k * k)
    torch.manual_seed(33)
    x = torch.randn(1, 192, 9, 9, dtype=torch.float64).float().double()

    def conv_relu(t, name):
        k = w[name].shape[-1]
        return torch.relu(F.conv2d(t, w[name], padding=k // 2))

    towers = [conv_relu(x, "1x1"),
              conv_relu(conv_relu(x, "3x3_reduce"), "3x3"),
              conv_relu(conv_relu(x, "5x5_reduce"), "5x5"),
              conv_relu(F.max_pool2d(x, 3, 1, 1), "pool_proj")]
    y = torch.cat(towers, 1)
    write_f32(os.path.join(OUT, "inception3a.input.f32"), x)
    write_f32(os.path.join(OUT, "inception3a.output.f32"), y)


# ---- two bottleneck blocks ----

def bottleneck_tensors(prefix, cin, mid, out, project):
    def conv(name, shape):
        bound = 1.0 / math.sqrt(math.prod(shape[1:]))
        return [(f"{prefix}.{name}.weight",
                 ((torch.rand(shape, dtype=torch.float64) * 2 - 1) * bound).float().double())]

    def bn(name, c):
        return [(f"{prefix}.{name}.weight", (0.5 + torch.rand(c, dtype=torch.float64)).float().double()),
                (f"{prefix}.{name}.bias", (0.1 * torch.randn(c, dtype=torch.float64)).float().double()),
                (f"{prefix}.{name}.running_mean", (0.1 * torch.randn(c, dtype=torch.float64)).float().double()),
                (f"{prefix}.{name}.running_var", (0.5 + torch.rand(c, dtype=torch.float64)).float().double())]

    t = conv("conv1", (mid, cin, 1, 1)) + bn("bn1", mid)
    t += conv("conv2", (mid, mid, 3, 3)) + bn("bn2", mid)
    t += conv("conv3", (out, mid, 1, 1)) + bn("bn3", out)
    if project:
        t += conv("downsample.0", (out, cin, 1, 1)) + bn("downsample.1", out)
    return t


def bottleneck_forward(x, p, prefix, stride):
    def bn(t, name):
        return F.batch_norm(t, p[f"{prefix}.{name}.running_mean"], p[f"{prefix}.{name}.running_var"],
                            p[f"{prefix}.{name}.weight"], p[f"{prefix}.{name}.bias"],
                            training=False, eps=1e-5)

    y = torch.relu(bn(F.conv2d(x, p[f"{prefix}.conv1.weight"]), "bn1"))
    y = torch.relu(bn(F.conv2d(y, p[f"{prefix}.conv2.weight"], stride=stride, padding=1), "bn2"))
    y = bn(F.conv2d(y, p[f"{prefix}.conv3.weight"]), "bn3")
    shortcut = x
    if f"{prefix}.downsample.0.weight" in p:
        shortcut = bn(F.conv2d(x, p[f"{prefix}.downsample.0.weight"], stride=stride), "downsample.1")
    return torch.relu(y + shortcut)


def bottleneck():
    torch.manual_seed(7)
    tensors = bottleneck_tensors("block1", 32, 16, 64, True) + bottleneck_tensors("block2", 64, 16, 64, False)
    p = dict(tensors)
    x = torch.randn(2, 32, 8, 8, dtype=torch.float64).float().double()
    y = bottleneck_forward(bottleneck_forward(x, p, "block1", 2), p, "block2", 1)
    write_weights(os.path.join(OUT, "bottleneck.ccw"), tensors)
    write_f32(os.path.join(OUT, "bottleneck.input.f32"), x)
    write_f32(os.path.join(OUT, "bottleneck.output.f32"), y)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    lenet5()
    inception3a()
    bottleneck()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT}: {total} bytes")
