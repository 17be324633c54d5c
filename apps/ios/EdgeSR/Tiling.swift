import Foundation

// Tiling identical to edge_sr.tiling.tile_plan (apps/README.md, "Tiling").  The LR image is
// (conceptually) edge-padded up to at least one tile; tiles of exactly `tileHeight x tileWidth`
// start at 0, step, 2·step, … (step = tile − 2·overlap) with a last tile flush with the edge;
// each tile keeps its output except `overlap` px (× scale) on every side that has a neighbour, so
// every output pixel is written exactly once.

/// Why no tiling could be made for an image.
enum TilingError: LocalizedError {
    case overlapTooLarge(overlap: Int, tileHeight: Int, tileWidth: Int)
    case negativeOverlap(Int)
    case noSizes(kind: String)
    case unknownPolicy(String)

    var errorDescription: String? {
        switch self {
        case let .overlapTooLarge(overlap, tileHeight, tileWidth):
            return "tiling: overlap \(overlap) px leaves nothing of a \(tileWidth)x\(tileHeight) tile"
        case let .negativeOverlap(overlap):
            return "tiling: overlap must be >= 0, got \(overlap)"
        case let .noSizes(kind):
            return "shape_policy \(kind) lists no sizes"
        case let .unknownPolicy(kind):
            return "shape_policy kind \(kind) is not fixed, enumerated or dynamic"
        }
    }
}

/// One tile: where it is cut from the padded LR image, and which part of it is kept.
/// `keep*` are in tile LR pixels (top, left inclusive; bottom, right exclusive), as in Python's `Tile.keep`.
struct TilePlacement: Equatable {
    let top: Int
    let left: Int
    let keepTop: Int
    let keepLeft: Int
    let keepBottom: Int
    let keepRight: Int
}

/// Where a tile's kept output goes in the full output, in output pixels (bottom/right exclusive).
struct OutputBox: Equatable {
    let top: Int
    let left: Int
    let bottom: Int
    let right: Int
}

/// Tile starts along one axis (`_starts` in edge_sr/tiling.py).
func tileStarts(length: Int, tile: Int, step: Int) -> [Int] {
    if length <= tile { return [0] }
    let starts = Array(stride(from: 0, to: length - tile, by: step))
    return starts + [length - tile]
}

/// Tiles covering a `height x width` image already padded to at least the tile (`tile_plan`).
func tilePlan(height: Int, width: Int, tileHeight: Int, tileWidth: Int, overlap: Int) throws -> [TilePlacement] {
    if overlap < 0 { throw TilingError.negativeOverlap(overlap) }
    if overlap * 2 >= min(tileHeight, tileWidth) {
        throw TilingError.overlapTooLarge(overlap: overlap, tileHeight: tileHeight, tileWidth: tileWidth)
    }
    var tiles: [TilePlacement] = []
    for top in tileStarts(length: height, tile: tileHeight, step: tileHeight - 2 * overlap) {
        for left in tileStarts(length: width, tile: tileWidth, step: tileWidth - 2 * overlap) {
            // Keep from the middle of the overlap on each side that has a neighbour.
            tiles.append(TilePlacement(
                top: top, left: left,
                keepTop: top == 0 ? 0 : overlap,
                keepLeft: left == 0 ? 0 : overlap,
                keepBottom: top + tileHeight >= height ? tileHeight : tileHeight - overlap,
                keepRight: left + tileWidth >= width ? tileWidth : tileWidth - overlap))
        }
    }
    return tiles
}

/// The whole tiling of one LR image for one artifact.
struct TilingPlan {
    /// The LR image, before padding.
    let imageHeight: Int
    let imageWidth: Int
    /// The LR image after replicate padding up to at least one tile.
    let paddedHeight: Int
    let paddedWidth: Int
    let tileHeight: Int
    let tileWidth: Int
    let overlap: Int
    let scale: Int
    let tiles: [TilePlacement]

