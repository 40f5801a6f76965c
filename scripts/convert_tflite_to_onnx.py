#!/usr/bin/env python3
"""Convert MediaPipe's selfie-segmentation .tflite models to ONNX (opset 17).

Usage: convert_tflite_to_onnx.py [--resize-op] IN.tflite OUT.onnx

Handles exactly the op set of those two models and fails loudly on anything
else (tf2onnx, by contrast, exits 0 on the custom op and writes a broken graph).
fp16 weights (DEQUANTIZE) are folded into fp32 initializers; MediaPipe's custom
op Convolution2DTransposeBias becomes ConvTranspose with bias. Inside, the graph
is NCHW; the graph input "input" is NHWC float32 [1,H,W,3] in [0,1] and the
output "mask" is [1,H,W,1], the person probability. The output is
byte-deterministic: no timestamps, names come from the model or a counter.
"""
import argparse

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper
from tflite.BuiltinOperator import BuiltinOperator

OPNAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}  # tflite TensorType
SAME = 0  # tflite Padding enum
SIMPLE = {"RELU": "Relu", "HARD_SWISH": "HardSwish", "LOGISTIC": "Sigmoid", "ADD": "Add", "MUL": "Mul"}


def options(op, cls):
    o, t = cls(), op.BuiltinOptions()
    o.Init(t.Bytes, t.Pos)
    return o


