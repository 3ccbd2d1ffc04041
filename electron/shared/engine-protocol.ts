/**
 * The message protocol between the main process (engine supervisor) and the utility process that hosts the engine.
 *
 * Every message crossing the process boundary is parsed with these schemas on receipt: a process boundary is a trust
 * boundary (a renderer's payload travels through here) and a version skew between the two sides must fail loudly, not
 * as a confusing crash deep in the engine. Messages travel by structured clone (Electron's utilityProcess, or Node's
 * `fork` with `serialization: 'advanced'`), so PNG bytes cross as a `Uint8Array`, not as JSON.
 *
 * This module must stay light: the main process and (later) the renderer import it, and neither may load
 * onnxruntime. It therefore imports only the engine's generation-settings schema (zod + an error class) and types.
 */
import { z } from 'zod';
import { generationOptionsSchema } from '../../native-models/generation/settings.js';
import type { AnswerStats, ReadAheadProgress } from '../../native-models/conversation/answer.js';
import { stopReasons } from '../../native-models/generation/stop-reason.js';
import { precisions } from '../../native-models/model/precision.js';
import { devices } from '../../native-models/runtime/devices.js';

/** Bumped on any incompatible change; both sides reject messages of another version. */
export const PROTOCOL_VERSION = 4;
const version = z.literal(PROTOCOL_VERSION);

// The engine's enumerations, from its Node-free modules (this one must not load onnxruntime or node:fs).
const precision = z.enum(precisions);
const device = z.enum(devices);
const provider = z.enum(devices).exclude(['auto']);
/** Correlates a request with its replies; chosen by the main process, unique while the request runs. */
const requestId = z.string().min(1).max(128);
const conversationId = z.string().min(1).max(128);
const oneLine = z.string().max(4000);

/** 8-byte PNG signature: the only encoded format the shell sends (captures are PNG). */
const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const maxImageBytes = 256 * 1024 * 1024;

/** PNG bytes, in either direction. */
const pngBytes = z
  // Not z.instanceof: that narrows to Uint8Array<ArrayBuffer>, and a Buffer from readFile is ArrayBufferLike-backed.
  .custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected PNG bytes (a Uint8Array)')
  .refine((b) => b.byteLength <= maxImageBytes, 'image is larger than 256 MB')
  .refine((b) => pngSignature.every((byte, i) => b[i] === byte), 'not PNG data');

export const imageSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('path'), path: z.string().min(1).max(4096) }),
  z.object({ kind: z.literal('png'), bytes: pngBytes }),
]);
export type ImageSource = z.infer<typeof imageSourceSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Requests: main → utility.

export const loadRequestSchema = z.object({
  v: version,
  type: z.literal('load'),
  requestId,
  dir: z.string().min(1).max(4096),
  precision: z.union([precision, z.literal('auto')]).optional(),
  device: device.optional(),
  threads: z.number().int().min(1).max(256).optional(),
  /** The app's folder for derived files (the rewritten decoder, native-models/model/rewrite-cache.ts); never the model's. */
  cacheDir: z.string().min(1).max(4096).optional(),
});

/**
 * Asks a question. With `start`, a new conversation is opened under `conversationId` (on a capture, or text only);
 * without it the ask is a follow-up on an existing conversation, which reuses that conversation's KV cache.
 * The explicit `start` keeps a follow-up on a forgotten conversation (closed, or lost in a restart) from silently
 * becoming a new, imageless one.
 */
export const askRequestSchema = z.object({
  v: version,
  type: z.literal('ask'),
  requestId,
  conversationId,
  start: z
    .object({
      image: imageSourceSchema.optional(),
      detail: z.enum(['low', 'high']).optional(),
      /** A read-ahead of this capture (its requestId): the conversation it prepared is taken over, if still there. */
      readAhead: requestId.optional(),
    })
    .strict()
    .optional(),
  question: z.string().min(1).max(100_000),
  options: generationOptionsSchema.strict().optional(),
});

