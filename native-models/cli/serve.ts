// `npm run serve`: the local model behind an OpenAI-compatible API (see native-models/serve/). Prints one line with
// the base URL once listening; a log line per answer on stderr; Ctrl+C or SIGTERM stops answers and exits.
import { loadModel } from '../index.js';
import { firstLine } from '../model/errors.js';
import { ChatServer } from '../serve/index.js';
import { formatStats } from './format-stats.js';
import { assertCommandLineFits } from './question.js';
import { runCli } from './run-cli.js';
import { parseServeArgs } from './serve-options.js';

await runCli(async () => {
  assertCommandLineFits([process.execPath, ...process.execArgv, ...process.argv.slice(1)]);
  const command = parseServeArgs(process.argv.slice(2), process.env);
  const model = await loadModel(command.model, {
    precision: command.precision,
    device: command.device,
    ...(command.threads !== undefined ? { threads: command.threads } : {}),
  });
  for (const warning of model.warnings) process.stderr.write(`warning: ${warning}\n`);
  const server = new ChatServer({
    model,
    ...(command.apiKey !== undefined ? { apiKey: command.apiKey } : {}),
    detail: command.detail,
    limits: { queue: command.queue },
    onCompletion: ({ id, continued, finishReason, answer }) =>
      process.stderr.write(`${id} ${finishReason ?? 'cancelled by the client'}${continued ? ' (follow-up)' : ''} · ${formatStats(answer.stats)}\n`),
    onInternalError: (error) => process.stderr.write(`internal error: ${process.env.SCREENASK_DEBUG ? String((error as Error).stack) : firstLine(error)}\n`),
  });
  try {
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    const url = await server.listen(command.host, command.port);
    process.stdout.write(`ScreenAsk server: ${url}\n`);
    process.stderr.write(`serving ${server.modelId} (${model.precision} on ${model.provider}); Ctrl+C stops\n`);
    await stopped;
    await server.close();
  } finally {
    await model.dispose();
  }
});
