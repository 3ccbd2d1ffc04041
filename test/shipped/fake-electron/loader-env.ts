/** Where the built fake module is (a file URL), for loader.ts. */
export const FAKE_ELECTRON_MODULE_ENV = 'SCREENASK_FAKE_ELECTRON_MODULE';
/** Packages with native code that only the utility process may load. */
export const REFUSED_IN_MAIN: readonly string[] = ['onnxruntime-node', 'onnxruntime-common', 'sharp', '@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64'];
