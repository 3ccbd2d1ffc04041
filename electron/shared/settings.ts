/**
 * The app's settings: one schema, used by the main process (the settings store, the engine supervisor) and by the
 * renderer (inline validation on the settings page). The renderer runs sandboxed without Node, so this module imports
 * only zod, Node-free engine modules, and engine *types* (erased at build time).
 *
 * Generation ranges are not restated: they come from the engine's `generationOptionsSchema`, the same schema the CLI
 * and the utility process validate with, so the settings page can never accept a value the engine then refuses.
 */
import { z } from 'zod';
import { imageDetails } from '../../native-models/families/family.js';
import { generationOptionsSchema, rangeOf, type NumericRange } from '../../native-models/generation/settings.js';
import { precisions } from '../../native-models/model/precision.js';
import { checkBaseUrl } from '../../native-models/remote/base-url.js';
import { devices } from '../../native-models/runtime/devices.js';
import { parseAccelerator } from './accelerator.js';

/** Bumped whenever the stored shape changes; the store migrates older files step by step (see settings-store.ts). */
export const SETTINGS_VERSION = 4;

/** `auto` lets the engine pick among the files present (q8, then q4, then fp32 on a CPU). */
export const precisionSettings = ['auto', ...precisions] as const;
export const deviceSettings = devices;
export const imageDetailSettings = imageDetails;
/** Where answers come from: the model on this computer, or an OpenAI-compatible server the user names. */
export const backendSettings = ['local', 'server'] as const;
export type Backend = (typeof backendSettings)[number];

/** An absolute folder path on any platform: /…, C:\… or C:/…, or a UNC share \\server\…. */
const absolutePath = /^(?:\/|[A-Za-z]:[\\/]|\\\\[^\\]+\\)/;
/**
 * A catalogue entry: the model manager (a later issue) names its models by Hugging Face Hub id, "owner/name". Only the
 * shape is checked here; whether the catalogue knows the id is the model manager's business.
 */
const catalogueId = /^[A-Za-z0-9][\w.-]*(?:\/[A-Za-z0-9][\w.-]*)?$/;

