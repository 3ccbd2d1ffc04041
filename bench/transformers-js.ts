/**
 * The same generation through transformers.js 4.3.1, on the same model directory, precision and thread count: the
 * independent baseline the ratios compare against.
 */
import { cpuSnapshot, loadAverage as currentLoad, noiseBetween } from './noise.js';
import type { EngineRunner, EngineSetup, RunResult, Scenario } from './types.js';

// transformers.js types its processor and models loosely; these are the few members the bench touches.
interface TjsTensor {
  readonly data: ArrayLike<number | bigint>;
  readonly dims: number[];
}
interface TjsSession {
  run(feeds: unknown, options?: unknown): Promise<unknown>;
}
interface TjsModel {
  readonly config: { image_token_id?: number };
  readonly sessions: Record<string, TjsSession>;
  generate(options: Record<string, unknown>): Promise<unknown>;
  dispose(): Promise<unknown>;
}
type TjsProcessor = ((text: string, images: unknown[], options: Record<string, unknown>) => Promise<Record<string, TjsTensor>>) & {
  apply_chat_template(messages: unknown[], options: Record<string, unknown>): string;
};

/**
 * Adds up the time spent inside one session's run() calls. transformers.js encodes the image inside generate(); wrapping
 * its vision session is the only way to split its time to first token into image encode and prefill.
 */
function timeSession(session: TjsSession): { total: () => number; reset: () => void } {
  const run = session.run.bind(session);
  let total = 0;
  session.run = async (feeds, options) => {
    const start = performance.now();
    try {
      return await run(feeds, options);
    } finally {
      total += performance.now() - start;
    }
  };
  return { total: () => total, reset: () => (total = 0) };
}

export async function openTransformersJs(options: EngineSetup): Promise<EngineRunner> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  const start = performance.now();
  const processor = (await tf.AutoProcessor.from_pretrained(options.modelDir, { local_files_only: true })) as unknown as TjsProcessor;
  // ImageTextToText maps every family the bench runs (smolvlm → the same SmolVLMForConditionalGeneration class that
  // AutoModelForVision2Seq gives; qwen2_5_vl → Qwen2_5_VLForConditionalGeneration, which Vision2Seq does not list).
  const model = (await tf.AutoModelForImageTextToText.from_pretrained(options.modelDir, {
    dtype: options.precision,
    device: options.device,
    local_files_only: true,
    // Passed straight to InferenceSession.create (src/models/session.js); the same settings as our engine's sessions
    // (native-models/runtime/session.ts), so the comparison is engine against engine, not thread count against thread count.
    session_options: {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    },
  })) as unknown as TjsModel;
  const loadMs = performance.now() - start;
  const vision = model.sessions.vision_encoder;
  if (!vision) throw new Error(`transformers.js opened no vision_encoder session (sessions: ${Object.keys(model.sessions).join(', ')})`);
  const visionTime = timeSession(vision);
  const imageTokenId = model.config.image_token_id;

  /** Records when each generated token reaches the streamer; the first put() is the prompt. */
  class TimingStreamer extends tf.BaseStreamer {
    private prompt = true;
    readonly times: number[] = [];
    override put(_value: bigint[][]): void {
      if (this.prompt) this.prompt = false;
      else this.times.push(performance.now());
    }
    override end(): void {}
  }

  const generateOnce = async (detail: 'low' | 'high', maxNewTokens: number, useCache: boolean) => {
    const streamer = new TimingStreamer();
    visionTime.reset();
    const started = performance.now();
    const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: options.question }] }];
    const text = processor.apply_chat_template(messages, { add_generation_prompt: true });
    const raw = await tf.RawImage.read(options.images[detail]);
    // SmolVLM: low detail = one 512² frame (no splitting), high = tiles plus the global frame: what our detail option
    // maps to. Qwen's processor ignores the option: its detail levels are the pre-sized images (see bench/images.ts).
    const inputs = await processor(text, [raw], { do_image_splitting: detail === 'high' });
    const preprocessMs = performance.now() - started;
    await model.generate({
      ...inputs,
      max_new_tokens: maxNewTokens,
      // Random weights may pick eos early; min_new_tokens masks eos so every run yields exactly maxNewTokens tokens.
      min_new_tokens: maxNewTokens,
      do_sample: false,
      use_cache: useCache,
      streamer,
    });
    const ids = Array.from(inputs.input_ids!.data, Number);
    return { started, preprocessMs, times: streamer.times, ids };
  };

  return {
    loadMs,
    async warmUp() {
      await generateOnce('low', 4, true);
    },
    async run(scenario: Scenario): Promise<RunResult> {
      const loadAverage = currentLoad();
      const before = cpuSnapshot();
      const { started, preprocessMs, times, ids } = await generateOnce(scenario.detail, scenario.maxNewTokens, scenario.cache === 'on');
      const noise = noiseBetween(before, cpuSnapshot());
      const first = times[0] ?? performance.now();
      const last = times.at(-1) ?? first;
      const ttftMs = first - started;
      const imageEncodeMs = preprocessMs + visionTime.total();
      return {
        engine: 'transformers.js',
        scenario,
        imageEncodeMs,
        prefillMs: ttftMs - imageEncodeMs,
        ttftMs,
        decodeTokensPerSecond: times.length > 1 && last > first ? ((times.length - 1) * 1000) / (last - first) : 0,
        promptTokens: ids.length,
        imageTokens: imageTokenId === undefined ? 0 : ids.filter((id) => id === imageTokenId).length,
        generatedTokens: times.length,
        stopReason: times.length >= scenario.maxNewTokens ? 'max-new-tokens' : 'eos',
        loadAverage,
        ...(noise ? { noise } : {}),
      };
    },
    async dispose() {
      await model.dispose();
    },
  };
}
