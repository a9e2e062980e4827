import type { UiPageContext } from '@forge/core';
import { href } from '../shell/format.js';
import type { Tab } from '../shell/layout.js';

/** The left-hand menu of an owner's settings; a user's own settings also list their tokens. */
export function settingsMenu(ctx: UiPageContext): Tab[] {
  const base = href(ctx.owner.name, '-', 'settings');
  const items: Tab[] = [{ label: 'General', href: base }];
  if (ctx.owner.type === 'org') items.push({ label: 'Members', href: `${base}/members` });
  items.push({ label: 'Packages', href: `${base}/packages` });
  if (ctx.owner.type === 'user' && ctx.actor.user?.id === ctx.owner.id) items.push({ label: 'Access tokens', href: '/user/settings/applications' });
  return items;
}

export function settingsPath(ctx: UiPageContext): string {
  return href(ctx.owner.name, '-', 'settings');
}
