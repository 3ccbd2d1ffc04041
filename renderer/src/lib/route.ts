// One page serves every window; the main process opens it with a hash naming the view.
export type SettingsTab = 'settings' | 'models' | 'history';
export type Route = { readonly view: 'ask' } | { readonly view: 'overlay' } | { readonly view: 'settings'; readonly tab: SettingsTab };

export function routeFromHash(hash: string): Route {
  const name = hash.replace(/^#/, '').split(/[/?]/)[0];
  if (name === 'overlay') return { view: 'overlay' };
  if (name === 'settings' || name === 'models' || name === 'history') return { view: 'settings', tab: name };
  return { view: 'ask' };
}

const titles: Readonly<Record<string, string>> = {
  ask: 'ScreenAsk',
  overlay: 'ScreenAsk — select a region',
  settings: 'ScreenAsk — Settings',
  models: 'ScreenAsk — Models',
  history: 'ScreenAsk — History',
};
export function titleOf(route: Route): string {
  return titles[route.view === 'settings' ? route.tab : route.view] ?? 'ScreenAsk';
}
