package dev.edgesr.core

/**
 * One tile, identical to `edge_sr.tiling.Tile`: where it is cut from the (padded) LR image
 * ([top], [left]) and which part of its LR area is kept: rows [keepTop] until [keepBottom],
 * columns [keepLeft] until [keepRight] (tile pixels; the rest is context for the neighbours).
 */
data class Tile(val top: Int, val left: Int, val keepTop: Int, val keepLeft: Int, val keepBottom: Int, val keepRight: Int)

/** Tile starts along one side: 0, step, 2·step, … and a last start flush with the edge. */
private fun starts(length: Int, tile: Int, step: Int): List<Int> {
    if (length <= tile) return listOf(0)
    return (0 until length - tile step step).toList() + (length - tile)
}

/**
 * Tiles covering a [height] × [width] LR image already padded to at least [tileHeight] × [tileWidth];
 * the same list, in the same order, as `edge_sr.tiling.tile_plan`.  Each tile keeps everything
 * except [overlap] px along each side that has a neighbour (see [TilingPlan.placements] for the
 * last tile of a row or column, whose kept part can overlap its neighbour's).
 */
fun tilePlan(height: Int, width: Int, tileHeight: Int, tileWidth: Int, overlap: Int): List<Tile> {
    require(overlap >= 0) { "tiling: overlap must be >= 0, got $overlap" }
    require(overlap * 2 < minOf(tileHeight, tileWidth)) { "tiling: overlap $overlap px leaves nothing of a ${tileWidth}x$tileHeight tile" }
    val tiles = ArrayList<Tile>()
    for (top in starts(height, tileHeight, tileHeight - 2 * overlap)) {
        for (left in starts(width, tileWidth, tileWidth - 2 * overlap)) {
            tiles += Tile(
                top = top,
                left = left,
                keepTop = if (top == 0) 0 else overlap,
                keepLeft = if (left == 0) 0 else overlap,
                keepBottom = if (top + tileHeight >= height) tileHeight else tileHeight - overlap,
                keepRight = if (left + tileWidth >= width) tileWidth else tileWidth - overlap,
            )
        }
    }
    return tiles
}

/**
 * Where one tile's kept output goes: rows [outTop] until [outBottom], columns [outLeft] until
 * [outRight] of the full (unpadded) output, read from the tile output starting at
 * ([fromTop], [fromLeft]).  Mirrors `edge_sr.tiling._tile_outputs`.
 */
data class TilePlacement(val tile: Tile, val fromTop: Int, val fromLeft: Int, val outTop: Int, val outLeft: Int, val outBottom: Int, val outRight: Int) {
    val height: Int get() = outBottom - outTop
    val width: Int get() = outRight - outLeft
}

/**
 * How an image of [imageHeight] × [imageWidth] LR pixels is cut: tiles of exactly [tileHeight] ×
 * [tileWidth] (the image is replicate-padded to at least that), [overlap] px of context, output
 * [scale]× larger.  [placements] lists only tiles whose kept part touches the real image.
 */
class TilingPlan(
    val imageHeight: Int,
    val imageWidth: Int,
    val tileHeight: Int,
    val tileWidth: Int,
    val overlap: Int,
    val scale: Int,
) {
    val paddedHeight: Int = maxOf(imageHeight, tileHeight)
    val paddedWidth: Int = maxOf(imageWidth, tileWidth)
    val tiles: List<Tile> = tilePlan(paddedHeight, paddedWidth, tileHeight, tileWidth, overlap)
    val outputHeight: Int = imageHeight * scale
    val outputWidth: Int = imageWidth * scale

    /**
     * Where each tile's kept output goes.  `tile_plan`'s keep boxes overlap where the last tile of
     * a row or column, flush with the edge, starts less than one step after the previous one;
     * `edge_sr.tiling` then lets the later tile overwrite.  Here the earlier tile's kept part
     * ends where the later one's begins instead: the same pixels, each written exactly once.
     */
    val placements: List<TilePlacement> = run {
        val keptRowStart = tiles.associate { it.top to it.top + it.keepTop }
        val keptColumnStart = tiles.associate { it.left to it.left + it.keepLeft }
        val tops = keptRowStart.keys.sorted()
        val lefts = keptColumnStart.keys.sorted()
        tiles.mapNotNull { t ->
            val nextTop = tops.getOrNull(tops.indexOf(t.top) + 1)
            val nextLeft = lefts.getOrNull(lefts.indexOf(t.left) + 1)
            val keptBottom = minOf(t.top + t.keepBottom, nextTop?.let { keptRowStart.getValue(it) } ?: Int.MAX_VALUE)
            val keptRight = minOf(t.left + t.keepRight, nextLeft?.let { keptColumnStart.getValue(it) } ?: Int.MAX_VALUE)
            val top = (t.top + t.keepTop) * scale
            val left = (t.left + t.keepLeft) * scale
            val bottom = minOf(keptBottom * scale, outputHeight)
            val right = minOf(keptRight * scale, outputWidth)
            // A tile whose kept part lies wholly in the padding contributes nothing.
            if (bottom <= top || right <= left) null
            else TilePlacement(t, t.keepTop * scale, t.keepLeft * scale, top, left, bottom, right)
        }
    }
}

/**
 * Picks the tile size for an image from the contract's shape policy (apps/README.md, "Tiling").
 *
 * - fixed / enumerated: one of `sizes`; among the sizes whose overlap fits, the one that needs the
 *   least network work (tiles × tile area, padding included); ties go to the earlier size.
 * - dynamic: the whole image when both sides fit in `min(max_size, maxTileSide)`, else tiles of
 *   that limit (a side that fits keeps its length); sides are raised to `min_size` and
 *   `model.min_input_size` when the image is smaller (then padded).
 *
 * The overlap is `tiling.overlap`; a single whole-image tile needs no context, so it uses
 * overlap 0 when the contract's overlap would not fit in it.
 */
fun chooseTiling(contract: ModelContract, imageHeight: Int, imageWidth: Int, maxTileSide: Int? = null): TilingPlan {
    val policy = contract.shapePolicy
    val overlap = contract.overlap
    if (!policy.isDynamic) {
        val usable = policy.sizes.filter { (h, w) -> 2 * overlap < minOf(h, w) }
        if (usable.isEmpty()) {
            throw ContractError("${contract.source}: no tile size in shape_policy.sizes ${policy.sizes} leaves room for overlap $overlap")
        }
        val best = usable.minByOrNull { (h, w) ->
            val plan = tilePlan(maxOf(imageHeight, h), maxOf(imageWidth, w), h, w, overlap)
            plan.size.toLong() * h * w
        }!!
        return TilingPlan(imageHeight, imageWidth, best.first, best.second, overlap, contract.scale)
    }
    val limit = minOf(policy.maxSize!!, maxTileSide ?: Int.MAX_VALUE)
    val smallest = maxOf(policy.minSize!!, contract.minInputSize, 1)
    require(limit >= smallest) { "tile limit $limit is below the smallest tile $smallest the model accepts" }
    val tileHeight = minOf(maxOf(imageHeight, smallest), limit)
    val tileWidth = minOf(maxOf(imageWidth, smallest), limit)
    val whole = imageHeight <= limit && imageWidth <= limit
    val fits = 2 * overlap < minOf(tileHeight, tileWidth)
    if (!whole && !fits) {
        throw ContractError("${contract.source}: tiles of ${tileWidth}x$tileHeight leave no room for overlap $overlap; raise the tile size")
    }
    return TilingPlan(imageHeight, imageWidth, tileHeight, tileWidth, if (fits) overlap else 0, contract.scale)
}