/**
 * Reads a capture ahead of its first question: encodes the image and prefills the prompt up to the question, while
 * the user types. Replies: `read-ahead-progress`, then `read-ahead-done` (or `error`). Its work waits whenever an ask
 * is answering in another conversation. An ask whose `start.readAhead` names it takes over what it prepared. From
 * then on the work belongs to that ask: it stops waiting, and cancelling the ask cancels it.
 */
export const readAheadRequestSchema = z.object({
  v: version,
  type: z.literal('read-ahead'),
  requestId,
  image: imageSourceSchema,
  detail: z.enum(['low', 'high']).optional(),
  useCache: z.boolean().optional(),
});

/** Cancels the ask or read-ahead whose id is `requestId`; a cancelled read-ahead's work is dropped. No reply of its own: the ask ends with `done` (stopReason `cancelled`). */
export const cancelRequestSchema = z.object({ v: version, type: z.literal('cancel'), requestId });
export const unloadRequestSchema = z.object({ v: version, type: z.literal('unload'), requestId });
export const closeConversationRequestSchema = z.object({
  v: version,
  type: z.literal('close-conversation'),
  requestId,
  conversationId,
});
/**
 * Sizes a capture for a server (the remote backend: native-models/remote/server-image.ts, which loads sharp, so it
 * runs here and not in the main process). Needs no model loaded. Replied with `server-image`, the PNG a server gets.
 */
export const prepareServerImageRequestSchema = z.object({
  v: version,
  type: z.literal('prepare-server-image'),
  requestId,
  image: imageSourceSchema,
  detail: z.enum(['low', 'high']),
  maxPixels: z.number().int().positive().max(1_000_000_000).optional(),
});
/** The port the app serves its model on: 0 (any free one) or an unprivileged port. Only ever on 127.0.0.1. */
export const servePortSchema = z.union([z.literal(0), z.number().int().min(1024).max(65535)]);
/**
 * Serves the loaded model to other programs: an OpenAI-compatible server (native-models/serve) on 127.0.0.1:port,
 * never another address. Replied with `serving`: its base URL, or null while no model is loaded (it starts with the
 * next load, and every load restarts it over the new model). A port in use is an `error` (userError) naming the port.
 */
export const serveRequestSchema = z.object({ v: version, type: z.literal('serve'), requestId, port: servePortSchema }).strict();
/** Stops serving (connections are cut, answers in progress stop); replied with `serving` (url null). */
export const stopServingRequestSchema = z.object({ v: version, type: z.literal('stop-serving'), requestId }).strict();
/** Liveness check; answered with `heartbeat`. (Answers are late while a long prefill holds the utility's thread.) */
export const pingRequestSchema = z.object({ v: version, type: z.literal('ping'), requestId });

