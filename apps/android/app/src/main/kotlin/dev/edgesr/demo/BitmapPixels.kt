package dev.edgesr.demo

import android.graphics.Bitmap
import dev.edgesr.core.RgbImage

/** The bitmap's pixels as core's 8-bit RGB image (ARGB ints, row-major; alpha is ignored downstream). */
fun Bitmap.toRgbImage(): RgbImage {
    val source = if (config == Bitmap.Config.ARGB_8888) this else copy(Bitmap.Config.ARGB_8888, false)
    val pixels = IntArray(source.width * source.height)
    source.getPixels(pixels, 0, source.width, 0, 0, source.width, source.height)
    return RgbImage(source.width, source.height, pixels)
}

/** An opaque ARGB_8888 bitmap of [this] image. */
fun RgbImage.toBitmap(): Bitmap = Bitmap.createBitmap(argb, width, height, Bitmap.Config.ARGB_8888)
