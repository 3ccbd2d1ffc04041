import ort from 'onnxruntime-node';
import type { DecoderSignature } from '../runtime/decoder-signature.js';
import { emptyFloats, floatTensor, type FloatData } from '../runtime/tensors.js';

/**
 * The KV cache of one sequence. It knows how many tokens it holds, supplies the decoder's past_key_values.* and
 * attention_mask inputs for the next call, and takes the decoder's K/V outputs after it.
 */
export interface KvCache {
  readonly length: number;
  feeds(newTokens: number): Record<string, ort.Tensor>;
  absorb(outputs: Record<string, ort.Tensor>, newTokens: number): void;
  /** Preallocated outputs for the next call (the cache shared with the graph), when the cache has them. */
  fetches?(newTokens: number): Record<string, ort.Tensor | null>;
  /**
   * Keeps at most the first `length` tokens (a conversation rewinding to what a follow-up shares with it) and returns
   * how many it kept: a cache that cannot cut its tensors keeps all or nothing.
   */
  truncate(length: number): number;
  clear(): void;
}

export function createKvCache(signature: DecoderSignature): KvCache {
  switch (signature.kvOutputs) {
    case 'new-only':
      return new HostKvCache(signature);
    case 'shared':
      return new SharedKvCache(signature);
    case 'device':
      return new DeviceKvCache(signature);
    case 'present':
      return new PresentKvCache(signature);
  }
}

function onesMask(length: number): ort.Tensor {
  return new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]);
}

/**
 * For stock graphs: each call's present.* outputs (past + new, freshly copied out by the runtime) become the next
 * call's past inputs. Simple, and what every other runtime does; it moves the whole cache twice per token.
 */
class PresentKvCache implements KvCache {
  protected past: Record<string, ort.Tensor> = {};
  protected held = 0;

  constructor(protected readonly signature: DecoderSignature) {
    this.clear();
  }

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

  feeds(newTokens: number): Record<string, ort.Tensor> {
    return { ...this.past, attention_mask: onesMask(this.held + newTokens) };
  }

  truncate(length: number): number {
    if (length >= this.held) return this.held;
    const { kvType, kvHeads, headDim } = this.signature;
    for (const [name, tensor] of Object.entries(this.past)) {
      const data = tensor.data as FloatData;
      const kept = emptyFloats(kvType, kvHeads * length * headDim);
      for (let h = 0; h < kvHeads; h++) {
        kept.set(data.subarray(h * this.held * headDim, (h * this.held + length) * headDim), h * length * headDim);
      }
      this.past[name] = floatTensor(kvType, kept, [1, kvHeads, length, headDim]);
    }
    this.held = length;
    return length;
  }

  absorb(outputs: Record<string, ort.Tensor>, newTokens: number): void {
    for (const { past, output } of this.signature.layers) {
      this.replace(past.key, outputs[output.key]!);
      this.replace(past.value, outputs[output.value]!);
    }
    this.held += newTokens;
  }

  protected replace(name: string, tensor: ort.Tensor): void {
    this.past[name] = tensor;
  }
}

/**
 * For WebGPU: the present.* outputs stay in GPU memory ('gpu-buffer') and go back in as they are; only the logits
 * cross to the CPU. GPU tensors are not garbage-collected, so each replaced one is disposed. It cannot cut its tensors
 * without a round trip, so a follow-up reuses it only when the new prompt extends everything it holds.
 * Not yet run on a GPU: the development machines have none (see README).
 */
class DeviceKvCache extends PresentKvCache {
  protected override replace(name: string, tensor: ort.Tensor): void {
    const old = this.past[name];
    super.replace(name, tensor);
    if (old && old !== tensor && old.location === 'gpu-buffer') old.dispose();
  }

  override truncate(length: number): number {
    if (length >= this.held) return this.held;
    this.clear();
    return 0;
  }

  override clear(): void {
    for (const tensor of Object.values(this.past ?? {})) if (tensor.location === 'gpu-buffer') tensor.dispose();
    super.clear();
  }
}

/** Slots are added in blocks: few reallocations, and at most one block of masked slots for the graph to skip. */
const block = 128;

/**
 * For graphs rewritten to return only the new tokens' K/V: the cache lives in host buffers of a fixed capacity,
 * [1, kv_heads, capacity, head_dim] per layer, which the runtime reads in place (no copy on input). New rows are
 * written into their slots; slots not yet used are masked out by attention_mask, so the graph's arithmetic is that of
 * the stock export.
 */
class HostKvCache implements KvCache {
  protected buffers: FloatData[] = []; // key and value of each layer, in turn
  protected capacity = 0;
  protected held = 0;

