#if canImport(ExecuTorch)
import ExecuTorch
import Foundation

/// Runs an ExecuTorch `.pte` (contract target `executorch` with the XNNPACK delegate, or
/// `executorch-coreml` with the CoreML delegate).  Built only when the optional ExecuTorch
/// Swift package is linked (see project.yml, `EDGE_SR_EXECUTORCH`).
///
/// Input and output are contiguous tensors in the contract's layout: float32 in the contract's
/// range, or int8/uint8 with the contract's quantization.
final class ExecuTorchRunner: TileRunner {
    let contract: ModelContract
    private let module: Module
    private let inputMapping: InputMapping

    /// `executorch-xnnpack` for XNNPACK-delegated programs, `executorch-coreml` for CoreML-delegated ones.
    var runtimeName: String { contract.target == "executorch-coreml" ? "executorch-coreml" : "executorch-xnnpack" }

    init(contract: ModelContract, modelsFolder: URL) throws {
        let file = modelsFolder.appendingPathComponent(contract.artifact.file)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw RunnerError.missingFile(contract.artifact.file)
        }
        self.contract = contract
        self.module = Module(filePath: file.path)
        self.inputMapping = try InputMapping(spec: contract.input)
        try module.load("forward")
    }

    func makeInput(image: RGBImage, region: TileRegion) throws -> TileTensor {
        .host(HostTensor.input(from: image, region: region, spec: contract.input, mapping: inputMapping))
    }

    func run(_ input: TileTensor) throws -> TileTensor {
        guard case let .host(host) = input else {
            throw RunnerError.wrongTensorKind("ExecuTorch takes host tensors")
        }
        let outputs: [Value]
        switch host.values {
        case let .float32(values): outputs = try module.forward([Tensor<Float>(values, shape: host.shape)])
        case let .int8(values): outputs = try module.forward([Tensor<Int8>(values, shape: host.shape)])
        case let .uint8(values): outputs = try module.forward([Tensor<UInt8>(values, shape: host.shape)])
        }
        guard let first = outputs.first else {
            throw RunnerError.missingTensor(name: contract.output.name, available: [])
        }
        switch contract.output.dtype {
        case "int8":
            guard let tensor: Tensor<Int8> = first.tensor() else { throw RunnerError.wrongTensorKind("output is not int8") }
            return .host(HostTensor(shape: tensor.shape, values: .int8(tensor.scalars())))
        case "uint8":
            guard let tensor: Tensor<UInt8> = first.tensor() else { throw RunnerError.wrongTensorKind("output is not uint8") }
            return .host(HostTensor(shape: tensor.shape, values: .uint8(tensor.scalars())))
        default:
            guard let tensor: Tensor<Float> = first.tensor() else { throw RunnerError.wrongTensorKind("output is not float32") }
            return .host(HostTensor(shape: tensor.shape, values: .float32(tensor.scalars())))
        }
    }
}
#endif
