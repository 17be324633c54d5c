// The web demo's controller: reads the bundle manifest and contracts, runs the chosen artifact in
// onnxruntime-web (WebAssembly or WebGPU), times pre / run / post, shows before/after, checks the
// golden pair, and writes results in the edge-sr/bench schema.  Settings also come from the URL
// (?model=&backend=&threads=&optimization=&runs=&tile=) so a run can be reproduced or scripted.

import * as ort from '../vendor/ort/ort.webgpu.min.mjs';
import { contractView, parseManifest } from './contract.js';
import { parseNpy } from './npy.js';
import { summarize } from './stats.js';
import { compareGolden, upscaleImage } from './upscaler.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MODELS = new URL('../models/', import.meta.url);
const APP_VERSION = 'edge-sr web demo 0.1';

const state = {
  manifest: [], view: null, entry: null, session: null, sessionKey: null,
  image: null, imageName: null, last: null, results: [], error: null,
};

async function fetchOk(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: expected ${what}, found HTTP ${response.status}`);
  return response;
}

function setStatus(text, kind = '') {
  const status = $('status');
  status.textContent = text;
  status.className = kind;
}

function threadChoices() {
  const cores = navigator.hardwareConcurrency || 1;
  if (!crossOriginIsolated) return [1];
  return Array.from({ length: Math.min(cores, 16) }, (_, i) => i + 1);
}

// onnxruntime-web reads the thread count once, when its WebAssembly starts: a change reloads the page.
function configureRuntime() {
  const choices = threadChoices();
  const wanted = Number(params.get('threads') || Math.min(4, choices[choices.length - 1]));
  const threads = choices.includes(wanted) ? wanted : choices[choices.length - 1];
  ort.env.wasm.wasmPaths = new URL('../vendor/ort/', import.meta.url).href;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const select = $('threads');
  select.replaceChildren(...choices.map((n) => new Option(String(n), String(n), false, n === threads)));
  select.addEventListener('change', () => {
    params.set('threads', select.value);
    location.search = params.toString();
  });
  return threads;
}

async function webgpuAvailable() {
  if (!('gpu' in navigator)) return 'this browser has no navigator.gpu';
  try {
    return (await navigator.gpu.requestAdapter()) ? null : 'no WebGPU adapter';
  } catch (error) {
    return `WebGPU adapter request failed: ${error.message}`;
  }
}

async function loadManifest() {
  const source = new URL('manifest.json', MODELS).href;
  const data = await (await fetchOk(source, 'the bundle manifest written by `edge-sr bundle MODEL --app web`')).json();
  state.manifest = parseManifest(data, source);
  $('model').replaceChildren(...state.manifest.map((entry, i) => new Option(`${entry.model} · ${entry.precision} · ${entry.target}`, String(i))));
  const wanted = params.get('model');
  if (wanted !== null) {
    const index = state.manifest.findIndex((e, i) => String(i) === wanted || e.contract === wanted || `${e.model}.${e.precision}` === wanted);
    if (index < 0) throw new Error(`?model=${wanted}: expected an index, contract file or MODEL.PRECISION from the manifest, found none`);
    $('model').value = String(index);
  }
}

async function selectModel() {
  const entry = state.manifest[Number($('model').value)];
  const source = new URL(entry.contract, MODELS).href;
  const view = contractView(await (await fetchOk(source, 'a model contract')).json(), entry.contract);
  state.entry = entry;
  state.view = view;
  state.session = null;
  const policy = view.shape_policy.kind === 'dynamic'
    ? `any size ${view.shape_policy.min_size}–${view.shape_policy.max_size} px`
    : `${view.shape_policy.kind} ${view.shape_policy.sizes.map(([h, w]) => `${w}x${h}`).join(', ')}`;
  $('model-facts').textContent = `${view.file} · ${view.arch} ×${view.scale} · ${view.precision} · input ${view.input.layout} `
    + `${view.input.dtype} [${view.input.range}] · ${policy} · tile overlap ${view.tiling.overlap} px`
    + (view.tiling.exact ? ' (seamless)' : ' (global context: tiles differ slightly)');
  $('golden').textContent = '';
  $('golden-check').disabled = false;
  $('use-golden').disabled = false;
}

async function session() {
  const backend = $('backend').value;
  const optimization = $('optimization').value;
  const key = `${state.view.file}|${backend}|${optimization}`;
  if (state.sessionKey !== key || !state.session) {
    setStatus(`loading ${state.view.file} (${backend})…`);
    const bytes = await (await fetchOk(new URL(state.view.file, MODELS).href, 'the artifact named by the contract')).arrayBuffer();
    state.session = await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: optimization });
    state.sessionKey = key;
    const names = [state.session.inputNames[0], state.session.outputNames[0]];
    if (names[0] !== state.view.input.name || names[1] !== state.view.output.name) {
      throw new Error(`${state.view.file}: expected input/output ${state.view.input.name}/${state.view.output.name} (contract), found ${names.join('/')}`);
    }
  }
  return state.session;
}

function ortRunner(sessionNow) {
  const type = state.view.input.quantization === null ? 'float32' : state.view.input.dtype;
  return async (data, dims) => {
    const feeds = { [state.view.input.name]: new ort.Tensor(type, data, dims) };
    const results = await sessionNow.run(feeds);
    const output = results[state.view.output.name];
    const values = await output.getData();
    output.dispose?.();
    return values;
  };
}

async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { colorSpace: 'srgb' });
  context.drawImage(bitmap, 0, 0);
  const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
  return { rgba: data, width: bitmap.width, height: bitmap.height };
}

async function setImage(blob, name) {
  state.image = await decode(blob);
  state.imageName = name;
  $('input-facts').textContent = `${name}: ${state.image.width}x${state.image.height}`;
  $('run').disabled = false;
}

function draw(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
}

function showCompare(result) {
  const before = $('before');
  before.width = result.width;
  before.height = result.height;
  const source = new OffscreenCanvas(state.image.width, state.image.height);
  source.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(state.image.rgba), state.image.width, state.image.height), 0, 0);
  const context = before.getContext('2d');
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, result.width, result.height);
  draw($('after'), result.rgba, result.width, result.height);
  // Small outputs are shown enlarged (pixelated) so the difference is visible.
  $('frame').style.width = `${Math.max(640, result.width)}px`;
  $('compare').hidden = false;
  moveSlider();
}

function moveSlider() {
  const split = Number($('slider').value);
  $('after').style.clipPath = `inset(0 0 0 ${split}%)`;
  $('divider').style.left = `${split}%`;
}

function statsTable(timing) {
  const rows = [['total', timing.ms], ['pre (pixels → tensor)', timing.stages_ms.pre], ['run', timing.stages_ms.run], ['post (tensor → pixels)', timing.stages_ms.post]];
  $('latency').querySelector('tbody').replaceChildren(...rows.map(([name, s]) => {
    const tr = document.createElement('tr');
    for (const cell of [name, s.median.toFixed(1), s.p10.toFixed(1), s.p90.toFixed(1), s.min.toFixed(1)]) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    return tr;
  }));
  $('latency-caption').textContent = `${timing.runtime} · ${timing.threads} thread(s) · ${timing.runs} timed run(s) after ${timing.warmup} warm-up · `
    + `${timing.input[1]}x${timing.input[0]} → ${timing.output[1]}x${timing.output[0]} · ${timing.tiling.tiles} tile(s) of ${timing.tiling.tile[1]}x${timing.tiling.tile[0]}`;
  $('latency').hidden = false;
}

async function upscaleTimed() {
  const runs = Math.max(1, Math.min(50, Number($('runs').value) || 5));
  const maxTile = Number($('max-tile').value) || 0;
  const sessionNow = await session();
  const run = ortRunner(sessionNow);
  setStatus('warming up…');
  const warmup = 1;
  let result = await upscaleImage(state.view, run, state.image, { maxTile, keepFloat: true });
  const totals = []; const pre = []; const runMs = []; const post = [];
  for (let i = 0; i < runs; i += 1) {
    setStatus(`timed run ${i + 1}/${runs}…`);
    const started = performance.now();
    result = await upscaleImage(state.view, run, state.image, { maxTile, keepFloat: i === runs - 1 });
    totals.push(performance.now() - started);
    pre.push(result.stages.pre); runMs.push(result.stages.run); post.push(result.stages.post);
  }
  const backend = $('backend').value;
  const row = {
    model: state.view.zoo_name ?? state.view.arch,
    runtime: `onnxruntime-web-${backend}`,
    precision: state.view.precision,
    input: [state.image.height, state.image.width],
    output: [result.height, result.width],
    threads: backend === 'wasm' ? ort.env.wasm.numThreads : 0,
    graph_optimization: $('optimization').value,
    artifact: { file: state.view.file },
    tiling: { tile: result.tile, overlap: state.view.tiling.overlap, tiles: result.tiles },
    ms: { ...summarize(totals), warmup },
    stages_ms: { pre: summarize(pre), run: summarize(runMs), post: summarize(post) },
    image: state.imageName,
  };
  return { result, row };
}

async function onRun() {
  try {
    $('run').disabled = true;
    const { result, row } = await upscaleTimed();
    state.last = { ...result, row };
    state.results.push(row);
    showCompare(result);
    statsTable({ ...row, warmup: row.ms.warmup, runs: row.ms.runs });
    setStatus(`done: median ${row.ms.median.toFixed(1)} ms`, 'ok');
    $('download').disabled = false;
    $('download-results').disabled = false;
  } catch (error) {
    fail(error);
  } finally {
    $('run').disabled = false;
  }
}

async function goldenCheck() {
  const view = state.view;
  const sessionNow = await session();
  const image = await decode(await (await fetchOk(new URL(view.golden.input, MODELS).href, 'the golden input PNG')).blob());
  const golden = parseNpy(await (await fetchOk(new URL(view.golden.output, MODELS).href, 'the golden output .npy')).arrayBuffer(), view.golden.output);
  const result = await upscaleImage(view, ortRunner(sessionNow), image, { keepFloat: true, maxTile: 0 });
  const verdict = compareGolden(view, result.float, result.width, result.height, golden);
  state.golden = verdict;
  const tolerance = view.tolerance;
  const limit = tolerance === null ? 'the contract gives no tolerance'
    : `${tolerance.name}: ${tolerance.max_abs_diff !== null ? `max |diff| ≤ ${tolerance.max_abs_diff}` : `PSNR ≥ ${tolerance.min_psnr_db} dB`}`;
  const verdictText = verdict.passed === null ? 'measured' : verdict.passed ? 'passed' : 'FAILED';
  $('golden').textContent = `golden check ${verdictText}: max |diff| ${verdict.max_abs_diff.toExponential(2)}, `
    + `PSNR ${verdict.psnr_db === null ? '∞' : verdict.psnr_db.toFixed(1)} dB (${limit})`;
  $('golden').className = verdict.passed === false ? 'bad' : 'ok';
  if (state.results.length) state.results[state.results.length - 1].golden = verdict;
  return verdict;
}

function download(blob, name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function resultsDocument() {
  return {
    schema: 'edge-sr/bench',
    schema_version: 1,
    device: {
      name: params.get('device') || `${navigator.userAgentData?.brands?.map((b) => `${b.brand} ${b.version}`).join(', ') || navigator.userAgent}`,
      kind: 'web',
      os: navigator.userAgentData?.platform || navigator.platform,
      user_agent: navigator.userAgent,
      cores: navigator.hardwareConcurrency,
      cross_origin_isolated: crossOriginIsolated,
      app: APP_VERSION,
    },
    rows: state.results,
  };
}

function fail(error) {
  state.error = String(error?.message || error);
  setStatus(state.error, 'bad');
  console.error(error);
}

function wire() {
  $('model').addEventListener('change', () => selectModel().catch(fail));
  $('backend').addEventListener('change', () => { state.session = null; });
  $('optimization').addEventListener('change', () => { state.session = null; });
  $('file').addEventListener('change', (event) => { const file = event.target.files[0]; if (file) setImage(file, file.name).catch(fail); });
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer.files[0];
    if (file) setImage(file, file.name).catch(fail);
  });
  $('use-golden').addEventListener('click', async () => {
    try {
      await setImage(await (await fetchOk(new URL(state.view.golden.input, MODELS).href, 'the golden input PNG')).blob(), state.view.golden.input);
    } catch (error) { fail(error); }
  });
  $('run').addEventListener('click', onRun);
  $('golden-check').addEventListener('click', () => goldenCheck().catch(fail));
  $('slider').addEventListener('input', moveSlider);
  $('download').addEventListener('click', () => $('after').toBlob((blob) => download(blob, `${state.imageName || 'image'}.x${state.view.scale}.png`), 'image/png'));
  $('download-results').addEventListener('click', () => download(new Blob([JSON.stringify(resultsDocument(), null, 2)], { type: 'application/json' }), 'edge-sr-web-results.json'));
}

// For scripted runs (the CI's browser test): the last output as base64 float32 NCHW.
function lastOutputBase64() {
  const bytes = new Uint8Array(state.last.float.buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function start() {
  const threads = configureRuntime();
  const gpuProblem = await webgpuAvailable();
  const gpuOption = $('backend').querySelector('option[value=webgpu]');
  if (gpuProblem) { gpuOption.disabled = true; gpuOption.textContent += ` (unavailable: ${gpuProblem})`; }
  for (const key of ['backend', 'optimization', 'runs']) if (params.has(key)) $(key).value = params.get(key);
  if (params.has('tile')) $('max-tile').value = params.get('tile');
  $('environment').textContent = `onnxruntime-web ${ort.env.versions?.web ?? ''} · WebAssembly ${threads} thread(s)`
    + (crossOriginIsolated ? '' : ' (not cross-origin isolated: serve with `edge-sr serve-demo` for threads)')
    + ` · WebGPU ${gpuProblem ? 'unavailable' : 'available'}`;
  wire();
  await loadManifest();
  await selectModel();
  setStatus('ready', 'ok');
}

window.edgeSR = {
  state,
  ready: start().catch((error) => { fail(error); throw error; }),
  goldenCheck,
  lastOutputBase64,
  results: resultsDocument,
};
