/** node:dns functions that configure the resolver and never touch the network (the sentinel leaves them alone). */
export const DNS_CONFIGURATION: readonly string[];
