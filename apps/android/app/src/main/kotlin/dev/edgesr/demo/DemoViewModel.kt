package dev.edgesr.demo

import android.app.Application
import android.graphics.Bitmap
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Build
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.edgesr.core.BenchRow
import dev.edgesr.core.BundleEntry
import dev.edgesr.core.DeviceInfo
import dev.edgesr.core.GoldenResult
import dev.edgesr.core.ModelContract
import dev.edgesr.core.Upscaler
import dev.edgesr.core.benchResultsJson
import dev.edgesr.core.benchmark
import dev.edgesr.core.checkGolden
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale

/**
 * Screen state and the work behind the buttons.  Model runs happen on a background dispatcher;
 * every Compose-visible field is a snapshot state, updated on the main thread.
 */
class DemoViewModel(application: Application) : AndroidViewModel(application) {
    private val store = ModelStore(application)

    var models: List<BundleEntry> by mutableStateOf(emptyList())
        private set
    var selected: BundleEntry? by mutableStateOf(null)
        private set
    var contract: ModelContract? by mutableStateOf(null)
        private set
    var runtime: Runtime? by mutableStateOf(null)
    var threads by mutableStateOf(4)
    var repetitions by mutableStateOf(10)
    var warmup by mutableStateOf(2)
    /** Cap on dynamic tiles (LR px per side); fixed-shape artifacts use their own size. */
    var maxTileSide by mutableStateOf(512)

    var inputBitmap: Bitmap? by mutableStateOf(null)
        private set
    var inputLabel by mutableStateOf("")
        private set
    var outputBitmap: Bitmap? by mutableStateOf(null)
        private set
    var busy by mutableStateOf(false)
        private set
    var progress by mutableStateOf("")
        private set
    var error: String? by mutableStateOf(null)
        private set
    var golden: GoldenResult? by mutableStateOf(null)
        private set
    var lastRow: BenchRow? by mutableStateOf(null)
        private set
    var savedFile: File? by mutableStateOf(null)
        private set

    /** Rows measured this session (all go into the results file). */
    val rows = ArrayList<BenchRow>()

    init {
        try {
            models = store.manifest().models
            models.firstOrNull()?.let(::select)
        } catch (e: Exception) {
            error = e.message
        }
    }

    fun select(entry: BundleEntry) {
        try {
            val parsed = store.contract(entry)
            selected = entry
            contract = parsed
            runtime = Runtime.forContract(parsed).firstOrNull()
            golden = null
            outputBitmap = null
            error = if (runtime == null) "${parsed.artifactFile}: target ${parsed.target} has no runtime in this app" else null
            useSample()
        } catch (e: Exception) {
            error = e.message
        }
    }

    /** The bundled sample: the model's golden input PNG. */
    fun useSample() {
        val c = contract ?: return
        inputBitmap = store.goldenInput(c)
        inputLabel = "sample (${c.golden.input})"
        outputBitmap = null
    }

    fun usePicked(uri: Uri) {
        val resolver = getApplication<Application>().contentResolver
        // A software bitmap: getPixels does not work on the hardware bitmaps ImageDecoder makes by default.
        inputBitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri)) { decoder, _, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
        }
        inputLabel = uri.lastPathSegment ?: "picked image"
        outputBitmap = null
    }

    /** Golden self-check, then warm-up + timed repetitions on the current image. */
    fun run() {
        val c = contract ?: return
        val rt = runtime ?: return
        val bitmap = inputBitmap ?: return
        val entry = selected ?: return
        busy = true
        error = null
        viewModelScope.launch {
            try {
                val (row, goldenResult) = withContext(Dispatchers.Default) {
                    rt.open(c, store.artifactFile(c), threads).use { runner ->
                        val upscaler = Upscaler(c, runner, maxTileSide)
                        postProgress("golden self-check")
                        val goldenImage = store.goldenInput(c).toRgbImage()
                        val goldenOutput = upscaler.upscaleToFloat(goldenImage)
                        val check = checkGolden(c, goldenOutput, goldenImage.height * c.scale, goldenImage.width * c.scale, store.goldenOutput(c))
                        val image = bitmap.toRgbImage()
                        val measurement = benchmark(upscaler, image, warmup, repetitions) { done, total -> postProgress("run $done / $total") }
                        val threadCount = if (rt.hasThreads) threads else null
                        BenchRow(entry.model, rt.id, c, image.height, image.width, threadCount, measurement, check) to check
                    }
                }
                rows += row
                lastRow = row
                golden = goldenResult
                outputBitmap = row.measurement.lastImage.toBitmap()
                progress = ""
            } catch (e: Throwable) {
                error = "${e::class.simpleName}: ${e.message}"
            } finally {
                busy = false
            }
        }
    }

    /** Shows [text] as progress; callable from the worker thread. */
    private fun postProgress(text: String) {
        viewModelScope.launch(Dispatchers.Main) { progress = text }
    }

    /** Writes the session's rows as `edge-sr/bench` v1 JSON to files/results/ of the external files dir. */
    fun saveResults(): File? {
        if (rows.isEmpty()) return null
        val app = getApplication<Application>()
        val device = DeviceInfo(
            name = "${Build.MANUFACTURER} ${Build.MODEL}",
            kind = "android",
            os = "Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})",
            app = "edge-sr demo ${app.packageManager.getPackageInfo(app.packageName, 0).versionName}",
        )
        val folder = File(app.getExternalFilesDir(null), "results").apply { mkdirs() }
        val stamp = SimpleDateFormat("yyyyMMdd-HHmmss", Locale.US).format(Date())
        val file = File(folder, "edge-sr-android-$stamp.json")
        file.writeText(benchResultsJson(device, rows))
        savedFile = file
        return file
    }
}
