/**
 * Files of the published model repositories, as data the tests compare with (independent of the fixture generators,
 * which write their own copies).
 */

/** Qwen/Qwen2-VL-2B-Instruct's preprocessor_config.json (Qwen2.5-VL-3B-Instruct's differs only in processor_class). */
export const QWEN2_VL_2B_PREPROCESSOR_CONFIG = {
  do_resize: true,
  do_rescale: true,
  do_normalize: true,
  min_pixels: 3136,
  max_pixels: 12845056,
  patch_size: 14,
  temporal_patch_size: 2,
  merge_size: 2,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  image_processor_type: 'Qwen2VLImageProcessor',
  processor_class: 'Qwen2VLProcessor',
} as const;
