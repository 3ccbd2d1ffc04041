import type ort from 'onnxruntime-node';
import type { DecoderSignature } from '../runtime/decoder-signature.js';
import { emptyFloats, floatTensor } from '../runtime/tensors.js';

/**
 * The KV cache of one sequence: the decoder's present.* outputs of one call become the past_key_values.* inputs of
 * the next. It owns the tensors and knows how many tokens they hold.
 */
export class KvCache {
  private past: Record<string, ort.Tensor> = {};
  private held = 0;

  constructor(private readonly signature: DecoderSignature) {
    this.clear();
  }

  /** Tokens the cache holds. */
  get length(): number {
    return this.held;
  }

  clear(): void {
    const { kvType, kvHeads, headDim } = this.signature;
    const empty = floatTensor(kvType, emptyFloats(kvType, 0), [1, kvHeads, 0, headDim]);
    this.past = {};
    for (const { past } of this.signature.layers) {
      this.past[past.key] = empty;
      this.past[past.value] = empty;
    }
    this.held = 0;
  }

  feeds(): Record<string, ort.Tensor> {
    return this.past;
  }

  /** Takes the decoder's present.* outputs, which hold the past plus the `added` tokens just run. */
  absorb(outputs: Record<string, ort.Tensor>, added: number): void {
    for (const { past, present } of this.signature.layers) {
      this.past[past.key] = outputs[present.key]!;
      this.past[past.value] = outputs[present.value]!;
    }
    this.held += added;
  }
}
