import CoreML
import CoreVideo
import Foundation

/// One tile's tensor in the form a runtime takes or gives.
enum TileTensor {
    /// CoreML tensor I/O: float32 (or float16/int32 out), layout and shape per the contract.
    case multiArray(MLMultiArray)
    /// CoreML image I/O (`input.image` / `output.image`): 32-bit RGB pixels.
    case pixelBuffer(CVPixelBuffer)
    /// A contiguous host tensor (ExecuTorch).
    case host(HostTensor)
}

/// A loaded artifact that upscales one tile of exactly the tile size at a time.
///
/// Input: a tile of 8-bit sRGB pixels turned into the contract's input tensor (layout, dtype,
/// range, quantization) or pixel buffer.  Output: the contract's output tensor for that tile,
/// `scale` times larger in both dimensions.
protocol TileRunner: AnyObject {
    /// The runtime name written in results rows (`coreml-all`, `executorch-xnnpack`, …).
    var runtimeName: String { get }
    var contract: ModelContract { get }
    /// Pixels → the runtime's input for one tile (timed as "pre").
    func makeInput(image: RGBImage, region: TileRegion) throws -> TileTensor
    /// Inference on one tile (timed as "run").
    func run(_ input: TileTensor) throws -> TileTensor
}

enum RunnerError: LocalizedError {
    case missingFile(String)
    case missingTensor(name: String, available: [String])
    case wrongTensorKind(String)
    case unsupportedTarget(String)

    var errorDescription: String? {
        switch self {
        case let .missingFile(file): return "\(file) is not in the app's Models folder"
        case let .missingTensor(name, available):
            return "the model has no tensor named \(name) (it has \(available.sorted().joined(separator: ", ")))"
        case let .wrongTensorKind(what): return "unexpected tensor kind: \(what)"
        case let .unsupportedTarget(target): return "no runtime in this build runs target \(target)"
        }
    }
}
