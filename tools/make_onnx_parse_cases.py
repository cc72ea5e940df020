#!/usr/bin/python3
"""Small hand-made ONNX files for tests/test_onnx_parse.c (issue 14): the
importer's parsing, its error paths and its graph mapping, with the onnx
helper API only (no torch). Debian: apt-get install python3-onnx; run
/usr/bin/python3 tools/make_onnx_parse_cases.py [--out DIR] (default
tests/onnx/parse).

Weights are not random: element k of a tensor with salt s is
((37 k + 11 s) mod 17 - 8) / 16, exact in float32, which the C test
recomputes (tst_onnx_value) to build the same network by hand.

Files (input "x" [N][3][7][5] with a symbolic batch "N" unless said):
  conv_raw         Conv 4 -> 3x3, pads 1 1 1 1, stride 1, bias; Relu; weights
                   in raw_data. Output "y".
  conv_float       the same with float_data.
  conv_external    the same with weight and bias in conv_external.bin at
                   offsets 16 and 16 + weight bytes (data_location EXTERNAL).
  ext_escape       the weight's location "../conv_external.bin".
  ext_absolute     location "/etc/hostname".
  ext_missing      location "absent.bin".
  ext_beyond       offset past the end of conv_external.bin.
  short_raw        raw_data 4 bytes short of the weight's dims.
  short_float      float_data one value short.
  huge_dims        a weight with dims [2^40] and no data.
  unknown_op       a node "mystery" of type "FooBar" after the Conv (opset 13).
  undefined_input  a Relu reading "nowhere".
  bad_attr_type    the Conv's strides given as a FLOAT attribute.
  old_opset        conv_raw at opset 6 (before the supported range).
  same_upper, same_lower, valid
                   Conv 4 -> 4x4 kernel, stride 2, auto_pad SAME_UPPER /
                   SAME_LOWER / VALID, no bias.
  shape_chain      Conv (as conv_raw) then Shape -> Gather(0) -> Unsqueeze ->
                   Concat with [-1] -> Reshape -> Gemm (transB 1) to 6 outputs,
                   output "logits".
  pad_conv         Pad (1, 2 on H; 0, 1 on W; pads as an initializer) then the
                   Conv of conv_raw with pads 0: the Pad folded into the conv.
  pad_maxpool      Pad then MaxPool: refused.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

N, C, H, W = "N", 3, 7, 5
OC = 4


def values(shape, salt):
    count = int(np.prod(shape))
    k = np.arange(count, dtype=np.int64)
    return (((37 * k + 11 * salt) % 17 - 8) / 16.0).astype(np.float32).reshape(shape)


def tensor(name, array, storage="raw"):
    if storage == "raw":
        return helper.make_tensor(name, TensorProto.FLOAT, array.shape,
                                  array.tobytes(), raw=True)
    return helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.flatten().tolist())


def io(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def model(nodes, initializers, output, out_dims, opset=13, name="parse"):
    graph = helper.make_graph(nodes, name, [io("x", [N, C, H, W])],
                              [io(output, out_dims)], initializers)
    m = helper.make_model(graph, producer_name="make_onnx_parse_cases",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def conv_node(pads=(1, 1, 1, 1), output="c", inp="x", **extra):
    attrs = dict(kernel_shape=[3, 3], pads=list(pads), strides=[1, 1])
    attrs.update(extra)
    return helper.make_node("Conv", [inp, "conv1.weight", "conv1.bias"], [output],
                            name="conv1", **attrs)


def conv_tensors(storage="raw"):
    return [tensor("conv1.weight", values((OC, C, 3, 3), 1), storage),
            tensor("conv1.bias", values((OC,), 2), storage)]


def conv_relu(storage="raw", opset=13):
    nodes = [conv_node(), helper.make_node("Relu", ["c"], ["y"], name="relu1")]
    return model(nodes, conv_tensors(storage), "y", [N, OC, H, W], opset)


def external(out, location, offset=16, name="conv_external"):
    """conv_relu with its tensors in conv_external.bin (written once)."""
    weight, bias = values((OC, C, 3, 3), 1), values((OC,), 2)
    path = os.path.join(out, "conv_external.bin")
    blob = b"\0" * 16 + weight.tobytes() + bias.tobytes()
    with open(path, "wb") as f:
        f.write(blob)
    m = conv_relu()
    for t, at, array in ((m.graph.initializer[0], offset, weight),
                         (m.graph.initializer[1], 16 + weight.nbytes, bias)):
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(at)),
                           ("length", str(array.nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return m


def auto_pad(mode):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_auto",
                            kernel_shape=[4, 4], strides=[2, 2], auto_pad=mode)
    out_h, out_w = (4, 3) if mode != "VALID" else (2, 1)
    return model([node], [tensor("w", values((OC, C, 4, 4), 3))], "y", [N, OC, out_h, out_w])


def shape_chain():
    nodes = [conv_node(),
             helper.make_node("Shape", ["c"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze"),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
             helper.make_node("Reshape", ["c", "target"], ["flat"], name="reshape"),
             helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"],
                              name="fc", transB=1)]
    inits = conv_tensors() + [
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        helper.make_tensor("axes0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]),
        tensor("fc.weight", values((6, OC * H * W), 4)),
        tensor("fc.bias", values((6,), 5))]
    return model(nodes, inits, "logits", [N, 6])


def padded(consumer):
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 1, 0, 0, 0, 2, 1])
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="constant")]
    if consumer == "conv":
        nodes.append(conv_node(pads=(0, 0, 0, 0), inp="p", output="y"))
        return model(nodes, conv_tensors() + [pads], "y", [N, OC, 8, 4])
    nodes.append(helper.make_node("MaxPool", ["p"], ["y"], name="pool", kernel_shape=[2, 2]))
    return model(nodes, [pads], "y", [N, C, 9, 5])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..",
                                                      "tests", "onnx", "parse"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    cases = {
        "conv_raw": conv_relu("raw"),
        "conv_float": conv_relu("float"),
        "conv_external": external(out, "conv_external.bin"),
        "ext_escape": external(out, "../conv_external.bin"),
        "ext_absolute": external(out, "/etc/hostname"),
        "ext_missing": external(out, "absent.bin"),
        "ext_beyond": external(out, "conv_external.bin", offset=1 << 20),
        "old_opset": conv_relu(opset=6),
        "same_upper": auto_pad("SAME_UPPER"),
        "same_lower": auto_pad("SAME_LOWER"),
        "valid": auto_pad("VALID"),
        "shape_chain": shape_chain(),
        "pad_conv": padded("conv"),
        "pad_maxpool": padded("maxpool"),
    }
    m = conv_relu("raw")
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    cases["short_raw"] = m
    m = conv_relu("float")
    del m.graph.initializer[0].float_data[-1]
    cases["short_float"] = m
    m = conv_relu("raw")
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    del w.dims[:]
    w.dims.append(1 << 40)
    cases["huge_dims"] = m
    m = conv_relu("raw")
    m.graph.node[1].input[0] = "nowhere"
    cases["undefined_input"] = m
    m = conv_relu("raw")
    m.graph.node.insert(1, helper.make_node("FooBar", ["c"], ["c2"], name="mystery"))
    m.graph.node[2].input[0] = "c2"
    cases["unknown_op"] = m
    m = conv_relu("raw")
    strides = [a for a in m.graph.node[0].attribute if a.name == "strides"][0]
    strides.CopyFrom(helper.make_attribute("strides", 1.0))
    cases["bad_attr_type"] = m
    for name, m in cases.items():
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
