import CoreGraphics
import Foundation
import SwiftUI

/// Where `edge-sr bundle MODEL --app ios` puts models: the `Models` folder reference copied
/// into the app bundle (manifest.json, contracts, artifacts, golden pairs).
enum ModelsFolder {
    static var url: URL { Bundle.main.bundleURL.appendingPathComponent("Models", isDirectory: true) }
    static var manifest: URL { url.appendingPathComponent("manifest.json") }
}

/// Builds the runner the contract's target calls for.
func makeRunner(contract: ModelContract, modelsFolder: URL, compute: CoreMLComputeChoice) async throws -> TileRunner {
    switch contract.target {
    case "coreml":
        return try await CoreMLRunner.load(contract: contract, modelsFolder: modelsFolder, compute: compute)
    case "executorch", "executorch-coreml":
        #if canImport(ExecuTorch)
        return try ExecuTorchRunner(contract: contract, modelsFolder: modelsFolder)
        #else
        throw RunnerError.unsupportedTarget("\(contract.target) (build with EDGE_SR_EXECUTORCH=YES, see README)")
        #endif
    default:
        throw RunnerError.unsupportedTarget(contract.target)
    }
}

/// The app's state: the bundle, the chosen model and compute units, the image, and results.
@MainActor
final class AppModel: ObservableObject {
    @Published private(set) var entries: [BundleEntry] = []
    @Published var selectedEntry: BundleEntry? { didSet { loadSelectedContract() } }
    @Published private(set) var contract: ModelContract?
    /// Changing compute units invalidates the golden check (it belongs to one runtime).
    @Published var compute: CoreMLComputeChoice = .all {
        didSet {
            golden = nil
            goldenSummary = ""
        }
    }
    @Published var warmup = 3
    @Published var repetitions = 10
    /// Cap on dynamic tiles, LR px per side (fixed/enumerated artifacts use their own sizes).
    @Published var maxTile = 512

    @Published private(set) var inputImage: RGBImage? { didSet { inputPreview = inputImage?.makeCGImage() } }
    @Published private(set) var inputLabel = ""
    @Published private(set) var outputImage: RGBImage? { didSet { outputPreview = outputImage?.makeCGImage() } }
    /// Display copies, made once per image rather than on every redraw.
    @Published private(set) var inputPreview: CGImage?
    @Published private(set) var outputPreview: CGImage?
    @Published private(set) var benchmark: Benchmark?
    @Published private(set) var golden: GoldenResult?
    @Published private(set) var goldenSummary = ""
    @Published private(set) var rows: [BenchRow] = []
    @Published private(set) var savedResults: URL?
    @Published private(set) var status = ""
    @Published private(set) var isBusy = false

    /// Loaded runners, by contract file and compute choice (loading compiles CoreML models).
    private var runners: [String: TileRunner] = [:]

    var usesComputeUnits: Bool { contract?.target == "coreml" }

    func loadManifest() {
        do {
            let manifest = try BundleManifest.load(from: ModelsFolder.manifest)
            entries = manifest.models
            status = "\(manifest.models.count) models (edge-sr \(manifest.edgeSrVersion), app \(manifest.app))"
            if selectedEntry == nil { selectedEntry = entries.first }
        } catch {
            status = "No models: \(error.localizedDescription). Run `edge-sr bundle MODEL --app ios` (see README)."
        }
    }

    private func loadSelectedContract() {
        contract = nil
        benchmark = nil
        golden = nil
        goldenSummary = ""
        outputImage = nil
        guard let entry = selectedEntry else { return }
        do {
            let loaded = try ModelContract.load(from: ModelsFolder.url.appendingPathComponent(entry.contract))
            contract = loaded
            print("EdgeSR parsed contract \(entry.contract):\n\(loaded.parsedViewJSON())")
        } catch {
            status = error.localizedDescription
        }
    }

    func setInput(data: Data, label: String) {
        do {
            inputImage = try loadRGBImage(from: data, name: label)
            inputLabel = label
            outputImage = nil
            benchmark = nil
        } catch {
            status = error.localizedDescription
        }
    }

    /// The bundled sample: the selected model's golden input PNG.
    func useSample() {
        guard let contract else { return }
        do {
            inputImage = try loadRGBImage(from: ModelsFolder.url.appendingPathComponent(contract.golden.input))
            inputLabel = contract.golden.input
            outputImage = nil
            benchmark = nil
        } catch {
            status = error.localizedDescription
        }
    }

    private func runner(for contract: ModelContract) async throws -> TileRunner {
        let key = "\(contract.artifact.file)|\(compute.rawValue)"
        if let cached = runners[key] { return cached }
        status = "Loading \(contract.artifact.file)…"
        let made = try await makeRunner(contract: contract, modelsFolder: ModelsFolder.url, compute: compute)
        runners[key] = made
        return made
    }

    /// Warm-up + repetitions on the chosen image; shows the last output and the latency.
    func run() {
        guard let contract, let image = inputImage, !isBusy else { return }
        isBusy = true
        let warmup = max(0, self.warmup), repetitions = max(1, self.repetitions), maxTile = self.maxTile
        Task {
            defer { isBusy = false }
            do {
                let runner = try await self.runner(for: contract)
                status = "Running \(runner.runtimeName)…"
                let upscaler = Upscaler(runner: runner, maxTile: maxTile)
                let result = try await Task.detached(priority: .userInitiated) {
                    try upscaler.benchmark(image, warmup: warmup, repetitions: repetitions)
                }.value
                benchmark = result
                outputImage = result.lastPass.canvas.image
                rows.append(BenchRow(contract: contract, runtime: runner.runtimeName, benchmark: result, golden: golden))
                status = "\(runner.runtimeName): \(result.lastPass.plan.tiles.count) tiles, median \(result.total.median) ms"
            } catch {
                status = error.localizedDescription
            }
        }
    }

    /// Runs the golden PNG and compares with the golden `.npy` under the contract's tolerance.
    func runGoldenCheck() {
        guard let contract, !isBusy else { return }
        isBusy = true
        let maxTile = self.maxTile
        Task {
            defer { isBusy = false }
            do {
                let runner = try await self.runner(for: contract)
                let upscaler = Upscaler(runner: runner, maxTile: maxTile)
                let result = try await Task.detached(priority: .userInitiated) {
                    try upscaler.goldenCheck(modelsFolder: ModelsFolder.url)
                }.value
                golden = result
                let verdict = result.passed.map { $0 ? "PASSED" : "FAILED" } ?? "not judged"
                goldenSummary = "\(verdict) — \(result.summary)"
            } catch {
                golden = nil
                goldenSummary = "Golden check failed to run: \(error.localizedDescription)"
            }
        }
    }

    func saveResults() {
        do {
            savedResults = try ResultsWriter.write(rows: rows)
            status = "Saved \(savedResults!.lastPathComponent) to Documents"
        } catch {
            status = error.localizedDescription
        }
    }
}
