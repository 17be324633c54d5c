package dev.edgesr.demo

import dev.edgesr.core.DType
import dev.edgesr.core.ModelContract
import dev.edgesr.core.SrRunner
import dev.edgesr.core.TensorData
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.GpuDelegate
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Runs a `.tflite` artifact with LiteRT's Interpreter on the CPU ([threads] threads, XNNPACK)
 * or through the GPU delegate ([useGpu]).
 *
 * Tensors are bound by the contract's names (`input.name`, `output.name`) through the model's
 * signature when it has one, else by position.  Float tensors travel as native-order float32
 * buffers, int8/uint8 tensors as raw bytes (the contract's quantisation is applied by core).
 */
class LiteRtRunner(modelFile: File, private val contract: ModelContract, threads: Int, useGpu: Boolean) : SrRunner {
    private val gpu: GpuDelegate? = if (useGpu) GpuDelegate() else null
    private val interpreter: Interpreter = Interpreter(
        modelFile,
        Interpreter.Options().apply {
            setNumThreads(threads)
            gpu?.let { addDelegate(it) }
        },
    )
    private val signature: String? = interpreter.signatureKeys.firstOrNull()
    private var boundShape: IntArray? = null

    override fun run(input: TensorData): TensorData {
        val shape = input.shape.map { it.toInt() }.toIntArray()
        if (!shape.contentEquals(boundShape)) {
            // Dynamic models take any tile size; fixed ones already have this shape (resize is a no-op).
            if (!interpreter.getInputTensor(0).shape().contentEquals(shape)) {
                interpreter.resizeInput(0, shape)
                interpreter.allocateTensors()
            }
            boundShape = shape
        }
        val bytesPerValue = if (input.dtype == DType.FLOAT32) 4 else 1
        val inBuffer = ByteBuffer.allocateDirect(input.elementCount * bytesPerValue).order(ByteOrder.nativeOrder())
        if (input.floats != null) inBuffer.asFloatBuffer().put(input.floats) else inBuffer.put(input.bytes!!)
        inBuffer.rewind()

        val scale = contract.scale
        val outHeight = input.height * scale
        val outWidth = input.width * scale
        val outCount = 3 * outHeight * outWidth
        val outBytesPerValue = if (contract.output.dtype == DType.FLOAT32) 4 else 1
        val outBuffer = ByteBuffer.allocateDirect(outCount * outBytesPerValue).order(ByteOrder.nativeOrder())

        if (signature != null) {
            interpreter.runSignature(mapOf(contract.input.name to inBuffer), mapOf(contract.output.name to outBuffer), signature)
        } else {
            interpreter.run(inBuffer, outBuffer)
        }
        outBuffer.rewind()
        val layout = contract.output.layout
        return if (contract.output.dtype == DType.FLOAT32) {
            val values = FloatArray(outCount).also { outBuffer.asFloatBuffer().get(it) }
            TensorData.ofFloats(layout, outHeight, outWidth, values)
        } else {
            val values = ByteArray(outCount).also { outBuffer.get(it) }
            TensorData.ofBytes(layout, contract.output.dtype, outHeight, outWidth, values)
        }
    }

    override fun close() {
        interpreter.close()
        gpu?.close()
    }
}
