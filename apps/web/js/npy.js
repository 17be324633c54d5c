// Reads the golden output (.npy, float32 little-endian, C order), as edge-sr writes it.

export function parseNpy(buffer, source = 'npy') {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.slice(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error(`${source}: expected a .npy file, found no NUMPY magic`);
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const offset = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.slice(offset, offset + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (descr !== '<f4' || fortran !== 'False' || !shape) {
    throw new Error(`${source}: expected little-endian float32 C-order data, found descr ${descr}, fortran_order ${fortran}`);
  }
  const start = offset + headerLength;
  const count = shape.reduce((a, b) => a * b, 1);
  return { shape, data: new Float32Array(buffer.slice(start, start + count * 4)) };
}
