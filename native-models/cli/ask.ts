// `npm run ask`: ask a model about an image from the command line, streaming the answer; `--follow-up` continues the
// same conversation. The model is on this computer (--model DIR) or behind an OpenAI-compatible server (--server URL).
import { connectServer, loadModel, prepareServerImage, type Answer, type AnswerEvent, type AnyAnswerStats, type AskOptions } from '../index.js';
import { loadImage, type RgbImage } from '../image/load-image.js';
import { parseAskArgs, type AskCommand } from './options.js';
import { assertCommandLineFits, readQuestion } from './question.js';
import { runCli } from './run-cli.js';
import { formatStats } from './format-stats.js';

/** What the command needs of either backend: one conversation to ask in, and a way to let go of the model. */
interface Backend {
  ask(question: string, options: AskOptions): AsyncGenerator<AnswerEvent<AnyAnswerStats>, Answer<AnyAnswerStats>>;
  dispose(): Promise<void>;
}

async function openBackend(command: AskCommand, image: RgbImage | undefined): Promise<Backend> {
  const withImage = image !== undefined ? { image } : {};
  if (command.server) {
    const { url, model, apiKey = process.env.SCREENASK_API_KEY, stallTimeoutMs } = command.server;
    const remote = await connectServer({
      baseUrl: url,
      // In this process: the CLI may load sharp (the app's main process asks its model process instead).
      prepareImage: prepareServerImage,
      ...(model !== undefined ? { model } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(stallTimeoutMs !== undefined ? { stallTimeoutMs } : {}),
    });
    const conversation = remote.startConversation({ ...withImage, detail: command.detail, ...(command.maxPixels !== undefined ? { maxPixels: command.maxPixels } : {}) });
    return { ask: (q, o) => conversation.ask(q, o), dispose: () => remote.dispose() };
  }
  const model = await loadModel(command.model!, {
    precision: command.precision,
    device: command.device,
    ...(command.threads !== undefined ? { threads: command.threads } : {}),
    ...(command.maxPixels !== undefined ? { imagePixels: { [command.detail]: command.maxPixels } } : {}),
  });
  const conversation = model.startConversation({ ...withImage, detail: command.detail });
  return { ask: (q, o) => conversation.ask(q, o), dispose: () => model.dispose() };
}

await runCli(async () => {
  // Everything a user can get wrong is checked before the model loads or a request is sent: loading takes seconds,
  // and onnxruntime would crash on a command line that is too long.
  assertCommandLineFits([process.execPath, ...process.execArgv, ...process.argv.slice(1)]);
  const command = parseAskArgs(process.argv.slice(2));
  const question = await readQuestion(command.question);
  const image = command.image === undefined ? undefined : await loadImage(command.image);
  const backend = await openBackend(command, image);
  try {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const turns: Answer<AnyAnswerStats>[] = [];
    for (const [i, text] of [question, ...command.followUps].entries()) {
      if (controller.signal.aborted) break;
      if (!command.json && i > 0) process.stdout.write(`\n> ${text}\n`);
      for await (const event of backend.ask(text, { ...command.generation, signal: controller.signal })) {
        if (event.type === 'done') turns.push(event.answer);
        if (command.json) continue;
        if (event.type === 'warning' && i === 0) process.stderr.write(`warning: ${event.message}\n`);
        else if (event.type === 'token' || event.type === 'text') process.stdout.write(event.text);
        else if (event.type === 'done') process.stderr.write(`\n${formatStats(event.answer.stats)}\n`);
      }
    }
    // One object: the first answer's fields (as without follow-ups) and every answer in `turns`.
    if (command.json && turns[0]) process.stdout.write(`${JSON.stringify({ ...turns[0], turns })}\n`);
  } finally {
    await backend.dispose();
  }
});
