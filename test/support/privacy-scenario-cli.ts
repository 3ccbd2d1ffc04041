/**
 * `node --import tsx --import network-sentinel.mjs privacy-scenario-cli.ts MODEL_DIR SCREENSHOT`: the privacy scenario
 * in a process of its own (the namespace proof runs it inside a network namespace); prints the result as JSON. The
 * model process gets the same loader and sentinel as this one.
 */
import { captureAnswerFollowUp } from './privacy-scenario.js';

const [modelDir, screenshot] = process.argv.slice(2);
if (!modelDir || !screenshot) throw new Error('usage: privacy-scenario-cli.ts MODEL_DIR SCREENSHOT');
const result = await captureAnswerFollowUp({ modelDir, screenshot, modelArgv: process.execArgv, modelEnv: process.env });
process.stdout.write(`${JSON.stringify(result)}\n`);
