// `npm run ask`: ask a model about an image from the command line, streaming the answer; `--follow-up` continues the
// same conversation.
import { loadModel, type Answer } from '../index.js';
import { loadImage } from '../image/load-image.js';
import { parseAskArgs } from './options.js';
import { assertCommandLineFits, readQuestion } from './question.js';
import { runCli } from './run-cli.js';
import { formatStats } from './format-stats.js';

await runCli(async () => {
  // Everything a user can get wrong is checked before the model loads: loading takes seconds, and onnxruntime would
  // crash on a command line that is too long.
  assertCommandLineFits([process.execPath, ...process.execArgv, ...process.argv.slice(1)]);
  const command = parseAskArgs(process.argv.slice(2));
  const question = await readQuestion(command.question);
  const image = command.image === undefined ? undefined : await loadImage(command.image);
  const model = await loadModel(command.model, {
    precision: command.precision,
    device: command.device,
    ...(command.threads !== undefined ? { threads: command.threads } : {}),
    ...(command.maxPixels !== undefined ? { imagePixels: { [command.detail]: command.maxPixels } } : {}),
  });
  try {
    const conversation = model.startConversation({ ...(image !== undefined ? { image } : {}), detail: command.detail });
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const turns: Answer[] = [];
    for (const [i, text] of [question, ...command.followUps].entries()) {
      if (controller.signal.aborted) break;
      if (!command.json && i > 0) process.stdout.write(`\n> ${text}\n`);
      for await (const event of conversation.ask(text, { ...command.generation, signal: controller.signal })) {
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
    await model.dispose();
  }
});