const modelSchema = z.string().superRefine((value, ctx) => {
  if (value.trim() === '') {
    ctx.addIssue({ code: 'custom', message: 'choose a model from the list or a model folder' });
  } else if (!absolutePath.test(value) && !catalogueId.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is neither a model from the list nor a full folder path (e.g. /home/you/models/SmolVLM-256M-Instruct)`,
    });
  }
});

/** Stored in canonical form, so that two spellings of one shortcut compare equal. */
const hotkeySchema = z.string().transform((value, ctx) => {
  const parsed = parseAccelerator(value);
  if (parsed.ok) return parsed.accelerator;
  ctx.issues.push({ code: 'custom', message: parsed.message, input: value });
  return z.NEVER;
});

const engine = generationOptionsSchema.shape;

/**
 * A server's base URL, as OpenAI clients take it (e.g. http://192.168.1.20:8000/v1): the remote client's own rule
 * (checkBaseUrl), so one server has one spelling here and in the client (the confirmation to send captures is kept per
 * URL). No user:password@ part: a credential belongs in the API key, which is kept encrypted, never in this file.
 */
export const serverUrlSchema = z
  .string()
  .max(2048, 'is too long (at most 2048 characters)')
  .transform((value, ctx) => {
    const checked = checkBaseUrl(value);
    if (checked.ok) return checked.baseUrl;
    ctx.issues.push({ code: 'custom', message: checked.problem, input: value });
    return z.NEVER;
  });

/** A model name as the server lists it (vLLM: the repo id; Ollama: name:tag). One line of printable text. */
export const serverModelSchema = z
  .string()
  .trim()
  .min(1, 'must name a model the server lists')
  .max(256, 'is too long (at most 256 characters)')
  .regex(/^[^\p{Cc}]+$/u, 'must be one line of text');

/**
 * The port the app serves its model on (always on 127.0.0.1): 0 for any free port, or an unprivileged one. The same
 * rule as the engine protocol's serve request (engine-protocol.ts), which the model process checks again.
 */
export const servePortSchema = z
  .number()
  .int()
  .refine((port) => port === 0 || (port >= 1024 && port <= 65535), 'must be from 1024 to 65535, or 0 for any free port');

/**
 * Generation settings are nullable: null means "the model's own default" (its generation_config.json, then the
 * engine's fallback), which is what the engine does when an option is left out. Storing concrete numbers by default
 * would silently override every model's tuned values.
 */
const settingsFields = {
  /** A catalogue id or an absolute model folder; null until the user has picked one. */
  model: modelSchema.nullable(),
  precision: z.enum(precisionSettings),
  device: z.enum(deviceSettings),
  maxNewTokens: engine.maxNewTokens.unwrap().nullable(),
  temperature: engine.temperature.unwrap().nullable(),
  topK: engine.topK.unwrap().nullable(),
  topP: engine.topP.unwrap().nullable(),
  repetitionPenalty: engine.repetitionPenalty.unwrap().nullable(),
  /** The KV cache; off only when the user asks (it recomputes the whole sequence for every token). */
  useCache: engine.useCache.unwrap(),
  imageDetail: z.enum(imageDetailSettings),
  /** null = no global shortcut. */
  hotkey: hotkeySchema.nullable(),
  saveScreenshotsInHistory: z.boolean(),
  /** Where answers come from. */
  backend: z.enum(backendSettings),
  /** The server's base URL, when answers come from a server; null until the user names one. */
  serverUrl: serverUrlSchema.nullable(),
  /** The server's model; null until the user picks one. */
  serverModel: serverModelSchema.nullable(),
  /**
   * Servers (base URLs) the user agreed to send captures to. Written only by the main process, after the user said yes
   * in its own dialog: the pages cannot set it (see pageSettingsPatchSchema).
   */
  confirmedServers: z.array(serverUrlSchema).max(100),
  /** Serve the loaded model to other programs (an OpenAI-compatible server on 127.0.0.1 only); off by default. */
  serveModel: z.boolean(),
  servePort: servePortSchema,
};

/** A complete settings object (what `get()` returns). Strict: an unknown key is an error, not silently kept. */
export const settingsSchema = z.object(settingsFields).strict();
export type Settings = z.output<typeof settingsSchema>;
export type SettingName = keyof Settings;
/** What a caller may send to change settings: any subset, in input form (e.g. a hotkey in any accepted spelling). */
export type SettingsPatch = Partial<z.input<typeof settingsSchema>>;

/**
 * What a page may send to change settings (the setSettings channel's schema): any subset, except the servers the user
 * confirmed, which only the main process's confirmation dialog writes. A page that could write it could skip the
 * question "send your captures to this server?".
 */
export const pageSettingsPatchSchema = settingsSchema.omit({ confirmedServers: true }).partial().strict();

/**
 * Built without `.default()`s on purpose: zod fills defaults into a `.partial()` object, which would turn a one-field
 * patch into a reset of every other field.
 */
const patchSchema = z.object(settingsFields).partial().strict();

/**
 * The stored defaults. imageDetail is `low` here; choosing `high` on machines with a GPU is a runtime decision of the
 * app, not a stored value. Checked against the schema when this module loads, so a bad default fails every test.
 */
export const defaultSettings: Readonly<Settings> = Object.freeze(
  settingsSchema.parse({
    model: null,
    precision: 'auto',
    device: 'auto',
    maxNewTokens: null,
    temperature: null,
    topK: null,
    topP: null,
    repetitionPenalty: null,
    useCache: true,
    imageDetail: 'low',
    hotkey: 'CommandOrControl+Shift+Space',
    saveScreenshotsInHistory: false,
    backend: 'local',
    serverUrl: null,
    serverModel: null,
    confirmedServers: [],
    serveModel: false,
    servePort: 8080,
  } satisfies z.input<typeof settingsSchema>),
);

/** Names the settings page shows; error messages use them so that they read as sentences about the form. */
export const settingLabels: Readonly<Record<SettingName, string>> = {
  model: 'Model',
  precision: 'Precision',
  device: 'Device',
  maxNewTokens: 'Max new tokens',
  temperature: 'Temperature',
  topK: 'Top-k',
  topP: 'Top-p',
  repetitionPenalty: 'Repetition penalty',
  useCache: 'KV cache',
  imageDetail: 'Image detail',
  hotkey: 'Hotkey',
  saveScreenshotsInHistory: 'Save screenshots in history',
  backend: 'Where answers come from',
  serverUrl: 'Server address',
  serverModel: 'Server model',
  confirmedServers: 'Confirmed servers',
  serveModel: 'Serve this model to other apps',
  servePort: 'Port',
};

type NumericSetting = 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty';

/** Bounds for the sliders and number inputs, read from the engine's schema rather than copied. */
export const numericRanges: Readonly<Record<NumericSetting, NumericRange>> = {
  maxNewTokens: rangeOf(engine.maxNewTokens.unwrap()),
  temperature: rangeOf(engine.temperature.unwrap()),
  topK: rangeOf(engine.topK.unwrap()),
  topP: rangeOf(engine.topP.unwrap()),
  repetitionPenalty: rangeOf(engine.repetitionPenalty.unwrap()),
};

/** One problem with one field, worded for display next to that field. `field` is '' for the patch as a whole. */
export interface SettingsFieldError {
  readonly field: SettingName | '';
  readonly message: string;
}

/** What saving a patch answers: the complete new settings, or why nothing was saved (one error per field). */
export type SettingsUpdateResult =
  | { readonly ok: true; readonly settings: Settings }
  | { readonly ok: false; readonly errors: readonly SettingsFieldError[] };

export type PatchValidation =
  | { readonly ok: true; readonly patch: Partial<Settings> }
  | { readonly ok: false; readonly errors: readonly SettingsFieldError[] };

/** Checks a change coming from the renderer (or anywhere untrusted): every error, one per field, in plain words. */
export function validateSettingsPatch(patch: unknown): PatchValidation {
  const parsed = patchSchema.safeParse(patch);
  if (parsed.success) return { ok: true, patch: parsed.data };
  return { ok: false, errors: describeIssues(parsed.error.issues, patch) };
}

/** Turns zod issues into user-facing errors; also used by the store to report fields it had to reset. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): SettingsFieldError[] {
  const errors: SettingsFieldError[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ field: '', message: `"${key}" is not a setting ScreenAsk knows.` });
      }
      continue;
    }
    const key = issue.path[0];
    if (typeof key !== 'string' || !(key in settingLabels)) {
      errors.push({ field: '', message: 'Settings must be an object of named values.' });
      continue;
    }
    const field = key as SettingName;
    // Only the first problem per field: "must be a number" and "must be at least 1" together would be noise.
    if (errors.some((e) => e.field === field)) continue;
    const value = input && typeof input === 'object' ? (input as Record<string, unknown>)[field] : undefined;
    errors.push({ field, message: describeIssue(field, issue, value) });
  }
  return errors;
}

/** What null stands for, in the fields that accept it. */
const nullMeaning: Partial<Record<SettingName, string>> = {
  model: 'none',
  hotkey: 'none (no shortcut)',
  maxNewTokens: 'empty for the model default',
  temperature: 'empty for the model default',
  topK: 'empty for the model default',
  topP: 'empty for the model default',
  repetitionPenalty: 'empty for the model default',
  serverUrl: 'empty',
  serverModel: 'empty',
};

function describeIssue(field: SettingName, issue: z.core.$ZodIssue, value: unknown): string {
  const label = settingLabels[field];
  const got = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  // Text fields carry their own wording (lengths, formats): "at least 1" would be about characters nobody counts.
  if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'string') return `${label} ${issue.message}.`;
  switch (issue.code) {
    case 'invalid_format':
      return `${label} ${issue.message}.`;
    case 'too_big':
      return `${label} must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}${got}.`;
    case 'too_small':
      return `${label} must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}${got}.`;
    case 'invalid_value':
      return `${label} must be one of ${issue.values.map(String).join(', ')}${got}.`;
    case 'invalid_type': {
      const what =
        issue.expected === 'int' ? 'a whole number'
        : issue.expected === 'number' ? 'a number'
        : issue.expected === 'boolean' ? 'on or off (true or false)'
        : issue.expected === 'array' ? 'a list'
        : 'text';
      const orNull = nullMeaning[field] && issue.expected !== 'int' ? ` or ${nullMeaning[field]}` : '';
      return `${label} must be ${what}${orNull}${got}.`;
    }
    case 'custom':
      return `${label}: ${issue.message.replace(/\.$/, '')}.`;
    default:
      return `${label} is not valid${got}: ${issue.message}.`;
  }
}

/** The engine's per-answer options from the settings: nulls (model defaults) are left out, as the engine expects. */
export function generationOptionsFrom(settings: Settings): z.infer<typeof generationOptionsSchema> {
  const { maxNewTokens, temperature, topK, topP, repetitionPenalty, useCache } = settings;
  const options: z.infer<typeof generationOptionsSchema> = { useCache };
  if (maxNewTokens !== null) options.maxNewTokens = maxNewTokens;
  if (temperature !== null) options.temperature = temperature;
  if (topK !== null) options.topK = topK;
  if (topP !== null) options.topP = topP;
  if (repetitionPenalty !== null) options.repetitionPenalty = repetitionPenalty;
  return options;
}
