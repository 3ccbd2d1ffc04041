/**
 * npm run dev:web [-- --model DIR] [--image FILE] [--port N] [--data DIR]
 *
 * Serves the renderer on loopback with the app's main-process logic and the real model process behind it, so the UI
 * can be tried in any browser without Electron. Without --model (and no model chosen in earlier runs) it generates a
 * tiny test model whose answer is scripted; --image replaces the sample screen (or drop an image on the page).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { writeSmolVlmModel } from '../test/fixtures/smolvlm/generate.js';
import { buildRenderer } from './build-renderer.js';
import { startHarness } from './server.js';

const USAGE = 'usage: npm run dev:web -- [--model DIR] [--image FILE] [--port N] [--data DIR]';
const DEMO_ANSWER =
  'This is a **tiny generated test model**, so this answer is scripted, not read from your screen.\n\n' +
  'To try a real model, open *Settings → Models* and download one, or start with `--model DIR`.';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string' }, image: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void console.log(USAGE);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${values.port}"`);
  const dataDir = path.resolve(values.data ?? '.cache/dev-web');
  const rendererDir = await buildRenderer(path.join(dataDir, 'renderer'));

  let model = values.model === undefined ? undefined : path.resolve(values.model);
  if (model && !(await stat(model).catch(() => undefined))?.isDirectory()) throw new Error(`--model ${model} is not a folder: give a model folder (with config.json and onnx/)`);
  if (!model) {
    model = path.join(dataDir, 'tiny-model');
    if (!(await stat(path.join(model, 'config.json')).catch(() => undefined))) {
      await writeSmolVlmModel(model, { precisions: ['fp32', 'q8'], scriptedAnswer: DEMO_ANSWER });
    }
  }
  const screen = values.image === undefined ? undefined : await readFile(path.resolve(values.image));

  const harness = await startHarness({
    rendererDir,
    userDataDir: path.join(dataDir, 'user-data'),
    modelsDir: path.join(dataDir, 'models'),
    // An explicit --model wins; the generated one only fills in when no model was chosen in an earlier run.
    ...(values.model ? { settings: { model } } : { initialModel: model }),
    ...(screen ? { screen } : {}),
    port,
  });
  for (const problem of harness.problems) console.error(`[harness] ${problem}`);
  console.log(`ScreenAsk web harness: ${harness.url}  (Ctrl+C to stop)`);
  const stop = () => void harness.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`dev:web: ${error instanceof Error ? error.message : String(error)}`);
  console.error(USAGE);
  process.exit(1);
});
