// Drive the web demo (apps/web, served by `edge-sr serve-demo`) in headless Chromium as a user
// would: pick a model, choose an image file, Upscale, run the golden check; then save the
// screenshot and the raw float output, and report what happened.
// Usage: node web_demo.mjs CONFIG.json   (prints one JSON object)
// CONFIG: {url, image, model, threads, backend, optimization, runs, tile, screenshot, output}
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync } from "node:fs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.EDGE_SR_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic",
         // A software WebGPU adapter (SwiftShader), so the WebGPU backend runs without a GPU.
         ...(config.backend === "webgpu" ? ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan"] : [])],
});
const result = { console_errors: [], page_errors: [], external_requests: [], failed_requests: [] };
const origin = new URL(config.url).origin;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("console", (message) => { if (message.type() === "error") result.console_errors.push(message.text()); });
  page.on("pageerror", (error) => result.page_errors.push(String(error)));
  page.on("requestfailed", (request) => result.failed_requests.push(request.url()));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    result.external_requests.push(url);
    return route.abort();
  });
  const query = new URLSearchParams({
    model: String(config.model), threads: String(config.threads), backend: config.backend,
    optimization: config.optimization, runs: String(config.runs), tile: String(config.tile),
  });
  await page.goto(`${config.url}?${query}`, { waitUntil: "load" });
  await page.evaluate(() => window.edgeSR.ready);
  result.environment = await page.textContent("#environment");
  result.model_facts = await page.textContent("#model-facts");
  result.cross_origin_isolated = await page.evaluate(() => crossOriginIsolated);
  await page.setInputFiles("#file", config.image);
  await page.waitForFunction(() => !document.getElementById("run").disabled);
  await page.click("#run");
  await page.waitForFunction(() => {
    const status = document.getElementById("status").textContent;
    return status.startsWith("done") || document.getElementById("status").className === "bad";
  }, null, { timeout: 600_000 });
  result.status = await page.textContent("#status");
  await page.click("#golden-check");
  await page.waitForFunction(() => document.getElementById("golden").textContent !== ""
    || document.getElementById("status").className === "bad", null, { timeout: 600_000 });
  result.golden_text = await page.textContent("#golden");
  const state = await page.evaluate(() => ({
    golden: window.edgeSR.state.golden ?? null,
    row: window.edgeSR.state.results.at(-1) ?? null,
    error: window.edgeSR.state.error,
    output: window.edgeSR.state.last ? [window.edgeSR.state.last.height, window.edgeSR.state.last.width] : null,
    results: window.edgeSR.results(),
  }));
  Object.assign(result, state);
  if (state.output) {
    writeFileSync(config.output, Buffer.from(await page.evaluate(() => window.edgeSR.lastOutputBase64()), "base64"));
  }
  // The before/after view, split at 50 %, on screen.
  await page.locator("#compare").scrollIntoViewIfNeeded();
  result.compare_visible = await page.isVisible("#compare");
  result.canvases = await page.$$eval("canvas", (canvases) => canvases.map((c) => [c.id, c.width, c.height]));
  await page.screenshot({ path: config.screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
