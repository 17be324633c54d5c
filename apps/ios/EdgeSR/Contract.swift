import Foundation

// The model contract (`<artifact>.contract.json`, schema `edge-sr/model-contract` v1) and the
// bundle manifest (`manifest.json`, schema `edge-sr/bundle` v1), decoded with exactly the fields
// listed in apps/README.md, "What every app reads from a contract".  Everything the app knows
// about a model comes from here; tests/test_apps_ios.py checks these declarations against real
// contract files written by `edge-sr convert`.

/// The contract schema this app understands.
enum ContractSchema {
    static let name = "edge-sr/model-contract"
    static let version = 1
}

/// The bundle manifest schema this app understands.
enum BundleSchema {
    static let name = "edge-sr/bundle"
    static let version = 1
}

/// Why a contract or manifest was refused.
enum ContractError: LocalizedError {
    /// `field` held `found` where this app needs `expected`.
    case wrongSchema(file: String, field: String, expected: String, found: String)
    /// The JSON did not decode into the declared fields.
    case unreadable(file: String, reason: String)

    var errorDescription: String? {
        switch self {
        case let .wrongSchema(file, field, expected, found):
            return "\(file): field \(field) must be \(expected), found \(found)"
        case let .unreadable(file, reason):
            return "\(file): \(reason)"
        }
    }
}

/// Root of a model contract.  Only the fields an app reads are declared; the rest of the file
/// (versions, converter, inspection, complexity, ...) is ignored by the decoder.
struct ModelContract: Decodable {
    let schema: String
    let schemaVersion: Int
    let artifact: Artifact
    /// `onnx`, `tflite`, `executorch`, `coreml` or `executorch-coreml`.
    let target: String
    let model: ModelInfo
    /// Output = input × scale, in both dimensions.
    let scale: Int
    /// `fp32`, `fp16` or `int8`.
    let precision: String
    let input: TensorSpec
    let output: TensorSpec
    let shapePolicy: ShapePolicy
    /// Absent in contracts written before tiling facts existed: overlap 16, not exact.
    let tiling: TilingFacts?
    let golden: Golden
    let verification: Verification

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
        case artifact
        case target
        case model
        case scale
        case precision
        case input
        case output
        case shapePolicy = "shape_policy"
        case tiling
        case golden
        case verification
    }
}

/// The file the contract describes, beside the contract.
struct Artifact: Decodable {
    let file: String
    /// `onnx`, `tflite`, `pte`, `coreml.pte` or `mlpackage`.
    let format: String
    let sha256: String
}

/// Labels, and the smallest side a tile may have.
struct ModelInfo: Decodable {
    let arch: String
    let zooName: String?
    let minInputSize: Int

    enum CodingKeys: String, CodingKey {
        case arch
        case zooName = "zoo_name"
        case minInputSize = "min_input_size"
    }
}

/// One model input or output tensor.
///
/// Layout `NCHW` or `NHWC` (batch 1, 3 channels, RGB colour order, sRGB values); `shape` is in
/// that layout's order with -1 for a dynamic or enumerated dimension.  A float tensor value `x`
/// maps to 8-bit pixels as `pixel 0 ↔ range[0]`, `pixel 255 ↔ range[1]`; an integer tensor
/// (`int8`/`uint8`) holds `q` with `x = (q − zeroPoint) × scale`.
struct TensorSpec: Decodable {
    let name: String
    let layout: String
    /// `float32`, or `int8`/`uint8` together with `quantization`.
    let dtype: String
    /// `[low, high]` of the float value pixels 0 and 255 map to.
    let range: [Double]
    let shape: [Int]
    let quantization: Quantization?
    /// Output only: false means the app must clamp to `range` before making pixels.
    let clamped: Bool?
    /// CoreML image I/O (a CVPixelBuffer instead of an MLMultiArray) when present.
    let image: ImageIO?
}

/// Integer tensor encoding: `real = (q − zeroPoint) × scale`.
struct Quantization: Decodable {
    let scale: Double
    let zeroPoint: Int

    enum CodingKeys: String, CodingKey {
        case scale
        case zeroPoint = "zero_point"
    }
}

/// CoreML image input/output: the model itself maps pixels to the tensor range.
struct ImageIO: Decodable {
    /// Pixel format CoreML declares, e.g. `RGB8`.
    let type: String
    /// Pixel → tensor factor CoreML applies (input 1/255, output 255).
    let scale: Double
}

