package dev.edgesr.demo

import dev.edgesr.core.DType
import dev.edgesr.core.Layout
import dev.edgesr.core.ModelContract
import dev.edgesr.core.SrRunner
import dev.edgesr.core.TensorData
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * Runs a `.pte` (ExecuTorch, XNNPACK-delegated) artifact.
 *
 * Input and output tensors are passed exactly as the contract describes them (layout, dtype,
 * shape [1, 3, H, W] or [1, H, W, 3]); the `forward` method takes one tensor and returns one.
 * ExecuTorch needs a file path, so [modelPath] is the artifact copied out of the APK.
 */
class ExecuTorchRunner(modelPath: String, private val contract: ModelContract) : SrRunner {
    private val module: Module = Module.load(modelPath)

    override fun run(input: TensorData): TensorData {
        val tensor = when (input.dtype) {
            DType.FLOAT32 -> Tensor.fromBlob(input.floats!!, input.shape)
            DType.INT8 -> Tensor.fromBlob(input.bytes!!, input.shape)
            DType.UINT8 -> Tensor.fromBlobUnsigned(input.bytes!!, input.shape)
        }
        val output = module.forward(EValue.from(tensor))[0].toTensor()
        val shape = output.shape()
        // Height and width sit at different axes in the two layouts.
        val (height, width) = when (contract.output.layout) {
            Layout.NCHW -> shape[2].toInt() to shape[3].toInt()
            Layout.NHWC -> shape[1].toInt() to shape[2].toInt()
        }
        return when (contract.output.dtype) {
            DType.FLOAT32 -> TensorData.ofFloats(contract.output.layout, height, width, output.dataAsFloatArray)
            DType.INT8 -> TensorData.ofBytes(contract.output.layout, DType.INT8, height, width, output.dataAsByteArray)
            DType.UINT8 -> TensorData.ofBytes(contract.output.layout, DType.UINT8, height, width, output.dataAsUnsignedByteArray)
        }
    }

    override fun close() = module.destroy()
}
