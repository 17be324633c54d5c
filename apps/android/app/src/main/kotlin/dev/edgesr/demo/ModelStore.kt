package dev.edgesr.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import dev.edgesr.core.BundleEntry
import dev.edgesr.core.BundleManifest
import dev.edgesr.core.ModelContract
import dev.edgesr.core.NpyArray
import dev.edgesr.core.readNpyFloat32
import java.io.File

/**
 * The models `edge-sr bundle MODEL --app android` placed in `assets/models/`: the manifest,
 * each artifact's contract, the artifact itself and its golden pair.
 */
class ModelStore(private val context: Context) {
    private val folder = "models"

    /** The bundle manifest; [dev.edgesr.core.ContractError] when missing or of another schema. */
    fun manifest(): BundleManifest {
        val path = "$folder/manifest.json"
        val text = try {
            context.assets.open(path).bufferedReader().use { it.readText() }
        } catch (e: java.io.IOException) {
            throw dev.edgesr.core.ContractError("assets/$path: not found; run `edge-sr bundle MODEL --app android` first")
        }
        return BundleManifest.parse(text, "assets/$path")
    }

    /** The contract a manifest entry names. */
    fun contract(entry: BundleEntry): ModelContract {
        val path = "$folder/${entry.contract}"
        return ModelContract.parse(context.assets.open(path).bufferedReader().use { it.readText() }, "assets/$path")
    }

    /**
     * The artifact as a file: runtimes load from paths, so it is copied out of the APK once
     * (kept while its size matches; a reinstall with a new model replaces it).
     */
    fun artifactFile(contract: ModelContract): File {
        val target = File(context.filesDir, "models/${contract.artifactFile}")
        val assetPath = "$folder/${contract.artifactFile}"
        val size = context.assets.openFd(assetPath).use { it.length }
        if (!target.exists() || target.length() != size) {
            target.parentFile?.mkdirs()
            context.assets.open(assetPath).use { input -> target.outputStream().use { input.copyTo(it) } }
        }
        return target
    }

    /** The golden input PNG (also the bundled sample image). */
    fun goldenInput(contract: ModelContract): Bitmap =
        context.assets.open("$folder/${contract.golden.input}").use { BitmapFactory.decodeStream(it) }
            ?: error("assets/$folder/${contract.golden.input}: not a PNG")

    /** The golden output window (float32 NCHW). */
    fun goldenOutput(contract: ModelContract): NpyArray {
        val path = "$folder/${contract.golden.output}"
        return readNpyFloat32(context.assets.open(path).use { it.readBytes() }, "assets/$path")
    }
}
