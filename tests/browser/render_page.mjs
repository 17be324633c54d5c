// Open a local HTML file in headless Chromium with the network cut off, and report what a
// reader would see: console errors, uncaught page errors, requests that left the file, images
// that did not load; then save a full-page screenshot.
// Usage: node render_page.mjs PAGE.html SCREENSHOT.png   (prints one JSON object)
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [page_file, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.EDGE_SR_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = { console_errors: [], page_errors: [], external_requests: [], images: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("console", (message) => { if (message.type() === "error") result.console_errors.push(message.text()); });
  page.on("pageerror", (error) => result.page_errors.push(String(error)));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
    result.external_requests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(resolve(page_file)).href, { waitUntil: "load" });
  result.images = await page.$$eval("img", (images) => images.map((image) => ({
    alt: image.alt, complete: image.complete, width: image.naturalWidth, height: image.naturalHeight,
  })));
  result.svgs = await page.$$eval("svg", (svgs) => svgs.length);
  result.tables = await page.$$eval("table", (tables) => tables.length);
  result.title = await page.title();
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
