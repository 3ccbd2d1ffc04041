/**
 * An independent float64 forward pass of the fixtures' Llama-style text decoder (HF LlamaForCausalLM for SmolVLM,
 * the Qwen2 text model for Qwen2-VL; no cache), rebuilt from the same seeded weight streams as the generator: RMSNorm,
 * q/k/v (with Qwen2's biases), rotary embedding, grouped-query causal attention, SiLU-gated MLP, final norm, untied
 * LM head.
 */
import { DEFAULT_DECODER_LAYOUT, QK_GAIN, type DecoderLayout, type TextDims } from '../fixtures/shared/decoder.js';
import { EMBED_STD, EMBED_WEIGHT } from '../fixtures/shared/embed.js';
import { BIAS_STD, NORM_WEIGHT_STD } from '../fixtures/shared/layers.js';
import { randomTensor } from '../fixtures/shared/rng.js';
import { QWEN_DECODER_LAYOUT, type Qwen2VlFixtureInfo } from '../fixtures/qwen2vl/generate.js';
import type { SmolVlmFixtureInfo } from '../fixtures/smolvlm/generate.js';
import { matVec, ropeAngles, rmsNorm, rotate, silu } from './reference-math.js';

export interface ReferenceDecoderModel {
  seed: number;
  text: TextDims;
  vocabSize: number;
  /** Weight names and whether q/k/v carry biases, as the generator used them. */
  layout: DecoderLayout;
}

/**
 * Logits [position][vocab] of every position, from the input embeddings; `anglesAt(s)` gives the head_dim / 2 rotary
 * angles of sequence position s (1-D RoPE or Qwen2-VL's multimodal sections).
 */
export function referenceDecoder(model: ReferenceDecoderModel, embeds: Float64Array[], anglesAt: (s: number) => number[]): Float64Array[] {
  const { seed, text: t, vocabSize: V, layout } = model;
  const H = t.hiddenSize;
  const hd = t.headDim;
  const nRep = t.numHeads / t.numKvHeads;
  const W = (name: string, K: number, N: number, std = 1 / Math.sqrt(K)): Float32Array => randomTensor(seed, `${name}.weight`, K * N, std);
  const B = (name: string, N: number): Float32Array | undefined => (layout.qkvBias ? randomTensor(seed, `${name}.bias`, N, BIAS_STD) : undefined);
  const norm = (x: Float64Array, name: string): Float64Array => rmsNorm(x, randomTensor(seed, `${name}.weight`, H, NORM_WEIGHT_STD, 1), t.rmsNormEps);
  let xs = embeds.map((e) => Float64Array.from(e));
  for (let l = 0; l < t.numLayers; l++) {
    const p = layout.layerPrefix(l);
    const qkStd = QK_GAIN / Math.sqrt(H);
    const wq = W(`${p}.self_attn.q_proj`, H, t.numHeads * hd, qkStd);
    const wk = W(`${p}.self_attn.k_proj`, H, t.numKvHeads * hd, qkStd);
    const wv = W(`${p}.self_attn.v_proj`, H, t.numKvHeads * hd);
    const bq = B(`${p}.self_attn.q_proj`, t.numHeads * hd);
    const bk = B(`${p}.self_attn.k_proj`, t.numKvHeads * hd);
    const bv = B(`${p}.self_attn.v_proj`, t.numKvHeads * hd);
    const wo = W(`${p}.self_attn.o_proj`, t.numHeads * hd, H);
    const normed = xs.map((x) => norm(x, `${p}.input_layernorm`));
    const q = normed.map((x, s) => rotate(matVec(x, wq, H, t.numHeads * hd, bq), t.numHeads, hd, anglesAt(s)));
    const k = normed.map((x, s) => rotate(matVec(x, wk, H, t.numKvHeads * hd, bk), t.numKvHeads, hd, anglesAt(s)));
    const v = normed.map((x) => matVec(x, wv, H, t.numKvHeads * hd, bv));
    xs = xs.map((x, s) => {
      const ctx = new Float64Array(t.numHeads * hd);
      for (let h = 0; h < t.numHeads; h++) {
        const kvh = Math.floor(h / nRep); // HF repeat_kv: query head h reads KV head h // n_rep
        const scores = Array.from({ length: s + 1 }, (_, j) => {
          let d = 0;
          for (let e = 0; e < hd; e++) d += q[s]![h * hd + e]! * k[j]![kvh * hd + e]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const ex = scores.map((z) => Math.exp(z - m));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= s; j++) {
          const weight = ex[j]! / sum;
          for (let e = 0; e < hd; e++) ctx[h * hd + e] = ctx[h * hd + e]! + weight * v[j]![kvh * hd + e]!;
        }
      }
      const o = matVec(ctx, wo, t.numHeads * hd, H);
      return x.map((val, i) => val + o[i]!);
    });
    const wg = W(`${p}.mlp.gate_proj`, H, t.intermediateSize);
    const wu = W(`${p}.mlp.up_proj`, H, t.intermediateSize);
    const wd = W(`${p}.mlp.down_proj`, t.intermediateSize, H);
    xs = xs.map((x) => {
      const m = norm(x, `${p}.post_attention_layernorm`);
      const g = matVec(m, wg, H, t.intermediateSize);
      const u = matVec(m, wu, H, t.intermediateSize);
      const d = matVec(g.map((z, i) => silu(z) * u[i]!), wd, t.intermediateSize, H);
      return x.map((val, i) => val + d[i]!);
    });
  }
  const lm = W('lm_head', H, V);
  return xs.map((x) => matVec(norm(x, layout.finalNorm), lm, H, V));
}

/** HF LlamaForCausalLM forward (no cache) of a SmolVLM fixture's token ids, all positions: logits[pos][vocab]. */
export function smolVlmReferenceLogits(info: SmolVlmFixtureInfo, ids: readonly number[]): Float64Array[] {
  const t = info.dims.text;
  const H = t.hiddenSize;
  const table = randomTensor(info.seed, EMBED_WEIGHT, info.vocabSize * H, EMBED_STD);
  const embeds = ids.map((id) => Float64Array.from(table.subarray(id * H, (id + 1) * H)));
  const model = { seed: info.seed, text: t, vocabSize: info.vocabSize, layout: DEFAULT_DECODER_LAYOUT };
  return referenceDecoder(model, embeds, (s) => ropeAngles(s, t.ropeTheta, t.headDim));
}

/** Qwen2 decoder forward (HF Qwen2VLModel text part, no cache) from input embeddings and 3-D positions. */
export function qwenReferenceDecoder(info: Qwen2VlFixtureInfo, embeds: Float64Array[], positions: [number[], number[], number[]]): Float64Array[] {
  const t = info.dims.text;
  // apply_multimodal_rotary_pos_emb: frequency j (of head_dim/2) belongs to mrope chunk k and takes axis k's position.
  const axisOf: number[] = [];
  t.mropeSection.forEach((len, k) => axisOf.push(...new Array<number>(len).fill(k)));
  const anglesAt = (s: number): number[] =>
    axisOf.map((axis, j) => (positions[axis as 0 | 1 | 2][s] as number) / t.ropeTheta ** ((2 * j) / t.headDim));
  return referenceDecoder({ seed: info.seed, text: t, vocabSize: info.vocabSize, layout: QWEN_DECODER_LAYOUT }, embeds, anglesAt);
}
