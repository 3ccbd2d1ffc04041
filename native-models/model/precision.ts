// The precisions of the public ONNX exports. Node-free on purpose: the settings page and the process protocol share
// this list with the engine.

export const precisions = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type Precision = (typeof precisions)[number];

/** File-name suffixes of the public ONNX exports, per precision. */
export const precisionSuffixes: Readonly<Record<Precision, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};
