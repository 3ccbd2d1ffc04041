import type { ModelFamily } from '../families/family.js';
import { encodeVisionCall } from '../generation/embeddings.js';
import type { ModelGraphs } from './graphs.js';

/** A blank picture small enough that every family's low detail turns it into a single vision call. */
const BLANK = { width: 56, height: 56, data: new Uint8Array(56 * 56 * 3).fill(255) };

/**
 * One vision call on a blank image, at load. ONNX Runtime's first run at a shape pays for planning and allocating its
 * buffers; SmolVLM's calls are one frame each at every detail level, so this one call makes the first high-detail
 * question as fast as the next. (Qwen's single call has the image's own shape, which a warm-up cannot foresee.)
 */
export async function warmUpVision(family: ModelFamily, graphs: ModelGraphs): Promise<void> {
  const [call] = family.visionCalls(await family.prepareImage(BLANK, 'low'));
  if (call) await encodeVisionCall(graphs, call);
}
