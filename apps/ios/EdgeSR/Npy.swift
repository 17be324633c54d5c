import Foundation

/// Why a `.npy` file was refused.
enum NpyError: LocalizedError {
    case notNpy(String)
    case unsupported(String)

    var errorDescription: String? {
        switch self {
        case let .notNpy(file): return "\(file): not a .npy file"
        case let .unsupported(what): return ".npy: \(what)"
        }
    }
}

/// A float32 array read from a NumPy `.npy` file (format versions 1, 2 and 3, little-endian
/// `<f4`, C order).  `values` are in row-major order of `shape`; the golden output is NCHW.
struct NpyFloat32Array {
    let shape: [Int]
    let values: [Float]

    static func load(from url: URL) throws -> NpyFloat32Array {
        try parse(Data(contentsOf: url), file: url.lastPathComponent)
    }

    static func parse(_ data: Data, file: String) throws -> NpyFloat32Array {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw NpyError.notNpy(file) }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw NpyError.notNpy(file) }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw NpyError.unsupported("\(file): format version \(major)")
        }
        guard bytes.count >= headerStart + headerLength else { throw NpyError.notNpy(file) }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)

        guard let descr = quotedValue(of: "descr", in: header) else {
            throw NpyError.unsupported("\(file): header has no descr")
        }
        // '<f4' little-endian float32; '=f4' is native, which is little-endian on every Apple device.
        guard descr == "<f4" || descr == "=f4" else {
            throw NpyError.unsupported("\(file): dtype \(descr), expected <f4 (float32 little-endian)")
        }
        guard header.contains("'fortran_order': False") else {
            throw NpyError.unsupported("\(file): Fortran order")
        }
        let shape = try shapeTuple(in: header, file: file)
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart + 4 * count else {
            throw NpyError.unsupported("\(file): \(bytes.count - dataStart) data bytes for shape \(shape)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for index in 0..<count {
                let bits = raw.loadUnaligned(fromByteOffset: dataStart + 4 * index, as: UInt32.self)
                values[index] = Float(bitPattern: UInt32(littleEndian: bits))
            }
        }
        return NpyFloat32Array(shape: shape, values: values)
    }

    /// The quoted string after `'key':` in the header dictionary.
    private static func quotedValue(of key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        let rest = header[keyRange.upperBound...]
        guard let open = rest.firstIndex(of: "'") else { return nil }
        let afterOpen = rest.index(after: open)
        guard let close = rest[afterOpen...].firstIndex(of: "'") else { return nil }
        return String(rest[afterOpen..<close])
    }

    /// The integers of the `'shape': (…)` tuple.
    private static func shapeTuple(in header: String, file: String) throws -> [Int] {
        guard let keyRange = header.range(of: "'shape':"),
              let open = header[keyRange.upperBound...].firstIndex(of: "("),
              let close = header[open...].firstIndex(of: ")") else {
            throw NpyError.unsupported("\(file): header has no shape")
        }
        let inside = header[header.index(after: open)..<close]
        var shape: [Int] = []
        for part in inside.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let dimension = Int(text) else { throw NpyError.unsupported("\(file): shape entry \(text)") }
            shape.append(dimension)
        }
        return shape
    }
}
