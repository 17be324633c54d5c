package dev.edgesr.demo

import android.graphics.Bitmap
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.gestures.detectHorizontalDragGestures
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableFloatStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.FilterQuality
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.drawscope.clipRect
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.unit.IntOffset
import androidx.compose.ui.unit.IntSize

/**
 * Before/after comparison: [before] (the LR input, drawn with nearest-neighbour scaling so its
 * pixels show) left of a draggable divider, [after] (the SR output) right of it, both stretched
 * to the same box.
 */
@Composable
fun CompareSlider(before: Bitmap, after: Bitmap, modifier: Modifier = Modifier) {
    var split by remember { mutableFloatStateOf(0.5f) }
    val beforeImage = remember(before) { before.asImageBitmap() }
    val afterImage = remember(after) { after.asImageBitmap() }
    Canvas(
        modifier
            .fillMaxWidth()
            .aspectRatio(after.width.toFloat() / after.height)
            .pointerInput(Unit) {
                detectHorizontalDragGestures { change, _ ->
                    split = (change.position.x / size.width).coerceIn(0f, 1f)
                }
            },
    ) {
        val box = IntSize(size.width.toInt(), size.height.toInt())
        val divider = size.width * split
        clipRect(right = divider) {
            drawImage(beforeImage, srcSize = IntSize(before.width, before.height), dstOffset = IntOffset.Zero, dstSize = box, filterQuality = FilterQuality.None)
        }
        clipRect(left = divider) {
            drawImage(afterImage, srcSize = IntSize(after.width, after.height), dstOffset = IntOffset.Zero, dstSize = box, filterQuality = FilterQuality.None)
        }
        drawLine(Color.White, Offset(divider, 0f), Offset(divider, size.height), strokeWidth = 4f)
    }
}
