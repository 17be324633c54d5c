import Foundation
import UIKit

/// The device the rows were measured on.
struct DeviceInfo: Encodable {
    /// The user-visible device name (iOS 16+ returns the generic model name without a special entitlement).
    let name: String
    let kind: String
    /// Hardware identifier, e.g. `iPhone16,1`.
    let model: String
    let os: String
    let app: String

    @MainActor
    static func current() -> DeviceInfo {
        var systemInfo = utsname()
        uname(&systemInfo)
        let identifier = withUnsafeBytes(of: &systemInfo.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let device = UIDevice.current
        let version = Bundle.main.object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "?"
        return DeviceInfo(name: "\(device.name) (\(identifier))", kind: "ios", model: identifier,
                          os: "\(device.systemName) \(device.systemVersion)", app: "EdgeSR demo \(version)")
    }
}

/// One measured configuration, as in apps/README.md "Results".
struct BenchRow: Encodable {
    struct ArtifactRef: Encodable {
        let file: String
        let sha256: String
    }

    struct TilingUsed: Encodable {
        /// `[H, W]` LR pixels.
        let tile: [Int]
        let overlap: Int
        let tiles: Int
    }

    struct Stages: Encodable {
        let pre: TimingSummary
        let run: TimingSummary
        let post: TimingSummary
    }

    let model: String
    let runtime: String
    let precision: String
    /// `[H, W]` of the LR input and of the output.
    let input: [Int]
    let output: [Int]
    /// CPU threads; nil (left out) for CoreML, which does not expose them.
    let threads: Int?
    let artifact: ArtifactRef
    let tiling: TilingUsed
    let ms: TimingSummary
    let stagesMs: Stages
    let golden: GoldenResult?

    enum CodingKeys: String, CodingKey {
        case model, runtime, precision, input, output, threads, artifact, tiling, ms
        case stagesMs = "stages_ms"
        case golden
    }

    init(contract: ModelContract, runtime: String, benchmark: Benchmark, golden: GoldenResult?) {
        let plan = benchmark.lastPass.plan
        model = contract.model.zooName ?? contract.model.arch
        self.runtime = runtime
        precision = contract.precision
        input = [plan.imageHeight, plan.imageWidth]
        output = [plan.outputHeight, plan.outputWidth]
        threads = nil
        artifact = ArtifactRef(file: contract.artifact.file, sha256: contract.artifact.sha256)
        tiling = TilingUsed(tile: [plan.tileHeight, plan.tileWidth], overlap: plan.overlap, tiles: plan.tiles.count)
        ms = benchmark.total
        stagesMs = Stages(pre: benchmark.pre, run: benchmark.run, post: benchmark.post)
        self.golden = golden
    }
}

/// The `edge-sr/bench` v1 file one session writes (`edge-sr report … --device-results FILE`).
struct BenchResults: Encodable {
    let schema = "edge-sr/bench"
    let schemaVersion = 1
    let device: DeviceInfo
    let rows: [BenchRow]

    enum CodingKeys: String, CodingKey {
        case schema
        case schemaVersion = "schema_version"
        case device
        case rows
    }
}

/// Writes the session's results into the app's Documents folder (visible in the Files app,
/// `UIFileSharingEnabled`) and returns the file for the share sheet.
enum ResultsWriter {
    @MainActor
    static func write(rows: [BenchRow], device: DeviceInfo = .current()) throws -> URL {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(BenchResults(device: device, rows: rows))
        let documents = try FileManager.default.url(for: .documentDirectory, in: .userDomainMask,
                                                    appropriateFor: nil, create: true)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
        let file = documents.appendingPathComponent("edge-sr-bench-\(stamp).json")
        try data.write(to: file, options: .atomic)
        return file
    }
}
