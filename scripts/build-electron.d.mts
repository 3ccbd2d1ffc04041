// Types for scripts/build-electron.mjs (a plain Node script, so that it runs without tsx in CI and packaging).
export declare const EXTERNALS: readonly string[];
export declare function buildElectron(options?: { outDir?: string; minify?: boolean; logLevel?: 'silent' | 'error' | 'warning' | 'info' }): Promise<string>;
