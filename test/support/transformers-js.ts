/**
 * transformers.js 4.3.1, the independent implementation the tests compare with: loaded offline (local model
 * directories only), asked one question about one image, decoded greedily.
 */
export type Transformers = typeof import('@huggingface/transformers');

/** What the tests read of a transformers.js Tensor (its types are loose). */
export interface ReferenceTensor {
  data: ArrayLike<number | bigint>;
  dims: number[];
  tolist(): unknown;
}

export async function loadTransformersOffline(): Promise<Transformers> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  return tf;
}

/** One user turn holding an image, then the question: the chat messages the processors' templates expect. */
export function imageQuestion(question: string): { role: string; content: { type: string; text?: string }[] }[] {
  return [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
}

export interface ReferenceRun<Inputs> {
  /** The chat-templated prompt text. */
  prompt: string;
  /** The processor's output (input_ids, pixel values and the family's extras). */
  inputs: Inputs;
  promptIds: number[];
  /** The greedy continuation, prompt excluded. */
  tokenIds: number[];
}

export interface ReferenceRunOptions {
  maxNewTokens: number;
  /** Passed to the processor call (e.g. Idefics3's `do_image_splitting`). */
  processorOptions?: Record<string, unknown>;
  /** Added to `generate`'s options (e.g. `repetition_penalty`). */
  generateOptions?: Record<string, unknown>;
}

/**
 * The reference's greedy answer to `question` about `image` (a transformers.js RawImage): the generation prompt from
 * the model's chat template, the processor's inputs, and the new tokens.
 */
export async function referenceRun<Inputs extends { input_ids: ReferenceTensor }>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- transformers.js types its processors and models loosely
  processor: any,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  model: any,
  image: unknown,
  question: string,
  options: ReferenceRunOptions,
): Promise<ReferenceRun<Inputs>> {
  const prompt = processor.apply_chat_template(imageQuestion(question), { add_generation_prompt: true }) as string;
  const inputs = (await processor(prompt, [image], options.processorOptions ?? {})) as Inputs;
  const out = (await model.generate({
    ...inputs,
    max_new_tokens: options.maxNewTokens,
    do_sample: false,
    ...options.generateOptions,
  })) as ReferenceTensor;
  const promptIds = Array.from(inputs.input_ids.data, Number);
  const sequence = (out.tolist() as bigint[][])[0]!.map(Number);
  return { prompt, inputs, promptIds, tokenIds: sequence.slice(promptIds.length) };
}
