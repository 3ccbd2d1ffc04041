// What the engine says, in words a user understands: progress stages while waiting, and known warnings as plain
// sentences (unknown ones are shown as they are, since they are already meant for people).

const stages: Readonly<Record<string, string>> = {
  'loading-model': 'Loading the model…',
  'encoding-image': 'Looking at the screenshot…',
  'reading-prompt': 'Reading your question…',
};

export function stageText(stage: string | undefined): string {
  if (stage === undefined) return 'Waiting for the model…';
  return stages[stage] ?? `${stage.replace(/[-_]/g, ' ')}…`;
}

export interface PlainWarning {
  /** One sentence for everyone. */
  readonly text: string;
  /** The engine's own words, when they add detail worth keeping (shown smaller). */
  readonly detail?: string;
}

const known: readonly { readonly test: RegExp; readonly text: (m: RegExpExecArray) => string }[] = [
  {
    test: /use_cache: false/,
    text: () =>
      'This model’s files say to turn the KV cache off (a leftover from training). ScreenAsk kept the cache on, so ' +
      'answers stay fast; you can turn it off in Settings.',
  },
  {
    test: /No GPU execution provider could run this model/,
    text: () => 'Your graphics card could not run this model, so it is running on the processor (slower).',
  },
];

export function plainWarning(message: string): PlainWarning {
  for (const { test, text } of known) {
    const match = test.exec(message);
    if (match) return { text: text(match), detail: message };
  }
  return { text: message };
}
