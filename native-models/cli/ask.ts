// `npm run ask`: ask a model about an image from the command line, streaming the answer; `--follow-up` continues the
// same conversation.
import { loadModel, type Answer } from '../index.js';
import { parseAskArgs } from './options.js';
import { runCli } from './run-cli.js';
import { formatStats } from './format-stats.js';

await runCli(async () => {
  const command = parseAskArgs(process.argv.slice(2));
  const model = await loadModel(command.model, {
    precision: command.precision,
    device: command.device,
    ...(command.threads !== undefined ? { threads: command.threads } : {}),
    ...(command.maxPixels !== undefined ? { imagePixels: { [command.detail]: command.maxPixels } } : {}),
  });
  try {
    const conversation = model.startConversation({
      ...(command.image !== undefined ? { image: command.image } : {}),
      detail: command.detail,
    });
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const turns: Answer[] = [];
    for (const [i, question] of [command.question, ...command.followUps].entries()) {
      if (controller.signal.aborted) break;
      if (!command.json && i > 0) process.stdout.write(`\n> ${question}\n`);
      for await (const event of conversation.ask(question, { ...command.generation, signal: controller.signal })) {
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
