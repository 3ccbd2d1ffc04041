// `npm run ask`: ask a model a question about an image from the command line, streaming the answer.
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
  });
  try {
    const conversation = model.startConversation({
      ...(command.image !== undefined ? { image: command.image } : {}),
      detail: command.detail,
    });
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    let answer: Answer | undefined;
    for await (const event of conversation.ask(command.question, { ...command.generation, signal: controller.signal })) {
      if (command.json) {
        if (event.type === 'done') answer = event.answer;
        continue;
      }
      if (event.type === 'warning') process.stderr.write(`warning: ${event.message}\n`);
      else if (event.type === 'token' || event.type === 'text') process.stdout.write(event.text);
      else answer = event.answer;
    }
    if (!answer) return;
    if (command.json) {
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    } else {
      process.stdout.write('\n');
      process.stderr.write(`${formatStats(answer.stats)}\n`);
    }
  } finally {
    await model.dispose();
  }
});
