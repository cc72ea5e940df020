#!/usr/bin/python3
"""ONNX models for colconv's importer (issue 14), exported by PyTorch with
seeded random weights, each with an input and PyTorch's output for it.

Debian: apt-get install python3-torch python3-torchvision python3-onnx; run
/usr/bin/python3 tools/make_onnx_models.py [--out DIR] [--models LIST].

For each model NAME it writes DIR/NAME.onnx, DIR/NAME.x.npy (the input,
float32, NCHW) and DIR/NAME.y.npy (PyTorch's output for it, float32; [N][C]
for classifiers). Models:
  networks  lenet5 (colconv's zoo LeNet-5 with the zoo's tensor names, a
            symbolic batch dimension, batch 3), squeezenet1_1, alexnet,
            vgg16, resnet50, googlenet (aux_logits=False), mobilenet_v2 and
            densenet121 from torchvision's definitions, batch 1 at 224x224.
  ops       one small file per operator and attribute case (op_*), batch 2
            on odd sizes (see OPS below).
  small     lenet5, squeezenet1_1 and the ops: what tests/onnx/ holds
            (the default, and the default --out is tests/onnx).
  big       the torchvision networks but squeezenet1_1 (100 MB to 550 MB
            each: never committed).
Weights: conv and linear He-normal (std sqrt(2 / fan_in)), their biases
normal * 0.1; batch norms weight uniform(0.5, 1.5), bias normal * 0.1,
running_mean normal * 0.1, running_var uniform(0.5, 1.5), but ResNet's bn3
(the residual branch's last) weight uniform(0.1, 0.3), so that the sum over
16 blocks stays near 10 (6e4 otherwise); so that outputs are of order 1 to
100, not the 1e-12 some networks give at their default initialisation.
Inputs normal(0, 1). Every draw comes from one torch.Generator seeded per
model (--seed, default 14), so the files are the same on every run of the
same torch. Models are in eval mode, exported at torch's default opset
(14 for torch 1.13) with torch.onnx.export's defaults (batch norm after a
conv folded into it), except where a case says otherwise.

Cases that PyTorch cannot export as the ONNX node they are about are
rewritten with the onnx helper API, the golden staying PyTorch's output of the
module: op_conv_same_pads (the Pad that F.pad exports folded into the Conv's
pads), op_conv_same_upper / op_conv_same_lower (the same as auto_pad
SAME_UPPER / SAME_LOWER, no pads), op_pad (the Pad's pads as one initializer,
as tf2onnx writes them), op_global_max (GlobalMaxPool: torch exports
AdaptiveMaxPool2d(1) as a MaxPool over the whole map, op_maxpool_global),
op_dropout (a Dropout node inserted: eval export drops it) and op_lrn (a
1x1 Conv and one LRN node: torch exports local_response_norm as a chain of
pools; golden from F.local_response_norm, which has ONNX's semantics for an
odd size). The pooling cases have a conv first, as real models do.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn
import torch.nn.functional as F

NETWORKS = ["lenet5", "squeezenet1_1", "alexnet", "vgg16", "resnet50", "googlenet",
            "mobilenet_v2", "densenet121"]
BIG = [n for n in NETWORKS if n not in ("lenet5", "squeezenet1_1")]


class LeNet5(nn.Module):
    """colconv's zoo "lenet5" (src/net/zoo.c), with its layer names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class Seq(nn.Sequential):
    """nn.Sequential whose modules may be plain functions."""

    def __init__(self, *steps):
        super().__init__(*[s if isinstance(s, nn.Module) else Fn(s) for s in steps])


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Residual(nn.Module):
    """relu(b(a(x)) + a(x)): ResNet's add, with a ReLU to fuse."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.a(x)
        return torch.relu(self.b(y) + y)


class Branches(nn.Module):
    """Concat of two convs and a pool (Inception's shape)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 5, 1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), F.max_pool2d(x, 3, 1, 1)], 1)


class ChannelScale(nn.Module):
    """conv, then a product by a [1][C][1][1] tensor and by a scalar."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.scale = nn.Parameter(torch.zeros(1, 6, 1, 1))

    def forward(self, x):
        return self.conv(x) * self.scale * 0.5


class MatMulAdd(nn.Module):
    """Keras's Dense as tf2onnx writes it: MatMul by [in][out], then Add."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(105, 11))
        self.b = nn.Parameter(torch.zeros(11))

    def forward(self, x):
        return torch.matmul(torch.flatten(x, 1), self.w) + self.b


class ReshapeLinear(nn.Module):
    """x.reshape(x.size(0), -1): a Shape-Gather-Concat chain before Reshape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 3 * 5, 7)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(y.reshape(y.size(0), -1))


def keras_same(h, w, k, s):
    """TF's "same" padding (left, right, top, bottom) for F.pad."""
    def split(size):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    top, bottom = split(h)
    left, right = split(w)
    return left, right, top, bottom


def same_module(lower):
    """Keras "same" 3x3/2 conv on 12x13: pads (0, 1) in height, (1, 1) in
    width; SAME_LOWER puts the odd pixel first."""
    left, right, top, bottom = keras_same(12, 13, 3, 2)
    pads = (right, left, bottom, top) if lower else (left, right, top, bottom)
    return Seq(lambda x: F.pad(x, pads), nn.Conv2d(3, 5, 3, stride=2)), pads


def conv():
    """The 3x3 conv (padding 1) before a pool: the cases are about the pool's
    attributes, in a model that has weights as real ones do."""
    return nn.Conv2d(3, 4, 3, padding=1)


# name -> (module, input shape, export keywords). All batch 2.
def ops():
    conv_same, _ = same_module(False)
    conv_same_lower, _ = same_module(True)
    eval_bn = {"training": torch.onnx.TrainingMode.PRESERVE}
    dynamic = {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}}
    return {
        "op_conv_groups": (nn.Conv2d(6, 9, 3, groups=3, padding=1), (2, 6, 11, 13), {}),
        "op_conv_depthwise": (nn.Conv2d(5, 10, 3, groups=5, stride=2), (2, 5, 9, 12), {}),
        "op_conv_dilation": (nn.Conv2d(3, 5, 3, dilation=2, padding=2), (2, 3, 11, 10), {}),
        "op_conv_stride": (nn.Conv2d(4, 7, (3, 5), stride=(2, 3), padding=(1, 2)),
                           (2, 4, 13, 17), {}),
        "op_conv_asym_pad": (Seq(nn.ZeroPad2d((1, 2, 0, 3)), nn.Conv2d(3, 4, 3)),
                             (2, 3, 7, 9), {}),
        "op_pad": (Seq(nn.ZeroPad2d((1, 2, 0, 3)), nn.Conv2d(3, 4, 3)), (2, 3, 7, 9), {}),
        "op_conv_same": (conv_same, (2, 3, 12, 13), {}),
        "op_conv_same_pads": (conv_same, (2, 3, 12, 13), {}),
        "op_conv_same_upper": (conv_same, (2, 3, 12, 13), {}),
        "op_conv_same_lower": (conv_same_lower, (2, 3, 12, 13), {}),
        "op_gemm": (Seq(nn.Flatten(), nn.Linear(105, 11)), (2, 3, 5, 7), {}),
        "op_gemm_2d": (nn.Linear(37, 11), (2, 37), {}),
        "op_matmul_add": (MatMulAdd(), (2, 3, 5, 7), {}),
        "op_relu": (Seq(nn.Conv2d(3, 4, 3), nn.ReLU()), (2, 3, 7, 9), {}),
        "op_leaky_relu": (Seq(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.13)), (2, 3, 7, 9), {}),
        "op_relu6": (Seq(nn.Conv2d(3, 4, 3), nn.ReLU6()), (2, 3, 7, 9), {}),
        "op_clip": (Seq(nn.Conv2d(3, 4, 3), nn.Hardtanh(-0.5, 2.0)), (2, 3, 7, 9), {}),
        "op_sigmoid": (Seq(nn.Conv2d(3, 4, 3), nn.Sigmoid()), (2, 3, 7, 9), {}),
        "op_tanh": (Seq(nn.Conv2d(3, 4, 3), nn.Tanh()), (2, 3, 7, 9), {}),
        "op_hardsigmoid": (Seq(nn.Conv2d(3, 4, 3), nn.Hardsigmoid()), (2, 3, 7, 9), {}),
        "op_hardswish": (Seq(nn.Conv2d(3, 4, 3), nn.Hardswish()), (2, 3, 7, 9), {}),
        "op_maxpool_ceil": (Seq(conv(), nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)),
                            (2, 3, 10, 13), {}),
        "op_maxpool_ceil_nopad": (Seq(conv(), nn.MaxPool2d(3, 2, ceil_mode=True)),
                                  (2, 3, 12, 13), {}),
        "op_avgpool_pad_incl": (Seq(conv(), nn.AvgPool2d(3, 2, padding=1, count_include_pad=True)),
                                (2, 3, 11, 12), {}),
        "op_avgpool_pad_excl": (Seq(conv(), nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)),
                                (2, 3, 11, 12), {}),
        "op_global_avg": (Seq(nn.Conv2d(3, 6, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                          (2, 3, 9, 11), {}),
        "op_global_max": (Seq(nn.Conv2d(3, 6, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten()),
                          (2, 3, 9, 11), {}),
        "op_maxpool_global": (Seq(nn.Conv2d(3, 6, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten()),
                              (2, 3, 9, 11), {}),
        "op_concat": (Branches(), (2, 3, 7, 9), {}),
        "op_add": (Residual(), (2, 3, 7, 9), {}),
        "op_mul_channel": (ChannelScale(), (2, 3, 7, 9), {}),
        "op_mul_scalar": (Seq(nn.Conv2d(3, 4, 3), lambda x: x * 0.5), (2, 3, 7, 9), {}),
        "op_batchnorm": (Seq(nn.Conv2d(3, 6, 3, bias=False), nn.BatchNorm2d(6), nn.ReLU()),
                         (2, 3, 7, 9), eval_bn),
        "op_batchnorm_input": (nn.BatchNorm2d(3), (2, 3, 7, 9), eval_bn),
        "op_reshape": (ReshapeLinear(), (2, 3, 5, 7), {}),
        "op_reshape_dynamic": (ReshapeLinear(), (2, 3, 5, 7), dynamic),
        "op_softmax": (Seq(nn.Flatten(), nn.Linear(105, 9), nn.Softmax(dim=1)),
                       (2, 3, 5, 7), {}),
        "op_softmax_channels": (Seq(nn.Conv2d(3, 6, 1), nn.Softmax(dim=1)), (2, 3, 5, 7), {}),
        "op_dropout": (Seq(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(60, 5)),
                       (2, 3, 5, 7), {}),
        "op_lrn": (Seq(nn.Conv2d(3, 7, 1),
                       lambda x: F.local_response_norm(x, 5, alpha=0.1, beta=0.75, k=1.5)),
                   (2, 3, 5, 6), {}),
    }


def randomise(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, (2.0 / m.weight[0].numel()) ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
        for m in model.modules():
            if type(m).__name__ == "Bottleneck":
                m.bn3.weight.uniform_(0.1, 0.3, generator=gen)
            if isinstance(m, (MatMulAdd, ChannelScale)):
                for name, p in m.named_parameters(recurse=False):
                    if name == "scale":
                        p.uniform_(-1.5, 1.5, generator=gen)
                    elif name == "w":
                        p.normal_(0.0, (2.0 / p.shape[0]) ** 0.5, generator=gen)
                    else:
                        p.normal_(0.0, 0.1, generator=gen)


def network(name):
    """(module, input shape, export keywords) of a network."""
    import torchvision.models as tv
    if name == "lenet5":
        dynamic = {"input": {0: "batch"}, "output": {0: "batch"}}
        return LeNet5(), (3, 1, 32, 32), {"dynamic_axes": dynamic}
    if name == "googlenet":
        return tv.googlenet(aux_logits=False, init_weights=False), (1, 3, 224, 224), {}
    return getattr(tv, name)(), (1, 3, 224, 224), {}


# The onnx helper rewrites.
def prune(graph):
    """Drops nodes whose outputs nothing reads, then unread initializers."""
    while True:
        read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in read for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    read = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in read]:
        graph.initializer.remove(init)


def only(graph, op_type):
    nodes = [n for n in graph.node if n.op_type == op_type]
    if len(nodes) != 1:
        sys.exit("make_onnx_models: expected one %s node, found %d" % (op_type, len(nodes)))
    return nodes[0]


def fold_pad(model, auto_pad, pads):
    """The Pad before the Conv removed; the Conv pads it itself, with an
    explicit pads attribute (ONNX order: top, left, bottom, right) or with
    auto_pad."""
    g = model.graph
    pad, conv = only(g, "Pad"), only(g, "Conv")
    conv.input[0] = pad.input[0]
    for a in [a for a in conv.attribute if a.name in ("pads", "auto_pad")]:
        conv.attribute.remove(a)
    left, right, top, bottom = pads
    if auto_pad:
        conv.attribute.append(onnx.helper.make_attribute("auto_pad", auto_pad))
    else:
        conv.attribute.append(onnx.helper.make_attribute("pads", [top, left, bottom, right]))
    prune(g)


def insert_dropout(model):
    """A Dropout (ratio 0.3 as an input, opset 12+) after the Relu."""
    g = model.graph
    relu = only(g, "Relu")
    dropped = relu.output[0] + "_dropout"
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == relu.output[0]:
                n.input[i] = dropped
    g.initializer.append(numpy_helper.from_array(np.array(0.3, np.float32), "ratio"))
    node = onnx.helper.make_node("Dropout", [relu.output[0], "ratio"], [dropped], name="dropout")
    g.node.insert(list(g.node).index(relu) + 1, node)


def constant_pad(model, pads):
    """The Pad's pads as one int64 initializer (as tf2onnx writes them), in
    place of the chain of Constant, ConstantOfShape, Concat, Reshape, Slice,
    Transpose and Cast that torch exports for F.pad."""
    pad = only(model.graph, "Pad")
    left, right, top, bottom = pads
    onnx_pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
    model.graph.initializer.append(numpy_helper.from_array(onnx_pads, "pads"))
    pad.input[1] = "pads"
    prune(model.graph)


def global_max(model):
    """torch exports AdaptiveMaxPool2d(1) as a MaxPool over the whole map:
    made a GlobalMaxPool."""
    pool = only(model.graph, "MaxPool")
    node = onnx.helper.make_node("GlobalMaxPool", list(pool.input), list(pool.output),
                                 name=pool.name)
    nodes = list(model.graph.node)
    model.graph.node.insert(nodes.index(pool), node)
    model.graph.node.remove(pool)


def lrn_model(module, shape):
    """The module's 1x1 conv, then one LRN node."""
    conv = module[0]
    out = [shape[0], conv.out_channels, shape[2], shape[3]]
    x = onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, list(shape))
    y = onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, out)
    weights = [numpy_helper.from_array(conv.weight.detach().numpy(), "0.weight"),
               numpy_helper.from_array(conv.bias.detach().numpy(), "0.bias")]
    nodes = [onnx.helper.make_node("Conv", ["input", "0.weight", "0.bias"], ["conv"], name="conv",
                                   kernel_shape=[1, 1]),
             onnx.helper.make_node("LRN", ["conv"], ["output"], name="lrn", size=5, alpha=0.1,
                                   beta=0.75, bias=1.5)]
    graph = onnx.helper.make_graph(nodes, "lrn", [x], [y], initializer=weights)
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 14)],
                                  producer_name="make_onnx_models.py")