/// Which tile sizes the artifact accepts.
struct ShapePolicy: Decodable {
    /// `fixed`, `enumerated` or `dynamic`.
    let kind: String
    /// `[H, W]` pairs a fixed or enumerated artifact accepts (empty for dynamic).
    let sizes: [[Int]]
    /// Dynamic only: smallest and largest side.
    let minSize: Int?
    let maxSize: Int?

    enum CodingKeys: String, CodingKey {
        case kind
        case sizes
        case minSize = "min_size"
        case maxSize = "max_size"
    }
}

/// How many LR pixels of context a tile needs per side.
struct TilingFacts: Decodable {
    let overlap: Int
    /// Whether tiles with `overlap` reproduce the whole-image output.
    let exact: Bool?
}

/// The self-check pair written beside the artifact.
struct Golden: Decodable {
    /// 8-bit RGB PNG file name.
    let input: String
    /// float32 `.npy` file name: NCHW, a window of the whole output.
    let output: String
    let outputWindow: OutputWindow

    enum CodingKeys: String, CodingKey {
        case input
        case output
        case outputWindow = "output_window"
    }
}

/// Where the golden `.npy` sits in the full output, in output pixels.
struct OutputWindow: Decodable {
    let top: Int
    let left: Int
    let height: Int
    let width: Int
}

struct Verification: Decodable {
    /// Absent when the converting machine could not run the artifact (CoreML on Linux).
    let tolerance: Tolerance?
}

/// How close the golden must be: `maxAbsDiff` (fp32) or `minPsnrDb` (fp16, int8).
struct Tolerance: Decodable {
    let name: String
    let maxAbsDiff: Double?
    let minPsnrDb: Double?

    enum CodingKeys: String, CodingKey {
        case name
        case maxAbsDiff = "max_abs_diff"
        case minPsnrDb = "min_psnr_db"
    }
}

// MARK: - Bundle manifest

/// `manifest.json` written by `edge-sr bundle MODEL --app ios` into EdgeSR/Models.
struct BundleManifest: Decodable {
    let schema: String
    let schemaVersion: Int
    let app: String
    let edgeSrVersion: String
    let models: [BundleEntry]

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
        case app
        case edgeSrVersion = "edge_sr_version"
        case models
    }
}

/// One artifact in the bundle; `contract` is a file name beside the manifest.
struct BundleEntry: Decodable, Hashable, Identifiable {
    let model: String
    let target: String
    let precision: String
    let contract: String

    var id: String { contract }
}

// MARK: - Loading

/// Just the schema fields, read first so a foreign file is refused by name rather than by
/// whichever field it happens to lack.
private struct SchemaHeader: Decodable {
    let schema: String?
    let schemaVersion: Int?

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
    }
}

private func checkSchema(_ data: Data, file: String, name: String, version: Int) throws {
    let header: SchemaHeader
    do {
        header = try JSONDecoder().decode(SchemaHeader.self, from: data)
    } catch {
        throw ContractError.unreadable(file: file, reason: "not a JSON object (\(error.localizedDescription))")
    }
    if header.schema != name {
        throw ContractError.wrongSchema(file: file, field: "schema", expected: "\"\(name)\"",
                                        found: header.schema.map { "\"\($0)\"" } ?? "nothing")
    }
    if header.schemaVersion != version {
        throw ContractError.wrongSchema(file: file, field: "schema_version", expected: "\(version)",
                                        found: header.schemaVersion.map(String.init) ?? "nothing")
    }
}

private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case let .keyNotFound(key, context):
        let parent = path(context)
        return "missing field \(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)"
    case let .typeMismatch(type, context):
        return "field \(path(context)): expected \(type)"
    case let .valueNotFound(type, context):
        return "field \(path(context)): expected \(type), found null"
    case let .dataCorrupted(context):
        return "field \(path(context)): \(context.debugDescription)"
    @unknown default:
        return error.localizedDescription
    }
}

private func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
        throw ContractError.unreadable(file: file, reason: describe(error))
    }
}

extension ModelContract {
    /// Reads and checks a contract file; refuses any schema other than edge-sr/model-contract v1.
    static func load(from url: URL) throws -> ModelContract {
        let data = try Data(contentsOf: url)
        return try parse(data, file: url.lastPathComponent)
    }