  constructor(protected readonly signature: DecoderSignature) {}

  get length(): number {
    return this.held;
  }

  clear(): void {
    this.buffers = [];
    this.capacity = 0;
    this.held = 0;
  }

  /** Rows past `length` stay in the buffers but are masked out and overwritten by the next tokens. */
  truncate(length: number): number {
    this.held = Math.min(this.held, length);
    return this.held;
  }

  feeds(newTokens: number): Record<string, ort.Tensor> {
    const { kvType, kvHeads, headDim, layers } = this.signature;
    const feeds: Record<string, ort.Tensor> = {};
    layers.forEach(({ past }, i) => {
      const dims = [1, kvHeads, this.capacity, headDim];
      feeds[past.key] = floatTensor(kvType, this.buffers[2 * i] ?? emptyFloats(kvType, 0), dims);
      feeds[past.value] = floatTensor(kvType, this.buffers[2 * i + 1] ?? emptyFloats(kvType, 0), dims);
    });
    const mask = new BigInt64Array(this.capacity + newTokens);
    mask.fill(1n, 0, this.held);
    mask.fill(1n, this.capacity);
    feeds.attention_mask = new ort.Tensor('int64', mask, [1, mask.length]);
    return feeds;
  }

  absorb(outputs: Record<string, ort.Tensor>, newTokens: number): void {
    this.reserve(this.held + newTokens);
    const { kvHeads, headDim, layers } = this.signature;
    const row = headDim;
    layers.forEach(({ output }, i) => {
      for (const [slot, name] of [
        [2 * i, output.key],
        [2 * i + 1, output.value],
      ] as const) {
        const fresh = outputs[name]!.data as FloatData; // [1, kv_heads, newTokens, head_dim]
        const buffer = this.buffers[slot]!;
        for (let h = 0; h < kvHeads; h++) {
          buffer.set(
            fresh.subarray(h * newTokens * row, (h + 1) * newTokens * row),
            (h * this.capacity + this.held) * row,
          );
        }
      }
    });
    this.held += newTokens;
  }

  /** Grows every layer's buffers to hold `tokens`, moving the rows already held. */
  protected reserve(tokens: number): void {
    if (tokens <= this.capacity) return;
    const { kvType, kvHeads, headDim, layers } = this.signature;
    const capacity = Math.ceil(tokens / block) * block;
    const grown: FloatData[] = [];
    for (let slot = 0; slot < 2 * layers.length; slot++) {
      const next = emptyFloats(kvType, kvHeads * capacity * headDim);
      const old = this.buffers[slot];
      if (old) {
        for (let h = 0; h < kvHeads; h++) {
          next.set(
            old.subarray(h * this.capacity * headDim, (h * this.capacity + this.held) * headDim),
            h * capacity * headDim,
          );
        }
      }
      grown.push(next);
    }
    this.buffers = grown;
    this.capacity = capacity;
  }
}

/**
 * For GroupQueryAttention graphs (model-builder style, see runtime/onnx/shared-kv-buffer.ts): the same host buffers go
 * in as past_key_values.* and come back as present.* (preallocated outputs over the same memory), so the kernel runs in
 * ONNX Runtime's past/present buffer-sharing mode and writes only the new tokens' rows, in place. attention_mask covers
 * just the tokens held plus the new ones: the graph derives seqlens_k and total_sequence_length from it, and the
 * buffer's capacity from its shape. onnxruntime-node still copies each present output back into a fresh array, which
 * is dropped: the buffers already hold the rows.
 */
class SharedKvCache extends HostKvCache {
  override feeds(newTokens: number): Record<string, ort.Tensor> {
    this.reserve(this.held + newTokens);
    const feeds = this.views((layer) => layer.past);
    feeds.attention_mask = onesMask(this.held + newTokens);
    return feeds;
  }

  fetches(): Record<string, ort.Tensor | null> {
    return { logits: null, ...this.views((layer) => layer.output) };
  }

  override absorb(_outputs: Record<string, ort.Tensor>, newTokens: number): void {
    this.held += newTokens;
  }

  private views(names: (layer: DecoderSignature['layers'][number]) => { key: string; value: string }): Record<string, ort.Tensor> {
    const { kvType, kvHeads, headDim, layers } = this.signature;
    const dims = [1, kvHeads, this.capacity, headDim];
    const out: Record<string, ort.Tensor> = {};
    layers.forEach((layer, i) => {
      out[names(layer).key] = floatTensor(kvType, this.buffers[2 * i]!, dims);
      out[names(layer).value] = floatTensor(kvType, this.buffers[2 * i + 1]!, dims);
    });
    return out;
  }
}
