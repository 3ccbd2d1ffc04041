/**
 * `node --import tsx test/support/answer-once.ts MODEL_DIR IMAGE`: loads the model (fp32), answers one greedy question
 * about the image and prints `{ applied, tokenIds }` as JSON. For runs in another process or namespace than the test.
 */
import { loadModel } from '../../native-models/index.js';
import { collectAnswer } from './answers.js';

const [dir, image] = process.argv.slice(2);
if (!dir || !image) throw new Error('usage: answer-once.ts MODEL_DIR IMAGE');
const model = await loadModel(dir, { precision: 'fp32' });
try {
  const answer = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What is shown?', { maxNewTokens: 6, temperature: 0 }));
  process.stdout.write(`${JSON.stringify({ applied: model.decoderRewrites.applied, tokenIds: answer.tokenIds })}\n`);
} finally {
  await model.dispose();
}
