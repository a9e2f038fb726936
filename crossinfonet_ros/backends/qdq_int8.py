"""Static int8 quantisation of the inference graph: int8 convolutions and big FC layers in
ONNX Runtime's QDQ form, activation ranges calibrated on hand crops.

The choices (each measured on the shipped weights; figures and the variants not kept in
docs/backends.md):

* QDQ (QuantizeLinear / DequantizeLinear pairs): ONNX Runtime fuses each ``DQ -> Conv -> Q``
  into one QLinearConv at session start; the explicit QOperator form ran no faster here.
* weights int8 per output channel, symmetric; activations uint8 with MinMax ranges.
* weights in 7 bits (``reduce_range``): without AVX-512 VNNI / AVX-VNNI, x86 ONNX Runtime
  multiplies u8 x s8 with vpmaddubsw, whose int16 pair sums saturate (255 x 127 x 2 > 32767);
  with full 8-bit weights that put the joints 20 mm off here. 7 bits cannot saturate and cost
  no measurable accuracy, so one graph serves every CPU.
* the stem and the first two backbone stages stay fp32 (:data:`FP32_PREFIXES`). The stem
  reads the normalised depth itself, and 8 bits over the [-1, 1] crop are ~1 mm depth steps,
  coarser than the finger relief (quantised, it doubles the deviation); the two stages run at
  48-12 px with 16-128 channels, where the quantise / dequantise steps cost about what int8
  saves, and they held half of the remaining deviation.
* the two big FC layers (9216 -> 1024, :func:`~crossinfonet_ros.backends.fc_int8.big_fc_nodes`)
  are int8 too: at batch 1 they stream 75 MB of fp32 weights, 19 MB as int8. The small FC
  layers and the joint head stay fp32 (little time, last rounding before the output).
"""

import os
import tempfile
from typing import List

import numpy as np

from crossinfonet_ros.backends.fc_int8 import big_fc_nodes

# Crops per calibration batch (activation ranges are the min / max over all batches).
CALIBRATION_BATCH = 8
# Convs whose weights' names (the model's module paths, kept by the export) start so stay fp32.
FP32_PREFIXES = ('net.backbone.stem.', 'net.backbone.stages.0.', 'net.backbone.stages.1.')


def fp32_nodes(model) -> List[str]:
    """Names of the Conv / Gemm nodes kept in fp32: the convs reading the graph input or named
    by :data:`FP32_PREFIXES`, and every Gemm that is not one of the big FC layers.

    :param model: onnx.ModelProto of the fp32 inference graph
    """
    inputs = {value.name for value in model.graph.input}
    big = {node.name for node in big_fc_nodes(model)}
    return [node.name for node in model.graph.node
            if (node.op_type == 'Conv' and (node.input[0] in inputs
                                            or node.input[1].startswith(FP32_PREFIXES)))
            or (node.op_type == 'Gemm' and node.name not in big)]


def static_int8(model, calibration: np.ndarray, input_name: str = 'crops'):
    """The static int8 QDQ graph of ``model`` (see module doc); returns a new onnx.ModelProto.

    :param model: onnx.ModelProto of the fp32 inference graph, nodes named
    :param calibration: (N, 1, S, S) float32 normalised crops whose activations set the ranges
    :param input_name: the graph's crop input
    :raises ValueError: no calibration crops, or a node without a name
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)

    if len(calibration) == 0:
        raise ValueError('static int8 quantisation needs at least one calibration crop')
    if any(not node.name for node in model.graph.node if node.op_type in ('Conv', 'Gemm')):
        raise ValueError('every Conv / Gemm node needs a name to choose what stays fp32')
    batches = [np.ascontiguousarray(calibration[i:i + CALIBRATION_BATCH], np.float32)
               for i in range(0, len(calibration), CALIBRATION_BATCH)]

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(prefix='crossinfonet-int8-') as folder:
        source = os.path.join(folder, 'fp32.onnx')
        target = os.path.join(folder, 'int8.onnx')
        onnx.save(model, source)
        quantize_static(source, target, Crops(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=['Conv', 'Gemm'],
                        nodes_to_exclude=fp32_nodes(model), per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        return onnx.load(target)
