// Where a model can run. Node-free on purpose: the settings page and the process protocol share this list.

export const devices = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type Device = (typeof devices)[number];
