// Why an answer ended. Node-free: the process protocol shares the list.

export const stopReasons = ['eos', 'max-new-tokens', 'context-full', 'cancelled'] as const;
export type StopReason = (typeof stopReasons)[number];
