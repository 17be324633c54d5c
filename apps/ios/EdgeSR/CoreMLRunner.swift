import CoreML
import CoreVideo
import Foundation

/// The four CoreML compute-unit choices, with the runtime names results rows use.
enum CoreMLComputeChoice: String, CaseIterable, Identifiable {
    case all
    case cpuOnly
    case cpuAndGPU
    case cpuAndNeuralEngine

    var id: String { rawValue }

    var computeUnits: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        }
    }

    /// Runtime name in the `edge-sr/bench` results (apps/README.md, "Results").
    var runtimeName: String {
        switch self {
        case .all: return "coreml-all"
        case .cpuOnly: return "coreml-cpu-only"
        case .cpuAndGPU: return "coreml-cpu-and-gpu"
        case .cpuAndNeuralEngine: return "coreml-cpu-and-ne"
        }
    }

    var label: String {
        switch self {
        case .all: return "All"
        case .cpuOnly: return "CPU"
        case .cpuAndGPU: return "CPU + GPU"
        case .cpuAndNeuralEngine: return "CPU + NE"
        }
    }
}

/// Compiled models (`.mlmodelc`) kept in Application Support, keyed by the artifact's sha256
/// from the contract, so an `.mlpackage` is compiled once, at its first use.
enum CompiledModelCache {
    static func compiledModel(for package: URL, sha256: String) async throws -> URL {
        let fileManager = FileManager.default
        let folder = try fileManager.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                         appropriateFor: nil, create: true)
            .appendingPathComponent("CompiledModels", isDirectory: true)
        try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
        let cached = folder.appendingPathComponent("\(sha256).mlmodelc", isDirectory: true)
        if fileManager.fileExists(atPath: cached.path) { return cached }
        // compileModel writes into a temporary folder the system may clear: move it to the cache.
        let compiled = try await MLModel.compileModel(at: package)
        try? fileManager.removeItem(at: cached)
        try fileManager.moveItem(at: compiled, to: cached)
        return cached
    }
}

/// Runs a CoreML `.mlpackage` (contract target `coreml`) with the chosen compute units.
///
/// Tensor I/O: MLMultiArray float32 in the contract's layout (`NCHW`/`NHWC`) and range, batch 1,
/// RGB.  Image I/O (`input.image` / `output.image` present): 32BGRA pixel buffers; the model
/// applies the pixel scale itself.  Input and output are bound by the contract's names.
final class CoreMLRunner: TileRunner {
    let contract: ModelContract
    let compute: CoreMLComputeChoice
    private let model: MLModel
    private let inputMapping: InputMapping
    private let options = MLPredictionOptions()

    var runtimeName: String { compute.runtimeName }

    static func load(contract: ModelContract, modelsFolder: URL, compute: CoreMLComputeChoice) async throws -> CoreMLRunner {
        let package = modelsFolder.appendingPathComponent(contract.artifact.file, isDirectory: true)
        guard FileManager.default.fileExists(atPath: package.path) else {
            throw RunnerError.missingFile(contract.artifact.file)
        }
        let compiled = try await CompiledModelCache.compiledModel(for: package, sha256: contract.artifact.sha256)
        let configuration = MLModelConfiguration()
        configuration.computeUnits = compute.computeUnits
        let model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        return try CoreMLRunner(contract: contract, model: model, compute: compute)
    }

    private init(contract: ModelContract, model: MLModel, compute: CoreMLComputeChoice) throws {
        let description = model.modelDescription
        guard description.inputDescriptionsByName[contract.input.name] != nil else {
            throw RunnerError.missingTensor(name: contract.input.name,
                                            available: Array(description.inputDescriptionsByName.keys))
        }
        guard description.outputDescriptionsByName[contract.output.name] != nil else {
            throw RunnerError.missingTensor(name: contract.output.name,
                                            available: Array(description.outputDescriptionsByName.keys))
        }
        self.contract = contract
        self.model = model
        self.compute = compute
        self.inputMapping = try InputMapping(spec: contract.input)
    }

    func makeInput(image: RGBImage, region: TileRegion) throws -> TileTensor {
        if contract.input.image != nil {
            return .pixelBuffer(try makeInputPixelBuffer(from: image, region: region))
        }
        return .multiArray(try MLMultiArray.input(from: image, region: region, spec: contract.input,
                                                  mapping: inputMapping))
    }

    func run(_ input: TileTensor) throws -> TileTensor {
        let value: MLFeatureValue
        switch input {
        case let .multiArray(array): value = MLFeatureValue(multiArray: array)
        case let .pixelBuffer(buffer): value = MLFeatureValue(pixelBuffer: buffer)
        case .host: throw RunnerError.wrongTensorKind("host tensor given to CoreML")
        }
        let features = try MLDictionaryFeatureProvider(dictionary: [contract.input.name: value])
        let result = try model.prediction(from: features, options: options)
        guard let output = result.featureValue(for: contract.output.name) else {
            throw RunnerError.missingTensor(name: contract.output.name, available: Array(result.featureNames))
        }
        if let buffer = output.imageBufferValue { return .pixelBuffer(buffer) }
        if let array = output.multiArrayValue { return .multiArray(array) }
        throw RunnerError.wrongTensorKind("CoreML output \(contract.output.name) is neither an image nor a multi-array")
    }
}