class Converter:
    def __init__(self, model, resize_op):
        self.m, self.g, self.resize_op = model, model.Subgraphs(0), resize_op
        self.nodes, self.inits = [], []
        self.consts = {}  # tflite tensor index -> np array (tflite layout)
        self.names = {}  # tflite tensor index -> ONNX value name (NCHW)
        self.const_cache = {}  # dedupe identical small constants
        self.uid = 0

    # --- tflite access -------------------------------------------------
    def shape(self, i):
        t = self.g.Tensors(i)
        return [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []

    def buffer(self, i):
        t = self.g.Tensors(i)
        data = self.m.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int):  # no data: a runtime tensor
            return None
        return np.frombuffer(data.tobytes(), DTYPES[t.Type()]).reshape(self.shape(i))

    def const(self, i):
        if i not in self.consts:
            arr = self.buffer(i)
            if arr is None:
                raise ValueError(f"tensor {i} is not constant")
            self.consts[i] = arr
        return self.consts[i]

    # --- ONNX emission ---------------------------------------------------
    def init(self, arr):
        arr = np.ascontiguousarray(arr)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.const_cache:
            name = self.const_cache[key] = f"const_{len(self.inits)}"
            self.inits.append(numpy_helper.from_array(arr, name))
        return self.const_cache[key]

    def node(self, op, inputs, out=None, **attrs):
        if out is None:
            self.uid += 1
            out = f"{op.lower()}_{self.uid}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def value(self, i):
        """ONNX name of tflite tensor i; constants become NCHW initializers."""
        if i in self.names:
            return self.names[i]
        arr = self.const(i).astype(np.float32)
        if arr.ndim == 4:
            arr = arr.transpose(0, 3, 1, 2)
        elif arr.ndim > 1:
            raise ValueError(f"constant operand of rank {arr.ndim} not supported")
        return self.init(arr)

    # --- ops ---------------------------------------------------------------
    @staticmethod
    def same_pads(in_hw, k_hw, s_hw):
        # TFLite SAME puts the odd pixel at the bottom/right.
        begin, end = [], []
        for n, k, s in zip(in_hw, k_hw, s_hw):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return begin + end

    def conv(self, op, ins, out, depthwise):
        o = options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
        if o.FusedActivationFunction() != 0 or (o.DilationHFactor(), o.DilationWFactor()) != (1, 1):
            raise ValueError("fused activation / dilation not supported")
        w = self.const(ins[1]).astype(np.float32)
        cin = self.shape(ins[0])[3]
        if depthwise:  # [1,kh,kw,C*M] -> [C*M,1,kh,kw]
            if w.shape[3] != cin:
                raise ValueError("depth_multiplier != 1 not supported")
            w, group = w.transpose(3, 0, 1, 2), cin
        else:  # [O,kh,kw,I] -> [O,I,kh,kw]
            w, group = w.transpose(0, 3, 1, 2), 1
        k, s = list(w.shape[2:]), [o.StrideH(), o.StrideW()]
        pads = self.same_pads(self.shape(ins[0])[1:3], k, s) if o.Padding() == SAME else [0] * 4
        inputs = [self.value(ins[0]), self.init(w), self.value(ins[2])]
        return self.node("Conv", inputs, out, kernel_shape=k, strides=s, pads=pads, group=group)

    def transpose_conv_bias(self, op, ins, out):
        # MediaPipe custom op; options are 3 raw int32: padding, stride_w, stride_h.
        padding, sw, sh = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), np.int32)
        w = self.const(ins[1]).astype(np.float32).transpose(3, 0, 1, 2)  # OHWI -> IOHW
        k, s = list(w.shape[2:]), [int(sh), int(sw)]
        in_hw, out_hw = self.shape(ins[0])[1:3], self.shape(op.Outputs(0))[1:3]
        pads = [0] * 4
        if padding == SAME:
            totals = [(n - 1) * st + kk - m for n, st, kk, m in zip(in_hw, s, k, out_hw)]
            pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
        inputs = [self.value(ins[0]), self.init(w), self.value(ins[2])]
        return self.node("ConvTranspose", inputs, out, kernel_shape=k, strides=s, pads=pads)

    def upsample2x(self, x, shape, out):
        """Exact-2x half-pixel bilinear with edge clamp, one axis at a time, as
        plain ops: tract's Resize is slow. even = .75*x[i] + .25*x[i-1],
        odd = .75*x[i] + .25*x[i+1], then interleave via Reshape/Concat."""
        shape = list(shape)
        for axis in (2, 3):
            n = shape[axis]
            ax = self.init(np.array([axis], np.int64))

            def sl(a, b):
                return self.node("Slice", [x, self.init(np.array([a], np.int64)),
                                           self.init(np.array([b], np.int64)), ax])

            prev = self.node("Concat", [sl(0, 1), sl(0, n - 1)], axis=axis)
            nxt = self.node("Concat", [sl(1, n), sl(n - 1, n)], axis=axis)
            x75 = self.node("Mul", [x, self.init(np.array(0.75, np.float32))])
            q = self.init(np.array(0.25, np.float32))
            even = self.node("Add", [x75, self.node("Mul", [prev, q])])
            odd = self.node("Add", [x75, self.node("Mul", [nxt, q])])
            split = self.init(np.array(shape[:axis + 1] + [1] + shape[axis + 1:], np.int64))
            both = self.node("Concat", [self.node("Reshape", [even, split]),
                                        self.node("Reshape", [odd, split])], axis=axis + 1)
            shape[axis] *= 2
            x = self.node("Reshape", [both, self.init(np.array(shape, np.int64))],
                          out if axis == 3 else None)
        return x

    def resize(self, op, ins, out):
        o = options(op, tflite.ResizeBilinearOptions)
        n, h, w, c = self.shape(ins[0])
        if o.AlignCorners() or not o.HalfPixelCenters() or list(self.const(ins[1])) != [2 * h, 2 * w]:
            raise ValueError("only exact-2x half-pixel-centers RESIZE_BILINEAR is supported")
        if self.resize_op:
            scales = self.init(np.array([1, 1, 2, 2], np.float32))
            return self.node("Resize", [self.value(ins[0]), "", scales], out, mode="linear",
                             coordinate_transformation_mode="half_pixel")
        return self.upsample2x(self.value(ins[0]), [n, c, h, w], out)

    def global_pool(self, op, ins, out, name):
        in_shape, out_shape = self.shape(ins[0]), self.shape(op.Outputs(0))
        if name == "AVERAGE_POOL_2D":
            o = options(op, tflite.Pool2DOptions)
            ok = [o.FilterHeight(), o.FilterWidth()] == in_shape[1:3] and o.FusedActivationFunction() == 0
        else:  # MEAN
            ok = sorted(self.const(ins[1]).tolist()) == [1, 2] and len(out_shape) == 4
        if not ok or out_shape[1:3] != [1, 1]:
            raise ValueError(f"only global {name} is supported")
        return self.node("GlobalAveragePool", [self.value(ins[0])], out)

    # --- driver ----------------------------------------------------------------
    def convert(self):
        g = self.g
        (inp,), (outp,) = g.InputsAsNumpy(), g.OutputsAsNumpy()
        n, h, w, c = self.shape(inp)
        self.names[inp] = self.node("Transpose", ["input"], "input_nchw", perm=[0, 3, 1, 2])
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            code = self.m.OperatorCodes(op.OpcodeIndex())
            name = OPNAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins, o = [int(i) for i in op.InputsAsNumpy()], int(op.Outputs(0))
            out = g.Tensors(o).Name().decode()
            if name == "DEQUANTIZE":  # fp16 weights: fold into fp32 constants
                self.consts[o] = self.const(ins[0]).astype(np.float32)
                continue
            if name in ("ADD", "MUL"):  # fused activations are absent here; reject them
                if options(op, getattr(tflite, name.title() + "Options")).FusedActivationFunction():
                    raise ValueError(f"{name} with fused activation not supported")
            if name in SIMPLE:
                r = self.node(SIMPLE[name], [self.value(i) for i in ins], out)
            elif name == "CONV_2D":
                r = self.conv(op, ins, out, depthwise=False)
            elif name == "DEPTHWISE_CONV_2D":
                r = self.conv(op, ins, out, depthwise=True)
            elif name in ("AVERAGE_POOL_2D", "MEAN"):
                r = self.global_pool(op, ins, out, name)
            elif name == "RESIZE_BILINEAR":
                r = self.resize(op, ins, out)
            elif name == "CUSTOM" and code.CustomCode() == b"Convolution2DTransposeBias":
                r = self.transpose_conv_bias(op, ins, out)
            else:
                raise ValueError(f"unsupported op {name} {code.CustomCode()!r}")
            self.names[o] = r
        if self.shape(outp) != [n, h, w, 1]:
            raise ValueError(f"unexpected output shape {self.shape(outp)}")
        # One channel: NCHW -> NHWC is a plain Reshape, cheaper than Transpose.
        self.node("Reshape", [self.names[outp], self.init(np.array([n, h, w, 1], np.int64))], "mask")
        graph = helper.make_graph(
            self.nodes, "selfie_segmentation",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, h, w, c])],
            [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [n, h, w, 1])],
            self.inits)
        model = helper.make_model(graph, producer_name="backdrop convert_tflite_to_onnx.py",
                                  opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8  # the IR that introduced opset 17: widest runtime support
        onnx.checker.check_model(model, full_check=True)
        return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resize-op", action="store_true",
                    help="emit ONNX Resize for the 2x upsamples (default: plain ops, faster in tract)")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    with open(a.input, "rb") as f:
        buf = f.read()
    model = Converter(tflite.Model.GetRootAsModel(buf, 0), a.resize_op).convert()
    with open(a.output, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))


if __name__ == "__main__":
    main()