    var outputHeight: Int { imageHeight * scale }
    var outputWidth: Int { imageWidth * scale }

    /// The part of the output `tile` writes, or nil when that part lies wholly in the padding.
    func outputBox(for tile: TilePlacement) -> OutputBox? {
        let top = (tile.top + tile.keepTop) * scale
        let left = (tile.left + tile.keepLeft) * scale
        let bottom = min((tile.top + tile.keepBottom) * scale, outputHeight)
        let right = min((tile.left + tile.keepRight) * scale, outputWidth)
        if bottom <= top || right <= left { return nil }
        return OutputBox(top: top, left: left, bottom: bottom, right: right)
    }

    /// Builds the plan for a `tileHeight x tileWidth` tile.  When one tile covers the padded
    /// image the overlap is irrelevant and not checked (a whole-image pass of a dynamic
    /// artifact may be narrower than 2·overlap).
    init(imageHeight: Int, imageWidth: Int, tileHeight: Int, tileWidth: Int, overlap: Int, scale: Int) throws {
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
        self.paddedHeight = max(imageHeight, tileHeight)
        self.paddedWidth = max(imageWidth, tileWidth)
        self.tileHeight = tileHeight
        self.tileWidth = tileWidth
        self.scale = scale
        if paddedHeight == tileHeight && paddedWidth == tileWidth {
            self.overlap = overlap
            self.tiles = [TilePlacement(top: 0, left: 0, keepTop: 0, keepLeft: 0,
                                        keepBottom: tileHeight, keepRight: tileWidth)]
        } else {
            self.overlap = overlap
            self.tiles = try tilePlan(height: paddedHeight, width: paddedWidth,
                                      tileHeight: tileHeight, tileWidth: tileWidth, overlap: overlap)
        }
    }

    /// The plan the contract asks for: tile size from `shape_policy`, overlap from `tiling`.
    ///
    /// - fixed / enumerated: the smallest listed size that holds the whole image (one tile, least
    ///   padding); otherwise the largest listed size (fewest tiles).
    /// - dynamic: the whole image when it fits in `max_size` (and the app's `maxTile`), else
    ///   tiles of that cap; never below `min_size` or `model.min_input_size` (padded up).
    init(contract: ModelContract, imageHeight: Int, imageWidth: Int, maxTile: Int) throws {
        let (tileHeight, tileWidth) = try chooseTileSize(contract: contract, imageHeight: imageHeight,
                                                         imageWidth: imageWidth, maxTile: maxTile)
        try self.init(imageHeight: imageHeight, imageWidth: imageWidth, tileHeight: tileHeight,
                      tileWidth: tileWidth, overlap: contract.tileOverlap, scale: contract.scale)
    }
}

/// Tile size `(height, width)` for an image under the contract's shape policy.
func chooseTileSize(contract: ModelContract, imageHeight: Int, imageWidth: Int, maxTile: Int) throws -> (Int, Int) {
    let policy = contract.shapePolicy
    switch policy.kind {
    case "fixed", "enumerated":
        let sizes = policy.sizes.filter { $0.count == 2 }.map { ($0[0], $0[1]) }
        guard !sizes.isEmpty else { throw TilingError.noSizes(kind: policy.kind) }
        let holding = sizes.filter { $0.0 >= imageHeight && $0.1 >= imageWidth }
        if let smallest = holding.min(by: { $0.0 * $0.1 < $1.0 * $1.1 }) { return smallest }
        return sizes.max(by: { $0.0 * $0.1 < $1.0 * $1.1 })!
    case "dynamic":
        let smallest = max(policy.minSize ?? 1, contract.model.minInputSize)
        let largest = max(smallest, min(policy.maxSize ?? maxTile, maxTile))
        let height = min(max(imageHeight, smallest), largest)
        let width = min(max(imageWidth, smallest), largest)
        return (height, width)
    default:
        throw TilingError.unknownPolicy(policy.kind)
    }
}
