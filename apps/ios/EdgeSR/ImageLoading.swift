import Foundation
import ImageIO

/// Decodes a PNG/JPEG/HEIC file or data into 8-bit sRGB pixels (first frame, orientation as stored).
func loadRGBImage(from url: URL) throws -> RGBImage {
    guard let source = CGImageSourceCreateWithURL(url as CFURL, nil) else {
        throw PixelTensorError.imageDecoding(url.lastPathComponent)
    }
    return try decodeFirstImage(source, name: url.lastPathComponent)
}

func loadRGBImage(from data: Data, name: String) throws -> RGBImage {
    guard let source = CGImageSourceCreateWithData(data as CFData, nil) else {
        throw PixelTensorError.imageDecoding(name)
    }
    return try decodeFirstImage(source, name: name)
}

private func decodeFirstImage(_ source: CGImageSource, name: String) throws -> RGBImage {
    guard let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
        throw PixelTensorError.imageDecoding(name)
    }
    return try RGBImage(cgImage: image)
}
