package dev.edgesr.core

import java.io.File
import kotlin.system.exitProcess

/**
 * Prints what the app understands of each contract file named in [args]: one parsed-view JSON
 * object per line (apps/README.md, "The parsed view").  On any error prints one line to stderr
 * and exits 1.
 *
 * `--tile-plan H W TILE_H TILE_W OVERLAP SCALE` instead prints, for an H × W image, one JSON object:
 * `tiles` as `edge_sr.tiling.tile_plan` lists them (`[top, left, [keep_top, keep_left, keep_bottom,
 * keep_right]]`) and `boxes`, where each tile's kept output goes (`[top, left, out_top, out_left,
 * out_bottom, out_right]`), for the cross-check with Python.
 */
fun main(args: Array<String>) {
    try {
        if (args.firstOrNull() == "--tile-plan") {
            require(args.size == 7) { "usage: --tile-plan H W TILE_H TILE_W OVERLAP SCALE" }
            val (h, w, th, tw, overlap) = args.drop(1).map { it.toInt() }
            val plan = TilingPlan(h, w, th, tw, overlap, args[6].toInt())
            val tiles = plan.tiles.map { listOf(it.top, it.left, listOf(it.keepTop, it.keepLeft, it.keepBottom, it.keepRight)) }
            val boxes = plan.placements.map { listOf(it.tile.top, it.tile.left, it.outTop, it.outLeft, it.outBottom, it.outRight) }
            println(Json.write(linkedMapOf("tiles" to tiles, "boxes" to boxes)))
            return
        }
        require(args.isNotEmpty()) { "usage: dump-contract CONTRACT.json..." }
        for (path in args) println(ModelContract.read(File(path)).toViewJson())
    } catch (e: Exception) {
        System.err.println("dump-contract: ${e.message}")
        exitProcess(1)
    }
}
