import CoreGraphics
import CoreML
import CoreVideo
import Foundation

// Pixels ↔ tensors, the rule of apps/README.md shared with every app and with Python:
//   float input   x = low + (high − low) × p / 255            (in the input layout)
//   integer input q = clamp(round(x / scale) + zero_point, qmin, qmax), round half away from zero
//   output        x = (q − zero_point) × scale for integer outputs, then
//                 p = round(255 × clamp((x − low) / (high − low), 0, 1)), round half up
// All tensors are batch 1, 3 channels in RGB order, sRGB values.

/// Why pixels and a tensor could not be converted.
enum PixelTensorError: LocalizedError {
    case unsupportedDataType(String)
    case unexpectedShape(tensor: String, expected: [Int], found: [Int])
    case unsupportedPixelFormat(OSType)
    case pixelBufferCreation(CVReturn)
    case imageDecoding(String)

    var errorDescription: String? {
        switch self {
        case let .unsupportedDataType(what): return "tensor data type not supported: \(what)"
        case let .unexpectedShape(tensor, expected, found):
            return "tensor \(tensor): expected shape \(expected), found \(found)"
        case let .unsupportedPixelFormat(format): return "pixel buffer format \(format) is not 32-bit RGB"
        case let .pixelBufferCreation(status): return "CVPixelBufferCreate failed (\(status))"
        case let .imageDecoding(what): return "could not read the image: \(what)"
        }
    }
}

// MARK: - 8-bit images

/// An 8-bit sRGB image: 3 bytes per pixel (R, G, B), rows top to bottom, no row padding.
/// Alpha is dropped when reading (apps/README.md: "Pixels are 8-bit RGB (alpha dropped)").
struct RGBImage {
    let width: Int
    let height: Int
    var bytes: [UInt8]