export const engineRequestSchema = z.discriminatedUnion('type', [
  loadRequestSchema,
  askRequestSchema,
  readAheadRequestSchema,
  cancelRequestSchema,
  unloadRequestSchema,
  closeConversationRequestSchema,
  prepareServerImageRequestSchema,
  pingRequestSchema,
  serveRequestSchema,
  stopServingRequestSchema,
]);
export type EngineRequest = z.infer<typeof engineRequestSchema>;
export type LoadRequest = z.infer<typeof loadRequestSchema>;
export type AskRequest = z.infer<typeof askRequestSchema>;
export type ReadAheadRequest = z.infer<typeof readAheadRequestSchema>;
export type PrepareServerImageRequest = z.infer<typeof prepareServerImageRequestSchema>;
export type ServeRequest = z.infer<typeof serveRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Replies and events: utility → main (token/warning/done/error also go to a renderer's MessagePort when one is given).

export const modelInfoSchema = z.object({
  dir: z.string(),
  family: z.string(),
  precision,
  precisions: z.array(precision),
  provider,
  warnings: z.array(z.string()),
  decoderRewrites: z.object({ applied: z.array(z.string()), skipped: z.array(z.string()) }),
  /**
   * Image tokens a 1920×1080 screenshot costs at each detail level (what the detail setting trades). Optional, so a
   * model process from a build without it still speaks this protocol version.
   */
  imageTokens: z.object({ low: z.number().int().nonnegative(), high: z.number().int().nonnegative() }).optional(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const answerStatsSchema = z.object({
  imageEncodeMs: z.number(),
  prefillMs: z.number(),
  timeToFirstTokenMs: z.number(),
  decodeTokensPerSecond: z.number(),
  promptTokens: z.number().int(),
  reusedPromptTokens: z.number().int(),
  imageTokens: z.number().int(),
  generatedTokens: z.number().int(),
  totalMs: z.number(),
  cache: z.enum(['on', 'off']),
  precision,
  provider,
  stopReason: z.enum(stopReasons),
  readAhead: z.object({ tokens: z.number().int().nonnegative(), ms: z.number().nonnegative() }).optional(),
});
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type DeepMutable<T> = T extends object ? { -readonly [K in keyof T]: DeepMutable<T[K]> } : T;
const statsMatch: Same<z.infer<typeof answerStatsSchema>, DeepMutable<AnswerStats>> = true;
void statsMatch;

export const answerPayloadSchema = z.object({
  text: z.string(),
  tokenIds: z.array(z.number().int()),
  stats: answerStatsSchema,
});
export type AnswerPayload = z.infer<typeof answerPayloadSchema>;

/** Sent once when the utility process is ready for requests. */
export const readyReplySchema = z.object({ v: version, type: z.literal('ready'), pid: z.number().int() });
export const heartbeatReplySchema = z.object({ v: version, type: z.literal('heartbeat'), requestId, uptimeMs: z.number() });
export const loadedReplySchema = z.object({ v: version, type: z.literal('loaded'), requestId, model: modelInfoSchema });
/** Coarse stages (the engine has no progress callbacks): what the user is waiting for, for the UI's spinner text. */
export const progressStages = ['loading-model', 'encoding-image', 'reading-prompt'] as const;
export const progressReplySchema = z.object({
  v: version,
  type: z.literal('progress'),
  requestId,
  stage: z.enum(progressStages),
});
export const readAheadProgressSchema = z.discriminatedUnion('stage', [
  z.object({ stage: z.literal('encoding'), done: z.number().int().nonnegative(), total: z.number().int().positive() }),
  z.object({ stage: z.literal('prefill'), tokens: z.number().int().nonnegative() }),
  z.object({ stage: z.literal('ready'), tokens: z.number().int().nonnegative() }),
]);
const readAheadProgressMatch: Same<z.infer<typeof readAheadProgressSchema>, DeepMutable<ReadAheadProgress>> = true;
void readAheadProgressMatch;
export const readAheadProgressReplySchema = z.object({
  v: version,
  type: z.literal('read-ahead-progress'),
  requestId,
  progress: readAheadProgressSchema,
});
export const readAheadDoneReplySchema = z.object({
  v: version,
  type: z.literal('read-ahead-done'),
  requestId,
  tokens: z.number().int().nonnegative(),
  ms: z.number().nonnegative(),
  stopped: z.boolean(),
});
export const warningReplySchema = z.object({ v: version, type: z.literal('warning'), requestId, message: oneLine });
/** A piece of answer text; `tokenId` is absent for the held-back tail flushed at the end of an answer. */
export const tokenReplySchema = z.object({
  v: version,
  type: z.literal('token'),
  requestId,
  text: z.string(),
  tokenId: z.number().int().optional(),
});
export const doneReplySchema = z.object({ v: version, type: z.literal('done'), requestId, answer: answerPayloadSchema });
/** The capture as `prepare-server-image` sized it: PNG bytes and their size in pixels. */
export const serverImageReplySchema = z.object({
  v: version,
  type: z.literal('server-image'),
  requestId,
  png: pngBytes,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
/** Where the model is served: `http://127.0.0.1:PORT/v1`, or null when it is not (stopped, or no model loaded yet). */
export const servingReplySchema = z.object({
  v: version,
  type: z.literal('serving'),
  requestId,
  url: z
    .string()
    .regex(/^http:\/\/127\.0\.0\.1:\d{1,5}\/v1$/, 'must be http://127.0.0.1:PORT/v1')
    .nullable(),
});
/** Acknowledges `unload` and `close-conversation`. */
export const ackReplySchema = z.object({ v: version, type: z.literal('ack'), requestId });
/**
 * A request failed. `message` is one line; `userError` says the user can act on it (a missing model file, an
 * unreadable image, a bad setting) as opposed to a bug or a malformed message. `requestId` is null when the failing
 * message carried no usable id.
 */
export const errorReplySchema = z.object({
  v: version,
  type: z.literal('error'),
  requestId: requestId.nullable(),
  message: oneLine,
  userError: z.boolean(),
});

export const engineReplySchema = z.discriminatedUnion('type', [
  readyReplySchema,
  heartbeatReplySchema,
  loadedReplySchema,
  progressReplySchema,
  readAheadProgressReplySchema,
  readAheadDoneReplySchema,
  warningReplySchema,
  tokenReplySchema,
  doneReplySchema,
  serverImageReplySchema,
  servingReplySchema,
  ackReplySchema,
  errorReplySchema,
]);
export type EngineReply = z.infer<typeof engineReplySchema>;
export type ErrorReply = z.infer<typeof errorReplySchema>;
/** Replies of one request (everything but `ready`). */
export type RequestReply = Exclude<EngineReply, { type: 'ready' }>;

/** Distributes Omit over a union, so a reply can be built without repeating the version field. */
type OmitVersion<T> = T extends unknown ? Omit<T, 'v'> : never;
export type UnversionedReply = OmitVersion<EngineReply>;
export type UnversionedRequest = OmitVersion<EngineRequest>;

export function reply(message: UnversionedReply): EngineReply {
  return { v: PROTOCOL_VERSION, ...message } as EngineReply;
}
export function request(message: UnversionedRequest): EngineRequest {
  return { v: PROTOCOL_VERSION, ...message } as EngineRequest;
}

export type Parsed<T> = { ok: true; message: T } | { ok: false; requestId: string | null; error: string };

/** The one-line reason a message is rejected, naming the field: enough to find the bug on the sending side. */
function describeIssue(error: z.ZodError, raw: unknown): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid message';
  const type = raw && typeof raw === 'object' && typeof (raw as { type?: unknown }).type === 'string' ? (raw as { type: string }).type : undefined;
  const field = issue.path.length ? issue.path.join('.') : 'message';
  return `${type ? `${type} message` : 'message'}: ${field}: ${issue.message}`.replace(/\s*\n\s*/g, ' ');
}

function idOf(raw: unknown): string | null {
  const id = raw && typeof raw === 'object' ? (raw as { requestId?: unknown }).requestId : undefined;
  return typeof id === 'string' && requestId.safeParse(id).success ? id : null;
}

/** A received value in a message, whatever it is: structured clone carries BigInts and cycles, which JSON cannot. */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value === 'bigint' ? `${value}n` : Object.prototype.toString.call(value);
  }
}

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): Parsed<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const v = raw && typeof raw === 'object' ? (raw as { v?: unknown }).v : undefined;
  const error =
    v !== undefined && v !== PROTOCOL_VERSION
      ? `protocol version ${shown(v)} is not ${PROTOCOL_VERSION} (the app and its model process are from different builds)`
      : describeIssue(parsed.error, raw);
  return { ok: false, requestId: idOf(raw), error };
}

export const parseRequest = (raw: unknown): Parsed<EngineRequest> => parseWith(engineRequestSchema, raw);
export const parseReply = (raw: unknown): Parsed<EngineReply> => parseWith(engineReplySchema, raw);