def rewrite(name, module, path, shape):
    """The onnx helper's part of a case, on the file torch wrote."""
    if name == "op_lrn":
        onnx.save(lrn_model(module, shape), path)
        return
    if name not in ("op_conv_same_pads", "op_conv_same_upper", "op_conv_same_lower",
                    "op_dropout", "op_pad", "op_global_max"):
        return
    model = onnx.load(path)
    if name == "op_dropout":
        insert_dropout(model)
    elif name == "op_pad":
        constant_pad(model, (1, 2, 0, 3))
    elif name == "op_global_max":
        global_max(model)
    else:
        lower = name == "op_conv_same_lower"
        _, pads = same_module(lower)
        auto = {"op_conv_same_upper": "SAME_UPPER", "op_conv_same_lower": "SAME_LOWER"}
        fold_pad(model, auto.get(name), pads)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def write_zoo_weights(module, path):
    """The state_dict in colconv's weights format (tools/make_golden.py's
    writer): the zoo names its VGG-16 and ResNet-50 tensors as torchvision."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_golden import write_weights
    sys.path.pop(0)
    tensors = [(k, v) for k, v in module.state_dict().items() if v.is_floating_point()]
    write_weights(path, tensors)


def export(name, module, shape, keywords, out, seed, zoo_weights=False):
    gen = torch.Generator().manual_seed(seed)
    module.eval()
    randomise(module, gen)
    x = torch.randn(*shape, generator=gen)
    with torch.no_grad():
        y = module(x)
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(module, x, path, input_names=["input"], output_names=["output"],
                      **keywords)
    rewrite(name, module, path, shape)
    onnx.checker.check_model(onnx.load(path))
    if zoo_weights and name in ("vgg16", "resnet50"):
        write_zoo_weights(module, os.path.join(out, name + ".ccw"))
    np.save(os.path.join(out, name + ".x.npy"), x.numpy().astype("<f4"))
    np.save(os.path.join(out, name + ".y.npy"), y.numpy().astype("<f4"))
    kinds = sorted({n.op_type for n in onnx.load(path).graph.node})
    print("%-24s %9.1f kB  y %-16s max|y| %8.3g  %s" % (
        name, os.path.getsize(path) / 1e3, tuple(y.shape), float(y.abs().max()), " ".join(kinds)),
        flush=True)


def chosen(text):
    table = ops()
    groups = {"networks": NETWORKS, "ops": list(table), "big": BIG,
              "small": ["lenet5", "squeezenet1_1"] + list(table)}
    groups["all"] = NETWORKS + list(table)
    names = []
    for item in text.split(","):
        if item in groups:
            names += groups[item]
        elif item in NETWORKS or item in table:
            names.append(item)
        else:
            sys.exit("make_onnx_models: unknown model or group '%s' (groups: %s; models: %s)" % (
                item, " ".join(groups), " ".join(NETWORKS + list(table))))
    return list(dict.fromkeys(names))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--out", default=os.path.join(here, "..", "tests", "onnx"),
                   help="output directory (default tests/onnx)")
    p.add_argument("--models", default="small",
                   help="comma-separated models and groups (default small)")
    p.add_argument("--seed", type=int, default=14, help="the generator's seed (default 14)")
    p.add_argument("--zoo-weights", action="store_true",
                   help="also write NAME.ccw, the weights in colconv's format, for vgg16 and "
                        "resnet50 (tools/run/check_zoo.c compares the zoo's network with them "
                        "against the import)")
    a = p.parse_args()
    names = chosen(a.models)
    os.makedirs(a.out, exist_ok=True)
    table = ops()
    for name in names:
        module, shape, keywords = table[name] if name in table else network(name)
        export(name, module, shape, keywords, a.out, a.seed, a.zoo_weights)


if __name__ == "__main__":
    main()
