package dev.edgesr.demo

import dev.edgesr.core.ModelContract
import dev.edgesr.core.SrRunner
import java.io.File

/**
 * The runtimes this app can run an artifact with.  [id] is the runtime name written to the
 * results file (apps/README.md, "Results"); [target] is the contract `target` it runs.
 */
enum class Runtime(val id: String, val label: String, val target: String, val hasThreads: Boolean) {
    EXECUTORCH_XNNPACK("executorch-xnnpack", "ExecuTorch (XNNPACK)", "executorch", hasThreads = false),
    LITERT_CPU("litert-cpu", "LiteRT CPU", "tflite", hasThreads = true),
    LITERT_GPU("litert-gpu", "LiteRT GPU delegate", "tflite", hasThreads = false);

    /** Opens [modelFile] (the artifact the contract names) for this runtime. */
    fun open(contract: ModelContract, modelFile: File, threads: Int): SrRunner = when (this) {
        EXECUTORCH_XNNPACK -> ExecuTorchRunner(modelFile.path, contract)
        LITERT_CPU -> LiteRtRunner(modelFile, contract, threads, useGpu = false)
        LITERT_GPU -> LiteRtRunner(modelFile, contract, threads, useGpu = true)
    }

    companion object {
        /** Runtimes that can run [contract]: matching target, tensor (not image) I/O. */
        fun forContract(contract: ModelContract): List<Runtime> =
            if (contract.input.image || contract.output.image) emptyList()
            else entries.filter { it.target == contract.target }
    }
}
