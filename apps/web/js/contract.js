// The model contract as the web demo reads it: the same "parsed view" every app produces
// (apps/README.md), so CI can compare this reading with Python's edge_sr.app_bundle.contract_view.

export const CONTRACT_SCHEMA = 'edge-sr/model-contract';
export const CONTRACT_VERSION = 1;
export const BUNDLE_SCHEMA = 'edge-sr/bundle';
export const BUNDLE_VERSION = 1;
/** Tile overlap for contracts written before the `tiling` field existed. */
export const DEFAULT_OVERLAP = 16;

export class ContractError extends Error {}

function field(object, path, source) {
  let value = object;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !(key in value)) {
      throw new ContractError(`${source}: expected field ${path}, found none`);
    }
    value = value[key];
  }
  return value;
}

function integer(value, path, source) {
  if (!Number.isInteger(value)) throw new ContractError(`${source}: expected ${path} to be an integer, found ${JSON.stringify(value)}`);
  return value;
}

function tensorView(facts, side, source) {
  const get = (key) => field(facts, key, `${source} (${side})`);
  const range = get('range');
  const quantization = facts.quantization ?? null;
  const layout = get('layout');
  if (layout !== 'NCHW' && layout !== 'NHWC') {
    throw new ContractError(`${source}: expected ${side}.layout NCHW or NHWC, found ${JSON.stringify(layout)}`);
  }
  return {
    name: get('name'),
    layout,
    dtype: get('dtype'),
    range: [Number(range[0]), Number(range[1])],
    shape: get('shape').map((v) => integer(v, `${side}.shape`, source)),
    quantization: quantization === null ? null : {
      scale: Number(field(quantization, 'scale', source)),
      zero_point: integer(field(quantization, 'zero_point', source), `${side}.quantization.zero_point`, source),
    },
    clamped: 'clamped' in facts ? facts.clamped : null,
    image: 'image' in facts,
  };
}

/**
 * Read a parsed contract JSON object into the app-facing view (apps/README.md, "The parsed view").
 * Throws ContractError naming `source`, the field, what was expected and what was found.
 */
export function contractView(data, source = 'contract') {
  if (data?.schema !== CONTRACT_SCHEMA || data?.schema_version !== CONTRACT_VERSION) {
    throw new ContractError(`${source}: expected schema ${CONTRACT_SCHEMA} version ${CONTRACT_VERSION}, `
      + `found ${JSON.stringify(data?.schema)} version ${JSON.stringify(data?.schema_version)}`);
  }
  const get = (path) => field(data, path, source);
  const policy = get('shape_policy');
  const kind = field(policy, 'kind', source);
  const dynamic = kind === 'dynamic';
  const window = get('golden.output_window');
  // Artifacts whose runtime is not on the converting machine (CoreML on Linux) have no tolerance.
  const tolerance = get('verification').tolerance ?? null;
  const tiling = data.tiling ?? null;
  return {
    file: get('artifact.file'),
    format: get('artifact.format'),
    target: get('target'),
    arch: get('model.arch'),
    zoo_name: data.model.zoo_name ?? null,
    scale: integer(get('scale'), 'scale', source),
    precision: get('precision'),
    min_input_size: integer(get('model.min_input_size'), 'model.min_input_size', source),
    input: tensorView(get('input'), 'input', source),
    output: tensorView(get('output'), 'output', source),
    shape_policy: {
      kind,
      sizes: (policy.sizes ?? []).map(([h, w]) => [integer(h, 'shape_policy.sizes', source), integer(w, 'shape_policy.sizes', source)]),
      min_size: dynamic ? integer(field(policy, 'min_size', source), 'shape_policy.min_size', source) : null,
      max_size: dynamic ? integer(field(policy, 'max_size', source), 'shape_policy.max_size', source) : null,
    },
    tiling: tiling === null
      ? { overlap: DEFAULT_OVERLAP, exact: false }
      : { overlap: integer(field(tiling, 'overlap', source), 'tiling.overlap', source), exact: Boolean(field(tiling, 'exact', source)) },
    golden: {
      input: get('golden.input'),
      output: get('golden.output'),
      window: ['top', 'left', 'height', 'width'].map((k) => integer(window[k], `golden.output_window.${k}`, source)),
    },
    tolerance: tolerance === null ? null : {
      name: field(tolerance, 'name', source),
      max_abs_diff: tolerance.max_abs_diff ?? null,
      min_psnr_db: tolerance.min_psnr_db ?? null,
    },
  };
}

/** The bundle manifest `edge-sr bundle` writes: which contracts the app offers. */
export function parseManifest(data, source = 'manifest.json') {
  if (data?.schema !== BUNDLE_SCHEMA || data?.schema_version !== BUNDLE_VERSION) {
    throw new ContractError(`${source}: expected schema ${BUNDLE_SCHEMA} version ${BUNDLE_VERSION}, `
      + `found ${JSON.stringify(data?.schema)} version ${JSON.stringify(data?.schema_version)}`);
  }
  const models = field(data, 'models', source);
  if (!Array.isArray(models) || models.length === 0) {
    throw new ContractError(`${source}: expected a non-empty models list, found ${JSON.stringify(models)}`);
  }
  return models.map((entry, i) => ({
    model: field(entry, 'model', `${source} models[${i}]`),
    target: field(entry, 'target', `${source} models[${i}]`),
    precision: field(entry, 'precision', `${source} models[${i}]`),
    contract: field(entry, 'contract', `${source} models[${i}]`),
  }));
}

/** Input tensor dimensions for an LR tile of `height` x `width` pixels in the contract's layout. */
export function inputDims(view, height, width) {
  return view.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
}