    static func parse(_ data: Data, file: String) throws -> ModelContract {
        try checkSchema(data, file: file, name: ContractSchema.name, version: ContractSchema.version)
        let contract = try decode(ModelContract.self, from: data, file: file)
        for (field, spec) in [("input", contract.input), ("output", contract.output)] {
            guard spec.layout == "NCHW" || spec.layout == "NHWC" else {
                throw ContractError.wrongSchema(file: file, field: "\(field).layout", expected: "\"NCHW\" or \"NHWC\"",
                                                found: "\"\(spec.layout)\"")
            }
            guard spec.range.count == 2 else {
                throw ContractError.wrongSchema(file: file, field: "\(field).range", expected: "[low, high]",
                                                found: "\(spec.range.count) numbers")
            }
        }
        return contract
    }
}

extension BundleManifest {
    /// Reads and checks `manifest.json`; refuses any schema other than edge-sr/bundle v1.
    static func load(from url: URL) throws -> BundleManifest {
        let data = try Data(contentsOf: url)
        let file = url.lastPathComponent
        try checkSchema(data, file: file, name: BundleSchema.name, version: BundleSchema.version)
        return try decode(BundleManifest.self, from: data, file: file)
    }
}

// MARK: - Derived facts

/// Tile overlap for contracts written before the `tiling` field existed (edge_sr.app_bundle.DEFAULT_OVERLAP).
let defaultTileOverlap = 16

extension ModelContract {
    /// LR context pixels per tile side.
    var tileOverlap: Int { tiling?.overlap ?? defaultTileOverlap }
    /// Whether tiled output equals the whole-image output.
    var tilingExact: Bool { tiling?.exact ?? false }
}

extension TensorSpec {
    var isNHWC: Bool { layout == "NHWC" }
    var low: Double { range[0] }
    var high: Double { range[1] }
    /// Tensor spatial size `(height, width)` from `shape`; -1 where dynamic.
    var spatialShape: (height: Int, width: Int) {
        guard shape.count == 4 else { return (-1, -1) }
        return isNHWC ? (shape[1], shape[2]) : (shape[2], shape[3])
    }
}

// MARK: - The parsed view (apps/README.md, "The parsed view")

/// JSON null for a missing value (JSONSerialization writes NSNull as `null`).
private func orNull<T>(_ value: T?) -> Any {
    value.map { $0 as Any } ?? NSNull()
}

extension TensorSpec {
    fileprivate var parsedView: [String: Any] {
        [
            "name": name,
            "layout": layout,
            "dtype": dtype,
            "range": [range[0], range[1]],
            "shape": shape,
            "quantization": orNull(quantization.map { ["scale": $0.scale, "zero_point": $0.zeroPoint] as [String: Any] }),
            "clamped": orNull(clamped),
            "image": image != nil,
        ]
    }
}

extension ModelContract {
    /// What this parser understood, in the shape `edge_sr.app_bundle.contract_view` produces.
    /// `tolerance` is null when the contract has none (verification could not run).
    var parsedView: [String: Any] {
        let dynamic = shapePolicy.kind == "dynamic"
        let window = golden.outputWindow
        let toleranceView = orNull(tolerance.map {
            ["name": $0.name, "max_abs_diff": orNull($0.maxAbsDiff), "min_psnr_db": orNull($0.minPsnrDb)] as [String: Any]
        })
        return [
            "file": artifact.file,
            "format": artifact.format,
            "target": target,
            "arch": model.arch,
            "zoo_name": orNull(model.zooName),
            "scale": scale,
            "precision": precision,
            "min_input_size": model.minInputSize,
            "input": input.parsedView,
            "output": output.parsedView,
            "shape_policy": [
                "kind": shapePolicy.kind,
                "sizes": shapePolicy.sizes,
                "min_size": orNull(dynamic ? shapePolicy.minSize : nil),
                "max_size": orNull(dynamic ? shapePolicy.maxSize : nil),
            ] as [String: Any],
            "tiling": ["overlap": tileOverlap, "exact": tilingExact] as [String: Any],
            "golden": [
                "input": golden.input,
                "output": golden.output,
                "window": [window.top, window.left, window.height, window.width],
            ] as [String: Any],
            "tolerance": toleranceView,
        ]
    }

    /// The parsed view as pretty, key-sorted JSON text (shown in the app, printed to the log).
    func parsedViewJSON() -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: parsedView,
                                                     options: [.prettyPrinted, .sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The tolerance the golden self-check applies, if the contract states one.
    var tolerance: Tolerance? { verification.tolerance }
}
