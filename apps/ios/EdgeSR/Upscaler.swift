import Foundation

/// Milliseconds spent in each stage of one whole-image pass, summed over its tiles.
struct StageTimes {
    var pre = 0.0
    var run = 0.0
    var post = 0.0
}

/// One whole-image pass: the assembled output and where the time went.
struct UpscalePass {
    let plan: TilingPlan
    let canvas: OutputCanvas
    let stages: StageTimes
    /// Wall time of the whole pass (pre + run + post and the bookkeeping around them).
    let totalMs: Double
}

/// Timings of warm-up + N repetitions of the same image.
struct Benchmark {
    let total: TimingSummary
    let pre: TimingSummary
    let run: TimingSummary
    let post: TimingSummary
    /// The last repetition (its output is shown and checked).
    let lastPass: UpscalePass
}

@inline(__always)
private func milliseconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000.0
}

/// Upscales 8-bit sRGB images with a runner, tile by tile as the contract's shape policy and
/// tiling demand: pre (pixels → tensor per tile), run, post (tensor → pixels, assembly).
final class Upscaler {
    let runner: TileRunner
    private let outputMapping: OutputMapping
    /// The app's cap on dynamic tiles (LR px per side).
    let maxTile: Int

    init(runner: TileRunner, maxTile: Int) {
        self.runner = runner
        self.outputMapping = OutputMapping(spec: runner.contract.output)
        self.maxTile = maxTile
    }

    var contract: ModelContract { runner.contract }

    /// Tiles `image` as `edge_sr.tiling.tile_plan` would for this contract.
    func plan(for image: RGBImage) throws -> TilingPlan {
        try TilingPlan(contract: contract, imageHeight: image.height, imageWidth: image.width, maxTile: maxTile)
    }

    /// One pass over `image`; `keepValues` also keeps the real float output (for the golden check).
    func upscale(_ image: RGBImage, keepValues: Bool = false) throws -> UpscalePass {
        let started = DispatchTime.now().uptimeNanoseconds
        let plan = try self.plan(for: image)
        let canvas = OutputCanvas(width: plan.outputWidth, height: plan.outputHeight, keepValues: keepValues)
        var stages = StageTimes()
        for tile in plan.tiles {
            // A kept part wholly inside the padding contributes nothing (edge_sr.tiling skips it too).
            guard let box = plan.outputBox(for: tile) else { continue }
            let region = TileRegion(top: tile.top, left: tile.left, height: plan.tileHeight, width: plan.tileWidth)

            var tick = DispatchTime.now().uptimeNanoseconds
            let input = try runner.makeInput(image: image, region: region)
            stages.pre += milliseconds(since: tick)

            tick = DispatchTime.now().uptimeNanoseconds
            let output = try runner.run(input)
            stages.run += milliseconds(since: tick)

            tick = DispatchTime.now().uptimeNanoseconds
            let placement = TileOutputPlacement(box: box, originY: tile.top * plan.scale, originX: tile.left * plan.scale,
                                                height: plan.tileHeight * plan.scale, width: plan.tileWidth * plan.scale)
            switch output {
            case let .multiArray(array):
                try canvas.write(array, spec: contract.output, mapping: outputMapping, at: placement)
            case let .pixelBuffer(buffer):
                try canvas.write(buffer, spec: contract.output, mapping: outputMapping, at: placement)
            case let .host(tensor):
                try canvas.write(tensor, spec: contract.output, mapping: outputMapping, at: placement)
            }
            stages.post += milliseconds(since: tick)
        }
        return UpscalePass(plan: plan, canvas: canvas, stages: stages, totalMs: milliseconds(since: started))
    }

    /// `warmup` untimed passes, then `repetitions` timed ones.
    func benchmark(_ image: RGBImage, warmup: Int, repetitions: Int,
                   progress: ((Int, Int) -> Void)? = nil) throws -> Benchmark {
        precondition(repetitions >= 1, "benchmark needs at least one repetition")
        for index in 0..<warmup {
            _ = try upscale(image)
            progress?(index + 1, warmup + repetitions)
        }
        var totals: [Double] = [], pres: [Double] = [], runs: [Double] = [], posts: [Double] = []
        var last: UpscalePass?
        for index in 0..<repetitions {
            let pass = try upscale(image)
            totals.append(pass.totalMs)
            pres.append(pass.stages.pre)
            runs.append(pass.stages.run)
            posts.append(pass.stages.post)
            last = pass
            progress?(warmup + index + 1, warmup + repetitions)
        }
        return Benchmark(total: TimingSummary(runsMs: totals, warmup: warmup),
                         pre: TimingSummary(runsMs: pres, warmup: warmup),
                         run: TimingSummary(runsMs: runs, warmup: warmup),
                         post: TimingSummary(runsMs: posts, warmup: warmup),
                         lastPass: last!)
    }

    /// Runs the contract's golden input and compares the output window with the golden `.npy`.
    func goldenCheck(modelsFolder: URL) throws -> GoldenResult {
        let pngURL = modelsFolder.appendingPathComponent(contract.golden.input)
        let npyURL = modelsFolder.appendingPathComponent(contract.golden.output)
        let image = try loadRGBImage(from: pngURL)
        let pass = try upscale(image, keepValues: true)
        guard let values = pass.canvas.values else { throw GoldenCheckError.noValues }
        let golden = try NpyFloat32Array.load(from: npyURL)
        return try checkGolden(outputValues: values, outputHeight: pass.canvas.height, outputWidth: pass.canvas.width,
                               golden: golden, contract: contract)
    }
}