    init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height * 3, "RGBImage: \(bytes.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// A black image, to be filled.
    init(width: Int, height: Int) {
        self.init(width: width, height: height, bytes: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// Draws `cgImage` into an sRGB RGBA8 context (colour-managed into sRGB, alpha ignored) and keeps R, G, B.
    init(cgImage: CGImage) throws {
        let width = cgImage.width
        let height = cgImage.height
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        guard let colourSpace = CGColorSpace(name: CGColorSpace.sRGB) else {
            throw PixelTensorError.imageDecoding("no sRGB colour space")
        }
        // noneSkipLast: the fourth byte is ignored, so colours are never premultiplied by alpha.
        let drawn: Bool = rgba.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height,
                                          bitsPerComponent: 8, bytesPerRow: width * 4, space: colourSpace,
                                          bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return false }
            context.interpolationQuality = .none
            context.draw(cgImage, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        guard drawn else { throw PixelTensorError.imageDecoding("CGContext for \(width)x\(height) RGBA8") }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for index in 0..<(width * height) {
            rgb[3 * index] = rgba[4 * index]
            rgb[3 * index + 1] = rgba[4 * index + 1]
            rgb[3 * index + 2] = rgba[4 * index + 2]
        }
        self.init(width: width, height: height, bytes: rgb)
    }

    /// An opaque sRGB CGImage of these pixels, for display and sharing.
    func makeCGImage() -> CGImage? {
        var rgba = [UInt8](repeating: 255, count: width * height * 4)
        for index in 0..<(width * height) {
            rgba[4 * index] = bytes[3 * index]
            rgba[4 * index + 1] = bytes[3 * index + 1]
            rgba[4 * index + 2] = bytes[3 * index + 2]
        }
        guard let colourSpace = CGColorSpace(name: CGColorSpace.sRGB),
              let provider = CGDataProvider(data: Data(rgba) as CFData) else { return nil }
        return CGImage(width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: width * 4,
                       space: colourSpace, bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.noneSkipLast.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)
    }

    /// Byte offset of pixel (x, y) with replicate padding: coordinates past the right or bottom
    /// edge read the last column or row (what `F.pad(mode="replicate")` does to the padded image).
    @inline(__always)
    func paddedOffset(x: Int, y: Int) -> Int {
        3 * (min(y, height - 1) * width + min(x, width - 1))
    }
}

/// A tile of the padded LR image, in LR pixels.
struct TileRegion {
    let top: Int
    let left: Int
    let height: Int
    let width: Int
}

// MARK: - Value mappings

/// Pixel → tensor value lookup tables for one input tensor spec (256 entries each).
struct InputMapping {
    /// `low + (high − low) × p / 255` as float32.
    let floats: [Float]
    /// The quantised value of each pixel when the tensor is int8/uint8, else nil.
    let quantised: [Int32]?

    init(spec: TensorSpec) throws {
        let low = spec.low, high = spec.high
        let real = (0...255).map { low + (high - low) * Double($0) / 255.0 }
        floats = real.map { Float($0) }
        switch spec.dtype {
        case "float32", "float16":
            quantised = nil
        case "int8", "uint8":
            guard let q = spec.quantization else {
                throw PixelTensorError.unsupportedDataType("\(spec.dtype) without quantization")
            }
            let (qmin, qmax) = spec.dtype == "int8" ? (-128, 127) : (0, 255)
            quantised = real.map { x in
                // Swift's .toNearestOrAwayFromZero is TFLite's round half away from zero.
                let rounded = Int((x / q.scale).rounded(.toNearestOrAwayFromZero)) + q.zeroPoint
                return Int32(min(max(rounded, qmin), qmax))
            }
        default:
            throw PixelTensorError.unsupportedDataType(spec.dtype)
        }
    }
}

/// Tensor value → pixel for one output tensor spec.
struct OutputMapping {
    let low: Double
    let high: Double
    let quantization: Quantization?

    init(spec: TensorSpec) {
        low = spec.low
        high = spec.high
        quantization = spec.dtype == "float32" || spec.dtype == "float16" ? nil : spec.quantization
    }

    /// The real value of a raw tensor element (dequantised when the tensor is integer).
    @inline(__always)
    func real(_ raw: Double) -> Double {
        guard let q = quantization else { return raw }
        return (raw - Double(q.zeroPoint)) * q.scale
    }

    /// `floor(255 × clamp((x − low) / (high − low), 0, 1) + 0.5)` — clamped always, whatever
    /// `output.clamped` says, and rounded half up as `edge_sr.metrics.to_uint8`.
    @inline(__always)
    func pixel(real x: Double) -> UInt8 {
        let unit = min(max((x - low) / (high - low), 0.0), 1.0)
        return UInt8((255.0 * unit + 0.5).rounded(.down))
    }

    /// The real value an 8-bit output pixel stands for (image outputs).
    @inline(__always)
    func real(pixel: UInt8) -> Double {
        low + (high - low) * Double(pixel) / 255.0
    }
}

/// Element strides `(channel, row, column)` of a rank-4 tensor in `layout` order.
@inline(__always)
func channelRowColumnStrides(_ strides: [Int], nhwc: Bool) -> (Int, Int, Int) {
    nhwc ? (strides[3], strides[1], strides[2]) : (strides[1], strides[2], strides[3])
}

/// Shape `[1, 3, H, W]` (NCHW) or `[1, H, W, 3]` (NHWC).
func tensorShape(height: Int, width: Int, nhwc: Bool) -> [Int] {
    nhwc ? [1, height, width, 3] : [1, 3, height, width]
}

/// Contiguous (row-major) strides of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// Writes one tile's pixels (replicate-padded) into a rank-4 buffer with the given strides.
private func writeTile<Element>(_ buffer: UnsafeMutableBufferPointer<Element>, strides: [Int], nhwc: Bool,
                                image: RGBImage, region: TileRegion, value: (UInt8) -> Element) {
    let (cs, ys, xs) = channelRowColumnStrides(strides, nhwc: nhwc)
    image.bytes.withUnsafeBufferPointer { pixels in
        for y in 0..<region.height {
            for x in 0..<region.width {
                let source = image.paddedOffset(x: region.left + x, y: region.top + y)
                let base = y * ys + x * xs
                buffer[base] = value(pixels[source])
                buffer[base + cs] = value(pixels[source + 1])
                buffer[base + 2 * cs] = value(pixels[source + 2])
            }
        }
    }
}

// MARK: - Host tensors (ExecuTorch, and anything else that takes a flat buffer)

/// A contiguous tensor in host memory, in the contract's layout: float32 values, or the
/// quantised int8/uint8 values of an integer tensor.
enum HostTensorValues {
    case float32([Float])
    case int8([Int8])
    case uint8([UInt8])
}

/// A contiguous batch-1 RGB tensor (`shape` in the contract's layout order).
struct HostTensor {
    let shape: [Int]
    var values: HostTensorValues
}

extension HostTensor {
    /// The input tensor for one tile, per the contract's input spec.
    static func input(from image: RGBImage, region: TileRegion, spec: TensorSpec, mapping: InputMapping) -> HostTensor {
        let shape = tensorShape(height: region.height, width: region.width, nhwc: spec.isNHWC)
        let strides = contiguousStrides(shape)
        let count = shape.reduce(1, *)
        switch (spec.dtype, mapping.quantised) {
        case ("int8", let table?):
            var values = [Int8](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { buffer in
                writeTile(buffer, strides: strides, nhwc: spec.isNHWC, image: image, region: region) { Int8(table[Int($0)]) }
            }
            return HostTensor(shape: shape, values: .int8(values))
        case ("uint8", let table?):
            var values = [UInt8](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { buffer in
                writeTile(buffer, strides: strides, nhwc: spec.isNHWC, image: image, region: region) { UInt8(table[Int($0)]) }
            }
            return HostTensor(shape: shape, values: .uint8(values))
        default:
            var values = [Float](repeating: 0, count: count)
            let table = mapping.floats
            values.withUnsafeMutableBufferPointer { buffer in
                writeTile(buffer, strides: strides, nhwc: spec.isNHWC, image: image, region: region) { table[Int($0)] }
            }
            return HostTensor(shape: shape, values: .float32(values))
        }
    }
}

// MARK: - CoreML multi-arrays

extension MLMultiArray {
    /// A float32 multi-array holding one tile, per the contract's input spec (float inputs only:
    /// CoreML takes no int8/uint8 model inputs, so an integer spec is refused).
    static func input(from image: RGBImage, region: TileRegion, spec: TensorSpec,
                      mapping: InputMapping) throws -> MLMultiArray {
        guard mapping.quantised == nil else {
            throw PixelTensorError.unsupportedDataType("CoreML multi-array input of dtype \(spec.dtype)")
        }
        let shape = tensorShape(height: region.height, width: region.width, nhwc: spec.isNHWC)
        let array = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        let table = mapping.floats
        array.withUnsafeMutableBufferPointer(ofType: Float.self) { buffer, strides in
            writeTile(buffer, strides: strides, nhwc: spec.isNHWC, image: image, region: region) { table[Int($0)] }
        }
        return array
    }
}

// MARK: - CoreML image I/O

/// A 32BGRA pixel buffer holding one tile (replicate-padded), for a CoreML image input.
/// The model itself maps pixels to its tensor range (`input.image.scale`).
func makeInputPixelBuffer(from image: RGBImage, region: TileRegion) throws -> CVPixelBuffer {
    var created: CVPixelBuffer?
    let attributes = [kCVPixelBufferIOSurfacePropertiesKey as String: [String: Any]()] as CFDictionary
    let status = CVPixelBufferCreate(kCFAllocatorDefault, region.width, region.height,
                                     kCVPixelFormatType_32BGRA, attributes, &created)
    guard status == kCVReturnSuccess, let buffer = created else {
        throw PixelTensorError.pixelBufferCreation(status)
    }
    CVPixelBufferLockBaseAddress(buffer, [])
    defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
    let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
    let base = CVPixelBufferGetBaseAddress(buffer)!.assumingMemoryBound(to: UInt8.self)
    image.bytes.withUnsafeBufferPointer { pixels in
        for y in 0..<region.height {
            let row = base + y * rowBytes
            for x in 0..<region.width {
                let source = image.paddedOffset(x: region.left + x, y: region.top + y)
                row[4 * x] = pixels[source + 2]      // B
                row[4 * x + 1] = pixels[source + 1]  // G
                row[4 * x + 2] = pixels[source]      // R
                row[4 * x + 3] = 255                 // A
            }
        }
    }
    return buffer
}

// MARK: - Output → pixels

/// The assembled upscaled image: 8-bit pixels always, and the real float values in NCHW
/// (1×3×H×W, float32) when asked for — the golden self-check compares those with the `.npy`.
final class OutputCanvas {
    private(set) var image: RGBImage
    /// Real output values, NCHW, or nil when not kept.
    private(set) var values: [Float]?

    init(width: Int, height: Int, keepValues: Bool) {
        image = RGBImage(width: width, height: height)
        values = keepValues ? [Float](repeating: 0, count: 3 * width * height) : nil
    }

    var width: Int { image.width }
    var height: Int { image.height }

    @inline(__always)
    fileprivate func store(x: Int, y: Int, channel: Int, pixel: UInt8, real: Double) {
        image.bytes[3 * (y * image.width + x) + channel] = pixel
        if values != nil {
            values![(channel * image.height + y) * image.width + x] = Float(real)
        }
    }

    /// Copies the kept part of one tile's output into place.  `raw(c, y, x)` reads the tile
    /// output's element at channel `c`, tile-output row `y`, column `x`.
    fileprivate func place(box: OutputBox, tileOffsetY: Int, tileOffsetX: Int, mapping: OutputMapping,
                           raw: (Int, Int, Int) -> Double) {
        for y in box.top..<box.bottom {
            for x in box.left..<box.right {
                for channel in 0..<3 {
                    let real = mapping.real(raw(channel, y - tileOffsetY, x - tileOffsetX))
                    store(x: x, y: y, channel: channel, pixel: mapping.pixel(real: real), real: real)
                }
            }
        }
    }

    /// Copies the kept part of an 8-bit image output (already pixels) into place.
    fileprivate func placePixels(box: OutputBox, tileOffsetY: Int, tileOffsetX: Int, mapping: OutputMapping,
                                 pixel: (Int, Int, Int) -> UInt8) {
        for y in box.top..<box.bottom {
            for x in box.left..<box.right {
                for channel in 0..<3 {
                    let value = pixel(channel, y - tileOffsetY, x - tileOffsetX)
                    store(x: x, y: y, channel: channel, pixel: value, real: mapping.real(pixel: value))
                }
            }
        }
    }
}

/// Where one tile's output goes: the kept box, and the tile's own origin in output pixels.
struct TileOutputPlacement {
    let box: OutputBox
    /// Output pixel of the tile output's (0, 0).
    let originY: Int
    let originX: Int
    /// Expected output tile size.
    let height: Int
    let width: Int
}

extension OutputCanvas {
    /// Writes a CoreML multi-array output (float32, float16, double or int32; any strides).
    func write(_ array: MLMultiArray, spec: TensorSpec, mapping: OutputMapping, at placement: TileOutputPlacement) throws {
        let expected = tensorShape(height: placement.height, width: placement.width, nhwc: spec.isNHWC)
        let shape = array.shape.map(\.intValue)
        guard shape == expected else {
            throw PixelTensorError.unexpectedShape(tensor: spec.name, expected: expected, found: shape)
        }
        let (cs, ys, xs) = channelRowColumnStrides(array.strides.map(\.intValue), nhwc: spec.isNHWC)
        func placeElements<Element: MLShapedArrayScalar>(_ type: Element.Type, _ toDouble: (Element) -> Double) {
            array.withUnsafeBufferPointer(ofType: type) { buffer in
                self.place(box: placement.box, tileOffsetY: placement.originY, tileOffsetX: placement.originX,
                           mapping: mapping) { c, y, x in toDouble(buffer[c * cs + y * ys + x * xs]) }
            }
        }
        switch array.dataType {
        case .float32: placeElements(Float.self) { Double($0) }
        case .float16: placeElements(Float16.self) { Double($0) }
        case .double: placeElements(Double.self) { $0 }
        case .int32: placeElements(Int32.self) { Double($0) }
        default: throw PixelTensorError.unsupportedDataType("MLMultiArray data type \(array.dataType.rawValue)")
        }
    }

    /// Writes a contiguous host tensor output (ExecuTorch).
    func write(_ tensor: HostTensor, spec: TensorSpec, mapping: OutputMapping, at placement: TileOutputPlacement) throws {
        let expected = tensorShape(height: placement.height, width: placement.width, nhwc: spec.isNHWC)
        guard tensor.shape == expected else {
            throw PixelTensorError.unexpectedShape(tensor: spec.name, expected: expected, found: tensor.shape)
        }
        let (cs, ys, xs) = channelRowColumnStrides(contiguousStrides(tensor.shape), nhwc: spec.isNHWC)
        switch tensor.values {
        case let .float32(values):
            place(box: placement.box, tileOffsetY: placement.originY, tileOffsetX: placement.originX,
                  mapping: mapping) { c, y, x in Double(values[c * cs + y * ys + x * xs]) }
        case let .int8(values):
            place(box: placement.box, tileOffsetY: placement.originY, tileOffsetX: placement.originX,
                  mapping: mapping) { c, y, x in Double(values[c * cs + y * ys + x * xs]) }
        case let .uint8(values):
            place(box: placement.box, tileOffsetY: placement.originY, tileOffsetX: placement.originX,
                  mapping: mapping) { c, y, x in Double(values[c * cs + y * ys + x * xs]) }
        }
    }

    /// Writes a CoreML image output (32-bit BGRA, ARGB or RGBA pixel buffer).
    func write(_ buffer: CVPixelBuffer, spec: TensorSpec, mapping: OutputMapping, at placement: TileOutputPlacement) throws {
        let found = [CVPixelBufferGetHeight(buffer), CVPixelBufferGetWidth(buffer)]
        guard found == [placement.height, placement.width] else {
            throw PixelTensorError.unexpectedShape(tensor: spec.name, expected: [placement.height, placement.width],
                                                   found: found)
        }
        // Byte index of R, G, B within a 4-byte pixel.
        let channelBytes: [Int]
        switch CVPixelBufferGetPixelFormatType(buffer) {
        case kCVPixelFormatType_32BGRA: channelBytes = [2, 1, 0]
        case kCVPixelFormatType_32ARGB: channelBytes = [1, 2, 3]
        case kCVPixelFormatType_32RGBA: channelBytes = [0, 1, 2]
        default: throw PixelTensorError.unsupportedPixelFormat(CVPixelBufferGetPixelFormatType(buffer))
        }
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
        let base = CVPixelBufferGetBaseAddress(buffer)!.assumingMemoryBound(to: UInt8.self)
        placePixels(box: placement.box, tileOffsetY: placement.originY, tileOffsetX: placement.originX,
                    mapping: mapping) { c, y, x in base[y * rowBytes + 4 * x + channelBytes[c]] }
    }
}
