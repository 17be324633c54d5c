package dev.edgesr.core

/**
 * Runs one model on one tile.  Implemented by the app's runtimes (ExecuTorch, LiteRT) and by
 * fakes in the tests.
 *
 * Input: batch 1, RGB, exactly the tile size, in the contract's input layout and dtype
 * (float32 in the contract's range, or int8/uint8 quantised with the contract's scale/zero point).
 * Output: batch 1, RGB, [scale]× the tile size, in the contract's output layout and dtype.
 */
interface SrRunner : AutoCloseable {
    /** Runs the network on [input]; the returned tensor must not be reused by the runner afterwards. */
    fun run(input: TensorData): TensorData

    override fun close() {}
}

/** Milliseconds spent in each stage of one upscale: pre (pixels → tensors), run (network), post (tensors → pixels). */
data class StageTimes(val preMs: Double, val runMs: Double, val postMs: Double) {
    val totalMs: Double get() = preMs + runMs + postMs
}

/** One upscaled image and how long each stage took. */
class UpscaleResult(val image: RgbImage, val times: StageTimes, val plan: TilingPlan)

/**
 * The whole pipeline for one model: cut the image into tiles (as [chooseTiling]), encode each tile
 * (pre), run it (run), decode the kept output into the full output image (post), timing each stage.
 *
 * [maxTileSide] caps dynamic tiles (the app's tile setting); [clock] returns nanoseconds
 * (replaceable in tests).
 */
class Upscaler(
    val contract: ModelContract,
    private val runner: SrRunner,
    private val maxTileSide: Int? = null,
    private val clock: () -> Long = System::nanoTime,
) {
    private val codec = PixelCodec(contract.input, contract.output)

    /** The tiling used for an image of [height] × [width]. */
    fun plan(height: Int, width: Int): TilingPlan = chooseTiling(contract, height, width, maxTileSide)

    /** Upscales [image] (8-bit RGB) into an 8-bit RGB image [scale]× larger. */
    fun upscale(image: RgbImage): UpscaleResult {
        val plan = plan(image.height, image.width)
        val output = IntArray(plan.outputHeight * plan.outputWidth)
        var pre = 0L
        var run = 0L
        var post = 0L
        for (placement in plan.placements) {
            val t0 = clock()
            val tensor = codec.encode(image, placement.tile.top, placement.tile.left, plan.tileHeight, plan.tileWidth)
            val t1 = clock()
            val result = runner.run(tensor)
            val t2 = clock()
            checkOutput(result, plan)
            codec.decodeInto(
                result, placement.fromTop, placement.fromLeft, placement.height, placement.width,
                output, plan.outputWidth, placement.outTop, placement.outLeft,
            )
            val t3 = clock()
            pre += t1 - t0
            run += t2 - t1
            post += t3 - t2
        }
        val times = StageTimes(pre / 1e6, run / 1e6, post / 1e6)
        return UpscaleResult(RgbImage(plan.outputWidth, plan.outputHeight, output), times, plan)
    }

    /**
     * Upscales [image] and returns the raw output as float32 NCHW (3 × H·scale × W·scale),
     * dequantised but not clamped — what the golden `.npy` holds.
     */
    fun upscaleToFloat(image: RgbImage): FloatArray {
        val plan = plan(image.height, image.width)
        val height = plan.outputHeight
        val width = plan.outputWidth
        val output = FloatArray(3 * height * width)
        for (placement in plan.placements) {
            val result = runner.run(codec.encode(image, placement.tile.top, placement.tile.left, plan.tileHeight, plan.tileWidth))
            checkOutput(result, plan)
            for (c in 0 until 3) for (y in 0 until placement.height) for (x in 0 until placement.width) {
                val from = tensorIndex(result.layout, result.height, result.width, c, placement.fromTop + y, placement.fromLeft + x)
                output[(c * height + placement.outTop + y) * width + placement.outLeft + x] = codec.realValue(result, from).toFloat()
            }
        }
        return output
    }

    private fun checkOutput(result: TensorData, plan: TilingPlan) {
        val expectedHeight = plan.tileHeight * contract.scale
        val expectedWidth = plan.tileWidth * contract.scale
        check(result.height == expectedHeight && result.width == expectedWidth) {
            "runner returned ${result.width}x${result.height}, expected ${expectedWidth}x$expectedHeight (tile ×${contract.scale})"
        }
        check(result.layout == contract.output.layout && result.dtype == contract.output.dtype) {
            "runner returned ${result.layout} ${result.dtype}, the contract says ${contract.output.layout} ${contract.output.dtype}"
        }
    }
}

/** Timings of a benchmark session: every timed repetition's stage times, after [warmup] untimed ones. */
class BenchMeasurement(val warmup: Int, val repetitions: List<StageTimes>, val plan: TilingPlan, val lastImage: RgbImage) {
    val total: Stats get() = Stats.of(repetitions.map { it.totalMs })
    val pre: Stats get() = Stats.of(repetitions.map { it.preMs })
    val run: Stats get() = Stats.of(repetitions.map { it.runMs })
    val post: Stats get() = Stats.of(repetitions.map { it.postMs })
}

/** Runs [warmup] untimed then [runs] timed upscales of [image]; [onProgress] gets (done, total). */
fun benchmark(upscaler: Upscaler, image: RgbImage, warmup: Int, runs: Int, onProgress: (Int, Int) -> Unit = { _, _ -> }): BenchMeasurement {
    require(warmup >= 0 && runs >= 1) { "need warmup >= 0 and runs >= 1, got $warmup and $runs" }
    var last: UpscaleResult? = null
    repeat(warmup) { i ->
        last = upscaler.upscale(image)
        onProgress(i + 1, warmup + runs)
    }
    val times = ArrayList<StageTimes>()
    repeat(runs) { i ->
        val result = upscaler.upscale(image)
        times += result.times
        last = result
        onProgress(warmup + i + 1, warmup + runs)
    }
    val final = last!!
    return BenchMeasurement(warmup, times, final.plan, final.image)
}
