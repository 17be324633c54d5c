package dev.edgesr.core

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class TilingTest {
    @UnitTest
    fun `every output pixel is written exactly once and tiles are exactly the tile size`() {
        var plans = 0
        for (height in listOf(1, 5, 16, 17, 31, 48, 49, 100, 131)) for (width in listOf(1, 7, 32, 33, 64, 90)) {
            for ((tileH, tileW) in listOf(16 to 16, 32 to 20, 48 to 48)) {
                for (overlap in listOf(0, 1, 3, 7, (minOf(tileH, tileW) - 1) / 2)) {
                    val scale = 2
                    val plan = TilingPlan(height, width, tileH, tileW, overlap, scale)
                    val hits = IntArray(plan.outputHeight * plan.outputWidth)
                    for (p in plan.placements) {
                        val where = "${height}x$width tile ${tileH}x$tileW overlap $overlap at ${p.tile}"
                        assertTrue(p.tile.top >= 0 && p.tile.top + tileH <= plan.paddedHeight, where)
                        assertTrue(p.tile.left >= 0 && p.tile.left + tileW <= plan.paddedWidth, where)
                        // The kept output lies inside the tile's output.
                        assertTrue(p.fromTop + p.height <= tileH * scale && p.fromLeft + p.width <= tileW * scale, where)
                        assertEquals(p.outTop, p.tile.top * scale + p.fromTop, where)
                        for (y in p.outTop until p.outBottom) for (x in p.outLeft until p.outRight) hits[y * plan.outputWidth + x]++
                    }
                    assertTrue(hits.all { it == 1 }, "${height}x$width tile ${tileH}x$tileW overlap $overlap: coverage ${hits.toSet()}")
                    plans++
                }
            }
        }
        assertTrue(plans > 500)
    }

    @UnitTest
    fun `the plan matches edge_sr tiling tile_plan on a worked example`() {
        // tile_plan(100, 70, tile=(48, 48), overlap=21): steps of 6, last starts flush with the edge.
        val plan = tilePlan(100, 70, 48, 48, 21)
        assertEquals(10 * 5, plan.size)
        assertEquals(Tile(0, 0, 0, 0, 27, 27), plan.first())
        assertEquals(Tile(0, 22, 0, 21, 27, 48), plan[4])
        assertEquals(Tile(52, 22, 21, 21, 48, 48), plan.last())
        assertEquals(listOf(0, 6, 12, 18, 24, 30, 36, 42, 48, 52), plan.map { it.top }.distinct())
        assertEquals(listOf(Tile(0, 0, 0, 0, 10, 10)), tilePlan(10, 10, 10, 10, 4))
        assertFailsWith<IllegalArgumentException> { tilePlan(100, 100, 10, 10, 5) }
        assertFailsWith<IllegalArgumentException> { tilePlan(100, 100, 10, 10, -1) }
    }

    @UnitTest
    fun `images smaller than the tile are one padded tile`() {
        val plan = TilingPlan(5, 7, 16, 16, 3, 4)
        assertEquals(16, plan.paddedHeight)
        assertEquals(1, plan.placements.size)
        val only = plan.placements.single()
        assertEquals(listOf(0, 0, 20, 28), listOf(only.outTop, only.outLeft, only.outBottom, only.outRight))
    }

    @UnitTest
    fun `tile choice follows the shape policy`() {
        // fixed: the one size, whatever the image.
        val fixed = chooseTiling(contract(sizes = listOf(listOf(32, 32)), overlap = 5), 100, 40)
        assertEquals(32 to 32, fixed.tileHeight to fixed.tileWidth)
        assertEquals(5, fixed.overlap)
        // enumerated: the size needing the least work; 64x64 covers a 60x60 image in one tile.
        val enumerated = chooseTiling(contract(kind = "enumerated", sizes = listOf(listOf(32, 32), listOf(64, 64), listOf(128, 128)), overlap = 5), 60, 60)
        assertEquals(64 to 64, enumerated.tileHeight to enumerated.tileWidth)
        assertEquals(1, enumerated.placements.size)
        // dynamic (min 16, max 64): whole image when it fits; raised to min_size when smaller.
        val dynamicPolicy = contract(kind = "dynamic", sizes = emptyList(), overlap = 5)
        assertEquals(listOf(40, 50, 1), chooseTiling(dynamicPolicy, 40, 50).let { listOf(it.tileHeight, it.tileWidth, it.placements.size) })
        assertEquals(listOf(16, 16, 1), chooseTiling(dynamicPolicy, 5, 9).let { listOf(it.tileHeight, it.tileWidth, it.placements.size) })
        // Too big: tiles of max_size, or of the app's cap when smaller; a side that fits keeps its length.
        assertEquals(listOf(64, 30), chooseTiling(dynamicPolicy, 200, 30).let { listOf(it.tileHeight, it.tileWidth) })
        assertEquals(listOf(32, 32), chooseTiling(dynamicPolicy, 200, 200, maxTileSide = 32).let { listOf(it.tileHeight, it.tileWidth) })
        // A whole-image tile too small for the overlap needs no context: overlap 0.
        val wide = contract(kind = "dynamic", sizes = emptyList(), overlap = 21)
        assertEquals(0, chooseTiling(wide, 20, 20).overlap)
        assertFailsWith<ContractError> { chooseTiling(contract(sizes = listOf(listOf(16, 16)), overlap = 8), 50, 50) }
    }
}
